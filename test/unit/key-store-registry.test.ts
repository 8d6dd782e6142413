// The key store registry: one place that resolves backing keys and custom key store ids to
// stores, knows the default, and adds and removes stores at run time.
import { KmsError } from '../../src/core/errors';
import type { AesGcmSealed, KeyStore } from '../../src/core/key-stores/port';
import { DEFAULT_KEY_STORE_ID, KeyStoreRegistry, requireCapability } from '../../src/core/key-stores/registry';
import { FakeToken } from '../support/fake-token';

/** A store with only the required core, as an external key store has. */
function coreOnlyStore(id: string): KeyStore {
  return {
    id,
    async encrypt(): Promise<AesGcmSealed> { return { iv: Buffer.alloc(12), ciphertext: Buffer.alloc(0), tag: Buffer.alloc(16) }; },
    async decrypt() { return Buffer.alloc(0); },
    async randomBytes(length) { return Buffer.alloc(length); },
    async isHealthy() { return true; },
    async close() {},
  };
}

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e instanceof KmsError ? e.code : `not a KmsError: ${String(e)}`;
  }
  return 'no error';
};

it('resolves the default store for keys without a custom key store, and refuses a default under another id', () => {
  const token = new FakeToken();
  const registry = new KeyStoreRegistry(token);
  expect(registry.storeFor()).toBe(token);
  expect(registry.storeFor(DEFAULT_KEY_STORE_ID)).toBe(token);
  expect(() => new KeyStoreRegistry(new FakeToken('cks-1'))).toThrow(/default/);
});

it('resolves a BackingKeyRef of either kind to its store and backing key id', () => {
  const registry = new KeyStoreRegistry(new FakeToken());
  const token = new FakeToken('cks-1234567890abcdef0');
  const external = coreOnlyStore('cks-abcdef0123456789a');
  registry.add(token);
  registry.add(external);
  expect(registry.resolve({ kind: 'pkcs11', tokenId: token.id, objectId: 'ab' })).toEqual({ store: token, backingKeyId: 'ab' });
  expect(registry.resolve({ kind: 'xks', keyStoreId: external.id, xksKeyId: 'xks-key-1', localObjectId: 'ab' })).toEqual({ store: external, backingKeyId: 'xks-key-1' });
  expect(registry.storeFor(token.id)).toBe(token);
  expect(registry.all()).toHaveLength(3);
});

it('answers KeyUnavailableException for a store that is not connected, and after it is removed', () => {
  const registry = new KeyStoreRegistry(new FakeToken());
  const ref = { kind: 'pkcs11' as const, tokenId: 'cks-1234567890abcdef0', objectId: 'ab' };
  expect(code(() => registry.resolve(ref))).toBe('KeyUnavailableException');
  expect(code(() => registry.storeFor('cks-1234567890abcdef0'))).toBe('KeyUnavailableException');
  const token = new FakeToken('cks-1234567890abcdef0');
  registry.add(token);
  expect(registry.resolve(ref).store).toBe(token);
  expect(() => registry.add(new FakeToken('cks-1234567890abcdef0'))).toThrow(/already/);
  expect(registry.remove(token.id)).toBe(token);
  expect(code(() => registry.resolve(ref))).toBe('KeyUnavailableException');
  expect(registry.keyObjectsIn(token.id)).toBeUndefined();
  expect(() => registry.remove(DEFAULT_KEY_STORE_ID)).toThrow(/default/);
});

it('a key store is asked only for what it can do; anything else is UnsupportedOperationException.', () => {
  const registry = new KeyStoreRegistry(new FakeToken());
  const external = coreOnlyStore('cks-abcdef0123456789a');
  registry.add(external);
  for (const capability of ['keyObjects', 'keyPairs', 'hmacKeys', 'keyImport'] as const) {
    expect(code(() => requireCapability(external, capability))).toBe('UnsupportedOperationException');
    expect(code(() => registry.capabilityFor({ kind: 'xks', keyStoreId: external.id, xksKeyId: 'k', localObjectId: 'ab' }, capability))).toBe('UnsupportedOperationException');
    expect(requireCapability(registry.storeFor(), capability)).toBeDefined();
  }
  expect(registry.keyObjectsIn(external.id)).toBeUndefined();
});
