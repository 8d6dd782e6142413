// The principals that may call the service: the account's root (from configuration) and
// the entries of KMS_CREDENTIALS_FILE, looked up by access key id. The file is watched and
// reloaded when it changes; a version that does not pass every check is refused whole and
// the previous principals stay in force. No message here ever quotes a secret access key.
import { readFileSync } from 'node:fs';
import { normalisePolicies, parseSecretJson } from '../../auth-config';
import { accountOfPrincipalArn, type Principal } from '../../core/api/context';
import type { Credential } from './sigv4';
import { WatchedFile } from './watched-file';

export interface CredentialsFileEntry {
  accessKeyId: string;
  secretAccessKey: string;
  principalArn: string;
  policies?: unknown[];
  /** The kms:ViaService value of this principal's requests: it stands for an AWS service integration. */
  viaService?: string;
}

export interface RootCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  accountId: string;
}

export class PrincipalDirectory {
  private byAccessKey = new Map<string, Credential>();
  /** The account's root: who an unknown access key id signs as in any-credentials mode (KMS_DEV_ANY_CREDENTIALS). */
  readonly root: Principal;

  constructor(root: RootCredentials, entries: CredentialsFileEntry[] = []) {
    entries.forEach((entry, i) => {
      // Precondition: access key ids must be unique across the credentials file and the root.
      if (this.byAccessKey.has(entry.accessKeyId) || entry.accessKeyId === root.accessKeyId) {
        throw new Error(`credentials file: entry ${i} repeats access key id ${entry.accessKeyId}`);
      }
      this.add(entry, `entry ${i}`);
    });
    this.add({ accessKeyId: root.accessKeyId, secretAccessKey: root.secretAccessKey, principalArn: `arn:aws:iam::${root.accountId}:root` }, 'root');
    this.root = this.byAccessKey.get(root.accessKeyId)!.principal;
  }

  private add(entry: CredentialsFileEntry, where: string): void {
    const accountId = accountOfPrincipalArn(entry.principalArn);
    // Precondition: every principalArn in the credentials file must be a principal ARN.
    if (!accountId) throw new Error(`credentials file: ${where}: '${entry.principalArn}' is not a principal ARN`);
    this.byAccessKey.set(entry.accessKeyId, {
      accessKeyId: entry.accessKeyId,
      secretAccessKey: entry.secretAccessKey,
      principal: {
        arn: entry.principalArn, accountId, policies: normalisePolicies(entry.policies, `credentials file: ${where}`),
        ...(entry.viaService !== undefined ? { viaService: entry.viaService } : {}),
      },
    });
  }

  find(accessKeyId: string): Credential | undefined {
    return this.byAccessKey.get(accessKeyId);
  }

  /** Number of principals, the root included. */
  get size(): number {
    return this.byAccessKey.size;
  }

  /**
   * Loads `file` now (throwing if it is unusable, so a bad file stops start-up) and then
   * polls it; `current()` always answers the latest version that passed every check.
   */
  static watch(file: string, root: RootCredentials, options: WatchOptions = {}): WatchedPrincipals {
    return new WatchedPrincipals(file, root, options);
  }
}

/** The SigV4 option of any-credentials mode (KMS_DEV_ANY_CREDENTIALS): an unknown access key id is the account root. */
export function unknownAccessKeys(options: { principals: () => PrincipalDirectory; anyCredentials?: boolean }): { unknownAccessKeyPrincipal?: () => Principal } {
  return options.anyCredentials === true ? { unknownAccessKeyPrincipal: () => options.principals().root } : {};
}

export interface WatchOptions {
  /** How often the file is polled; 1000 ms unless set. */
  intervalMs?: number;
  /** A changed file was refused; the previous principals stay. The message quotes no secret. */
  onError?: (message: string) => void;
  /** A changed file was accepted. */
  onReload?: (info: { principals: number }) => void;
}

/** The credentials file under watch (see WatchedFile): a version that fails a check keeps the previous principals. */
export class WatchedPrincipals extends WatchedFile<PrincipalDirectory> {
  constructor(file: string, root: RootCredentials, options: WatchOptions) {
    super([file], ([text]) => {
      // Precondition: a credentials file that becomes invalid keeps the previous principals.
      return new PrincipalDirectory(root, parseCredentials(text!, file));
    }, {
      what: 'credentials file',
      describe: (directory) => `${directory.size} principals`,
      intervalMs: options.intervalMs,
      onError: options.onError,
      onReload: options.onReload && ((directory) => options.onReload!({ principals: directory.size })),
    });
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read the credentials file: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** kms:ViaService values: <service>.<region>.amazonaws.com. */
const viaServicePattern = /^[a-z0-9-]+\.[a-z0-9-]+\.amazonaws\.com$/;

/** Checks a credentials file's text. Errors never quote the file's content. */
function parseCredentials(text: string, file: string): CredentialsFileEntry[] {
  // Precondition: a credentials file that is not valid JSON is refused without quoting its content.
  const parsed = parseSecretJson(text, file);
  if (!Array.isArray(parsed)) throw new Error(`${file}: expected a JSON array of principals`);
  return parsed.map((entry: unknown, i) => {
    const e = entry as Partial<CredentialsFileEntry> | null;
    // Precondition: every credentials file entry needs a non-empty string accessKeyId, secretAccessKey and principalArn.
    if (
      e === null || typeof e !== 'object' ||
      typeof e.accessKeyId !== 'string' || e.accessKeyId === '' ||
      typeof e.secretAccessKey !== 'string' || e.secretAccessKey === '' ||
      typeof e.principalArn !== 'string'
    ) {
      throw new Error(`${file}: entry ${i} needs string accessKeyId, secretAccessKey and principalArn`);
    }
    if (e.policies !== undefined && !Array.isArray(e.policies)) throw new Error(`${file}: entry ${i} policies must be an array`);
    if (e.viaService !== undefined && (typeof e.viaService !== 'string' || !viaServicePattern.test(e.viaService))) {
      throw new Error(`${file}: entry ${i} viaService must be a service endpoint name such as s3.us-east-1.amazonaws.com`);
    }
    return {
      accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey, principalArn: e.principalArn, policies: e.policies,
      ...(e.viaService !== undefined ? { viaService: e.viaService } : {}),
    };
  });
}

/** Reads and checks a KMS_CREDENTIALS_FILE; errors never quote secret values. */
export function readCredentialsFile(file: string): CredentialsFileEntry[] {
  return parseCredentials(readText(file), file);
}
