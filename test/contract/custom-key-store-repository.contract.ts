// The behaviour every CustomKeyStoreRepository must share, run by each store's *.test.ts file.
import { DuplicateRecordError, KmsError, RevisionConflictError } from '../../src/core/errors';
import { encodeMarker } from '../../src/core/api/page-marker';
import type { CustomKeyStoreRecord, SealedSecret } from '../../src/core/model';
import {
  collectPages, createdAt, describeStoreContract, invalidMarkers, otherAccount, otherRegion, scope, updatedAt,
  type StoreContractOptions, type StoreFactory,
} from './metadata-fixtures';

/** A valid custom key store id ("cks-" and 17 hex) whose order follows `n`. */
export function storeIdFor(n: number): string {
  return `cks-${n.toString(16).padStart(17, '0')}`;
}

const stateChangedAt = new Date('2024-05-06T09:10:11.789Z');
const CLUSTER_ID = 'cluster-1234567abcd';

function sealed(field: string): SealedSecret {
  return { iv: 'AAECAwQFBgcICQoL', ciphertext: Buffer.from(`sealed ${field}`).toString('base64'), tag: 'ABEiM0RVZneImaq7zN3u/w==' };
}

/** An AWS_CLOUDHSM store with no optional field. */
export function makeCloudHsmStore(customKeyStoreId: string, overrides: Partial<CustomKeyStoreRecord> = {}): CustomKeyStoreRecord {
  return {
    ...scope,
    customKeyStoreId,
    name: `hsm-${customKeyStoreId}`,
    type: 'AWS_CLOUDHSM',
    createdAt: new Date(createdAt),
    connectionState: 'DISCONNECTED',
    connectionGeneration: 0,
    stateChangedAt: new Date(stateChangedAt),
    secretKeyObjectId: '5e'.repeat(32),
    cloudHsm: {
      clusterId: CLUSTER_ID,
      trustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n',
      keyStorePassword: sealed('keyStorePassword'),
    },
    revision: 0,
    updatedAt: new Date(updatedAt),
    ...overrides,
  };
}

/** An EXTERNAL_KEY_STORE store with no optional field. */
export function makeXksStore(customKeyStoreId: string, overrides: Partial<CustomKeyStoreRecord> = {}): CustomKeyStoreRecord {
  return {
    ...scope,
    customKeyStoreId,
    name: `xks-${customKeyStoreId}`,
    type: 'EXTERNAL_KEY_STORE',
    createdAt: new Date(createdAt),
    connectionState: 'DISCONNECTED',
    connectionGeneration: 0,
    stateChangedAt: new Date(stateChangedAt),
    secretKeyObjectId: '6f'.repeat(32),
    xks: {
      uriEndpoint: 'https://xks.example.com:8443',
      uriPath: '/example/prefix/kms/xks/v1',
      connectivity: 'PUBLIC_ENDPOINT',
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      rawSecretAccessKey: sealed('rawSecretAccessKey'),
    },
    revision: 0,
    updatedAt: new Date(updatedAt),
    ...overrides,
  };
}

/** An EXTERNAL_KEY_STORE store with every optional field set. */
function makeFullXksStore(customKeyStoreId: string): CustomKeyStoreRecord {
  const store = makeXksStore(customKeyStoreId, {
    name: 'every field — 키 / "quoted" $name.with.dots',
    connectionState: 'FAILED',
    connectionErrorCode: 'XKS_PROXY_TIMED_OUT',
    connectionGeneration: 7,
    revision: 3,
  });
  store.xks = {
    ...store.xks!,
    uriEndpoint: 'https://myproxy-private.xks.example.com',
    connectivity: 'VPC_ENDPOINT_SERVICE',
    vpcEndpointServiceName: 'com.amazonaws.vpce.us-east-1.vpce-svc-example1',
  };
  return store;
}

const byId = (stores: CustomKeyStoreRecord[]) => stores.map((s) => `${s.accountId}/${s.region}/${s.customKeyStoreId}`).sort();

