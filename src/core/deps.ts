// What operations are given to work with: the ports, nothing concrete.
import type { KeyStoreRegistry } from './key-stores/registry';
import type { Clock, MetadataStore } from './ports';

export interface CoreDeps {
  store: MetadataStore;
  /** Every key store this instance reaches: the default token and connected custom key stores. */
  keyStores: KeyStoreRegistry;
  clock: Clock;
}
