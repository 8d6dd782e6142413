// A configuration file (or a set of files that belong together, such as a certificate and its
// key) under watch: read and checked at once (a bad file stops start-up), then polled; `current()` always answers the latest version that passed every check. A version that
// fails any check, or a file that cannot be read, is refused whole and the version in force
// stays. Polling compares a digest of the content rather than watching stat data: it cannot
// miss a write that lands between the first read and a watcher's baseline, nor one that keeps
// size and mtime, and an editor's write-and-rename looks like an in-place write. The files are
// small; reading one once a second costs nothing that matters. No message quotes the content.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

export interface WatchedFileOptions<T> {
  /** What the file is, for messages: "credentials file". */
  what: string;
  /** The version in force, as the refusal message names it: "3 principals". */
  describe(value: T): string;
  /** How often the file is polled; 1000 ms unless set. */
  intervalMs?: number;
  /** A changed file was refused; the previous version stays. The message quotes no content. */
  onError?: (message: string) => void;
  /** A changed file was accepted. */
  onReload?: (value: T) => void;
}

export class WatchedFile<T> {
  private value: T;
  private appliedDigest: string;
  private refusedDigest: string | undefined;
  private readonly timer: NodeJS.Timeout;
  private polling = false;
  private stopped = false;

  /** `parse` checks a version's texts (one per file, in order) and throws, quoting no secret, when they are unusable. */
  constructor(private readonly files: readonly string[], private readonly parse: (texts: string[]) => T, private readonly options: WatchedFileOptions<T>) {
    const texts = this.readNow();
    this.value = parse(texts);
    this.appliedDigest = digest(texts);
    this.timer = setInterval(() => { void this.poll(); }, options.intervalMs ?? 1000);
    this.timer.unref();
  }

  current(): T {
    return this.value;
  }

  /** Re-reads the file now; true when a new version was applied. */
  reload(): boolean {
    if (this.stopped) return false;
    let texts: string[];
    try {
      texts = this.readNow();
    } catch (e) {
      this.refuse('unreadable', (e as Error).message);
      return false;
    }
    return this.apply(texts);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private readNow(): string[] {
    return this.files.map((file) => {
      try {
        return readFileSync(file, 'utf8');
      } catch (e) {
        throw new Error(this.unreadable(file, e));
      }
    });
  }

  private unreadable(file: string, e: unknown): string {
    return `${file}: cannot read the ${this.options.what}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`;
  }

  private async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      let unreadable = false;
      const texts = await Promise.all(this.files.map((file) => readFile(file, 'utf8').catch((e: unknown) => {
        if (!unreadable) this.refuse('unreadable', this.unreadable(file, e));
        unreadable = true;
        return '';
      })));
      if (!unreadable && !this.stopped) this.apply(texts);
    } finally {
      this.polling = false;
    }
  }

  private apply(texts: string[]): boolean {
    const version = digest(texts);
    if (version === this.appliedDigest) {
      this.refusedDigest = undefined;
      return false;
    }
    let next: T;
    try {
      next = this.parse(texts);
    } catch (e) {
      this.refuse(version, (e as Error).message);
      return false;
    }
    this.value = next;
    this.appliedDigest = version;
    this.refusedDigest = undefined;
    this.options.onReload?.(next);
    return true;
  }

  /** Reports a refused version once, not on every poll that still sees it. */
  private refuse(version: string, message: string): void {
    if (this.refusedDigest === version) return;
    this.refusedDigest = version;
    this.options.onError?.(`${message}; keeping the previous ${this.options.describe(this.value)}`);
  }
}

/** One digest over every file, each preceded by its length, so content cannot move between files unseen. */
function digest(texts: string[]): string {
  const hash = createHash('sha256');
  for (const text of texts) hash.update(`${Buffer.byteLength(text)}:`).update(text);
  return hash.digest('hex');
}
