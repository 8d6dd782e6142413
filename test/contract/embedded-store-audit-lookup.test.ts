// The embedded store appends audit records without their lookup index, which is built after: by
// the server's background thread, and by any lookup for what the thread has not reached. These
// tests hold it to that: appends leave the index behind, the thread catches up on its own, every
// lookup sees every record, the lookups use the index, and a trail written before the split is
// indexed once migrated.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { EmbeddedStore } from '../../src/store/embedded';
import { LOOKUP_CHUNK } from '../../src/store/embedded/audit-lookup-index';
import { migrations } from '../../src/store/embedded/migrations';
import { auditDraft } from '../support/audit-drafts';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-audit-lookup-'));
  file = path.join(dir, 'metadata.sqlite');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const KEY_A = 'arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-0000-4000-8000-000000000001';
const KEY_B = 'arn:aws:kms:us-east-1:111122223333:key/bbbbbbbb-0000-4000-8000-000000000002';
const T0 = new Date('2026-12-01T00:00:00Z');

/** `count` records alternating between two keys and two callers, one second apart from `from`. */
const drafts = (count: number, from = T0) => Array.from({ length: count }, (_, i) => auditDraft({
  eventName: i % 3 === 0 ? 'Decrypt' : 'Encrypt',
  eventTime: new Date(from.getTime() + i * 1000),
  resourceNames: [i % 2 === 0 ? KEY_A : KEY_B],
  principalArn: i % 2 === 0 ? 'arn:aws:iam::111122223333:user/alice' : 'arn:aws:iam::111122223333:root',
  accessKeyId: i % 2 === 0 ? 'AKIAALICE' : 'AKIAROOT',
}));

/** How far the lookup index goes, read through a connection of its own. */
function indexed(): { sequence: number; indexed_sequence: number } {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare<[], { sequence: number; indexed_sequence: number }>('SELECT sequence, indexed_sequence FROM audit_head WHERE id = 1').get()!;
  } finally {
    db.close();
  }
}

it('an append writes no lookup rows; a lookup first indexes whatever is behind, in chunks, and then finds every record', async () => {
  const store = new EmbeddedStore(file);
  await store.init();
  try {
    const count = LOOKUP_CHUNK * 2 + 7;
    const written = drafts(count + 3);
    for (let i = 0; i < count; i += 500) await store.audit.append(written.slice(i, Math.min(i + 500, count)));
    expect(indexed()).toEqual({ sequence: count, indexed_sequence: 0 });

    const aliceKeyA = await store.audit.lookup({ attribute: { key: 'ResourceName', value: KEY_A } }, { limit: 5000 });
    expect(indexed()).toEqual({ sequence: count, indexed_sequence: count });
    expect(aliceKeyA.items).toHaveLength(written.slice(0, count).filter((d) => d.resourceNames[0] === KEY_A).length);
    expect(aliceKeyA.items.map((r) => r.sequence)).toEqual([...aliceKeyA.items.map((r) => r.sequence)].sort((a, b) => b - a));
    expect(aliceKeyA.items.every((r) => r.resourceNames[0] === KEY_A && r.username === 'alice')).toBe(true);

    // Records appended after a lookup are found by the next one.
    await store.audit.append(written.slice(count));
    expect((await store.audit.lookup({ attribute: { key: 'AccessKeyId', value: 'AKIAROOT' } }, { limit: 1 })).items[0]!.sequence).toBe(written.map((d) => d.accessKeyId).lastIndexOf('AKIAROOT') + 1);
    expect((await store.audit.lookup({ attribute: { key: 'EventName', value: 'Decrypt' } }, { limit: 5000 })).items).toHaveLength(written.filter((d) => d.eventName === 'Decrypt').length);
    expect((await store.audit.lookup({ attribute: { key: 'Username', value: 'alice' } }, { limit: 5000 })).items).toHaveLength(written.filter((d) => d.username === 'alice').length);
    // A time range alone, and with an attribute.
    const window = { startTime: new Date(T0.getTime() + 10_000), endTime: new Date(T0.getTime() + 19_000) };
    expect((await store.audit.lookup(window, { limit: 100 })).items.map((r) => r.sequence)).toEqual([20, 19, 18, 17, 16, 15, 14, 13, 12, 11]);
    expect((await store.audit.lookup({ ...window, attribute: { key: 'ResourceName', value: KEY_B } }, { limit: 100 })).items.map((r) => r.sequence)).toEqual([20, 18, 16, 14, 12]);
    expect((await store.audit.lastOf(KEY_B, ['Encrypt']))!.sequence).toBe(written.map((d) => `${d.resourceNames[0]} ${d.eventName}`).lastIndexOf(`${KEY_B} Encrypt`) + 1);
  } finally {
    await store.close();
  }
});

