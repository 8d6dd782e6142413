// Readiness that tells the truth: a real operation on every key store (each token encrypts and
// decrypts with its health key) and a real write to the metadata store (this instance's
// heartbeat), each bounded in time and cached briefly so health checks cannot load either.
import type { CoreDeps } from '../deps';
import { heartbeat } from './maintenance';

/** How long an answer stands. */
export const READINESS_CACHE_MS = 2000;
/** A check that takes longer than this has failed. */
export const READINESS_TIMEOUT_MS = 3000;

export interface ReadinessReport {
  ready: boolean;
  /** Per key store id: does it work? */
  keyStores: Record<string, boolean>;
  /** Can this instance write to the metadata store? */
  store: boolean;
}

function within(ms: number, check: Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
  return Promise.race([check.catch(() => false), late]).finally(() => clearTimeout(timer));
}

export class Readiness {
  private cached?: { at: number; report: Promise<ReadinessReport> };

  constructor(private readonly deps: CoreDeps, private readonly instanceId: string) {}

  check(): Promise<ReadinessReport> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > READINESS_CACHE_MS) this.cached = { at: now, report: this.run() };
    return this.cached.report;
  }

  private async run(): Promise<ReadinessReport> {
    const stores = this.deps.keyStores.all();
    const [store, ...healthy] = await Promise.all([
      within(READINESS_TIMEOUT_MS, heartbeat(this.deps, this.instanceId).then(() => true)),
      ...stores.map((keyStore) => within(READINESS_TIMEOUT_MS, keyStore.isHealthy())),
    ]);
    const keyStores = Object.fromEntries(stores.map((keyStore, i) => [keyStore.id, healthy[i]!]));
    return { ready: store! && healthy.every(Boolean), keyStores, store: store! };
  }
}
