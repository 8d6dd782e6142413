// The background jobs ask the keys table for the few keys due for work. With 100,000 keys a full
// scan parses every document (seconds, on the event loop), so each query must be answered from
// its partial index: the plan is checked here, beside what each query returns.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { EmbeddedStore } from '../../src/store/embedded';
import { backgroundJobQueries } from '../../src/store/embedded/keys';
import { makeKey } from './metadata-fixtures';

describe('EmbeddedStore background-job queries', () => {
  let dir: string;
  let store: EmbeddedStore;
  const past = new Date('2024-01-01T00:00:00.000Z');
  const now = new Date('2025-01-01T00:00:00.000Z');

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hsm-kms-bg-queries-'));
    store = new EmbeddedStore(path.join(dir, 'metadata.sqlite'));
    await store.init();
  });

  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test.each(Object.entries(backgroundJobQueries))('%s is answered from an index, never a scan of every key', async (_name, query) => {
    await store.close();
    const db = new Database(path.join(dir, 'metadata.sqlite'), { readonly: true });
    try {
      const plan = db.prepare<[Record<string, unknown>], { detail: string }>(`EXPLAIN QUERY PLAN ${query}`)
        .all({ before: 0, dueBy: now.toISOString() }).map((row) => row.detail);
      const keysStep = plan.filter((detail) => / keys\b/.test(detail));
      expect(keysStep.length).toBeGreaterThan(0);
      for (const detail of keysStep) expect(detail).toMatch(/USING (COVERING )?INDEX keys_/);
    } finally {
      db.close();
    }
  });

  test('each query returns exactly the keys due, among many that are not', async () => {
    for (let i = 0; i < 50; i++) await store.keys.insert(makeKey(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`));
    const backing = { kind: 'pkcs11' as const, tokenId: 'default', objectId: '0a1b2c3d' };
    const activeVersion = { id: 'a'.repeat(64), backing, createdAt: past, status: 'ACTIVE' as const };
    const pendingVersion = { id: 'b'.repeat(64), backing, createdAt: past, status: 'PENDING' as const };
    await store.keys.insert(makeKey('20000000-0000-4000-8000-000000000001', { state: 'PendingDeletion', deletionDate: past, pendingWindowInDays: 7 }));
    await store.keys.insert(makeKey('20000000-0000-4000-8000-000000000002', { state: 'PendingDeletion', deletionDate: new Date('2026-01-01T00:00:00Z'), pendingWindowInDays: 7 }));
    await store.keys.insert(makeKey('20000000-0000-4000-8000-000000000003', {
      rotation: { enabled: true, periodInDays: 365, nextRotationDate: past, onDemandCount: 0, history: [], inProgress: [] },
    }));
    await store.keys.insert(makeKey('20000000-0000-4000-8000-000000000004', { versions: [activeVersion, pendingVersion], currentVersionId: activeVersion.id }));

    expect((await store.keys.listDueForDeletion(now)).map((k) => k.keyId)).toEqual(['20000000-0000-4000-8000-000000000001']);
    expect((await store.keys.listDueForRotation(now)).map((k) => k.keyId)).toEqual(['20000000-0000-4000-8000-000000000003']);
    expect((await store.keys.listWithPendingVersions(now)).map((k) => k.keyId)).toEqual(['20000000-0000-4000-8000-000000000004']);
    expect(await store.keys.listWithPendingVersions(past)).toEqual([]);
  });
});
