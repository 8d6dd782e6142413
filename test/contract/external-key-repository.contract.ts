// The behaviour every ExternalKeyRepository must share, run by each store's *.test.ts file.
import { DuplicateRecordError, RevisionConflictError } from '../../src/core/errors';
import type { ExternalKeyRecord } from '../../src/core/xks-proxy/external-key';
import { createdAt, describeStoreContract, updatedAt, type StoreContractOptions, type StoreFactory } from './metadata-fixtures';

const PREFIX = '/keystores/alpha';
const OTHER_PREFIX = '/keystores/beta';

function makeExternalKey(externalKeyId: string, overrides: Partial<ExternalKeyRecord> = {}): ExternalKeyRecord {
  return {
    keyStorePrefix: PREFIX,
    externalKeyId,
    usage: ['ENCRYPT', 'DECRYPT'],
    status: 'ENABLED',
    backing: { tokenId: 'default', objectId: `78${externalKeyId.length.toString(16).padStart(64, '0')}` },
    createdAt: new Date(createdAt),
    updatedAt: new Date(updatedAt),
    revision: 0,
    ...overrides,
  };
}

/** Registers the suite over the stores `factory` makes, as describeKeyRepositoryContract does. */
export function describeExternalKeyRepositoryContract(name: string, factory: StoreFactory, options: StoreContractOptions = {}): void {
  describeStoreContract(`ExternalKeyRepository contract: ${name}`, factory, options, (store, restart) => {
    test('get returns what insert stored, with its dates as Dates', async () => {
      const key = makeExternalKey('key-1', { usage: ['DECRYPT'], status: 'DISABLED' });
      await store.externalKeys.insert(key);
      const got = await store.externalKeys.get(PREFIX, 'key-1');
      expect(got).toStrictEqual(key);
      expect(got?.createdAt).toBeInstanceOf(Date);
      expect(got?.updatedAt).toBeInstanceOf(Date);
    });

    test('a key with no usage and the empty prefix is stored as it is', async () => {
      const key = makeExternalKey('impotent', { keyStorePrefix: '', usage: [] });
      await store.externalKeys.insert(key);
      expect(await store.externalKeys.get('', 'impotent')).toStrictEqual(key);
      expect(await store.externalKeys.get(PREFIX, 'impotent')).toBeUndefined();
    });

    test('get returns undefined for an unknown key', async () => {
      expect(await store.externalKeys.get(PREFIX, 'missing')).toBeUndefined();
    });

    test('the store keeps its own copy of a key', async () => {
      const key = makeExternalKey('key-1');
      await store.externalKeys.insert(key);
      key.usage.pop();
      key.backing.objectId = 'changed';
      key.createdAt.setTime(0);
      expect(await store.externalKeys.get(PREFIX, 'key-1')).toStrictEqual(makeExternalKey('key-1'));
    });

    test('insert rejects a second key with the same id in the same key store', async () => {
      await store.externalKeys.insert(makeExternalKey('key-1'));
      await expect(store.externalKeys.insert(makeExternalKey('key-1', { usage: ['ENCRYPT'] }))).rejects.toBeInstanceOf(DuplicateRecordError);
      expect((await store.externalKeys.get(PREFIX, 'key-1'))?.usage).toEqual(['ENCRYPT', 'DECRYPT']);
    });

    test('the same id in another key store is another key', async () => {
      await store.externalKeys.insert(makeExternalKey('key-1'));
      await store.externalKeys.insert(makeExternalKey('key-1', { keyStorePrefix: OTHER_PREFIX, usage: ['ENCRYPT'] }));
      expect((await store.externalKeys.get(PREFIX, 'key-1'))?.usage).toEqual(['ENCRYPT', 'DECRYPT']);
      expect((await store.externalKeys.get(OTHER_PREFIX, 'key-1'))?.usage).toEqual(['ENCRYPT']);
    });

    test('ids are case-sensitive', async () => {
      await store.externalKeys.insert(makeExternalKey('Key'));
      await store.externalKeys.insert(makeExternalKey('key', { status: 'DISABLED' }));
      expect((await store.externalKeys.get(PREFIX, 'Key'))?.status).toBe('ENABLED');
      expect((await store.externalKeys.get(PREFIX, 'key'))?.status).toBe('DISABLED');
      expect(await store.externalKeys.get(PREFIX, 'KEY')).toBeUndefined();
    });

    test('list orders by key store prefix, then id, in binary order, and filters by key store', async () => {
      for (const [prefix, id] of [[OTHER_PREFIX, 'a'], [PREFIX, 'b'], [PREFIX, 'B'], ['', 'z'], [PREFIX, 'a.1'], [PREFIX, 'a']] as const) {
        await store.externalKeys.insert(makeExternalKey(id, { keyStorePrefix: prefix }));
      }
      const all = await store.externalKeys.list({});
      expect(all.map((k) => [k.keyStorePrefix, k.externalKeyId])).toEqual([
        ['', 'z'], [PREFIX, 'B'], [PREFIX, 'a'], [PREFIX, 'a.1'], [PREFIX, 'b'], [OTHER_PREFIX, 'a'],
      ]);
      expect((await store.externalKeys.list({ keyStorePrefix: PREFIX })).map((k) => k.externalKeyId)).toEqual(['B', 'a', 'a.1', 'b']);
      expect(await store.externalKeys.list({ keyStorePrefix: '/keystores/none' })).toEqual([]);
      expect(all[0]).toStrictEqual(makeExternalKey('z', { keyStorePrefix: '' }));
    });

    test('replace stores the change, bumps the revision and returns the stored copy', async () => {
      await store.externalKeys.insert(makeExternalKey('key-1'));
      const read = (await store.externalKeys.get(PREFIX, 'key-1'))!;
      const later = new Date('2025-01-01T00:00:00.001Z');
      const stored = await store.externalKeys.replace({ ...read, status: 'DISABLED', updatedAt: later });
      expect(stored).toStrictEqual({ ...read, status: 'DISABLED', updatedAt: later, revision: 1 });
      expect(await store.externalKeys.get(PREFIX, 'key-1')).toStrictEqual(stored);
    });

    test('replace refuses a stale revision and changes nothing', async () => {
      await store.externalKeys.insert(makeExternalKey('key-1'));
      const read = (await store.externalKeys.get(PREFIX, 'key-1'))!;
      await store.externalKeys.replace({ ...read, status: 'DISABLED' });
      await expect(store.externalKeys.replace({ ...read, usage: [] })).rejects.toBeInstanceOf(RevisionConflictError);
      expect(await store.externalKeys.get(PREFIX, 'key-1')).toMatchObject({ status: 'DISABLED', usage: ['ENCRYPT', 'DECRYPT'], revision: 1 });
    });

    test('replace of a key that is gone is a conflict, and creates nothing', async () => {
      await expect(store.externalKeys.replace(makeExternalKey('ghost'))).rejects.toBeInstanceOf(RevisionConflictError);
      expect(await store.externalKeys.get(PREFIX, 'ghost')).toBeUndefined();
    });

    test('delete removes the key once, in its own key store only, and reports whether it existed', async () => {
      await store.externalKeys.insert(makeExternalKey('key-1'));
      await store.externalKeys.insert(makeExternalKey('key-1', { keyStorePrefix: OTHER_PREFIX }));
      expect(await store.externalKeys.delete(PREFIX, 'key-1')).toBe(true);
      expect(await store.externalKeys.delete(PREFIX, 'key-1')).toBe(false);
      expect(await store.externalKeys.get(PREFIX, 'key-1')).toBeUndefined();
      expect(await store.externalKeys.get(OTHER_PREFIX, 'key-1')).toBeDefined();
    });

    if (restart) {
      test('external keys survive close() and reopening the same storage', async () => {
        const key = makeExternalKey('key-1', { usage: ['ENCRYPT'] });
        await store.externalKeys.insert(key);
        await restart();
        expect(await store.externalKeys.get(PREFIX, 'key-1')).toStrictEqual(key);
        await expect(store.externalKeys.insert(key)).rejects.toBeInstanceOf(DuplicateRecordError);
      });
    }
  });
}