it('a server\'s store has its background thread build the index, with no lookup asking', async () => {
  const store = new EmbeddedStore(file);
  await store.init();
  store.checkpointInBackground();
  try {
    await store.audit.append(drafts(LOOKUP_CHUNK + 10));
    const deadline = Date.now() + 10_000;
    while (indexed().indexed_sequence < LOOKUP_CHUNK + 10 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(indexed()).toEqual({ sequence: LOOKUP_CHUNK + 10, indexed_sequence: LOOKUP_CHUNK + 10 });
  } finally {
    await store.close();
  }
});

it('lookups by attribute read the lookup index, newest first, not every record', async () => {
  const store = new EmbeddedStore(file);
  await store.init();
  await store.audit.append(drafts(20));
  await store.audit.lookup({ attribute: { key: 'EventName', value: 'Encrypt' } }, { limit: 1 });
  await store.close();
  const db = new Database(file, { readonly: true });
  try {
    const plan = db.prepare<[], { detail: string }>(
      `EXPLAIN QUERY PLAN SELECT r.sequence FROM audit_lookup l JOIN audit_records r ON r.sequence = l.sequence
        WHERE l.attribute = 'ResourceName' AND l.value = 'x' AND l.sequence < 10 ORDER BY l.sequence DESC LIMIT 5`,
    ).all().map((row) => row.detail);
    expect(plan.join('\n')).toMatch(/SEARCH l USING PRIMARY KEY \(attribute=\? AND value=\? AND sequence<\?\)/);
    expect(plan.join('\n')).not.toMatch(/USE TEMP B-TREE/);
  } finally {
    db.close();
  }
});

it('pruning removes the pruned records\' lookup rows, and goes by the indexed times even before any lookup', async () => {
  const store = new EmbeddedStore(file);
  await store.init();
  try {
    await store.audit.append(drafts(30));
    // Records 1-10 are older than T0 + 10 s.
    expect(await store.audit.prune(1000, new Date(T0.getTime() + 10_000))).toBe(10);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('SELECT min(sequence) AS low, count(DISTINCT sequence) AS records FROM audit_lookup').get()).toEqual({ low: 11, records: 20 });
    } finally {
      db.close();
    }
    expect((await store.audit.lookup({ attribute: { key: 'ResourceName', value: KEY_A } }, { limit: 100 })).items.map((r) => r.sequence).at(-1)).toBe(11);
  } finally {
    await store.close();
  }
});

it('a trail written before the lookup index moved out of the append keeps its resource names and is indexed once migrated', async () => {
  const lookupStep = migrations.findIndex((step) => step.includes('CREATE TABLE audit_lookup'));
  expect(lookupStep).toBeGreaterThan(0);
  const db = new Database(file);
  try {
    db.exec(`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version (version) VALUES (${lookupStep})`);
    for (const step of migrations.slice(0, lookupStep)) db.exec(step);
    // Two records as the earlier append wrote them: lookup columns, and resources in their own table.
    const insert = db.prepare(`INSERT INTO audit_records (sequence, event_id, event_time, event_name, read_only, succeeded, username, access_key_id, event, previous_chain_value, chain_value)
      VALUES (?, ?, ?, ?, 0, 1, 'alice', 'AKIAALICE', '{}', ?, ?)`);
    insert.run(1, 'e1', T0.getTime(), 'Encrypt', '0'.repeat(64), 'a'.repeat(64));
    insert.run(2, 'e2', T0.getTime() + 1000, 'ReEncrypt', 'a'.repeat(64), 'b'.repeat(64));
    const resource = db.prepare('INSERT INTO audit_resources (sequence, position, resource_name) VALUES (?, ?, ?)');
    resource.run(1, 0, KEY_A);
    resource.run(2, 0, KEY_B);
    resource.run(2, 1, KEY_A);
    db.prepare(`INSERT INTO audit_head (id, sequence, chain_value) VALUES (1, 2, ?)`).run('b'.repeat(64));
  } finally {
    db.close();
  }

  const store = new EmbeddedStore(file);
  await store.init();
  try {
    expect((await store.audit.range(1, 10)).map((r) => r.resourceNames)).toEqual([[KEY_A], [KEY_B, KEY_A]]);
    expect((await store.audit.lookup({ attribute: { key: 'ResourceName', value: KEY_A } }, { limit: 10 })).items.map((r) => r.eventId)).toEqual(['e2', 'e1']);
    expect((await store.audit.lastOf(KEY_B, ['ReEncrypt']))!.eventId).toBe('e2');
    // The chain continues from the migrated head.
    const [next] = await store.audit.append(drafts(1, new Date(T0.getTime() + 2000)));
    expect(next).toMatchObject({ sequence: 3, previousChainValue: 'b'.repeat(64) });
  } finally {
    await store.close();
  }
});
