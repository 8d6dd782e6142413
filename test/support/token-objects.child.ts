// Child process: lists every object of a token, as an auditor would, in a process of its own
// (a fresh C_Initialize sees what other processes wrote). Prints [{ id, label }] as JSON.
import * as pkcs11js from 'pkcs11js';
import { inspectToken } from './token-session';

const [label, pin] = process.argv.slice(2) as [string, string];
const { lib, session, handles } = inspectToken(label, pin);
const read = (h: pkcs11js.Handle, type: number) => {
  try {
    return (lib.C_GetAttributeValue(session, h, [{ type }])[0]!.value as Buffer);
  } catch {
    return Buffer.alloc(0);
  }
};
process.stdout.write(JSON.stringify(handles.map((h) => ({ id: read(h, pkcs11js.CKA_ID).toString('hex'), label: read(h, pkcs11js.CKA_LABEL).toString() }))));
lib.C_Finalize();
