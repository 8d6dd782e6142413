// The real metadata store, with faults injected into the key writes a test arms, for tests of
// what a crash or a lost reply between two steps leaves behind.
import type { MetadataStore } from '../../src/core/ports';
import { withRepositories } from './wrapped-store';

export type Fault = 'fail' | 'loseReply' | undefined;
export type KeyWrite = 'insert' | 'replace' | 'delete';

/**
 * `plan` is asked about each armed key write (numbered from 1 since arming, and named) and may fail it before
 * the write, or lose the reply after the write has landed. Only the writes named at arming count.
 */
export class FaultyStore {
  private plan: ((n: number, write: KeyWrite) => Fault) | undefined;
  private counted = new Set<string>();
  private calls = 0;
  /** Whether the armed plan injected a fault. */
  injected = false;
  readonly store: MetadataStore;

  constructor(inner: MetadataStore) {
    this.store = withRepositories(inner, { keys: new Proxy(inner.keys, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const real = (value as (...args: unknown[]) => Promise<unknown>).bind(target);
        if (!this.plan || typeof property !== 'string' || !this.counted.has(property)) return real;
        return async (...args: unknown[]) => {
          const fault = this.plan?.(++this.calls, property as KeyWrite);
          if (fault) this.injected = true;
          if (fault === 'fail') throw new Error('injected store failure');
          const result = await real(...args);
          if (fault === 'loseReply') throw new Error('injected lost reply');
          return result;
        };
      },
    }) });
  }

  arm(plan: (n: number, write: KeyWrite) => Fault, writes: readonly KeyWrite[] = ['insert', 'replace', 'delete']): void {
    this.plan = plan;
    this.counted = new Set(writes);
    this.calls = 0;
    this.injected = false;
  }

  /** Writes 1..n-1 land, write n and every later one fail, as if the process were killed just before write n. */
  crashAt(n: number): void {
    this.arm((call) => (call >= n ? 'fail' : undefined));
  }

  loseReplyAt(n: number): void {
    this.arm((call) => (call === n ? 'loseReply' : undefined));
  }

  /** How many armed key writes have been made since arming. */
  get writes(): number {
    return this.calls;
  }

  disarm(): void {
    this.plan = undefined;
  }
}
