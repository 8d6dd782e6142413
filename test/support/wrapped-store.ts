// Tests inject faults or delays into one repository of a real store and leave the rest alone.
import type { MetadataStore } from '../../src/core/ports';

type Repositories = Pick<MetadataStore, 'keys' | 'aliases' | 'grants' | 'leases' | 'externalKeys' | 'customKeyStores' | 'audit'>;

/** `store` with the given repositories in place of its own; lifecycle calls go to `store`. */
export function withRepositories(store: MetadataStore, replacements: Partial<Repositories>): MetadataStore {
  return {
    keys: replacements.keys ?? store.keys,
    aliases: replacements.aliases ?? store.aliases,
    grants: replacements.grants ?? store.grants,
    leases: replacements.leases ?? store.leases,
    externalKeys: replacements.externalKeys ?? store.externalKeys,
    customKeyStores: replacements.customKeyStores ?? store.customKeyStores,
    audit: replacements.audit ?? store.audit,
    init: () => store.init(),
    close: () => store.close(),
    ping: () => store.ping(),
  };
}
