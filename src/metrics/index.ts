// One process's metrics, as composition uses them: the registry and what feeds it. Nothing here
// is on a request path except the call observer and the token operation observers, which do a
// map lookup and an increment each.
import type { Registry } from 'prom-client';
import type { CallObserver } from '../core/calls/event';
import type { XksProxyConnector } from '../core/key-stores/connectors';
import type { KeyStore } from '../core/key-stores/port';
import type { Clock, MetadataStore } from '../core/ports';
import type { TokenOperationObserver } from '../pkcs11/sessions';
import { auditMetrics, type AuditMetrics } from './audit';
import { callMetrics } from './calls';
import { createMetricsRegistry } from './registry';
import { storeGauges } from './store-gauges';
import { sessionPoolMetrics, tokenOperationMetrics } from './token';
import { xksClientMetrics } from './xks-client';

export { listenAdmin, type AdminListener, type AdminSources } from './admin-listener';
export type { AuditMetrics } from './audit';

export class ServiceMetrics {
  readonly registry: Registry = createMetricsRegistry();
  /** The observer of every call through the core seam. */
  readonly calls: CallObserver = callMetrics(this.registry);
  /** The observer to give the token of key store `id` (ConnectionOptions.observeOperation). */
  readonly tokenOperations: (keyStoreId: string) => TokenOperationObserver = tokenOperationMetrics(this.registry);
  /**
   * The audit trail's hook: `recordAppend(seconds)` after each append, and `chainLengthFrom(read)`
   * once at composition with a function returning the chain's length.
   */
  readonly audit: AuditMetrics = auditMetrics(this.registry);

  /** Session pool gauges of every key store the registry lists at scrape time. */
  watchKeyStores(stores: () => KeyStore[]): void {
    sessionPoolMetrics(this.registry, stores);
  }

  /** Custom key store states and imported key material expiry, read from the store on scrape (cached). */
  watchStore(store: MetadataStore, clock: Clock): void {
    storeGauges(this.registry, store, clock);
  }

  private readonly xksClients = xksClientMetrics(this.registry);

  /** The XKS client connector with every proxy call measured. */
  instrumentXks(connector: XksProxyConnector): XksProxyConnector {
    return this.xksClients(connector);
  }

  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
