// The JSON body of a readiness answer, shared by /healthz on the KMS port and /readyz on the
// admin listener: the overall word, the default token, the store, and every key store by id.
import type { ReadinessReport } from '../core/jobs/readiness';
import { DEFAULT_KEY_STORE_ID } from '../core/key-stores/registry';

export interface ReadinessBody {
  status: 'ok' | 'unavailable';
  token: 'ok' | 'unavailable';
  store: 'ok' | 'unavailable';
  keyStores: Record<string, 'ok' | 'unavailable'>;
}

const word = (ok: boolean) => (ok ? 'ok' as const : 'unavailable' as const);

export function readinessBody(report: ReadinessReport): ReadinessBody {
  return {
    status: word(report.ready),
    token: word(report.keyStores[DEFAULT_KEY_STORE_ID] ?? false),
    store: word(report.store),
    keyStores: Object.fromEntries(Object.entries(report.keyStores).map(([id, ok]) => [id, word(ok)])),
  };
}
