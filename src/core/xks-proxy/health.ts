// GetHealthStatus's view of the key managers behind the proxy: every key store that holds
// external keys (each one a token), checked with a real encryption and decryption on a health
// key of its own. An answer stands for a few seconds, so a burst of health calls costs the
// token one check, and concurrent callers share the check under way.
import { performance } from 'node:perf_hooks';
import type { ExternalKeyCapability } from '../key-stores/port';
import type { KeyStoreRegistry } from '../key-stores/registry';
import type { Clock } from '../ports';

export type EkmHealthStatus = 'ACTIVE' | 'DEGRADED' | 'UNAVAILABLE';

export interface EkmFleetMember {
  id: string;
  vendor: string;
  model: string;
  healthStatus: EkmHealthStatus;
}

export interface HealthMonitorOptions {
  /** How long an answer stands. The spec allows a minute; a few seconds keeps it honest. */
  cacheMs: number;
  /** A check that succeeds but takes longer than this reports DEGRADED. */
  degradedAfterMs: number;
  /** A check that has not answered by then reports UNAVAILABLE. */
  timeoutMs: number;
}

/** The spec's limit on ekmFleetDetails entries. */
export const MAX_FLEET_ENTRIES = 10;

export class XksHealthMonitor {
  private readonly answers = new Map<string, { at: number; member: Promise<EkmFleetMember> }>();

  constructor(private readonly keyStores: KeyStoreRegistry, private readonly clock: Clock, private readonly options: HealthMonitorOptions) {}

  /** One entry per key store with external keys, at most ten. */
  async fleet(): Promise<EkmFleetMember[]> {
    const now = this.clock.now().getTime();
    const stores = this.keyStores.all().filter((store) => store.externalKeys !== undefined).slice(0, MAX_FLEET_ENTRIES);
    return Promise.all(stores.map((store) => {
      const cached = this.answers.get(store.id);
      if (cached && now - cached.at < this.options.cacheMs) return cached.member;
      const member = this.check(store.externalKeys!);
      this.answers.set(store.id, { at: now, member });
      return member;
    }));
  }

  private async check(keys: ExternalKeyCapability): Promise<EkmFleetMember> {
    const { id, vendor, model } = keys.describe();
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.options.timeoutMs);
      timer.unref();
    });
    try {
      const answered = await Promise.race([keys.checkHealth().then(() => true), timedOut]);
      const elapsed = performance.now() - started;
      const healthStatus: EkmHealthStatus = !answered ? 'UNAVAILABLE' : elapsed > this.options.degradedAfterMs ? 'DEGRADED' : 'ACTIVE';
      return { id, vendor, model, healthStatus };
    } catch {
      return { id, vendor, model, healthStatus: 'UNAVAILABLE' };
    } finally {
      clearTimeout(timer);
    }
  }
}
