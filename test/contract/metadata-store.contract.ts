// The behaviour every MetadataStore must share. Each implementation runs this one suite from its
// own *.test.ts file, so the in-memory fake used by unit tests cannot drift from the real stores.
import { DuplicateRecordError, KmsError, RevisionConflictError } from '../../src/core/errors';
import type { AliasRecord, GrantRecord, KeyRecord, KeyScope } from '../../src/core/model';
import type { MetadataStore, Page, PageRequest } from '../../src/core/ports';

export interface MetadataStoreContractOptions {
  /**
   * Persistent stores only: a new, uninitialised instance over the storage of the most recent
   * factory() call. The suite closes that instance first. When given, the suite checks that data
   * survives a restart; memory-only stores leave it out and that test is not registered.
   */
  reopen?: () => Promise<MetadataStore>;
  /** Runs after each test, once the suite has closed its store: discard what factory() created. */
  cleanup?: () => Promise<void>;
}

const scope: KeyScope = { accountId: '111122223333', region: 'us-east-1' };
const otherAccount: KeyScope = { accountId: '444455556666', region: 'us-east-1' };
const otherRegion: KeyScope = { accountId: '111122223333', region: 'eu-west-1' };

// Never mutate these: the factories below hand out copies, which tests may mutate.
const createdAt = new Date('2024-05-06T07:08:09.123Z');
const updatedAt = new Date('2024-05-07T10:11:12.456Z');

