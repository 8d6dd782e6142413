// The behaviour every LeaseRepository must share, run by each store's *.test.ts file: one
// owner at a time, taken atomically, until it expires or is given up.
import { describeStoreContract, type StoreContractOptions, type StoreFactory } from './metadata-fixtures';

const t0 = new Date('2026-06-01T00:00:00.000Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

export function describeLeaseRepositoryContract(name: string, factory: StoreFactory, options: StoreContractOptions = {}): void {
  describeStoreContract(`LeaseRepository contract: ${name}`, factory, options, (store) => {
    test('a free lease is taken; another owner is refused while it lives', async () => {
      expect(await store.leases.acquire('job:deletion', 'a', t0, 10_000)).toBe(true);
      expect(await store.leases.acquire('job:deletion', 'b', at(9_999), 10_000)).toBe(false);
      expect(await store.leases.listLive('job:', at(1))).toEqual([{ name: 'job:deletion', owner: 'a', expiresAt: at(10_000) }]);
    });

    test('the owner renews it; once expired anyone may take it', async () => {
      expect(await store.leases.acquire('job:rotation', 'a', t0, 10_000)).toBe(true);
      expect(await store.leases.acquire('job:rotation', 'a', at(5_000), 10_000)).toBe(true);
      expect(await store.leases.acquire('job:rotation', 'b', at(14_999), 10_000)).toBe(false);
      expect(await store.leases.acquire('job:rotation', 'b', at(15_000), 10_000)).toBe(true);
      expect((await store.leases.listLive('job:rotation', at(15_001)))[0]?.owner).toBe('b');
    });

    test('release frees a lease only for its owner', async () => {
      await store.leases.acquire('job:upkeep', 'a', t0, 60_000);
      await store.leases.release('job:upkeep', 'b');
      expect(await store.leases.acquire('job:upkeep', 'b', at(1), 60_000)).toBe(false);
      await store.leases.release('job:upkeep', 'a');
      expect(await store.leases.acquire('job:upkeep', 'b', at(2), 60_000)).toBe(true);
    });

    test('listLive returns the live leases named with a prefix, in name order', async () => {
      await store.leases.acquire('instance:2', 'two', t0, 1_000);
      await store.leases.acquire('instance:1', 'one', t0, 5_000);
      await store.leases.acquire('job:deletion', 'one', t0, 5_000);
      await store.leases.acquire('instance.x', 'other', t0, 5_000);
      expect((await store.leases.listLive('instance:', at(500))).map((l) => l.name)).toEqual(['instance:1', 'instance:2']);
      expect((await store.leases.listLive('instance:', at(1_000))).map((l) => l.name)).toEqual(['instance:1']);
      expect(await store.leases.listLive('nothing:', t0)).toEqual([]);
    });

    test('of many owners racing for one lease, exactly one gets it', async () => {
      const owners = Array.from({ length: 20 }, (_, i) => `owner-${i}`);
      const results = await Promise.all(owners.map((owner) => store.leases.acquire('job:race', owner, t0, 30_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = owners[results.indexOf(true)];
      expect((await store.leases.listLive('job:race', at(1)))[0]?.owner).toBe(winner);
    });
  });
}
