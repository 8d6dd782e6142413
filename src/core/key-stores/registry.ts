// The key stores this instance can reach, by id: the default token and the custom key stores
// connected now. The one place that resolves a BackingKeyRef or a CustomKeyStoreId to a store,
// and the only place in core that knows which store is the default.
import { KmsError, messages } from '../errors';
import type { BackingKeyRef } from '../model';
import type { KeyStore, KeyStoreCapabilities, KeyStoreCapability } from './port';

/** The id of the default key store in every BackingKeyRef that names it. */
export const DEFAULT_KEY_STORE_ID = 'default';

const keyUnavailable = (detail: string) => new KmsError('KeyUnavailableException', messages.keyUnavailable, detail);

/** A store's capability and the backing key it is asked about. */
export interface BackingKey<C> {
  store: KeyStore;
  capability: C;
  backingKeyId: string;
}

export class KeyStoreRegistry {
  private readonly stores = new Map<string, KeyStore>();
  /** The connection generation of each custom key store connected here (see CustomKeyStoreRecord). */
  private readonly generations = new Map<string, number>();

  constructor(defaultStore: KeyStore) {
    // Every BackingKeyRef written so far names the default store by this id.
    if (defaultStore.id !== DEFAULT_KEY_STORE_ID) throw new Error(`the default key store must have id '${DEFAULT_KEY_STORE_ID}', not '${defaultStore.id}'`);
    this.stores.set(defaultStore.id, defaultStore);
  }

  /** Connects a store at run time. */
  add(store: KeyStore): void {
    if (this.stores.has(store.id)) throw new Error(`key store '${store.id}' is already registered`);
    this.stores.set(store.id, store);
  }

  /**
   * Connects a custom key store for one connection generation, in place of an older connection,
   * which it returns for the caller to close.
   */
  attach(store: KeyStore, generation: number): KeyStore | undefined {
    if (store.id === DEFAULT_KEY_STORE_ID) throw new Error('the default key store cannot be replaced');
    const previous = this.stores.get(store.id);
    this.stores.set(store.id, store);
    this.generations.set(store.id, generation);
    return previous === store ? undefined : previous;
  }

  /** The connection generation a custom key store is connected here with; undefined when it is not. */
  generationOf(id: string): number | undefined {
    return this.stores.has(id) ? this.generations.get(id) : undefined;
  }

  /** Disconnects a store (not the default); the caller closes it. Returns it, if it was there. */
  remove(id: string): KeyStore | undefined {
    if (id === DEFAULT_KEY_STORE_ID) throw new Error('the default key store cannot be removed');
    const store = this.stores.get(id);
    this.stores.delete(id);
    this.generations.delete(id);
    return store;
  }

  get(id: string): KeyStore | undefined {
    return this.stores.get(id);
  }

  all(): KeyStore[] {
    return [...this.stores.values()];
  }

  /**
   * Where new material (and random bytes) for a key in `customKeyStoreId` comes from; the
   * default store when there is none. KeyUnavailableException when the store is not connected.
   */
  storeFor(customKeyStoreId?: string): KeyStore {
    const id = customKeyStoreId ?? DEFAULT_KEY_STORE_ID;
    const store = this.stores.get(id);
    if (!store) throw keyUnavailable(`key store ${id} not connected`);
    return store;
  }

  /** The store holding a backing key, and the key's id in it. */
  resolve(ref: BackingKeyRef): { store: KeyStore; backingKeyId: string } {
    const [storeId, backingKeyId] = ref.kind === 'pkcs11' ? [ref.tokenId, ref.objectId] : [ref.keyStoreId, ref.xksKeyId];
    const store = this.stores.get(storeId);
    if (!store) throw keyUnavailable(`key store ${storeId} not connected`);
    return { store, backingKeyId };
  }

  /** A capability of the store holding a backing key; UnsupportedOperationException when the store has none. */
  capabilityFor<K extends KeyStoreCapability>(ref: BackingKeyRef, name: K): BackingKey<KeyStoreCapabilities[K]> {
    const { store, backingKeyId } = this.resolve(ref);
    return { store, capability: requireCapability(store, name), backingKeyId };
  }

  /** The key objects of a connected store, to destroy leftovers; undefined when it is not connected now. */
  keyObjectsIn(storeId: string): KeyStoreCapabilities['keyObjects'] | undefined {
    return this.stores.get(storeId)?.keyObjects;
  }

  async close(): Promise<void> {
    await Promise.all([...this.stores.values()].map((store) => store.close()));
  }
}

// Precondition: a key store is asked only for what it can do; anything else is UnsupportedOperationException.
export function requireCapability<K extends KeyStoreCapability>(store: KeyStore, name: K): KeyStoreCapabilities[K] {
  const capability = store[name] as KeyStoreCapabilities[K] | undefined;
  if (!capability) throw new KmsError('UnsupportedOperationException', `This operation is not supported by the key store that holds this KMS key.`, `key store ${store.id} has no ${name}`);
  return capability;
}
