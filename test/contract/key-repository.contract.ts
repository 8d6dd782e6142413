// The behaviour every KeyRepository must share. Each store runs this suite from its own *.test.ts
// file, so the in-memory fake used by unit tests cannot drift from the real stores.
import { DuplicateRecordError, KmsError, RevisionConflictError } from '../../src/core/errors';
import type { KeyRecord } from '../../src/core/model';
import {
  ALICE_ARN, collectPages, createdAt, describeStoreContract, grantIdFor, invalidMarkers, keyIdFor, makeAlias, makeFullKey, makeGrant,
  makeKey, otherAccount, otherRegion, scope, updatedAt, type StoreContractOptions, type StoreFactory,
} from './metadata-fixtures';

/**
 * Registers the suite. `factory` returns a new, not yet initialised store over empty storage; it
 * is called before each test. Deleting a key takes its aliases and grants, so this suite also
 * writes through the other two repositories.
 */
export function describeKeyRepositoryContract(name: string, factory: StoreFactory, options: StoreContractOptions = {}): void {
  describeStoreContract(`KeyRepository contract: ${name}`, factory, options, (store, restart) => {
    test('ping resolves once initialised', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe('insert and get', () => {
      test('get returns what insert stored, every field included', async () => {
        const full = makeFullKey(keyIdFor(1));
        const minimal = makeKey(keyIdFor(2));
        await store.keys.insert(full);
        await store.keys.insert(minimal);

        const gotFull = await store.keys.get(scope, full.keyId);
        expect(gotFull).toStrictEqual(full);
        expect(gotFull?.createdAt).toBeInstanceOf(Date);
        expect(gotFull?.updatedAt).toBeInstanceOf(Date);
        expect(gotFull?.deletionDate).toBeInstanceOf(Date);
        expect(gotFull?.versions[0]?.createdAt).toBeInstanceOf(Date);
        // toStrictEqual also fails if absent optional fields come back as null or undefined.
        expect(await store.keys.get(scope, minimal.keyId)).toStrictEqual(minimal);
      });

      test('get returns undefined for an unknown key', async () => {
        expect(await store.keys.get(scope, keyIdFor(404))).toBeUndefined();
      });

      test('the store keeps its own copy: mutating the input or a result changes nothing (a store may hand out frozen records)', async () => {
        const key = makeFullKey(keyIdFor(1));
        const original = makeFullKey(keyIdFor(1));
        await store.keys.insert(key);
        key.description = 'mutated input';
        key.tags.push({ TagKey: 'x', TagValue: 'y' });
        key.createdAt.setTime(0);

        const first = await store.keys.get(scope, key.keyId);
        if (!first) throw new Error('key not found');
        // A store that shares parsed records between callers freezes them: the change is refused.
        const attempt = (change: () => void) => {
          try {
            change();
          } catch (e) {
            expect(e).toBeInstanceOf(TypeError);
          }
        };
        attempt(() => { first.description = 'mutated result'; });
        attempt(() => { first.versions.pop(); });

        expect(await store.keys.get(scope, key.keyId)).toStrictEqual(original);
      });

      test('the same keyId in another account or region is a different key', async () => {
        const keyId = keyIdFor(1);
        await store.keys.insert(makeKey(keyId, { description: 'home' }));
        await store.keys.insert(makeKey(keyId, { ...otherAccount, description: 'other account' }));
        await store.keys.insert(makeKey(keyId, { ...otherRegion, description: 'other region' }));

        expect((await store.keys.get(scope, keyId))?.description).toBe('home');
        expect((await store.keys.get(otherAccount, keyId))?.description).toBe('other account');
        expect((await store.keys.get(otherRegion, keyId))?.description).toBe('other region');
        expect((await store.keys.list(otherRegion, { limit: 10 })).items.map((k) => k.description)).toEqual(['other region']);

        await store.keys.delete(scope, keyId);
        expect(await store.keys.get(scope, keyId)).toBeUndefined();
        expect(await store.keys.get(otherAccount, keyId)).toBeDefined();
        expect(await store.keys.get(otherRegion, keyId)).toBeDefined();
      });

      test('insert rejects a duplicate keyId in the same scope and keeps the original', async () => {
        const key = makeKey(keyIdFor(1), { description: 'original' });
        await store.keys.insert(key);
        await expect(store.keys.insert(makeKey(key.keyId, { description: 'impostor' })))
          .rejects.toBeInstanceOf(DuplicateRecordError);
        expect(await store.keys.get(scope, key.keyId)).toStrictEqual(key);
      });
    });

    describe('list', () => {
      test('returns an empty last page for an empty scope', async () => {
        expect(await store.keys.list(scope, { limit: 10 })).toStrictEqual({ items: [] });
      });

      test('orders keys by keyId, whatever the insertion order', async () => {
        for (const n of [5, 1, 4, 2, 3]) await store.keys.insert(makeKey(keyIdFor(n)));
        const page = await store.keys.list(scope, { limit: 100 });
        expect(page.items.map((k) => k.keyId)).toEqual([1, 2, 3, 4, 5].map(keyIdFor));
        expect(page.nextMarker).toBeUndefined();
      });

      test('paginates with limit and marker across several pages', async () => {
        for (const n of [7, 3, 1, 6, 2, 5, 4]) await store.keys.insert(makeKey(keyIdFor(n)));
        const pages = await collectPages((page) => store.keys.list(scope, page), 3);
        expect(pages.map((items) => items.map((k) => k.keyId))).toEqual([
          [1, 2, 3].map(keyIdFor),
          [4, 5, 6].map(keyIdFor),
          [7].map(keyIdFor),
        ]);
      });

      test('gives no marker on a last page that is exactly full', async () => {
        for (const n of [1, 2, 3, 4]) await store.keys.insert(makeKey(keyIdFor(n)));
        const pages = await collectPages((page) => store.keys.list(scope, page), 2);
        expect(pages.map((items) => items.length)).toEqual([2, 2]);
      });

      test('returns full records', async () => {
        const key = makeFullKey(keyIdFor(1));
        await store.keys.insert(key);
        expect((await store.keys.list(scope, { limit: 10 })).items).toStrictEqual([key]);
      });

      test('a marker stays usable after the key it follows is deleted', async () => {
        for (const n of [1, 2, 3, 4]) await store.keys.insert(makeKey(keyIdFor(n)));
        const first = await store.keys.list(scope, { limit: 2 });
        await store.keys.delete(scope, keyIdFor(2));
        const second = await store.keys.list(scope, { limit: 2, marker: first.nextMarker });
        expect(second.items.map((k) => k.keyId)).toEqual([3, 4].map(keyIdFor));
      });

      test('excludes incomplete keys', async () => {
        await store.keys.insert(makeKey(keyIdFor(1)));
        await store.keys.insert(makeKey(keyIdFor(2), { incomplete: true }));
        await store.keys.insert(makeKey(keyIdFor(3), { incomplete: false }));
        const page = await store.keys.list(scope, { limit: 10 });
        expect(page.items.map((k) => k.keyId)).toEqual([1, 3].map(keyIdFor));
      });

      test.each(invalidMarkers)('rejects the invalid marker %j with InvalidMarkerException', async (marker) => {
        await store.keys.insert(makeKey(keyIdFor(1)));
        const listing = store.keys.list(scope, { limit: 10, marker });
        await expect(listing).rejects.toBeInstanceOf(KmsError);
        await expect(listing).rejects.toMatchObject({ code: 'InvalidMarkerException' });
      });
    });

    describe('replace', () => {
      test('stores the new record with the revision bumped and returns it, leaving the input alone', async () => {
        const key = makeKey(keyIdFor(1), { revision: 4 });
        await store.keys.insert(key);
        const change: KeyRecord = { ...makeFullKey(key.keyId), revision: 4 };

        const stored = await store.keys.replace(change);

        expect(stored).toStrictEqual({ ...change, revision: 5 });
        expect(change.revision).toBe(4);
        expect(await store.keys.get(scope, key.keyId)).toStrictEqual(stored);
      });

      test('successive replaces each bump the revision', async () => {
        await store.keys.insert(makeKey(keyIdFor(1)));
        let key = await store.keys.get(scope, keyIdFor(1));
        for (const state of ['Disabled', 'Enabled', 'Disabled'] as const) {
          if (!key) throw new Error('key not found');
          key = await store.keys.replace({ ...key, state });
        }
        expect(await store.keys.get(scope, keyIdFor(1))).toMatchObject({ state: 'Disabled', revision: 3 });
      });

      test('rejects a stale revision with RevisionConflictError and keeps the stored record', async () => {
        const key = makeKey(keyIdFor(1));
        await store.keys.insert(key);
        const current = await store.keys.replace({ ...key, description: 'first writer' });

        await expect(store.keys.replace({ ...key, description: 'stale writer' }))
          .rejects.toBeInstanceOf(RevisionConflictError);
        expect(await store.keys.get(scope, key.keyId)).toStrictEqual(current);
      });

      test('rejects a replace of a key that does not exist with RevisionConflictError', async () => {
        await expect(store.keys.replace(makeKey(keyIdFor(1)))).rejects.toBeInstanceOf(RevisionConflictError);
        expect(await store.keys.get(scope, keyIdFor(1))).toBeUndefined();
      });

      test('only touches the key in the record\'s own scope', async () => {
        const keyId = keyIdFor(1);
        await store.keys.insert(makeKey(keyId, { description: 'home' }));
        await store.keys.insert(makeKey(keyId, { ...otherRegion, description: 'other region' }));
        await store.keys.replace(makeKey(keyId, { description: 'home, changed' }));
        expect((await store.keys.get(otherRegion, keyId))?.description).toBe('other region');
      });

      test('of concurrent replaces from the same revision, exactly one succeeds', async () => {
        const key = makeKey(keyIdFor(1));
        await store.keys.insert(key);

        const writers = Array.from({ length: 5 }, (_, i) => ({ ...key, description: `writer ${i}` }));
        const results = await Promise.allSettled(writers.map((writer) => store.keys.replace(writer)));

        const winners = results.filter((r): r is PromiseFulfilledResult<KeyRecord> => r.status === 'fulfilled');
        const losers = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(winners).toHaveLength(1);
        for (const loser of losers) expect(loser.reason).toBeInstanceOf(RevisionConflictError);
        expect(await store.keys.get(scope, key.keyId)).toStrictEqual(winners[0]?.value);
        expect(winners[0]?.value.revision).toBe(1);
      });

      test('completing an incomplete key makes it listed', async () => {
        const key = makeKey(keyIdFor(1), { incomplete: true });
        await store.keys.insert(key);
        expect((await store.keys.list(scope, { limit: 10 })).items).toEqual([]);

        await store.keys.replace({ ...key, incomplete: false });

        expect((await store.keys.list(scope, { limit: 10 })).items.map((k) => k.keyId)).toEqual([key.keyId]);
        expect(await store.keys.listIncomplete(new Date('2100-01-01T00:00:00Z'))).toEqual([]);
      });
    });

    describe('delete', () => {
      const keyA = keyIdFor(1);
      const keyB = keyIdFor(2);

      test('removes the key and every alias pointing at it, and nothing else', async () => {
        const doomed = keyIdFor(1);
        const kept = keyIdFor(2);
        await store.keys.insert(makeKey(doomed));
        await store.keys.insert(makeKey(kept));
        await store.keys.insert(makeKey(doomed, otherRegion));
        await store.aliases.insert(makeAlias('alias/doomed-1', doomed));
        await store.aliases.insert(makeAlias('alias/doomed-2', doomed));
        await store.aliases.insert(makeAlias('alias/kept', kept));
        await store.aliases.insert(makeAlias('alias/doomed-1', doomed, otherRegion));

        await store.keys.delete(scope, doomed);

        expect(await store.keys.get(scope, doomed)).toBeUndefined();
        expect(await store.aliases.get(scope, 'alias/doomed-1')).toBeUndefined();
        expect(await store.aliases.get(scope, 'alias/doomed-2')).toBeUndefined();
        expect(await store.aliases.countForKey(scope, doomed)).toBe(0);
        expect(await store.keys.get(scope, kept)).toBeDefined();
        expect(await store.aliases.get(scope, 'alias/kept')).toBeDefined();
        expect(await store.keys.get(otherRegion, doomed)).toBeDefined();
        expect(await store.aliases.get(otherRegion, 'alias/doomed-1')).toBeDefined();
      });

      test('is idempotent', async () => {
        await store.keys.insert(makeKey(keyIdFor(1)));
        await store.keys.delete(scope, keyIdFor(1));
        await expect(store.keys.delete(scope, keyIdFor(1))).resolves.toBeUndefined();
        await expect(store.keys.delete(scope, keyIdFor(404))).resolves.toBeUndefined();
      });

      test('removes the key\'s grants in its scope, and nothing else', async () => {
        await store.keys.insert(makeKey(keyA));
        await store.keys.insert(makeKey(keyB));
        await store.keys.insert(makeKey(keyA, otherRegion));
        await store.grants.insert(makeGrant(grantIdFor(1), keyA, { retiringPrincipal: ALICE_ARN }));
        await store.grants.insert(makeGrant(grantIdFor(2), keyA));
        await store.grants.insert(makeGrant(grantIdFor(3), keyB));
        await store.grants.insert(makeGrant(grantIdFor(4), keyA, otherRegion));

        await store.keys.delete(scope, keyA);

        expect(await store.grants.countForKey(scope, keyA)).toBe(0);
        expect(await store.grants.get(scope, keyA, grantIdFor(1))).toBeUndefined();
        expect(await store.grants.findByToken(makeGrant(grantIdFor(1), keyA).grantToken)).toBeUndefined();
        expect((await store.grants.listRetirable(scope.region, ALICE_ARN, { limit: 10 })).items).toEqual([]);
        expect(await store.grants.get(scope, keyB, grantIdFor(3))).toBeDefined();
        expect(await store.grants.get(otherRegion, keyA, grantIdFor(4))).toBeDefined();
        // Grants of a key with no key record (a cross-account grant's key elsewhere) go too.
        await store.grants.insert(makeGrant(grantIdFor(5), keyIdFor(9)));
        await store.keys.delete(scope, keyIdFor(9));
        expect(await store.grants.countForKey(scope, keyIdFor(9))).toBe(0);
      });
    });

    describe('listIncomplete', () => {
      test('returns incomplete keys last updated before the date, from every scope', async () => {
        const before = new Date('2024-03-01T00:00:00.000Z');
        const earlier = new Date('2024-02-01T00:00:00.000Z');
        const stale = makeFullKey(keyIdFor(1));
        Object.assign(stale, { incomplete: true, updatedAt: earlier });
        await store.keys.insert(stale);
        await store.keys.insert(makeKey(keyIdFor(2), { ...otherAccount, incomplete: true, updatedAt: earlier }));
        await store.keys.insert(makeKey(keyIdFor(3), { ...otherRegion, incomplete: true, updatedAt: earlier }));
        // Not returned: complete, updated exactly at the cut-off, or updated after it.
        await store.keys.insert(makeKey(keyIdFor(4), { updatedAt: earlier }));
        await store.keys.insert(makeKey(keyIdFor(5), { incomplete: true, updatedAt: before }));
        await store.keys.insert(makeKey(keyIdFor(6), { incomplete: true, updatedAt: new Date('2024-04-01T00:00:00Z') }));

        const found = await store.keys.listIncomplete(before);

        const ids = found.map((k) => `${k.accountId}/${k.region}/${k.keyId}`).sort();
        expect(ids).toEqual([
          `${scope.accountId}/${scope.region}/${keyIdFor(1)}`,
          `${otherRegion.accountId}/${otherRegion.region}/${keyIdFor(3)}`,
          `${otherAccount.accountId}/${otherAccount.region}/${keyIdFor(2)}`,
        ].sort());
        expect(found.find((k) => k.keyId === stale.keyId)).toStrictEqual(stale);
      });

      test('returns nothing when there are no incomplete keys', async () => {
        await store.keys.insert(makeKey(keyIdFor(1)));
        expect(await store.keys.listIncomplete(new Date('2100-01-01T00:00:00Z'))).toEqual([]);
      });
    });

    describe('multi-Region keys', () => {
      const mrk = 'mrk-0123456789abcdef0123456789abcdef';
      const thirdRegion = { accountId: scope.accountId, region: 'ap-southeast-2' };

      test('listRelated returns every region\'s record of the key id in the account, complete or not, by region', async () => {
        await store.keys.insert(makeKey(mrk, { multiRegion: true, multiRegionKeyType: 'PRIMARY' }));
        await store.keys.insert(makeKey(mrk, { ...otherRegion, multiRegion: true, multiRegionKeyType: 'REPLICA', state: 'Creating', incomplete: true }));
        await store.keys.insert(makeKey(mrk, { ...thirdRegion, multiRegion: true, multiRegionKeyType: 'REPLICA' }));
        // Not related: another account, another key id.
        await store.keys.insert(makeKey(mrk, { ...otherAccount, multiRegion: true, multiRegionKeyType: 'PRIMARY' }));
        await store.keys.insert(makeKey('mrk-ffffffffffffffffffffffffffffffff', { multiRegion: true, multiRegionKeyType: 'PRIMARY' }));
        await store.keys.insert(makeKey(keyIdFor(1)));

        const related = await store.keys.listRelated(scope.accountId, mrk);
        expect(related.map((k) => k.region)).toEqual([thirdRegion.region, otherRegion.region, scope.region].sort());
        expect(related.find((k) => k.region === otherRegion.region)).toMatchObject({ incomplete: true, state: 'Creating', multiRegionKeyType: 'REPLICA' });
        expect((await store.keys.listRelated(otherAccount.accountId, mrk)).map((k) => k.accountId)).toEqual([otherAccount.accountId]);
        expect((await store.keys.listRelated(scope.accountId, keyIdFor(1))).map((k) => k.keyId)).toEqual([keyIdFor(1)]);
        expect(await store.keys.listRelated(scope.accountId, 'mrk-00000000000000000000000000000000')).toEqual([]);
        // It follows replaces and deletes.
        await store.keys.delete(thirdRegion, mrk);
        const primary = (await store.keys.get(scope, mrk))!;
        await store.keys.replace({ ...primary, multiRegionKeyType: 'REPLICA' });
        expect((await store.keys.listRelated(scope.accountId, mrk)).map((k) => [k.region, k.multiRegionKeyType])).toEqual(
          [[otherRegion.region, 'REPLICA'], [scope.region, 'REPLICA']].sort(),
        );
      });

      test('listWithMultiRegionWork returns complete keys whose multi-Region work started before the date', async () => {
        const started = new Date('2024-03-01T00:00:00.123Z');
        const work = { operation: 'UpdatePrimaryRegion' as const, fromRegion: scope.region, toRegion: otherRegion.region, startedAt: started };
        await store.keys.insert(makeKey(mrk, { multiRegion: true, multiRegionKeyType: 'PRIMARY', state: 'Updating', multiRegionWork: work }));
        await store.keys.insert(makeKey(mrk, { ...otherRegion, multiRegion: true, multiRegionKeyType: 'REPLICA', multiRegionWork: { operation: 'SynchronizeMultiRegionKey', startedAt: started }, incomplete: true }));
        await store.keys.insert(makeKey(mrk, { ...thirdRegion, multiRegion: true, multiRegionKeyType: 'REPLICA' }));

        const found = await store.keys.listWithMultiRegionWork(new Date(started.getTime() + 1));
        expect(found.map((k) => k.region)).toEqual([scope.region]);
        expect(found[0]!.multiRegionWork).toStrictEqual(work);
        expect(await store.keys.listWithMultiRegionWork(started)).toEqual([]);
        const stored = (await store.keys.get(scope, mrk))!;
        await store.keys.replace({ ...stored, multiRegionWork: undefined });
        expect(await store.keys.listWithMultiRegionWork(new Date('2100-01-01T00:00:00Z'))).toEqual([]);
      });
    });

    describe('listEvery', () => {
      test('returns the keys of every scope, complete or not, by account, region and key id, a page at a time after a key', async () => {
        await store.keys.insert(makeKey(keyIdFor(3)));
        await store.keys.insert(makeKey(keyIdFor(1), { incomplete: true }));
        await store.keys.insert(makeKey(keyIdFor(2), otherRegion));
        await store.keys.insert(makeKey(keyIdFor(1), otherAccount));
        await store.keys.insert(makeKey(keyIdFor(4), { state: 'PendingDeletion', deletionDate: new Date('2030-01-01T00:00:00Z') }));
        const name = (k: KeyRecord) => `${k.accountId}/${k.region}/${k.keyId}`;
        const expected = [
          `${scope.accountId}/${otherRegion.region}/${keyIdFor(2)}`,
          `${scope.accountId}/${scope.region}/${keyIdFor(1)}`,
          `${scope.accountId}/${scope.region}/${keyIdFor(3)}`,
          `${scope.accountId}/${scope.region}/${keyIdFor(4)}`,
          `${otherAccount.accountId}/${otherAccount.region}/${keyIdFor(1)}`,
        ];
        expect((await store.keys.listEvery(undefined, 100)).map(name)).toEqual(expected);
        const first = await store.keys.listEvery(undefined, 2);
        expect(first.map(name)).toEqual(expected.slice(0, 2));
        // A page after a key that is gone meanwhile still carries on after it.
        await store.keys.delete(first[1]!, first[1]!.keyId);
        expect((await store.keys.listEvery(first[1], 2)).map(name)).toEqual(expected.slice(2, 4));
        expect((await store.keys.listEvery(first[1], 100)).at(-1)).toMatchObject({ ...otherAccount, keyId: keyIdFor(1) });
        expect(await store.keys.listEvery(undefined, 0)).toEqual([]);
        expect((await store.keys.listEvery(undefined, 100)).find((k) => k.keyId === keyIdFor(4))).toStrictEqual(
          makeKey(keyIdFor(4), { state: 'PendingDeletion', deletionDate: new Date('2030-01-01T00:00:00Z') }),
        );
      });
    });

    describe('countByStateAndSpec', () => {
      test('counts complete keys of every scope by state and key spec, in state then spec order', async () => {
        await store.keys.insert(makeKey(keyIdFor(1)));
        await store.keys.insert(makeKey(keyIdFor(2), otherAccount));
        await store.keys.insert(makeKey(keyIdFor(3), { ...otherRegion, state: 'Disabled' }));
        await store.keys.insert(makeKey(keyIdFor(4), { keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' }));
        // Not counted: incomplete.
        await store.keys.insert(makeKey(keyIdFor(5), { incomplete: true }));
        expect(await store.keys.countByStateAndSpec!()).toEqual([
          { state: 'Disabled', keySpec: 'SYMMETRIC_DEFAULT', count: 1 },
          { state: 'Enabled', keySpec: 'RSA_2048', count: 1 },
          { state: 'Enabled', keySpec: 'SYMMETRIC_DEFAULT', count: 2 },
        ]);
      });
    });

    describe('listDueForDeletion', () => {
      test('returns complete PendingDeletion keys due at or before the date, from every scope, soonest first', async () => {
        const due = new Date('2024-03-01T00:00:00.000Z');
        const pending = (deletionDate: Date) => ({ state: 'PendingDeletion' as const, deletionDate, pendingWindowInDays: 7 });
        await store.keys.insert(makeKey(keyIdFor(1), pending(new Date('2024-02-20T00:00:00Z'))));
        await store.keys.insert(makeKey(keyIdFor(2), { ...otherAccount, ...pending(due) }));
        await store.keys.insert(makeKey(keyIdFor(3), { ...otherRegion, ...pending(new Date('2024-01-01T00:00:00Z')) }));
        // Not returned: due later, not pending deletion, or incomplete.
        await store.keys.insert(makeKey(keyIdFor(4), pending(new Date('2024-03-01T00:00:00.001Z'))));
        await store.keys.insert(makeKey(keyIdFor(5), { state: 'Disabled', deletionDate: new Date('2024-01-01T00:00:00Z') }));
        await store.keys.insert(makeKey(keyIdFor(6), { incomplete: true, ...pending(new Date('2024-01-01T00:00:00Z')) }));

        const found = await store.keys.listDueForDeletion(due);

        expect(found.map((k) => k.keyId)).toEqual([keyIdFor(3), keyIdFor(1), keyIdFor(2)]);
        expect(found[0]!.deletionDate).toEqual(new Date('2024-01-01T00:00:00Z'));
      });
    });

    describe('imported key material', () => {
      const imported = (upkeepAt?: Date): KeyRecord['imported'] => ({
        keyMaterialId: 'c'.repeat(64),
        checkValue: '0123456789abcdef0123456789abcdef',
        expirationModel: 'KEY_MATERIAL_EXPIRES',
        validTo: new Date('2025-01-01T00:00:00.123Z'),
        parameters: [{
          id: 'd'.repeat(64), tokenId: 'default', wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', wrappingKeySpec: 'RSA_4096', secretDigest: 'e'.repeat(64),
          createdAt: new Date('2024-05-06T08:00:00.001Z'), validTo: new Date('2024-05-07T08:00:00.001Z'), usedAt: new Date('2024-05-06T09:00:00.002Z'),
        }],
        retiredObjects: [{ tokenId: 'default', objectId: 'f'.repeat(64), retiredAt: new Date('2024-05-06T10:00:00.003Z') }],
        ...(upkeepAt ? { upkeepAt } : {}),
      });

      test('import state round-trips with its dates as Dates, through replace too', async () => {
        const key = makeKey(keyIdFor(1), { origin: 'EXTERNAL', imported: imported(new Date('2024-05-06T10:00:00.003Z')) });
        const bare = makeKey(keyIdFor(2), { origin: 'EXTERNAL', state: 'PendingImport', imported: { parameters: [], retiredObjects: [] } });
        await store.keys.insert(key);
        await store.keys.insert(bare);
        const got = await store.keys.get(scope, key.keyId);
        expect(got).toStrictEqual(key);
        expect(got?.imported?.parameters[0]?.usedAt).toBeInstanceOf(Date);
        expect(got?.imported?.retiredObjects[0]?.retiredAt).toBeInstanceOf(Date);
        expect(await store.keys.get(scope, bare.keyId)).toStrictEqual(bare);
        const replaced = await store.keys.replace({ ...got!, imported: { ...got!.imported!, retiredObjects: [] } });
        expect(replaced.imported?.validTo).toBeInstanceOf(Date);
        expect(await store.keys.get(scope, key.keyId)).toStrictEqual(replaced);
      });

      test('listDueForImportUpkeep returns complete keys whose upkeep is due at or before the date, from every scope, soonest first', async () => {
        const due = new Date('2024-03-01T00:00:00.000Z');
        await store.keys.insert(makeKey(keyIdFor(1), { imported: imported(new Date('2024-02-20T00:00:00Z')) }));
        await store.keys.insert(makeKey(keyIdFor(2), { ...otherAccount, imported: imported(due) }));
        await store.keys.insert(makeKey(keyIdFor(3), { ...otherRegion, state: 'PendingDeletion', imported: imported(new Date('2024-01-01T00:00:00Z')) }));
        // Not returned: due later, nothing due, incomplete, or not an imported key.
        await store.keys.insert(makeKey(keyIdFor(4), { imported: imported(new Date('2024-03-01T00:00:00.001Z')) }));
        await store.keys.insert(makeKey(keyIdFor(5), { imported: imported() }));
        await store.keys.insert(makeKey(keyIdFor(6), { incomplete: true, imported: imported(new Date('2024-01-01T00:00:00Z')) }));
        await store.keys.insert(makeKey(keyIdFor(7)));

        const found = await store.keys.listDueForImportUpkeep(due);

        expect(found.map((k) => k.keyId)).toEqual([keyIdFor(3), keyIdFor(1), keyIdFor(2)]);
        expect(found[0]!.imported!.upkeepAt).toEqual(new Date('2024-01-01T00:00:00Z'));
      });
    });

    describe('rotation', () => {
      const rotation = (nextRotationDate?: Date): KeyRecord['rotation'] => ({
        enabled: nextRotationDate !== undefined,
        ...(nextRotationDate ? { periodInDays: 90, nextRotationDate } : {}),
        onDemandCount: 1,
        history: [{ keyMaterialId: 'c'.repeat(64), date: new Date('2024-02-02T02:02:02.202Z'), type: 'ON_DEMAND' }],
        inProgress: [{ versionId: 'b'.repeat(64), type: 'AUTOMATIC', startedAt: new Date('2024-05-06T08:00:00.002Z') }],
      });

      test('rotation state round-trips with its dates as Dates, through replace too', async () => {
        const key = { ...makeFullKey(keyIdFor(1)), rotation: rotation(new Date('2025-01-01T00:00:00.123Z')) };
        key.rotation!.inProgress[0]!.abandoned = true;
        const bare = makeKey(keyIdFor(2), { rotation: rotation() });
        await store.keys.insert(key);
        await store.keys.insert(bare);

        const got = await store.keys.get(scope, key.keyId);
        expect(got).toStrictEqual(key);
        expect(got?.rotation?.nextRotationDate).toBeInstanceOf(Date);
        expect(got?.rotation?.history[0]?.date).toBeInstanceOf(Date);
        expect(got?.rotation?.inProgress[0]?.startedAt).toBeInstanceOf(Date);
        // Absent optional fields stay absent.
        expect(await store.keys.get(scope, bare.keyId)).toStrictEqual(bare);

        const replaced = await store.keys.replace({ ...got!, rotation: { ...got!.rotation!, inProgress: [] } });
        expect(replaced.rotation?.history[0]?.date).toBeInstanceOf(Date);
        expect(await store.keys.get(scope, key.keyId)).toStrictEqual(replaced);
      });

      test('listDueForRotation returns complete Enabled keys with rotation on, due at or before the date, from every scope, soonest first', async () => {
        const due = new Date('2024-03-01T00:00:00.000Z');
        await store.keys.insert(makeKey(keyIdFor(1), { rotation: rotation(new Date('2024-02-20T00:00:00Z')) }));
        await store.keys.insert(makeKey(keyIdFor(2), { ...otherAccount, rotation: rotation(due) }));
        await store.keys.insert(makeKey(keyIdFor(3), { ...otherRegion, rotation: rotation(new Date('2024-01-01T00:00:00Z')) }));
        // Not returned: due later, rotation off, not Enabled, incomplete, or never configured.
        await store.keys.insert(makeKey(keyIdFor(4), { rotation: rotation(new Date('2024-03-01T00:00:00.001Z')) }));
        await store.keys.insert(makeKey(keyIdFor(5), { rotation: { ...rotation(new Date('2024-01-01T00:00:00Z'))!, enabled: false } }));
        await store.keys.insert(makeKey(keyIdFor(6), { state: 'Disabled', rotation: rotation(new Date('2024-01-01T00:00:00Z')) }));
        await store.keys.insert(makeKey(keyIdFor(7), { incomplete: true, rotation: rotation(new Date('2024-01-01T00:00:00Z')) }));
        await store.keys.insert(makeKey(keyIdFor(8)));

        const found = await store.keys.listDueForRotation(due);

        expect(found.map((k) => k.keyId)).toEqual([keyIdFor(3), keyIdFor(1), keyIdFor(2)]);
        expect(found[0]!.rotation!.nextRotationDate).toEqual(new Date('2024-01-01T00:00:00Z'));
      });

      test('listWithPendingVersions returns complete keys with a PENDING version created before the date, from every scope', async () => {
        const before = new Date('2024-03-01T00:00:00.000Z');
        const version = (status: 'PENDING' | 'ACTIVE', createdAt: Date) => ({
          id: `${status === 'PENDING' ? 'd' : 'e'}${createdAt.getTime()}`.padEnd(64, '0'),
          backing: { kind: 'pkcs11' as const, tokenId: 'default', objectId: '0a' },
          createdAt,
          status,
        });
        const early = new Date('2024-02-01T00:00:00Z');
        const active = version('ACTIVE', early);
        await store.keys.insert(makeKey(keyIdFor(1), { versions: [active, version('PENDING', early)] }));
        await store.keys.insert(makeKey(keyIdFor(2), { ...otherAccount, versions: [version('PENDING', new Date('2024-02-29T23:59:59.999Z'))] }));
        // Not returned: only ACTIVE versions, PENDING at or after the cut-off, incomplete, no versions.
        await store.keys.insert(makeKey(keyIdFor(3), { versions: [active] }));
        await store.keys.insert(makeKey(keyIdFor(4), { versions: [active, version('PENDING', before)] }));
        await store.keys.insert(makeKey(keyIdFor(5), { incomplete: true, versions: [version('PENDING', early)] }));
        await store.keys.insert(makeKey(keyIdFor(6)));

        const found = await store.keys.listWithPendingVersions(before);

        expect(found.map((k) => `${k.accountId}/${k.keyId}`).sort()).toEqual([`${otherAccount.accountId}/${keyIdFor(2)}`, `${scope.accountId}/${keyIdFor(1)}`].sort());
        expect(await store.keys.listWithPendingVersions(new Date('9999-12-31T23:59:59.999Z'))).toHaveLength(3);
      });
    });

    describe('keys in custom key stores', () => {
      const STORE = 'cks-1234567890abcdef0';
      const OTHER_STORE = 'cks-fedcba09876543210';
      const inStore = (customKeyStoreId: string, overrides: Partial<KeyRecord> = {}): Partial<KeyRecord> => ({
        origin: 'AWS_CLOUDHSM', customKeyStoreId, ...overrides,
      });

      test('an external key store key round-trips its xksKeyId and its xks backing, through replace too', async () => {
        const version = {
          id: '9'.repeat(64),
          backing: { kind: 'xks' as const, keyStoreId: STORE, xksKeyId: 'ext/key:1', localObjectId: '7d'.repeat(32) },
          createdAt: new Date('2024-05-06T08:00:00.002Z'),
          status: 'ACTIVE' as const,
        };
        const key = makeKey(keyIdFor(1), {
          origin: 'EXTERNAL_KEY_STORE', customKeyStoreId: STORE, xksKeyId: 'ext/key:1', versions: [version], currentVersionId: version.id,
        });
        await store.keys.insert(key);

        const got = await store.keys.get(scope, key.keyId);
        expect(got).toStrictEqual(key);
        expect(got?.versions[0]?.backing).toStrictEqual(version.backing);
        const replaced = await store.keys.replace({ ...got!, state: 'Disabled' });
        expect(replaced).toStrictEqual({ ...key, state: 'Disabled', revision: 1 });
        expect(await store.keys.get(scope, key.keyId)).toStrictEqual(replaced);
        expect(await store.keys.listInCustomKeyStore(scope, STORE, 10)).toStrictEqual([replaced]);
      });

      test('listInCustomKeyStore returns the scope\'s keys in that store, complete or not, in any state, by key id', async () => {
        const complete = makeFullKey(keyIdFor(3));
        Object.assign(complete, { customKeyStoreId: STORE });
        await store.keys.insert(complete);
        await store.keys.insert(makeKey(keyIdFor(1), inStore(STORE, { incomplete: true })));
        await store.keys.insert(makeKey(keyIdFor(5), inStore(STORE, { state: 'PendingDeletion', deletionDate: new Date(updatedAt) })));
        await store.keys.insert(makeKey(keyIdFor(2), inStore(STORE, { state: 'Unavailable' })));
        // Not returned: another store, no store, another account or region.
        await store.keys.insert(makeKey(keyIdFor(4), inStore(OTHER_STORE)));
        await store.keys.insert(makeKey(keyIdFor(6)));
        await store.keys.insert(makeKey(keyIdFor(7), inStore(STORE, otherAccount)));
        await store.keys.insert(makeKey(keyIdFor(8), inStore(STORE, otherRegion)));

        const found = await store.keys.listInCustomKeyStore(scope, STORE, 100);

        expect(found.map((k) => k.keyId)).toEqual([1, 2, 3, 5].map(keyIdFor));
        expect(found[2]).toStrictEqual(complete);
        expect((await store.keys.listInCustomKeyStore(scope, OTHER_STORE, 100)).map((k) => k.keyId)).toEqual([keyIdFor(4)]);
        expect((await store.keys.listInCustomKeyStore(otherAccount, STORE, 100)).map((k) => k.keyId)).toEqual([keyIdFor(7)]);
        expect(await store.keys.listInCustomKeyStore(scope, 'cks-00000000000000000', 100)).toEqual([]);
      });

      test('listInCustomKeyStore returns at most `limit` keys, the first by key id', async () => {
        for (const n of [4, 2, 3, 1]) await store.keys.insert(makeKey(keyIdFor(n), inStore(STORE)));
        expect((await store.keys.listInCustomKeyStore(scope, STORE, 1)).map((k) => k.keyId)).toEqual([keyIdFor(1)]);
        expect((await store.keys.listInCustomKeyStore(scope, STORE, 3)).map((k) => k.keyId)).toEqual([1, 2, 3].map(keyIdFor));
      });

      test('listInCustomKeyStore follows replaces and deletes', async () => {
        await store.keys.insert(makeKey(keyIdFor(1), inStore(STORE)));
        await store.keys.insert(makeKey(keyIdFor(2), inStore(STORE)));
        const moved = (await store.keys.get(scope, keyIdFor(1)))!;
        await store.keys.replace({ ...moved, customKeyStoreId: OTHER_STORE });
        await store.keys.delete(scope, keyIdFor(2));
        expect(await store.keys.listInCustomKeyStore(scope, STORE, 10)).toEqual([]);
        expect((await store.keys.listInCustomKeyStore(scope, OTHER_STORE, 10)).map((k) => k.keyId)).toEqual([keyIdFor(1)]);
      });
    });

    if (restart) {
      test('keys survive close() and reopening the same storage', async () => {
        const key = makeFullKey(keyIdFor(1));
        await store.keys.insert(key);
        const replaced = await store.keys.replace({ ...key, description: 'replaced before restart' });
        await store.keys.insert(makeKey(keyIdFor(2), { incomplete: true, updatedAt: createdAt }));

        await restart();

        expect(await store.keys.get(scope, key.keyId)).toStrictEqual(replaced);
        expect((await store.keys.listIncomplete(updatedAt)).map((k) => k.keyId)).toEqual([keyIdFor(2)]);
        // The revision check still holds after a restart.
        await expect(store.keys.replace(key)).rejects.toBeInstanceOf(RevisionConflictError);
      });
    }
  });
}
