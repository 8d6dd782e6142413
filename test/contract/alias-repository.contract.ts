// The behaviour every AliasRepository must share, run by each store's *.test.ts file.
import { DuplicateRecordError, KmsError } from '../../src/core/errors';
import {
  collectPages, createdAt, describeStoreContract, invalidMarkers, keyIdFor, makeAlias, otherAccount, otherRegion, scope, updatedAt,
  type StoreContractOptions, type StoreFactory,
} from './metadata-fixtures';

/** Registers the suite over the stores `factory` makes, as describeKeyRepositoryContract does. */
export function describeAliasRepositoryContract(name: string, factory: StoreFactory, options: StoreContractOptions = {}): void {
  describeStoreContract(`AliasRepository contract: ${name}`, factory, options, (store, restart) => {
    const keyA = keyIdFor(1);
    const keyB = keyIdFor(2);

    test('get returns what insert stored', async () => {
      const alias = makeAlias('alias/app', keyA);
      await store.aliases.insert(alias);
      const got = await store.aliases.get(scope, 'alias/app');
      expect(got).toStrictEqual(alias);
      expect(got?.createdAt).toBeInstanceOf(Date);
      expect(got?.updatedAt).toBeInstanceOf(Date);
    });

    test('insertWithinLimit inserts below the limit and refuses at it, counting only the target key in its scope', async () => {
      for (let i = 0; i < 3; i++) expect(await store.aliases.insertWithinLimit(makeAlias(`alias/a${i}`, keyA), 3)).toBe(true);
      expect(await store.aliases.insertWithinLimit(makeAlias('alias/a3', keyA), 3)).toBe(false);
      expect(await store.aliases.get(scope, 'alias/a3')).toBeUndefined();
      expect(await store.aliases.insertWithinLimit(makeAlias('alias/b0', keyB), 3)).toBe(true);
      expect(await store.aliases.insertWithinLimit(makeAlias('alias/a3', keyA, otherRegion), 3)).toBe(true);
      expect(await store.aliases.countForKey(scope, keyA)).toBe(3);
      await expect(store.aliases.insertWithinLimit(makeAlias('alias/a0', keyB), 3)).rejects.toBeInstanceOf(DuplicateRecordError);
      expect(await store.aliases.countForKey(scope, keyB)).toBe(1);
    });

    test('insertWithinLimit holds the limit when many inserts for one key race', async () => {
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => store.aliases.insertWithinLimit(makeAlias(`alias/race-${i}`, keyA), 5)));
      expect(results.filter(Boolean)).toHaveLength(5);
      expect(await store.aliases.countForKey(scope, keyA)).toBe(5);
    });

    test('moveWithinLimit moves an alias unless the new key has the limit of other aliases', async () => {
      await store.aliases.insert(makeAlias('alias/b0', keyB));
      await store.aliases.insert(makeAlias('alias/b1', keyB));
      await store.aliases.insert(makeAlias('alias/a0', keyA));
      expect(await store.aliases.moveWithinLimit(scope, 'alias/a0', keyB, updatedAt, 2)).toBe('limitExceeded');
      expect((await store.aliases.get(scope, 'alias/a0'))?.targetKeyId).toBe(keyA);
      // Moving an alias to the key it already names does not count it twice.
      expect(await store.aliases.moveWithinLimit(scope, 'alias/b0', keyB, updatedAt, 2)).toBe('moved');
      expect(await store.aliases.moveWithinLimit(scope, 'alias/a0', keyB, updatedAt, 3)).toBe('moved');
      expect(await store.aliases.get(scope, 'alias/a0')).toStrictEqual({ ...makeAlias('alias/a0', keyB), updatedAt });
      expect(await store.aliases.moveWithinLimit(scope, 'alias/missing', keyA, updatedAt, 3)).toBe('notFound');
    });

    test('get returns undefined for an unknown alias', async () => {
      expect(await store.aliases.get(scope, 'alias/missing')).toBeUndefined();
    });

    test('the store keeps its own copy of an alias', async () => {
      const alias = makeAlias('alias/app', keyA);
      await store.aliases.insert(alias);
      alias.targetKeyId = keyB;
      alias.createdAt.setTime(0);
      expect(await store.aliases.get(scope, 'alias/app')).toStrictEqual(makeAlias('alias/app', keyA));
    });

    test('insert rejects a duplicate name in the same scope, whatever its target', async () => {
      await store.aliases.insert(makeAlias('alias/app', keyA));
      await expect(store.aliases.insert(makeAlias('alias/app', keyB))).rejects.toBeInstanceOf(DuplicateRecordError);
      expect((await store.aliases.get(scope, 'alias/app'))?.targetKeyId).toBe(keyA);
    });

    test('the same name in another account or region is a different alias', async () => {
      await store.aliases.insert(makeAlias('alias/app', keyA));
      await store.aliases.insert(makeAlias('alias/app', keyB, otherAccount));
      await store.aliases.insert(makeAlias('alias/app', keyB, otherRegion));
      expect((await store.aliases.get(scope, 'alias/app'))?.targetKeyId).toBe(keyA);
      expect((await store.aliases.get(otherAccount, 'alias/app'))?.targetKeyId).toBe(keyB);
      expect(await store.aliases.countForKey(scope, keyB)).toBe(0);
    });

    test('alias names are case-sensitive', async () => {
      await store.aliases.insert(makeAlias('alias/App', keyA));
      await store.aliases.insert(makeAlias('alias/app', keyB));
      expect((await store.aliases.get(scope, 'alias/App'))?.targetKeyId).toBe(keyA);
      expect((await store.aliases.get(scope, 'alias/app'))?.targetKeyId).toBe(keyB);
      expect(await store.aliases.get(scope, 'alias/APP')).toBeUndefined();
    });

    test('list orders by name in binary (code unit) order', async () => {
      // Binary order is what SQLite and MongoDB give by default: uppercase before lowercase.
      for (const name of ['alias/b', 'alias/a-1', 'alias/B', 'alias/a', 'alias/A']) {
        await store.aliases.insert(makeAlias(name, keyA));
      }
      const page = await store.aliases.list(scope, {}, { limit: 100 });
      expect(page.items.map((a) => a.aliasName)).toEqual(['alias/A', 'alias/B', 'alias/a', 'alias/a-1', 'alias/b']);
      expect(page.nextMarker).toBeUndefined();
    });

    test('list returns only the scope\'s aliases, as full records', async () => {
      const alias = makeAlias('alias/app', keyA);
      await store.aliases.insert(alias);
      await store.aliases.insert(makeAlias('alias/elsewhere', keyA, otherRegion));
      expect(await store.aliases.list(scope, {}, { limit: 10 })).toStrictEqual({ items: [alias] });
    });

    test('list filters by target key', async () => {
      await store.aliases.insert(makeAlias('alias/a1', keyA));
      await store.aliases.insert(makeAlias('alias/b1', keyB));
      await store.aliases.insert(makeAlias('alias/a2', keyA));
      const page = await store.aliases.list(scope, { keyId: keyA }, { limit: 10 });
      expect(page.items.map((a) => a.aliasName)).toEqual(['alias/a1', 'alias/a2']);
      expect((await store.aliases.list(scope, { keyId: keyIdFor(404) }, { limit: 10 })).items).toEqual([]);
    });

    test('list paginates with limit and marker, with and without a key filter', async () => {
      for (let i = 1; i <= 8; i++) await store.aliases.insert(makeAlias(`alias/n${i}`, i % 2 === 0 ? keyB : keyA));

      const all = await collectPages((page) => store.aliases.list(scope, {}, page), 3);
      expect(all.map((items) => items.map((a) => a.aliasName))).toEqual([
        ['alias/n1', 'alias/n2', 'alias/n3'],
        ['alias/n4', 'alias/n5', 'alias/n6'],
        ['alias/n7', 'alias/n8'],
      ]);

      const ofKeyA = await collectPages((page) => store.aliases.list(scope, { keyId: keyA }, page), 2);
      expect(ofKeyA.map((items) => items.map((a) => a.aliasName))).toEqual([
        ['alias/n1', 'alias/n3'],
        ['alias/n5', 'alias/n7'],
      ]);
    });

    test.each(invalidMarkers)('list rejects the invalid marker %j with InvalidMarkerException', async (marker) => {
      await store.aliases.insert(makeAlias('alias/app', keyA));
      const listing = store.aliases.list(scope, {}, { limit: 10, marker });
      await expect(listing).rejects.toBeInstanceOf(KmsError);
      await expect(listing).rejects.toMatchObject({ code: 'InvalidMarkerException' });
    });

    test('update points an alias at another key and records when', async () => {
      await store.aliases.insert(makeAlias('alias/app', keyA));
      const now = new Date('2024-09-09T09:09:09.999Z');

      expect(await store.aliases.update(scope, 'alias/app', keyB, now)).toBe(true);

      expect(await store.aliases.get(scope, 'alias/app')).toStrictEqual({
        ...makeAlias('alias/app', keyB),
        createdAt,
        updatedAt: now,
      });
      expect(await store.aliases.countForKey(scope, keyA)).toBe(0);
      expect(await store.aliases.countForKey(scope, keyB)).toBe(1);
    });

    test('update returns false for an unknown alias and creates nothing', async () => {
      expect(await store.aliases.update(scope, 'alias/missing', keyA, updatedAt)).toBe(false);
      expect(await store.aliases.get(scope, 'alias/missing')).toBeUndefined();
    });

    test('update only touches the alias in its own scope', async () => {
      await store.aliases.insert(makeAlias('alias/app', keyA));
      await store.aliases.insert(makeAlias('alias/app', keyA, otherRegion));
      await store.aliases.update(scope, 'alias/app', keyB, updatedAt);
      expect((await store.aliases.get(otherRegion, 'alias/app'))?.targetKeyId).toBe(keyA);
    });

    test('delete removes the alias once and reports whether it existed', async () => {
      await store.aliases.insert(makeAlias('alias/app', keyA));
      await store.aliases.insert(makeAlias('alias/app', keyA, otherRegion));
      expect(await store.aliases.delete(scope, 'alias/app')).toBe(true);
      expect(await store.aliases.get(scope, 'alias/app')).toBeUndefined();
      expect(await store.aliases.delete(scope, 'alias/app')).toBe(false);
      expect(await store.aliases.get(otherRegion, 'alias/app')).toBeDefined();
    });

    test('countForKey counts only the key\'s aliases in the scope', async () => {
      expect(await store.aliases.countForKey(scope, keyA)).toBe(0);
      await store.aliases.insert(makeAlias('alias/a1', keyA));
      await store.aliases.insert(makeAlias('alias/a2', keyA));
      await store.aliases.insert(makeAlias('alias/b1', keyB));
      await store.aliases.insert(makeAlias('alias/a1', keyA, otherAccount));
      expect(await store.aliases.countForKey(scope, keyA)).toBe(2);
      expect(await store.aliases.countForKey(scope, keyB)).toBe(1);
    });

    if (restart) {
      test('aliases survive close() and reopening the same storage', async () => {
        const alias = makeAlias('alias/app', keyA);
        await store.aliases.insert(alias);

        await restart();

        expect(await store.aliases.get(scope, 'alias/app')).toStrictEqual(alias);
        // Uniqueness still holds after a restart.
        await expect(store.aliases.insert(alias)).rejects.toBeInstanceOf(DuplicateRecordError);
      });
    }
  });
}
