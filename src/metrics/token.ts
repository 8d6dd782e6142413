// The tokens: each session pool read on scrape through its read-only stats() (no metrics code
// inside src/pkcs11), and each key operation's duration told to the observer composition hands
// the token (TokenOperationObserver). Labelled by key store id: "default", or a custom key store's.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { KeyStore } from '../core/key-stores/port';
import type { SessionPoolStats, TokenOperationObserver } from '../pkcs11/sessions';
import { FastHistogram, type HistogramSeries } from './fast-series';
import { LATENCY_BUCKETS, PREFIX } from './registry';

/** A key store backed by a PKCS#11 token with a session pool (the default token, a CloudHSM-type store). */
interface PooledKeyStore extends KeyStore {
  poolStats(): SessionPoolStats;
}

const hasPool = (store: KeyStore): store is PooledKeyStore => typeof (store as Partial<PooledKeyStore>).poolStats === 'function';

/**
 * The operation names TokenObjects reports, by the PKCS#11 mechanism family each one runs. An
 * operation missing here is reported under its own name.
 */
const mechanismOf: Record<string, string> = {
  aesGcmEncrypt: 'AES_GCM', aesGcmDecrypt: 'AES_GCM',
  hmac: 'HMAC', verifyHmac: 'HMAC',
  signDigest: 'SIGN', verifyDigest: 'VERIFY', signMessage: 'SIGN', verifyMessage: 'VERIFY',
  rsaDecrypt: 'RSA_DECRYPT', deriveSharedSecret: 'ECDH1_DERIVE',
  generateKeyPair: 'KEY_PAIR_GEN', generateWrappingKeyPair: 'KEY_PAIR_GEN',
};

/** Pool gauges for every key store `stores()` lists at scrape time. */
export function sessionPoolMetrics(registry: Registry, stores: () => KeyStore[]): void {
  const gauge = (name: string, help: string, read: (s: SessionPoolStats) => number, aggregator: 'sum' | 'max' = 'sum') => new Gauge({
    name: `${PREFIX}token_sessions_${name}`, help, labelNames: ['key_store'], registers: [registry], aggregator,
    collect() {
      this.reset();
      for (const store of stores()) if (hasPool(store)) this.set({ key_store: store.id }, read(store.poolStats()));
    },
  });
  gauge('in_use', 'PKCS#11 sessions lent to requests now.', (s) => s.inUse);
  gauge('idle', 'PKCS#11 sessions open and idle in the pool.', (s) => s.idle);
  gauge('size', 'Sessions each pool may lend at once (KMS_SESSION_POOL_SIZE; summed over workers).', (s) => s.size);
  gauge('waiters', 'Requests waiting for a session.', (s) => s.waiters);
  gauge('reconnecting', '1 while the token connection is being rebuilt.', (s) => (s.reconnecting ? 1 : 0), 'max');
  // Monotonic counts kept by the pool, exposed as counters by reading them on scrape.
  const counter = (name: string, help: string, read: (s: SessionPoolStats) => number) => new Counter({
    name: `${PREFIX}token_${name}_total`, help, labelNames: ['key_store'], registers: [registry],
    collect() {
      this.reset();
      for (const store of stores()) if (hasPool(store)) this.inc({ key_store: store.id }, read(store.poolStats()));
    },
  });
  counter('reconnects', 'Rebuilds of the token connection (each single-flight rebuild once) since the store was opened.', (s) => s.reconnects);
  counter('session_acquire_timeouts', 'Requests that gave up waiting for a PKCS#11 session since the store was opened.', (s) => s.acquireTimeouts);
}

/**
 * Token operation latency: returns, for a key store id, the observer to give that store's token
 * (ConnectionOptions.observeOperation). An observation is a map lookup and a few additions.
 */
export function tokenOperationMetrics(registry: Registry): (keyStoreId: string) => TokenOperationObserver {
  const histogram = new FastHistogram(
    `${PREFIX}token_operation_duration_seconds`, 'Duration of key operations in the token, session wait included, by mechanism family and operation.', LATENCY_BUCKETS, registry,
  );
  return (keyStoreId) => {
    const children = new Map<string, HistogramSeries>();
    return (operation, seconds, ok) => {
      const key = `${operation}\0${ok}`;
      let child = children.get(key);
      if (!child) {
        const labels = { key_store: keyStoreId, mechanism: mechanismOf[operation] ?? operation, operation, outcome: ok ? 'success' : 'failure' };
        child = histogram.child(`${keyStoreId}\0${key}`, () => labels);
        children.set(key, child);
      }
      child.observe(seconds);
    };
  };
}
