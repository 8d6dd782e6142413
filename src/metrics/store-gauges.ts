// What the metadata store knows, read on scrape rather than maintained: several instances
// change the same store, so a count kept in one process would be wrong as soon as another
// acts. Each read is bounded (at most MAX_SERIES keys) and cached for CACHE_MS, so a busy
// Prometheus (or several workers answering one scrape) costs the store one query per interval.
import { Gauge, type Registry } from 'prom-client';
import { END_OF_TIME } from '../core/jobs/recovery';
import { connectionStates, type CustomKeyStoreRecord, type KeyRecord } from '../core/model';
import type { Clock, MetadataStore } from '../core/ports';
import { PREFIX } from './registry';

/** How long one read of the store answers scrapes. */
export const STORE_GAUGES_CACHE_MS = 15_000;
/** Counting every key is a scan of the store (SQLite: about a second per 50,000 keys, in small steps): read less often. */
export const KEY_COUNT_CACHE_MS = 60_000;
/** Imported keys with an expiration reported at most (the soonest to expire first). */
export const MAX_EXPIRING_KEYS = 1000;

/** A read done at most once per interval; a failed read is retried on the next scrape. */
function cachedRead<T>(read: () => Promise<T>, cacheMs = STORE_GAUGES_CACHE_MS): () => Promise<T> {
  let cached: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    if (!cached || now - cached.at > cacheMs) {
      const value = read();
      cached = { at: now, value };
      value.catch(() => { cached = undefined; });
    }
    return cached.value;
  };
}

export function storeGauges(registry: Registry, store: MetadataStore, clock: Clock): void {
  const keyStores = cachedRead(() => store.customKeyStores.listInStates(connectionStates));
  // Upkeep is scheduled at or before material expiry, so every expiring key has an upkeepAt.
  const expiring = cachedRead(async () => {
    const due = await store.keys.listDueForImportUpkeep(END_OF_TIME);
    return due.filter((key): key is KeyRecord & { imported: { validTo: Date } } => key.imported?.expirationModel === 'KEY_MATERIAL_EXPIRES' && key.imported.validTo !== undefined)
      .slice(0, MAX_EXPIRING_KEYS);
  });

  const keyCounts = cachedRead(async () => (await store.keys.countByStateAndSpec?.()) ?? [], KEY_COUNT_CACHE_MS);
  new Gauge({
    name: `${PREFIX}keys`, help: 'Complete KMS keys in every account and region by state and key spec, as recorded in the metadata store.',
    labelNames: ['state', 'key_spec'], registers: [registry], aggregator: 'first',
    async collect() {
      this.reset();
      for (const { state, keySpec, count } of await keyCounts().catch(() => [])) this.set({ state, key_spec: keySpec }, count);
    },
  });
  new Gauge({
    name: `${PREFIX}custom_key_stores`, help: 'Custom key stores by type and connection state, as recorded in the metadata store.',
    labelNames: ['type', 'connection_state'], registers: [registry], aggregator: 'first',
    async collect() {
      this.reset();
      const counts = new Map<string, { type: string; state: string; n: number }>();
      for (const record of await keyStores().catch(() => [] as CustomKeyStoreRecord[])) {
        const key = `${record.type}/${record.connectionState}`;
        const entry = counts.get(key) ?? { type: record.type, state: record.connectionState, n: 0 };
        entry.n += 1;
        counts.set(key, entry);
      }
      for (const { type, state, n } of counts.values()) this.set({ type, connection_state: state }, n);
    },
  });
  new Gauge({
    name: `${PREFIX}custom_key_store_connected`, help: '1 when a custom key store is CONNECTED in the metadata store, else 0.',
    labelNames: ['CustomKeyStoreId', 'type', 'connection_state'], registers: [registry], aggregator: 'first',
    async collect() {
      this.reset();
      for (const record of await keyStores().catch(() => [] as CustomKeyStoreRecord[])) {
        this.set({ CustomKeyStoreId: record.customKeyStoreId, type: record.type, connection_state: record.connectionState }, record.connectionState === 'CONNECTED' ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: `${PREFIX}seconds_until_key_material_expiration`, help: `AWS SecondsUntilKeyMaterialExpiration: imported key material with an expiration (at most ${MAX_EXPIRING_KEYS} keys, soonest first).`,
    labelNames: ['KeyId'], registers: [registry], aggregator: 'first',
    async collect() {
      this.reset();
      const now = clock.now().getTime();
      for (const key of await expiring().catch(() => [])) {
        this.set({ KeyId: key.keyId }, Math.max(0, Math.round((key.imported.validTo.getTime() - now) / 1000)));
      }
    },
  });
}
