// An external key store as a KeyStore of the registry: the XKS proxy client of one connected
// store. Its encrypt and decrypt are the outer layer of double encryption (crypto/symmetric.ts
// adds the inner layer in our own token); every proxy failure becomes KMSInvalidStateException
// with the message for its cause, as AWS answers cryptographic operations.
import { KmsError } from '../errors';
import { XksProxyFailure, type XksHealth, type XksKeyMetadata, type XksProxyClient, type XksSealed } from '../key-stores/connectors';
import type { KeyStore, KeyStoreCall } from '../key-stores/port';
import { ALL_KEY_MANAGERS_UNAVAILABLE, cryptographicError, type HealthCheckOutcome } from './xks-failures';

/** A key manager the proxy reports as usable. */
const usable = (status: string) => status === 'ACTIVE' || status === 'DEGRADED';

/** GetHealthStatus, as an outcome: undefined when the proxy and at least one key manager answer. */
export async function checkProxyHealth(client: XksProxyClient, requestId: string, operation: string): Promise<{ outcome?: HealthCheckOutcome; detail: string }> {
  let health: XksHealth;
  try {
    health = await client.getHealthStatus({ operation, requestId });
  } catch (e) {
    if (e instanceof XksProxyFailure) return { outcome: e.kind, detail: e.detail };
    throw e;
  }
  if (!health.ekmFleetDetails.some((manager) => usable(manager.healthStatus))) {
    return { outcome: ALL_KEY_MANAGERS_UNAVAILABLE, detail: `key managers: ${health.ekmFleetDetails.map((m) => `${m.id}=${m.healthStatus}`).join(', ') || 'none'}` };
  }
  return { detail: 'healthy' };
}

export class ExternalKeyStore implements KeyStore {
  constructor(readonly id: string, private readonly client: XksProxyClient) {}

  async encrypt(xksKeyId: string, aad: Buffer, plaintext: Buffer, call: KeyStoreCall): Promise<XksSealed> {
    return this.forwarded(() => this.client.encrypt(xksKeyId, aad, plaintext, call));
  }

  async decrypt(xksKeyId: string, aad: Buffer, sealed: XksSealed, call: KeyStoreCall): Promise<Buffer> {
    return this.forwarded(() => this.client.decrypt(xksKeyId, aad, sealed, call));
  }

  /** The external key's metadata; XksProxyFailure is left to CreateKey to map. */
  describeExternalKey(xksKeyId: string, call: KeyStoreCall): Promise<XksKeyMetadata> {
    return this.client.getKeyMetadata(xksKeyId, call);
  }

  // GenerateRandom refuses external key stores before it gets here; this is the second line of defence.
  async randomBytes(): Promise<Buffer> {
    throw new KmsError('UnsupportedOperationException', 'GenerateRandom does not support external key stores. Specify a CloudHSM key store or none.');
  }

  async isHealthy(): Promise<boolean> {
    const { outcome } = await checkProxyHealth(this.client, 'health-check', 'GetHealthStatus').catch(() => ({ outcome: 'XksProxyUnreachableException' as const }));
    return outcome === undefined;
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private async forwarded<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      if (e instanceof XksProxyFailure) throw cryptographicError(e);
      throw e;
    }
  }
}