/** A valid key id whose order follows `n`, so expected orderings read plainly. */
function keyIdFor(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** A key with no optional fields. */
function makeKey(keyId: string, overrides: Partial<KeyRecord> = {}): KeyRecord {
  return {
    ...scope,
    keyId,
    createdAt: new Date(createdAt),
    description: '',
    keySpec: 'SYMMETRIC_DEFAULT',
    keyUsage: 'ENCRYPT_DECRYPT',
    origin: 'AWS_KMS',
    keyManager: 'CUSTOMER',
    multiRegion: false,
    state: 'Enabled',
    versions: [],
    tags: [],
    revision: 0,
    updatedAt: new Date(updatedAt),
    ...overrides,
  };
}

/** A key with every optional field set, and versions of both backing kinds. */
function makeFullKey(keyId: string): KeyRecord {
  return makeKey(keyId, {
    description: 'every field — with non-ASCII: 키 관리',
    state: 'PendingDeletion',
    deletionDate: new Date('2024-06-01T00:00:00.789Z'),
    pendingWindowInDays: 7,
    customKeyStoreId: 'cks-1234567890abcdef0',
    multiRegion: true,
    versions: [
      {
        id: 'a'.repeat(64),
        backing: { kind: 'pkcs11', tokenId: 'default', objectId: '0a1b2c3d' },
        createdAt: new Date('2024-05-06T07:08:09.001Z'),
        status: 'ACTIVE',
      },
      {
        id: 'b'.repeat(64),
        backing: { kind: 'xks', keyStoreId: 'cks-1234567890abcdef0', xksKeyId: 'ext-key-1' },
        createdAt: new Date('2024-05-06T08:00:00.002Z'),
        status: 'PENDING',
      },
    ],
    currentVersionId: 'a'.repeat(64),
    tags: [{ TagKey: 'team', TagValue: 'payments' }, { TagKey: 'empty', TagValue: '' }],
    policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*' }] }),
    incomplete: false,
    revision: 3,
  });
}

function makeAlias(aliasName: string, targetKeyId: string, aliasScope: KeyScope = scope): AliasRecord {
  return { ...aliasScope, aliasName, targetKeyId, createdAt: new Date(createdAt), updatedAt: new Date(updatedAt) };
}

const ALICE_ARN = `arn:aws:iam::${scope.accountId}:user/alice`;
const BOB_ARN = `arn:aws:iam::${scope.accountId}:user/bob`;

/** A valid grant id (64 hex) whose order follows `n`. */
function grantIdFor(n: number): string {
  return n.toString(16).padStart(64, '0');
}

/** A grant with no optional fields; `overrides` may move it to another scope. */
function makeGrant(grantId: string, keyId: string, overrides: Partial<GrantRecord> = {}): GrantRecord {
  return {
    ...scope,
    keyId,
    grantId,
    grantToken: `token-${grantId}`,
    granteePrincipal: ALICE_ARN,
    issuingAccount: scope.accountId,
    operations: ['Encrypt', 'Decrypt'],
    createdAt: new Date(createdAt),
    ...overrides,
  };
}

/** A grant with every optional field set. */
function makeFullGrant(grantId: string, keyId: string): GrantRecord {
  return makeGrant(grantId, keyId, {
    name: 'every-field:/_-',
    retiringPrincipal: BOB_ARN,
    issuingAccount: otherAccount.accountId,
    operations: ['GenerateDataKey', 'ReEncryptFrom', 'CreateGrant', 'RetireGrant', 'DescribeKey'],
    constraints: {
      encryptionContextSubset: { Department: 'IT', 'case': 'Value' },
      encryptionContextEquals: { purpose: 'backups — 키', empty: '' },
    },
  });
}

/** Follows nextMarker to the end, returning each page's items. */
async function collectPages<T>(fetch: (page: PageRequest) => Promise<Page<T>>, limit: number): Promise<T[][]> {
  const pages: T[][] = [];
  let marker: string | undefined;
  do {
    const page = await fetch(marker === undefined ? { limit } : { limit, marker });
    pages.push(page.items);
    marker = page.nextMarker;
    if (pages.length > 100) throw new Error('pagination does not terminate');
  } while (marker !== undefined);
  return pages;
}

const invalidMarkers = ['not-a-marker', '%%%', 'AAAA', '{"keyId":"x"}'];

/**
 * Registers the contract suite. `factory` returns a new, not yet initialised store over empty
 * storage; it is called before each test, and the suite calls init() and, afterwards, close().
 */
export function describeMetadataStoreContract(
  name: string,
  factory: () => Promise<MetadataStore>,
  options: MetadataStoreContractOptions = {},
): void {
  describe(`MetadataStore contract: ${name}`, () => {
    let store: MetadataStore;

    beforeEach(async () => {
      store = await factory();
      await store.init();
    });

    afterEach(async () => {
      // `store` is undefined when the factory failed before the first test; close() is idempotent.
      await store?.close();
      await options.cleanup?.();
    });

    test('ping resolves once initialised', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe('keys', () => {
      test('getKey returns what insertKey stored, every field included', async () => {
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

      test('getKey returns undefined for an unknown key', async () => {
        expect(await store.keys.get(scope, keyIdFor(404))).toBeUndefined();
      });

      test('the store keeps its own copy: mutating the input or a result changes nothing', async () => {
        const key = makeFullKey(keyIdFor(1));
        const original = makeFullKey(keyIdFor(1));
        await store.keys.insert(key);
        key.description = 'mutated input';
        key.tags.push({ TagKey: 'x', TagValue: 'y' });
        key.createdAt.setTime(0);

        const first = await store.keys.get(scope, key.keyId);
        if (!first) throw new Error('key not found');
        first.description = 'mutated result';
        first.versions.pop();

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

      test('insertKey rejects a duplicate keyId in the same scope and keeps the original', async () => {
        const key = makeKey(keyIdFor(1), { description: 'original' });
        await store.keys.insert(key);
        await expect(store.keys.insert(makeKey(key.keyId, { description: 'impostor' })))
          .rejects.toBeInstanceOf(DuplicateRecordError);
        expect(await store.keys.get(scope, key.keyId)).toStrictEqual(key);
      });
    });

    describe('listKeys', () => {
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

    describe('replaceKey', () => {
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

    describe('deleteKey', () => {
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
    });

    describe('listIncompleteKeys', () => {
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

    describe('listKeysDueForDeletion', () => {
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

      test('import state round-trips with its dates as Dates, through replaceKey too', async () => {
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

      test('listKeysDueForImportUpkeep returns complete keys whose upkeep is due at or before the date, from every scope, soonest first', async () => {
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

      test('rotation state round-trips with its dates as Dates, through replaceKey too', async () => {
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

      test('listKeysDueForRotation returns complete Enabled keys with rotation on, due at or before the date, from every scope, soonest first', async () => {
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

      test('listKeysWithPendingVersions returns complete keys with a PENDING version created before the date, from every scope', async () => {
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

    describe('aliases', () => {
      const keyA = keyIdFor(1);
      const keyB = keyIdFor(2);

      test('getAlias returns what insertAlias stored', async () => {
        const alias = makeAlias('alias/app', keyA);
        await store.aliases.insert(alias);
        const got = await store.aliases.get(scope, 'alias/app');
        expect(got).toStrictEqual(alias);
        expect(got?.createdAt).toBeInstanceOf(Date);
        expect(got?.updatedAt).toBeInstanceOf(Date);
      });

      test('getAlias returns undefined for an unknown alias', async () => {
        expect(await store.aliases.get(scope, 'alias/missing')).toBeUndefined();
      });

      test('the store keeps its own copy of an alias', async () => {
        const alias = makeAlias('alias/app', keyA);
        await store.aliases.insert(alias);
        alias.targetKeyId = keyB;
        alias.createdAt.setTime(0);
        expect(await store.aliases.get(scope, 'alias/app')).toStrictEqual(makeAlias('alias/app', keyA));
      });

      test('insertAlias rejects a duplicate name in the same scope, whatever its target', async () => {
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

      test('listAliases orders by name in binary (code unit) order', async () => {
        // Binary order is what SQLite and MongoDB give by default: uppercase before lowercase.
        for (const name of ['alias/b', 'alias/a-1', 'alias/B', 'alias/a', 'alias/A']) {
          await store.aliases.insert(makeAlias(name, keyA));
        }
        const page = await store.aliases.list(scope, {}, { limit: 100 });
        expect(page.items.map((a) => a.aliasName)).toEqual(['alias/A', 'alias/B', 'alias/a', 'alias/a-1', 'alias/b']);
        expect(page.nextMarker).toBeUndefined();
      });

      test('listAliases returns only the scope\'s aliases, as full records', async () => {
        const alias = makeAlias('alias/app', keyA);
        await store.aliases.insert(alias);
        await store.aliases.insert(makeAlias('alias/elsewhere', keyA, otherRegion));
        expect(await store.aliases.list(scope, {}, { limit: 10 })).toStrictEqual({ items: [alias] });
      });

      test('listAliases filters by target key', async () => {
        await store.aliases.insert(makeAlias('alias/a1', keyA));
        await store.aliases.insert(makeAlias('alias/b1', keyB));
        await store.aliases.insert(makeAlias('alias/a2', keyA));
        const page = await store.aliases.list(scope, { keyId: keyA }, { limit: 10 });
        expect(page.items.map((a) => a.aliasName)).toEqual(['alias/a1', 'alias/a2']);
        expect((await store.aliases.list(scope, { keyId: keyIdFor(404) }, { limit: 10 })).items).toEqual([]);
      });

      test('listAliases paginates with limit and marker, with and without a key filter', async () => {
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

      test.each(invalidMarkers)('listAliases rejects the invalid marker %j with InvalidMarkerException', async (marker) => {
        await store.aliases.insert(makeAlias('alias/app', keyA));
        const listing = store.aliases.list(scope, {}, { limit: 10, marker });
        await expect(listing).rejects.toBeInstanceOf(KmsError);
        await expect(listing).rejects.toMatchObject({ code: 'InvalidMarkerException' });
      });

      test('updateAlias points an alias at another key and records when', async () => {
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

      test('updateAlias returns false for an unknown alias and creates nothing', async () => {
        expect(await store.aliases.update(scope, 'alias/missing', keyA, updatedAt)).toBe(false);
        expect(await store.aliases.get(scope, 'alias/missing')).toBeUndefined();
      });

      test('updateAlias only touches the alias in its own scope', async () => {
        await store.aliases.insert(makeAlias('alias/app', keyA));
        await store.aliases.insert(makeAlias('alias/app', keyA, otherRegion));
        await store.aliases.update(scope, 'alias/app', keyB, updatedAt);
        expect((await store.aliases.get(otherRegion, 'alias/app'))?.targetKeyId).toBe(keyA);
      });

      test('deleteAlias removes the alias once and reports whether it existed', async () => {
        await store.aliases.insert(makeAlias('alias/app', keyA));
        await store.aliases.insert(makeAlias('alias/app', keyA, otherRegion));
        expect(await store.aliases.delete(scope, 'alias/app')).toBe(true);
        expect(await store.aliases.get(scope, 'alias/app')).toBeUndefined();
        expect(await store.aliases.delete(scope, 'alias/app')).toBe(false);
        expect(await store.aliases.get(otherRegion, 'alias/app')).toBeDefined();
      });

      test('countAliasesForKey counts only the key\'s aliases in the scope', async () => {
        expect(await store.aliases.countForKey(scope, keyA)).toBe(0);
        await store.aliases.insert(makeAlias('alias/a1', keyA));
        await store.aliases.insert(makeAlias('alias/a2', keyA));
        await store.aliases.insert(makeAlias('alias/b1', keyB));
        await store.aliases.insert(makeAlias('alias/a1', keyA, otherAccount));
        expect(await store.aliases.countForKey(scope, keyA)).toBe(2);
        expect(await store.aliases.countForKey(scope, keyB)).toBe(1);
      });
    });

    describe('grants', () => {
      const keyA = keyIdFor(1);
      const keyB = keyIdFor(2);

      test('getGrant returns what insertGrant stored, every field included', async () => {
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

      test('getGrant finds a grant only on its own key in its own scope', async () => {
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

      test('insertGrant rejects a grant id that exists in any scope, and a token that exists, and keeps the original', async () => {
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

      test('findGrantByToken finds the grant in any scope, by the exact token', async () => {
        const grant = makeGrant(grantIdFor(1), keyA, otherAccount);
        await store.grants.insert(grant);
        await store.grants.insert(makeGrant(grantIdFor(2), keyA));
        expect(await store.grants.findByToken(grant.grantToken)).toStrictEqual(grant);
        expect(await store.grants.findByToken(grant.grantToken.toUpperCase())).toBeUndefined();
        expect(await store.grants.findByToken('no-such-token')).toBeUndefined();
      });

      test('listGrants returns the key\'s grants in its scope, ordered by grant id, as full records', async () => {
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

      test('listGrants filters by grant id and by grantee principal', async () => {
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

      test('listGrants paginates with limit and marker, with and without a filter', async () => {
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
        'listGrants and listRetirableGrants reject the invalid marker %j with InvalidMarkerException',
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

      test('listRetirableGrants returns grants of every account in the region with exactly that retiring principal', async () => {
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

      test('listRetirableGrants paginates with limit and marker', async () => {
        for (let n = 1; n <= 5; n++) await store.grants.insert(makeGrant(grantIdFor(n), n % 2 ? keyA : keyB, { retiringPrincipal: ALICE_ARN }));
        const pages = await collectPages((page) => store.grants.listRetirable(scope.region, ALICE_ARN, page), 2);
        expect(pages.map((items) => items.map((g) => g.grantId))).toEqual([[1, 2], [3, 4], [5]].map((p) => p.map(grantIdFor)));
      });

      test('deleteGrant removes the grant once, only through its own key and scope, and reports whether it existed', async () => {
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

      test('countGrantsForKey counts only the key\'s grants in the scope', async () => {
        expect(await store.grants.countForKey(scope, keyA)).toBe(0);
        await store.grants.insert(makeGrant(grantIdFor(1), keyA));
        await store.grants.insert(makeGrant(grantIdFor(2), keyA));
        await store.grants.insert(makeGrant(grantIdFor(3), keyB));
        await store.grants.insert(makeGrant(grantIdFor(4), keyA, otherAccount));
        expect(await store.grants.countForKey(scope, keyA)).toBe(2);
        expect(await store.grants.countForKey(scope, keyB)).toBe(1);
        expect(await store.grants.countForKey(otherAccount, keyA)).toBe(1);
      });

      test('deleteKey removes the key\'s grants in its scope, and nothing else', async () => {
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

    const { reopen } = options;
    if (reopen) {
      test('data survives close() and reopening the same storage', async () => {
        const key = makeFullKey(keyIdFor(1));
        await store.keys.insert(key);
        const replaced = await store.keys.replace({ ...key, description: 'replaced before restart' });
        await store.keys.insert(makeKey(keyIdFor(2), { incomplete: true, updatedAt: createdAt }));
        const alias = makeAlias('alias/app', key.keyId);
        await store.aliases.insert(alias);
        const grant = makeFullGrant(grantIdFor(1), key.keyId);
        await store.grants.insert(grant);
        await store.close();

        store = await reopen();
        await store.init();

        expect(await store.keys.get(scope, key.keyId)).toStrictEqual(replaced);
        expect(await store.aliases.get(scope, 'alias/app')).toStrictEqual(alias);
        expect((await store.keys.listIncomplete(updatedAt)).map((k) => k.keyId)).toEqual([keyIdFor(2)]);
        expect(await store.grants.findByToken(grant.grantToken)).toStrictEqual(grant);
        // Uniqueness and revision checks still hold after a restart.
        await expect(store.aliases.insert(alias)).rejects.toBeInstanceOf(DuplicateRecordError);
        await expect(store.grants.insert(grant)).rejects.toBeInstanceOf(DuplicateRecordError);
        await expect(store.keys.replace(key)).rejects.toBeInstanceOf(RevisionConflictError);
      });
    }
  });
}