/** Registers the suite over the stores `factory` makes, as describeKeyRepositoryContract does. */
export function describeCustomKeyStoreRepositoryContract(name: string, factory: StoreFactory, options: StoreContractOptions = {}): void {
  describeStoreContract(`CustomKeyStoreRepository contract: ${name}`, factory, options, (store, restart) => {
    describe('insert and get', () => {
      test('get returns what insert stored, of either type, with every date a Date', async () => {
        const hsm = makeCloudHsmStore(storeIdFor(1), { connectionState: 'CONNECTED', connectionGeneration: 2 });
        const xks = makeXksStore(storeIdFor(2));
        await store.customKeyStores.insert(hsm);
        await store.customKeyStores.insert(xks);

        const gotHsm = await store.customKeyStores.get(scope, hsm.customKeyStoreId);
        // toStrictEqual also fails if absent optional fields come back as null or undefined.
        expect(gotHsm).toStrictEqual(hsm);
        expect(gotHsm?.createdAt).toBeInstanceOf(Date);
        expect(gotHsm?.stateChangedAt).toBeInstanceOf(Date);
        expect(gotHsm?.updatedAt).toBeInstanceOf(Date);
        expect(await store.customKeyStores.get(scope, xks.customKeyStoreId)).toStrictEqual(xks);
      });

      test('every optional field round-trips', async () => {
        const full = makeFullXksStore(storeIdFor(1));
        await store.customKeyStores.insert(full);
        const got = await store.customKeyStores.get(scope, full.customKeyStoreId);
        expect(got).toStrictEqual(full);
        expect(got?.stateChangedAt).toBeInstanceOf(Date);
      });

      test('get returns undefined for an unknown id, and for a store of another scope', async () => {
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(1)));
        expect(await store.customKeyStores.get(scope, storeIdFor(404))).toBeUndefined();
        expect(await store.customKeyStores.get(otherAccount, storeIdFor(1))).toBeUndefined();
        expect(await store.customKeyStores.get(otherRegion, storeIdFor(1))).toBeUndefined();
      });

      test('the store keeps its own copy: mutating the input or a result changes nothing', async () => {
        const input = makeCloudHsmStore(storeIdFor(1));
        await store.customKeyStores.insert(input);
        input.name = 'mutated input';
        input.cloudHsm!.keyStorePassword.ciphertext = 'mutated';
        input.createdAt.setTime(0);

        const first = await store.customKeyStores.get(scope, storeIdFor(1));
        first!.cloudHsm!.clusterId = 'mutated result';
        first!.stateChangedAt.setTime(0);

        expect(await store.customKeyStores.get(scope, storeIdFor(1))).toStrictEqual(makeCloudHsmStore(storeIdFor(1)));
      });

      test('insert rejects an id that exists, in any scope, and keeps the original', async () => {
        const original = makeCloudHsmStore(storeIdFor(1));
        await store.customKeyStores.insert(original);
        await expect(store.customKeyStores.insert(makeXksStore(storeIdFor(1)))).rejects.toBeInstanceOf(DuplicateRecordError);
        await expect(store.customKeyStores.insert(makeXksStore(storeIdFor(1), otherRegion))).rejects.toBeInstanceOf(DuplicateRecordError);
        expect(await store.customKeyStores.get(scope, storeIdFor(1))).toStrictEqual(original);
        expect(await store.customKeyStores.get(otherRegion, storeIdFor(1))).toBeUndefined();
        expect(await store.customKeyStores.count(otherRegion)).toBe(0);
      });

      test('insert rejects a name another store in the scope has, and stores nothing', async () => {
        const original = makeCloudHsmStore(storeIdFor(1), { name: 'ExampleStore' });
        await store.customKeyStores.insert(original);
        await expect(store.customKeyStores.insert(makeXksStore(storeIdFor(2), { name: 'ExampleStore' })))
          .rejects.toBeInstanceOf(DuplicateRecordError);
        expect(await store.customKeyStores.get(scope, storeIdFor(2))).toBeUndefined();
        expect(await store.customKeyStores.getByName(scope, 'ExampleStore')).toStrictEqual(original);
        expect(await store.customKeyStores.count(scope)).toBe(1);
      });

      test('the same name in another account or region, or in another case, is another store', async () => {
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(1), { name: 'ExampleStore' }));
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(2), { ...otherAccount, name: 'ExampleStore' }));
        await store.customKeyStores.insert(makeXksStore(storeIdFor(3), { ...otherRegion, name: 'ExampleStore' }));
        await store.customKeyStores.insert(makeXksStore(storeIdFor(4), { name: 'examplestore' }));

        expect((await store.customKeyStores.getByName(scope, 'ExampleStore'))?.customKeyStoreId).toBe(storeIdFor(1));
        expect((await store.customKeyStores.getByName(otherAccount, 'ExampleStore'))?.customKeyStoreId).toBe(storeIdFor(2));
        expect((await store.customKeyStores.getByName(otherRegion, 'ExampleStore'))?.customKeyStoreId).toBe(storeIdFor(3));
        expect((await store.customKeyStores.getByName(scope, 'examplestore'))?.customKeyStoreId).toBe(storeIdFor(4));
      });
    });

    describe('getByName', () => {
      test('returns the whole record of the store with that exact name in the scope, or undefined', async () => {
        const full = makeFullXksStore(storeIdFor(1));
        await store.customKeyStores.insert(full);
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(2), { name: 'other' }));

        expect(await store.customKeyStores.getByName(scope, full.name)).toStrictEqual(full);
        expect(await store.customKeyStores.getByName(scope, 'missing')).toBeUndefined();
        expect(await store.customKeyStores.getByName(scope, 'Other')).toBeUndefined();
        expect(await store.customKeyStores.getByName(otherAccount, 'other')).toBeUndefined();
      });
    });

    describe('list and count', () => {
      test('an empty scope has an empty last page and a count of 0', async () => {
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(1), otherRegion));
        expect(await store.customKeyStores.list(scope, { limit: 10 })).toStrictEqual({ items: [] });
        expect(await store.customKeyStores.count(scope)).toBe(0);
      });

      test('orders the scope\'s stores by creation date, then id, and counts them', async () => {
        const at = (iso: string) => ({ createdAt: new Date(iso) });
        // Inserted out of order; 3 and 5 share an instant with 4, and 1 is the newest.
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(5), at('2024-02-01T00:00:00.000Z')));
        await store.customKeyStores.insert(makeXksStore(storeIdFor(1), at('2024-03-01T00:00:00.000Z')));
        await store.customKeyStores.insert(makeXksStore(storeIdFor(3), at('2024-02-01T00:00:00.000Z')));
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(2), at('2024-01-01T00:00:00.001Z')));
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(4), at('2024-02-01T00:00:00.000Z')));
        // Not listed: other account, other region.
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(6), { ...otherAccount, ...at('2024-01-01T00:00:00.000Z') }));
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(7), { ...otherRegion, ...at('2024-01-01T00:00:00.000Z') }));

        const page = await store.customKeyStores.list(scope, { limit: 100 });
        expect(page.items.map((s) => s.customKeyStoreId)).toEqual([2, 3, 4, 5, 1].map(storeIdFor));
        expect(page.nextMarker).toBeUndefined();
        expect(await store.customKeyStores.count(scope)).toBe(5);
        expect(await store.customKeyStores.count(otherAccount)).toBe(1);
        expect(await store.customKeyStores.count(otherRegion)).toBe(1);
      });

      test('paginates with limit and marker, also between stores created at the same instant', async () => {
        const same = new Date('2024-02-01T00:00:00.000Z');
        for (const n of [7, 3, 1, 6, 2, 5, 4]) {
          const created = n <= 4 ? same : new Date(same.getTime() + n);
          await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(n), { createdAt: created }));
        }
        const pages = await collectPages((page) => store.customKeyStores.list(scope, page), 3);
        expect(pages.map((items) => items.map((s) => s.customKeyStoreId))).toEqual([
          [1, 2, 3].map(storeIdFor),
          [4, 5, 6].map(storeIdFor),
          [7].map(storeIdFor),
        ]);
      });

      test('gives no marker on a last page that is exactly full, and returns full records', async () => {
        const full = makeFullXksStore(storeIdFor(1));
        await store.customKeyStores.insert(full);
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(2)));
        const pages = await collectPages((page) => store.customKeyStores.list(scope, page), 1);
        expect(pages.map((items) => items.length)).toEqual([1, 1]);
        expect(pages[0]).toStrictEqual([full]);
      });

      test('a marker stays usable after the store it follows is deleted', async () => {
        for (const n of [1, 2, 3, 4]) await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(n)));
        const first = await store.customKeyStores.list(scope, { limit: 2 });
        await store.customKeyStores.delete(scope, storeIdFor(2));
        const second = await store.customKeyStores.list(scope, { limit: 2, marker: first.nextMarker });
        expect(second.items.map((s) => s.customKeyStoreId)).toEqual([3, 4].map(storeIdFor));
        expect(second.nextMarker).toBeUndefined();
      });

      const otherMarkers = [encodeMarker('key', storeIdFor(1)), encodeMarker('customKeyStore', storeIdFor(1)), encodeMarker('customKeyStore', 'x:y')];
      test.each([...invalidMarkers, ...otherMarkers])('rejects the invalid marker %j with InvalidMarkerException', async (marker) => {
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(1)));
        const listing = store.customKeyStores.list(scope, { limit: 10, marker });
        await expect(listing).rejects.toBeInstanceOf(KmsError);
        await expect(listing).rejects.toMatchObject({ code: 'InvalidMarkerException' });
      });
    });

    describe('replace', () => {
      test('stores the new record with the revision bumped and returns it, leaving the input alone', async () => {
        await store.customKeyStores.insert(makeXksStore(storeIdFor(1), { revision: 4 }));
        const change: CustomKeyStoreRecord = { ...makeFullXksStore(storeIdFor(1)), revision: 4 };

        const stored = await store.customKeyStores.replace(change);

        expect(stored).toStrictEqual({ ...change, revision: 5 });
        expect(stored.createdAt).toBeInstanceOf(Date);
        expect(change.revision).toBe(4);
        expect(await store.customKeyStores.get(scope, storeIdFor(1))).toStrictEqual(stored);
      });

      test('an optional field dropped by a replace is gone', async () => {
        await store.customKeyStores.insert(makeFullXksStore(storeIdFor(1)));
        const read = (await store.customKeyStores.get(scope, storeIdFor(1)))!;
        const { connectionErrorCode: _dropped, ...connecting } = read;
        const stored = await store.customKeyStores.replace({ ...connecting, connectionState: 'CONNECTING', connectionGeneration: 8 });
        expect(stored).not.toHaveProperty('connectionErrorCode');
        expect(await store.customKeyStores.get(scope, storeIdFor(1))).toStrictEqual(stored);
      });

      test('successive replaces each bump the revision', async () => {
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(1)));
        let current = (await store.customKeyStores.get(scope, storeIdFor(1)))!;
        for (const connectionState of ['CONNECTING', 'CONNECTED', 'DISCONNECTING'] as const) {
          current = await store.customKeyStores.replace({ ...current, connectionState });
        }
        expect(await store.customKeyStores.get(scope, storeIdFor(1))).toMatchObject({ connectionState: 'DISCONNECTING', revision: 3 });
      });

      test('rejects a stale revision with RevisionConflictError and keeps the stored record', async () => {
        const original = makeCloudHsmStore(storeIdFor(1));
        await store.customKeyStores.insert(original);
        const current = await store.customKeyStores.replace({ ...original, connectionState: 'CONNECTING' });

        await expect(store.customKeyStores.replace({ ...original, name: 'stale writer' })).rejects.toBeInstanceOf(RevisionConflictError);
        expect(await store.customKeyStores.get(scope, storeIdFor(1))).toStrictEqual(current);
        expect(await store.customKeyStores.getByName(scope, 'stale writer')).toBeUndefined();
      });

      test('rejects a replace of a store that is gone with RevisionConflictError, and creates nothing', async () => {
        const doomed = makeCloudHsmStore(storeIdFor(1));
        await store.customKeyStores.insert(doomed);
        await store.customKeyStores.delete(scope, doomed.customKeyStoreId);
        await expect(store.customKeyStores.replace(doomed)).rejects.toBeInstanceOf(RevisionConflictError);
        await expect(store.customKeyStores.replace(makeXksStore(storeIdFor(2)))).rejects.toBeInstanceOf(RevisionConflictError);
        expect(await store.customKeyStores.count(scope)).toBe(0);
      });

      test('only touches the store in the record\'s own scope', async () => {
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(1)));
        await expect(store.customKeyStores.replace(makeCloudHsmStore(storeIdFor(1), { ...otherRegion, name: 'moved' })))
          .rejects.toBeInstanceOf(RevisionConflictError);
        expect(await store.customKeyStores.get(scope, storeIdFor(1))).toStrictEqual(makeCloudHsmStore(storeIdFor(1)));
      });

      test('a rename onto another store\'s name is a DuplicateRecordError and changes nothing', async () => {
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(1), { name: 'first' }));
        const second = makeXksStore(storeIdFor(2), { name: 'second' });
        await store.customKeyStores.insert(second);

        await expect(store.customKeyStores.replace({ ...second, name: 'first', connectionGeneration: 1 }))
          .rejects.toBeInstanceOf(DuplicateRecordError);
        expect(await store.customKeyStores.get(scope, storeIdFor(2))).toStrictEqual(second);
        expect((await store.customKeyStores.getByName(scope, 'first'))?.customKeyStoreId).toBe(storeIdFor(1));
      });

      test('a rename frees the old name and takes the new one; a name used in another scope is free', async () => {
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(1), { name: 'before' }));
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(2), { ...otherAccount, name: 'after' }));
        const read = (await store.customKeyStores.get(scope, storeIdFor(1)))!;

        const renamed = await store.customKeyStores.replace({ ...read, name: 'after' });

        expect(renamed).toMatchObject({ name: 'after', revision: 1 });
        expect(await store.customKeyStores.getByName(scope, 'after')).toStrictEqual(renamed);
        expect(await store.customKeyStores.getByName(scope, 'before')).toBeUndefined();
        await store.customKeyStores.insert(makeXksStore(storeIdFor(3), { name: 'before' }));
        expect((await store.customKeyStores.getByName(otherAccount, 'after'))?.customKeyStoreId).toBe(storeIdFor(2));
      });

      test('what the queries select follows a replace: cluster id and connection state', async () => {
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(1)));
        const read = (await store.customKeyStores.get(scope, storeIdFor(1)))!;
        await store.customKeyStores.replace({
          ...read, connectionState: 'CONNECTING', cloudHsm: { ...read.cloudHsm!, clusterId: 'cluster-234567abcde' },
        });
        expect(await store.customKeyStores.findByClusterId(CLUSTER_ID)).toEqual([]);
        expect(byId(await store.customKeyStores.findByClusterId('cluster-234567abcde'))).toEqual(byId([read]));
        expect(await store.customKeyStores.listInStates(['DISCONNECTED'])).toEqual([]);
        expect(byId(await store.customKeyStores.listInStates(['CONNECTING']))).toEqual(byId([read]));
      });

      test('of concurrent replaces from the same revision, exactly one succeeds', async () => {
        const original = makeCloudHsmStore(storeIdFor(1));
        await store.customKeyStores.insert(original);

        const writers = Array.from({ length: 5 }, (_, i) => ({ ...original, connectionGeneration: i + 1 }));
        const results = await Promise.allSettled(writers.map((writer) => store.customKeyStores.replace(writer)));

        const winners = results.filter((r): r is PromiseFulfilledResult<CustomKeyStoreRecord> => r.status === 'fulfilled');
        const losers = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(winners).toHaveLength(1);
        for (const loser of losers) expect(loser.reason).toBeInstanceOf(RevisionConflictError);
        expect(await store.customKeyStores.get(scope, storeIdFor(1))).toStrictEqual(winners[0]?.value);
        expect(winners[0]?.value.revision).toBe(1);
      });
    });

    describe('delete', () => {
      test('removes the store once, in its own scope only, reports whether it existed, and frees its name', async () => {
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(1), { name: 'doomed' }));
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(2), { name: 'kept' }));

        expect(await store.customKeyStores.delete(otherAccount, storeIdFor(1))).toBe(false);
        expect(await store.customKeyStores.delete(otherRegion, storeIdFor(1))).toBe(false);
        expect(await store.customKeyStores.get(scope, storeIdFor(1))).toBeDefined();

        expect(await store.customKeyStores.delete(scope, storeIdFor(1))).toBe(true);
        expect(await store.customKeyStores.delete(scope, storeIdFor(1))).toBe(false);
        expect(await store.customKeyStores.get(scope, storeIdFor(1))).toBeUndefined();
        expect(await store.customKeyStores.getByName(scope, 'doomed')).toBeUndefined();
        expect(await store.customKeyStores.get(scope, storeIdFor(2))).toBeDefined();
        expect(await store.customKeyStores.count(scope)).toBe(1);

        await store.customKeyStores.insert(makeXksStore(storeIdFor(3), { name: 'doomed' }));
        expect((await store.customKeyStores.getByName(scope, 'doomed'))?.customKeyStoreId).toBe(storeIdFor(3));
      });
    });

    describe('queries over every scope', () => {
      test('findByClusterId returns the CloudHSM stores of any scope on that cluster, as whole records', async () => {
        const home = makeCloudHsmStore(storeIdFor(1));
        const away = makeCloudHsmStore(storeIdFor(2), { ...otherAccount, connectionState: 'CONNECTED' });
        await store.customKeyStores.insert(home);
        await store.customKeyStores.insert(away);
        // Not returned: another cluster, an external key store.
        await store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(3), {
          name: 'elsewhere', cloudHsm: { ...home.cloudHsm!, clusterId: 'cluster-234567abcde' },
        }));
        await store.customKeyStores.insert(makeXksStore(storeIdFor(4), { ...otherRegion }));

        const found = await store.customKeyStores.findByClusterId(CLUSTER_ID);

        expect(byId(found)).toEqual(byId([home, away]));
        expect(found.find((s) => s.customKeyStoreId === storeIdFor(2))).toStrictEqual(away);
        expect(await store.customKeyStores.findByClusterId('cluster-unknown')).toEqual([]);
      });

      test('listInStates returns the stores of any scope in one of the states, as whole records', async () => {
        const connecting = makeCloudHsmStore(storeIdFor(1), { connectionState: 'CONNECTING' });
        const disconnecting = makeFullXksStore(storeIdFor(2));
        disconnecting.connectionState = 'DISCONNECTING';
        Object.assign(disconnecting, otherRegion);
        const alsoConnecting = makeXksStore(storeIdFor(3), { ...otherAccount, connectionState: 'CONNECTING' });
        for (const s of [connecting, disconnecting, alsoConnecting]) await store.customKeyStores.insert(s);
        for (const [n, connectionState] of [[4, 'CONNECTED'], [5, 'FAILED'], [6, 'DISCONNECTED']] as const) {
          await store.customKeyStores.insert(makeXksStore(storeIdFor(n), { connectionState }));
        }

        const found = await store.customKeyStores.listInStates(['CONNECTING', 'DISCONNECTING']);

        expect(byId(found)).toEqual(byId([connecting, disconnecting, alsoConnecting]));
        expect(found.find((s) => s.customKeyStoreId === storeIdFor(2))).toStrictEqual(disconnecting);
        expect(byId(await store.customKeyStores.listInStates(['FAILED']))).toEqual([`${scope.accountId}/${scope.region}/${storeIdFor(5)}`]);
        expect(await store.customKeyStores.listInStates([])).toEqual([]);
      });
    });

    if (restart) {
      test('custom key stores survive close() and reopening the same storage', async () => {
        const original = makeFullXksStore(storeIdFor(1));
        await store.customKeyStores.insert(original);
        const replaced = await store.customKeyStores.replace({ ...original, connectionGeneration: 8 });

        await restart();

        expect(await store.customKeyStores.get(scope, storeIdFor(1))).toStrictEqual(replaced);
        expect(await store.customKeyStores.getByName(scope, original.name)).toStrictEqual(replaced);
        await expect(store.customKeyStores.insert(makeCloudHsmStore(storeIdFor(2), { name: original.name })))
          .rejects.toBeInstanceOf(DuplicateRecordError);
        await expect(store.customKeyStores.replace(original)).rejects.toBeInstanceOf(RevisionConflictError);
      });
    }
  });
}
