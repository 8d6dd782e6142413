// The principals that may call the service: the account's root (from configuration) and
// the entries of KMS_CREDENTIALS_FILE, looked up by access key id. The file is watched and
// reloaded when it changes; a version that does not pass every check is refused whole and
// the previous principals stay in force. No message here ever quotes a secret access key.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { normalisePolicies } from '../../auth-config';
import { accountOfPrincipalArn } from '../../core/api/context';
import type { Credential } from './sigv4';

export interface CredentialsFileEntry {
  accessKeyId: string;
  secretAccessKey: string;
  principalArn: string;
  policies?: unknown[];
}

export interface RootCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  accountId: string;
}

export class PrincipalDirectory {
  private byAccessKey = new Map<string, Credential>();

  constructor(root: RootCredentials, entries: CredentialsFileEntry[] = []) {
    entries.forEach((entry, i) => {
      // Precondition: access key ids must be unique across the credentials file and the root.
      if (this.byAccessKey.has(entry.accessKeyId) || entry.accessKeyId === root.accessKeyId) {
        throw new Error(`credentials file: entry ${i} repeats access key id ${entry.accessKeyId}`);
      }
      this.add(entry, `entry ${i}`);
    });
    this.add({ accessKeyId: root.accessKeyId, secretAccessKey: root.secretAccessKey, principalArn: `arn:aws:iam::${root.accountId}:root` }, 'root');
  }

  private add(entry: CredentialsFileEntry, where: string): void {
    const accountId = accountOfPrincipalArn(entry.principalArn);
    // Precondition: every principalArn in the credentials file must be a principal ARN.
    if (!accountId) throw new Error(`credentials file: ${where}: '${entry.principalArn}' is not a principal ARN`);
    this.byAccessKey.set(entry.accessKeyId, {
      accessKeyId: entry.accessKeyId,
      secretAccessKey: entry.secretAccessKey,
      principal: { arn: entry.principalArn, accountId, policies: normalisePolicies(entry.policies, `credentials file: ${where}`) },
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

export interface WatchOptions {
  /** How often the file is polled; 1000 ms unless set. */
  intervalMs?: number;
  /** A changed file was refused; the previous principals stay. The message quotes no secret. */
  onError?: (message: string) => void;
  /** A changed file was accepted. */
  onReload?: (info: { principals: number }) => void;
}

/**
 * A credentials file under watch. Every interval the file is read and its digest compared
 * with the version in force: unlike stat-based watching (fs.watch, fs.watchFile), this cannot
 * miss a write that lands between the first read and the watcher's baseline, nor one that
 * keeps size and mtime, and it sees an editor's write-and-rename like an in-place write.
 * The file is small; reading it once a second costs nothing that matters.
 */
export class WatchedPrincipals {
  private directory: PrincipalDirectory;
  private appliedDigest: string;
  private refusedDigest: string | undefined;
  private readonly timer: NodeJS.Timeout;
  private polling = false;
  private stopped = false;

  constructor(
    private readonly file: string,
    private readonly root: RootCredentials,
    private readonly options: WatchOptions,
  ) {
    const text = readText(file);
    this.directory = new PrincipalDirectory(root, parseCredentials(text, file));
    this.appliedDigest = digest(text);
    this.timer = setInterval(() => { void this.poll(); }, options.intervalMs ?? 1000);
    this.timer.unref();
  }

  current(): PrincipalDirectory {
    return this.directory;
  }

  /** Re-reads the file now; true when a new version was applied. */
  reload(): boolean {
    if (this.stopped) return false;
    let text: string;
    try {
      text = readText(this.file);
    } catch (e) {
      this.refuse('unreadable', (e as Error).message);
      return false;
    }
    return this.apply(text);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      const text = await readFile(this.file, 'utf8').catch((e: NodeJS.ErrnoException) => {
        this.refuse('unreadable', `${this.file}: cannot read the credentials file: ${e.code ?? 'error'}`);
        return undefined;
      });
      if (text !== undefined && !this.stopped) this.apply(text);
    } finally {
      this.polling = false;
    }
  }

  private apply(text: string): boolean {
    const version = digest(text);
    if (version === this.appliedDigest) {
      this.refusedDigest = undefined;
      return false;
    }
    let next: PrincipalDirectory;
    try {
      // Precondition: a credentials file that becomes invalid keeps the previous principals.
      next = new PrincipalDirectory(this.root, parseCredentials(text, this.file));
    } catch (e) {
      this.refuse(version, (e as Error).message);
      return false;
    }
    this.directory = next;
    this.appliedDigest = version;
    this.refusedDigest = undefined;
    this.options.onReload?.({ principals: next.size });
    return true;
  }

  /** Reports a refused version once, not on every poll that still sees it. */
  private refuse(version: string, message: string): void {
    if (this.refusedDigest === version) return;
    this.refusedDigest = version;
    this.options.onError?.(`${message}; keeping the previous ${this.directory.size} principals`);
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read the credentials file: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** Checks a credentials file's text. Errors never quote the file's content. */
function parseCredentials(text: string, file: string): CredentialsFileEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    // Precondition: a credentials file that is not valid JSON is refused without quoting its content.
    // (V8's SyntaxError messages quote the text around the error, which may be a secret.)
    const position = /position (\d+)/.exec((e as Error).message)?.[1];
    throw new Error(`${file}: not valid JSON${position ? ` (error at position ${position})` : ''}`);
  }
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
    return { accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey, principalArn: e.principalArn, policies: e.policies };
  });
}

/** Reads and checks a KMS_CREDENTIALS_FILE; errors never quote secret values. */
export function readCredentialsFile(file: string): CredentialsFileEntry[] {
  return parseCredentials(readText(file), file);
}
