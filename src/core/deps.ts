// What operations are given to work with: the ports, nothing concrete.
import type { CallEvent } from './calls/event';
import type { KeyStoreConnectors } from './key-stores/connectors';
import type { KeyStoreRegistry } from './key-stores/registry';
import type { Clock, MetadataStore } from './ports';
import type { XksProxyDeps } from './xks-proxy/context';

export interface CoreDeps {
  store: MetadataStore;
  /** Every key store this instance reaches: the default token and connected custom key stores. */
  keyStores: KeyStoreRegistry;
  clock: Clock;
  /** How custom key stores are reached: declared tokens and XKS proxies. */
  connectors?: KeyStoreConnectors;
  /** Present where this instance serves the XKS proxy API. */
  xksProxy?: XksProxyDeps;
  /** Emits what background work did (a custom key store's connection settling) through the seam, to its observers. */
  internalEvents?: (event: CallEvent) => Promise<void>;
}
