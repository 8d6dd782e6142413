// The behaviour every AuditRepository must share, run by each store's *.test.ts file: one
// gap-free, hash-chained sequence; LookupEvents' filters newest first with paging; the last use
// of a key; digests; and pruning a prefix without breaking the chain.
import { encodeMarker } from '../../src/core/api/page-marker';
import { chainValue, GENESIS_CHAIN_VALUE, type AuditDigest, type AuditDraft, type AuditLookupAttribute, type AuditRecord } from '../../src/core/audit/record';
import type { AuditRepository } from '../../src/core/ports';
import { describeStoreContract, invalidMarkers, type StoreContractOptions, type StoreFactory } from './metadata-fixtures';

const t0 = new Date('2026-06-01T00:00:00.000Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const keyArn = (n: number) => `arn:aws:kms:us-east-1:111122223333:key/${String(n).padStart(8, '0')}-1111-2222-3333-444455556666`;

let drafted = 0;
/** A draft with a fresh event id; `event` is canonical JSON naming the id, as the trail writes. */
export function draft(overrides: Partial<AuditDraft> = {}): AuditDraft {
  drafted += 1;
  const eventId = overrides.eventId ?? `00000000-0000-4000-8000-${String(drafted).padStart(12, '0')}`;
  return {
    eventId,
    eventTime: at(drafted),
    eventName: 'Encrypt',
    readOnly: false,
    succeeded: true,
    username: 'alice',
    accessKeyId: 'AKIAALICE',
    resourceNames: [keyArn(1)],
    event: `{"eventID":"${eventId}","eventName":"${overrides.eventName ?? 'Encrypt'}"}`,
    ...overrides,
  };
}

/** Throws unless `records` are consecutive from `first` and each chain value is right. */
export function expectChained(records: readonly AuditRecord[], first = 1, previous = GENESIS_CHAIN_VALUE): void {
  records.forEach((record, i) => {
    expect(record.sequence).toBe(first + i);
    expect(record.previousChainValue).toBe(i === 0 ? previous : records[i - 1]!.chainValue);
    expect(record.chainValue).toBe(chainValue(record.previousChainValue, record.sequence, record.event));
  });
}

async function all(audit: AuditRepository): Promise<AuditRecord[]> {
  return audit.range(1, 1_000_000);
}

export function describeAuditRepositoryContract(name: string, factory: StoreFactory, options: StoreContractOptions = {}): void {
  describeStoreContract(`AuditRepository contract: ${name}`, factory, options, (store, restart) => {
    test('an empty trail has no head and no records', async () => {
      expect(await store.audit.head()).toBeUndefined();
      expect(await store.audit.range(1, 10)).toEqual([]);
      expect(await store.audit.lookup({}, { limit: 10 })).toEqual({ items: [] });
      expect(await store.audit.append([])).toEqual([]);
    });

    test('appends number records 1, 2, 3 … without gaps, each chained to the one before', async () => {
      const first = await store.audit.append([draft()]);
      const batch = await store.audit.append([draft(), draft(), draft()]);
      expectChained([...first, ...batch]);
      const stored = await all(store.audit);
      expect(stored).toEqual([...first, ...batch]);
      expect(await store.audit.head()).toEqual(batch[2]);
    });

    test('a record comes back exactly as drafted, optional fields absent when absent', async () => {
      const full = draft({ resourceNames: [keyArn(2), 'alias/app', keyArn(3)], readOnly: true, succeeded: false });
      const bare = draft({ resourceNames: [] });
      delete bare.username;
      delete bare.accessKeyId;
      const [a, b] = await store.audit.append([full, bare]);
      expect(a).toEqual({ ...full, sequence: 1, previousChainValue: GENESIS_CHAIN_VALUE, chainValue: a!.chainValue });
      expect(b).toEqual({ ...bare, sequence: 2, previousChainValue: a!.chainValue, chainValue: b!.chainValue });
      expect(await all(store.audit)).toEqual([a, b]);
      expect('username' in (await store.audit.range(2, 1))[0]!).toBe(false);
    });

    test('range reads ascending from a sequence, at most limit records', async () => {
      await store.audit.append(Array.from({ length: 5 }, () => draft()));
      expect((await store.audit.range(2, 2)).map((r) => r.sequence)).toEqual([2, 3]);
      expect((await store.audit.range(4, 10)).map((r) => r.sequence)).toEqual([4, 5]);
      expect(await store.audit.range(6, 10)).toEqual([]);
    });

    test('many concurrent appends form one gap-free chain', async () => {
      const batches = Array.from({ length: 20 }, (_, i) => Array.from({ length: 1 + (i % 3) }, () => draft()));
      const results = await Promise.all(batches.map((b) => store.audit.append(b)));
      const stored = await all(store.audit);
      expect(stored).toHaveLength(batches.flat().length);
      expectChained(stored);
      // Each batch is contiguous and in the order given.
      for (const [i, result] of results.entries()) {
        expect(result.map((r) => r.eventId)).toEqual(batches[i]!.map((d) => d.eventId));
        result.forEach((r, j) => expect(r.sequence).toBe(result[0]!.sequence + j));
      }
    });

    test('an event id is stored once: a batch repeating one is refused whole', async () => {
      const once = draft();
      await store.audit.append([once]);
      await expect(store.audit.append([draft(), { ...draft(), eventId: once.eventId }])).rejects.toMatchObject({ name: 'DuplicateRecordError' });
      expect(await all(store.audit)).toHaveLength(1);
    });

    describe('lookup', () => {
      let records: AuditRecord[] = [];
      beforeEach(async () => {
        records = await store.audit.append([
          draft({ eventName: 'CreateKey', username: 'alice', accessKeyId: 'AKIAALICE', readOnly: false, resourceNames: [keyArn(1)] }),
          draft({ eventName: 'DescribeKey', username: 'bob', accessKeyId: 'AKIABOB', readOnly: true, resourceNames: [keyArn(1)] }),
          draft({ eventName: 'Encrypt', username: 'alice', accessKeyId: 'AKIAALICE', readOnly: false, resourceNames: [keyArn(2), 'alias/app'] }),
          draft({ eventName: 'ListKeys', username: 'bob', accessKeyId: 'AKIABOB2', readOnly: true, resourceNames: [] }),
          draft({ eventName: 'Encrypt', username: 'carol', accessKeyId: 'AKIACAROL', readOnly: false, resourceNames: [keyArn(1)], succeeded: false }),
        ]);
      });
      const sequences = (page: { items: AuditRecord[] }) => page.items.map((r) => r.sequence);

      test('with no filter: every record, newest first', async () => {
        expect(sequences(await store.audit.lookup({}, { limit: 50 }))).toEqual([5, 4, 3, 2, 1]);
      });

      const cases: [AuditLookupAttribute, () => string, number[]][] = [
        ['EventId', () => records[2]!.eventId, [3]],
        ['EventName', () => 'Encrypt', [5, 3]],
        ['ReadOnly', () => 'true', [4, 2]],
        ['ReadOnly', () => 'false', [5, 3, 1]],
        ['ReadOnly', () => 'maybe', []],
        ['Username', () => 'alice', [3, 1]],
        ['AccessKeyId', () => 'AKIABOB', [2]],
        ['ResourceName', () => keyArn(1), [5, 2, 1]],
        ['ResourceName', () => 'alias/app', [3]],
        ['ResourceName', () => 'alias/none', []],
      ];
      test.each(cases)('by %s', async (key, value, expected) => {
        const page = await store.audit.lookup({ attribute: { key, value: value() } }, { limit: 50 });
        expect(sequences(page)).toEqual(expected);
        expect(page.nextMarker).toBeUndefined();
      });

      test('by time, bounds inclusive', async () => {
        const page = await store.audit.lookup({ startTime: records[1]!.eventTime, endTime: records[3]!.eventTime }, { limit: 50 });
        expect(sequences(page)).toEqual([4, 3, 2]);
      });

      test('pages newest first; the marker carries on after the last record returned', async () => {
        const filter = { attribute: { key: 'ResourceName' as const, value: keyArn(1) } };
        const first = await store.audit.lookup(filter, { limit: 2 });
        expect(sequences(first)).toEqual([5, 2]);
        expect(first.nextMarker).toBe(encodeMarker('auditEvent', '2'));
        const second = await store.audit.lookup(filter, { limit: 2, marker: first.nextMarker });
        expect(sequences(second)).toEqual([1]);
        expect(second.nextMarker).toBeUndefined();
        // Records appended meanwhile do not shift the pages already being read.
        await store.audit.append([draft({ resourceNames: [keyArn(1)] })]);
        expect(sequences(await store.audit.lookup(filter, { limit: 2, marker: first.nextMarker }))).toEqual([1]);
      });

      test.each([...invalidMarkers, encodeMarker('key', '3'), encodeMarker('auditEvent', 'three'), encodeMarker('auditEvent', '-1')])(
        'rejects the invalid marker %j with InvalidMarkerException',
        async (marker) => {
          await expect(store.audit.lookup({}, { limit: 2, marker })).rejects.toMatchObject({ code: 'InvalidMarkerException' });
        },
      );

      test('lastOf: the newest succeeded record naming the resource with one of the event names', async () => {
        expect((await store.audit.lastOf(keyArn(1), ['Encrypt', 'Decrypt']))).toBeUndefined(); // 5 failed
        expect((await store.audit.lastOf(keyArn(1), ['CreateKey', 'DescribeKey']))?.sequence).toBe(2);
        expect((await store.audit.lastOf('alias/app', ['Encrypt']))?.sequence).toBe(3);
        expect(await store.audit.lastOf(keyArn(2), [])).toBeUndefined();
        expect(await store.audit.lastOf(keyArn(9), ['Encrypt'])).toBeUndefined();
        await store.audit.append([draft({ eventName: 'Decrypt', resourceNames: [keyArn(1)] })]);
        expect((await store.audit.lastOf(keyArn(1), ['Encrypt', 'Decrypt']))?.sequence).toBe(6);
      });
    });

    test('digests come back ascending by sequence, then signing time', async () => {
      const digest = (sequence: number, signedAt: Date, extra: Partial<AuditDigest> = {}): AuditDigest => ({
        sequence, chainValue: 'c'.repeat(64), signedAt, signingKeyId: 'fp', signatureAlgorithm: 'ECDSA_SHA_256', signature: 'c2ln', ...extra,
      });
      const later = digest(3, at(30));
      const pruned = digest(3, at(20), { prunedBefore: 2 });
      const first = digest(0, at(40));
      await store.audit.insertDigest(later);
      await store.audit.insertDigest(pruned);
      await store.audit.insertDigest(first);
      expect(await store.audit.listDigests()).toEqual([first, pruned, later]);
    });

    test('prune deletes an old prefix only; the chain carries on from the head', async () => {
      const records = await store.audit.append(Array.from({ length: 5 }, (_, i) => draft({ eventTime: at(100 + i) })));
      expect(await store.audit.prune(3, at(1000))).toBe(2);
      expect((await all(store.audit)).map((r) => r.sequence)).toEqual([3, 4, 5]);
      // Stops at the first record that is too young, even if the bound is further.
      expect(await store.audit.prune(6, at(102))).toBe(0);
      expect(await store.audit.prune(6, at(104))).toBe(2);
      expect((await all(store.audit)).map((r) => r.sequence)).toEqual([5]);
      expect(await store.audit.lookup({ attribute: { key: 'ResourceName', value: keyArn(1) } }, { limit: 10 })).toEqual({ items: [records[4]] });
      // Everything pruned: the next record still follows the last one ever appended.
      expect(await store.audit.prune(100, at(1000))).toBe(1);
      expect(await store.audit.head()).toBeUndefined();
      const [next] = await store.audit.append([draft()]);
      expect(next!.sequence).toBe(6);
      expect(next!.previousChainValue).toBe(records[4]!.chainValue);
    });

    test('clear deletes every record and digest, and the next record starts a new chain at 1 from genesis', async () => {
      const old = await store.audit.append([draft(), draft(), draft()]);
      await store.audit.insertDigest({ sequence: 3, chainValue: old[2]!.chainValue, signedAt: at(50), signingKeyId: 'fp', signatureAlgorithm: 'ECDSA_SHA_256', signature: 'c2ln' });
      await store.audit.prune(2, at(1000));
      await store.audit.clear();
      expect(await store.audit.head()).toBeUndefined();
      expect(await all(store.audit)).toEqual([]);
      expect(await store.audit.listDigests()).toEqual([]);
      expect(await store.audit.lookup({}, { limit: 10 })).toEqual({ items: [] });
      expect(await store.audit.lastOf(keyArn(1), ['Encrypt'])).toBeUndefined();
      // Even after a prune kept the old chain going, the next record follows genesis, not the old head.
      const fresh = await store.audit.append([draft(), draft()]);
      expectChained(fresh);
      expect(fresh[0]!.chainValue).not.toBe(old[0]!.chainValue);
      // An event id of the cleared trail may be recorded again.
      expect(await store.audit.append([draft({ eventId: old[2]!.eventId })])).toHaveLength(1);
      await store.audit.clear();
      await store.audit.clear();
      expect(await store.audit.head()).toBeUndefined();
    });

    if (restart) {
      test('the trail survives a restart and carries on', async () => {
        const before = await store.audit.append([draft(), draft()]);
        await restart();
        expect(await all(store.audit)).toEqual(before);
        const after = await store.audit.append([draft()]);
        expectChained([...before, ...after]);
      });
    }
  });
}
