// The behaviour every GrantRepository must share, run by each store's *.test.ts file.
import { DuplicateRecordError, KmsError } from '../../src/core/errors';
import {
  ALICE_ARN, BOB_ARN, collectPages, describeStoreContract, grantIdFor, invalidMarkers, keyIdFor, makeFullGrant, makeGrant,
  otherAccount, otherRegion, scope, type StoreContractOptions, type StoreFactory,
} from './metadata-fixtures';

/** Registers the suite; grants need no key record, so it writes through this repository alone. */
export function describeGrantRepositoryContract(name: string, factory: StoreFactory, options: StoreContractOptions = {}): void {
  describeStoreContract(`GrantRepository contract: ${name}`, factory, options, (store, restart) => {
    const keyA = keyIdFor(1);
    const keyB = keyIdFor(2);

    test('insertWithinLimit inserts below the limit and refuses at it, counting only that key', async () => {
      for (let i = 1; i <= 3; i++) expect(await store.grants.insertWithinLimit(makeGrant(grantIdFor(i), keyA), 3)).toBe(true);
      expect(await store.grants.insertWithinLimit(makeGrant(grantIdFor(4), keyA), 3)).toBe(false);
      expect(await store.grants.get(scope, keyA, grantIdFor(4))).toBeUndefined();
      expect(await store.grants.insertWithinLimit(makeGrant(grantIdFor(5), keyB), 3)).toBe(true);
      await expect(store.grants.insertWithinLimit(makeGrant(grantIdFor(1), keyB), 3)).rejects.toBeInstanceOf(DuplicateRecordError);
      expect(await store.grants.countForKey(scope, keyA)).toBe(3);
      expect(await store.grants.countForKey(scope, keyB)).toBe(1);
    });

    test('insertWithinLimit holds the limit when many grants for one key race', async () => {
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => store.grants.insertWithinLimit(makeGrant(grantIdFor(100 + i), keyA), 5)));
      expect(results.filter(Boolean)).toHaveLength(5);
      expect(await store.grants.countForKey(scope, keyA)).toBe(5);
    });

    test('get returns what insert stored, every field included', async () => {
      const full = makeFullGrant(grantIdFor(1), keyA);
      const minimal = makeGrant(grantIdFor(2), keyA);
      await store.grants.insert(full);
      await store.grants.insert(minimal);

      const got = await store.grants.get(scope, keyA, full.grantId);
      expect(got).toStrictEqual(full);
      expect(got?.createdAt).toBeInstanceOf(Date);
      // toStrictEqual also fails if absent optional fields come back as null or undefined.
      expect(await store.grants.get(scope, keyA, minimal.grantId)).toStrictEqual(minimal);
    });

    test('encryption-context keys that are awkward for a database survive a round trip', async () => {
      const awkward = { '$where': '1', 'a.b': 'dotted', '': 'empty key', 'x': '', '키': '값' };
      const grant = makeGrant(grantIdFor(1), keyA, { constraints: { encryptionContextSubset: awkward, encryptionContextEquals: { '$set': '.' } } });
      await store.grants.insert(grant);
      expect(await store.grants.get(scope, keyA, grant.grantId)).toStrictEqual(grant);
      expect(await store.grants.findByToken(grant.grantToken)).toStrictEqual(grant);
    });

    test('get finds a grant only on its own key in its own scope', async () => {
      const grant = makeGrant(grantIdFor(1), keyA);
      await store.grants.insert(grant);
      expect(await store.grants.get(scope, keyB, grant.grantId)).toBeUndefined();
      expect(await store.grants.get(otherRegion, keyA, grant.grantId)).toBeUndefined();
      expect(await store.grants.get(otherAccount, keyA, grant.grantId)).toBeUndefined();
      expect(await store.grants.get(scope, keyA, grantIdFor(404))).toBeUndefined();
    });

    test('the store keeps its own copy of a grant', async () => {
      const grant = makeFullGrant(grantIdFor(1), keyA);
      await store.grants.insert(grant);
      grant.operations.push('Sign');
      grant.constraints!.encryptionContextEquals!.extra = 'x';
      grant.createdAt.setTime(0);
      const got = await store.grants.get(scope, keyA, grant.grantId);
      expect(got).toStrictEqual(makeFullGrant(grantIdFor(1), keyA));
      got!.operations.pop();
      expect(await store.grants.get(scope, keyA, grant.grantId)).toStrictEqual(makeFullGrant(grantIdFor(1), keyA));
    });

    test('insert rejects a grant id that exists in any scope, and a token that exists, and keeps the original', async () => {
      const grant = makeGrant(grantIdFor(1), keyA);
      await store.grants.insert(grant);
      await expect(store.grants.insert(makeGrant(grantIdFor(1), keyB, { grantToken: 'another-token' })))
        .rejects.toBeInstanceOf(DuplicateRecordError);
      await expect(store.grants.insert(makeGrant(grantIdFor(1), keyA, { ...otherRegion, grantToken: 'another-token' })))
        .rejects.toBeInstanceOf(DuplicateRecordError);
      await expect(store.grants.insert(makeGrant(grantIdFor(2), keyA, { grantToken: grant.grantToken })))
        .rejects.toBeInstanceOf(DuplicateRecordError);
      expect(await store.grants.get(scope, keyA, grant.grantId)).toStrictEqual(grant);
      expect(await store.grants.get(scope, keyA, grantIdFor(2))).toBeUndefined();
      expect(await store.grants.countForKey(scope, keyA)).toBe(1);
      expect(await store.grants.countForKey(scope, keyB)).toBe(0);
    });

    test('findByToken finds the grant in any scope, by the exact token', async () => {
      const grant = makeGrant(grantIdFor(1), keyA, otherAccount);
      await store.grants.insert(grant);
      await store.grants.insert(makeGrant(grantIdFor(2), keyA));
      expect(await store.grants.findByToken(grant.grantToken)).toStrictEqual(grant);
      expect(await store.grants.findByToken(grant.grantToken.toUpperCase())).toBeUndefined();
      expect(await store.grants.findByToken('no-such-token')).toBeUndefined();
    });

    test('list returns the key\'s grants in its scope, ordered by grant id, as full records', async () => {
      for (const n of [5, 1, 4, 2, 3]) await store.grants.insert(makeGrant(grantIdFor(n), keyA));
      await store.grants.insert(makeGrant(grantIdFor(6), keyB));
      await store.grants.insert(makeGrant(grantIdFor(7), keyA, otherRegion));
      await store.grants.insert(makeGrant(grantIdFor(8), keyA, otherAccount));

      const page = await store.grants.list(scope, keyA, {}, { limit: 100 });
      expect(page.items.map((g) => g.grantId)).toEqual([1, 2, 3, 4, 5].map(grantIdFor));
      expect(page.items[0]).toStrictEqual(makeGrant(grantIdFor(1), keyA));
      expect(page.nextMarker).toBeUndefined();
      expect(await store.grants.list(scope, keyIdFor(404), {}, { limit: 10 })).toStrictEqual({ items: [] });
      expect((await store.grants.list(otherRegion, keyA, {}, { limit: 10 })).items.map((g) => g.grantId)).toEqual([grantIdFor(7)]);
    });

    test('list filters by grant id and by grantee principal', async () => {
      await store.grants.insert(makeGrant(grantIdFor(1), keyA, { granteePrincipal: ALICE_ARN }));
      await store.grants.insert(makeGrant(grantIdFor(2), keyA, { granteePrincipal: BOB_ARN }));
      await store.grants.insert(makeGrant(grantIdFor(3), keyA, { granteePrincipal: ALICE_ARN }));
      await store.grants.insert(makeGrant(grantIdFor(4), keyB, { granteePrincipal: ALICE_ARN }));

      const ids = async (filter: { grantId?: string; granteePrincipal?: string }) =>
        (await store.grants.list(scope, keyA, filter, { limit: 10 })).items.map((g) => g.grantId);
      expect(await ids({ granteePrincipal: ALICE_ARN })).toEqual([grantIdFor(1), grantIdFor(3)]);
      expect(await ids({ granteePrincipal: ALICE_ARN.toUpperCase() })).toEqual([]);
      expect(await ids({ grantId: grantIdFor(2) })).toEqual([grantIdFor(2)]);
      // A grant on another key is not found through this key.
      expect(await ids({ grantId: grantIdFor(4) })).toEqual([]);
      expect(await ids({ grantId: grantIdFor(2), granteePrincipal: ALICE_ARN })).toEqual([]);
      expect(await ids({ grantId: grantIdFor(3), granteePrincipal: ALICE_ARN })).toEqual([grantIdFor(3)]);
    });

    test('list paginates with limit and marker, with and without a filter', async () => {
      for (let n = 1; n <= 8; n++) {
        await store.grants.insert(makeGrant(grantIdFor(n), keyA, { granteePrincipal: n % 2 === 0 ? BOB_ARN : ALICE_ARN }));
      }
      const all = await collectPages((page) => store.grants.list(scope, keyA, {}, page), 3);
      expect(all.map((items) => items.map((g) => g.grantId))).toEqual([[1, 2, 3], [4, 5, 6], [7, 8]].map((p) => p.map(grantIdFor)));

      const alice = await collectPages((page) => store.grants.list(scope, keyA, { granteePrincipal: ALICE_ARN }, page), 2);
      expect(alice.map((items) => items.map((g) => g.grantId))).toEqual([[1, 3], [5, 7]].map((p) => p.map(grantIdFor)));
    });

    test('a grant marker resumes after the last grant returned even if that grant is gone', async () => {
      for (let n = 1; n <= 4; n++) await store.grants.insert(makeGrant(grantIdFor(n), keyA));
      const first = await store.grants.list(scope, keyA, {}, { limit: 2 });
      await store.grants.delete(scope, keyA, grantIdFor(2));
      const second = await store.grants.list(scope, keyA, {}, { limit: 2, marker: first.nextMarker });
      expect(second.items.map((g) => g.grantId)).toEqual([grantIdFor(3), grantIdFor(4)]);
      expect(second.nextMarker).toBeUndefined();
    });

    test.each([...invalidMarkers, Buffer.from(`alias:${'0'.repeat(64)}`).toString('base64url')])(
      'list and listRetirable reject the invalid marker %j with InvalidMarkerException',
      async (marker) => {
        await store.grants.insert(makeGrant(grantIdFor(1), keyA, { retiringPrincipal: ALICE_ARN }));
        for (const listing of [
          store.grants.list(scope, keyA, {}, { limit: 10, marker }),
          store.grants.listRetirable(scope.region, ALICE_ARN, { limit: 10, marker }),
        ]) {
          await expect(listing).rejects.toBeInstanceOf(KmsError);
          await expect(listing).rejects.toMatchObject({ code: 'InvalidMarkerException' });
        }
      },
    );

    test('listRetirable returns grants of every account in the region with exactly that retiring principal', async () => {
      await store.grants.insert(makeGrant(grantIdFor(5), keyA, { retiringPrincipal: ALICE_ARN }));
      await store.grants.insert(makeGrant(grantIdFor(1), keyB, { ...otherAccount, retiringPrincipal: ALICE_ARN }));
      await store.grants.insert(makeGrant(grantIdFor(3), keyA, { retiringPrincipal: ALICE_ARN }));
      // Not returned: another retiring principal, none, another case, or another region.
      await store.grants.insert(makeGrant(grantIdFor(2), keyA, { retiringPrincipal: BOB_ARN }));
      await store.grants.insert(makeGrant(grantIdFor(4), keyA));
      await store.grants.insert(makeGrant(grantIdFor(6), keyA, { retiringPrincipal: ALICE_ARN.toUpperCase() }));
      await store.grants.insert(makeGrant(grantIdFor(7), keyA, { ...otherRegion, retiringPrincipal: ALICE_ARN }));

      const page = await store.grants.listRetirable(scope.region, ALICE_ARN, { limit: 10 });
      expect(page.items.map((g) => g.grantId)).toEqual([grantIdFor(1), grantIdFor(3), grantIdFor(5)]);
      expect(page.items[0]).toStrictEqual(makeGrant(grantIdFor(1), keyB, { ...otherAccount, retiringPrincipal: ALICE_ARN }));
      expect(page.nextMarker).toBeUndefined();
      expect((await store.grants.listRetirable(otherRegion.region, ALICE_ARN, { limit: 10 })).items.map((g) => g.grantId)).toEqual([grantIdFor(7)]);
    });

    test('listRetirable paginates with limit and marker', async () => {
      for (let n = 1; n <= 5; n++) await store.grants.insert(makeGrant(grantIdFor(n), n % 2 ? keyA : keyB, { retiringPrincipal: ALICE_ARN }));
      const pages = await collectPages((page) => store.grants.listRetirable(scope.region, ALICE_ARN, page), 2);
      expect(pages.map((items) => items.map((g) => g.grantId))).toEqual([[1, 2], [3, 4], [5]].map((p) => p.map(grantIdFor)));
    });

    test('delete removes the grant once, only through its own key and scope, and reports whether it existed', async () => {
      const grant = makeGrant(grantIdFor(1), keyA);
      await store.grants.insert(grant);
      expect(await store.grants.delete(scope, keyB, grant.grantId)).toBe(false);
      expect(await store.grants.delete(otherRegion, keyA, grant.grantId)).toBe(false);
      expect(await store.grants.get(scope, keyA, grant.grantId)).toBeDefined();

      expect(await store.grants.delete(scope, keyA, grant.grantId)).toBe(true);
      expect(await store.grants.get(scope, keyA, grant.grantId)).toBeUndefined();
      expect(await store.grants.findByToken(grant.grantToken)).toBeUndefined();
      expect(await store.grants.delete(scope, keyA, grant.grantId)).toBe(false);
      // The id and the token are free again.
      await store.grants.insert(grant);
      expect(await store.grants.get(scope, keyA, grant.grantId)).toStrictEqual(grant);
    });

    test('countForKey counts only the key\'s grants in the scope', async () => {
      expect(await store.grants.countForKey(scope, keyA)).toBe(0);
      await store.grants.insert(makeGrant(grantIdFor(1), keyA));
      await store.grants.insert(makeGrant(grantIdFor(2), keyA));
      await store.grants.insert(makeGrant(grantIdFor(3), keyB));
      await store.grants.insert(makeGrant(grantIdFor(4), keyA, otherAccount));
      expect(await store.grants.countForKey(scope, keyA)).toBe(2);
      expect(await store.grants.countForKey(scope, keyB)).toBe(1);
      expect(await store.grants.countForKey(otherAccount, keyA)).toBe(1);
    });

    if (restart) {
      test('grants survive close() and reopening the same storage', async () => {
        const grant = makeFullGrant(grantIdFor(1), keyA);
        await store.grants.insert(grant);

        await restart();

        expect(await store.grants.findByToken(grant.grantToken)).toStrictEqual(grant);
        // Uniqueness still holds after a restart.
        await expect(store.grants.insert(grant)).rejects.toBeInstanceOf(DuplicateRecordError);
      });
    }
  });
}
