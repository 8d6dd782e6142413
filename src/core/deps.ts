// What operations are given to work with: the ports, nothing concrete.
import type { Clock, MetadataStore, TokenDirectory } from './ports';

export interface CoreDeps {
  store: MetadataStore;
  tokens: TokenDirectory;
  clock: Clock;
}
