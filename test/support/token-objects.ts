// Every object of a token, listed by a child process of its own as an auditor would: a fresh
// C_Initialize sees what other processes wrote. Asynchronous, so that a service running in the
// test's own process keeps serving (a blocked event loop lets idle connections time out under the
// client's next request).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

export interface ListedTokenObject {
  /** CKA_ID, hex; empty when the object has none. */
  id: string;
  label: string;
}

export async function listTokenObjects(token: { label: string; pin: string }): Promise<ListedTokenObject[]> {
  const { stdout } = await promisify(execFile)(process.execPath, [
    '-r', path.join(__dirname, 'ts-register.cjs'), path.join(__dirname, 'token-objects.child.ts'), token.label, token.pin,
  ], { encoding: 'utf8' });
  return JSON.parse(stdout) as ListedTokenObject[];
}
