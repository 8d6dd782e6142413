// The principals that may call the service: the account's root (from configuration) and
// the entries of KMS_CREDENTIALS_FILE, looked up by access key id.
import { readFileSync } from 'node:fs';
import { accountOfPrincipalArn } from '../../core/context';
import type { Credential } from './sigv4';

export interface CredentialsFileEntry {
  accessKeyId: string;
  secretAccessKey: string;
  principalArn: string;
  policies?: unknown[];
}

export class PrincipalDirectory {
  private byAccessKey = new Map<string, Credential>();

  constructor(root: { accessKeyId: string; secretAccessKey: string; accountId: string }, entries: CredentialsFileEntry[] = []) {
    for (const entry of entries) this.add(entry);
    // Root last, so a file entry can never shadow the root's access key.
    this.add({ accessKeyId: root.accessKeyId, secretAccessKey: root.secretAccessKey, principalArn: `arn:aws:iam::${root.accountId}:root` });
  }

  private add(entry: CredentialsFileEntry): void {
    const accountId = accountOfPrincipalArn(entry.principalArn);
    if (!accountId) throw new Error(`credentials file: '${entry.principalArn}' is not a principal ARN`);
    this.byAccessKey.set(entry.accessKeyId, {
      accessKeyId: entry.accessKeyId,
      secretAccessKey: entry.secretAccessKey,
      principal: { arn: entry.principalArn, accountId, policies: (entry.policies ?? []).map((p) => (typeof p === 'string' ? p : JSON.stringify(p))) },
    });
  }

  find(accessKeyId: string): Credential | undefined {
    return this.byAccessKey.get(accessKeyId);
  }
}

/** Reads and checks a KMS_CREDENTIALS_FILE; errors never quote secret values. */
export function readCredentialsFile(file: string): CredentialsFileEntry[] {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(parsed)) throw new Error(`${file}: expected a JSON array of principals`);
  return parsed.map((entry: unknown, i) => {
    const e = entry as Partial<CredentialsFileEntry>;
    if (typeof e?.accessKeyId !== 'string' || typeof e.secretAccessKey !== 'string' || typeof e.principalArn !== 'string') {
      throw new Error(`${file}: entry ${i} needs string accessKeyId, secretAccessKey and principalArn`);
    }
    if (e.policies !== undefined && !Array.isArray(e.policies)) throw new Error(`${file}: entry ${i} policies must be an array`);
    return { accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey, principalArn: e.principalArn, policies: e.policies };
  });
}
