// A database locked by another process must not freeze this one: requests that need no lock
// are served as usual, those that do fail fast with a retryable error, and all is well after.
// With the audit trail on (the default) every call writes its record to the same database, so
// every call needs the lock: it waits for it, briefly, and then fails closed.
import Database from 'better-sqlite3';
import path from 'node:path';
import request from 'supertest';
import { kmsCall } from '../support/signed';
import { startTestService, type TestService } from '../support/service';

let svc: TestService;
// The store's own behaviour under a held lock, without the trail's writes.
beforeAll(async () => { svc = await startTestService({ audit: false }); });
afterAll(async () => svc.close());

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = Date.now();
  const result = await work();
  return { result, ms: Date.now() - started };
}

it('while another connection holds the write lock for 3 s, reads and GenerateRandom are served at once and writes fail fast and retryably', async () => {
  const key = (await kmsCall(svc.app, 'CreateKey', {})).body.KeyMetadata;
  const readsOf = () => Promise.all([
    ...[0, 1, 2].map(() => timed(() => kmsCall(svc.app, 'GenerateRandom', { NumberOfBytes: 16 }))),
    ...[0, 1, 2].map(() => timed(() => kmsCall(svc.app, 'DescribeKey', { KeyId: key.KeyId }))),
    ...[0, 1, 2].map(() => timed(() => kmsCall(svc.app, 'Encrypt', { KeyId: key.KeyId, Plaintext: 'aGk=' }))),
  ]);
  // The same reads with nobody holding the lock, for comparison (supertest starts a server per request).
  const unlocked = Math.max(...(await readsOf()).map((r) => r.ms));
  const holder = new Database(path.join(svc.dir, 'metadata.sqlite'));
  holder.exec('BEGIN EXCLUSIVE');
  const released = new Promise<void>((resolve) => setTimeout(() => { holder.exec('COMMIT'); holder.close(); resolve(); }, 3000));
  try {
    const [reads, create, health] = await Promise.all([
      readsOf(),
      Promise.all([0, 1].map(() => timed(() => kmsCall(svc.app, 'CreateKey', {})))),
      timed(() => request(svc.app).get('/healthz')),
    ]);
    process.stdout.write(`held lock: reads ${reads.map((r) => r.ms).join('/')} ms (unlocked ${unlocked} ms); writes ${create.map((c) => `${c.result.status} in ${c.ms}`).join(', ')} ms; health ${health.result.status} in ${health.ms} ms\n`);
    for (const read of reads) {
      expect(read.result.status).toBe(200);
      expect(read.ms).toBeLessThan(1000);
    }
    for (const write of create) {
      expect({ status: write.result.status, type: write.result.body.__type }).toEqual({ status: 503, type: 'DependencyTimeoutException' });
      expect(write.ms).toBeLessThan(2900);
    }
    expect(health.result.status).toBe(503);
    expect(health.result.body).toMatchObject({ token: 'ok', store: 'unavailable' });
  } finally {
    await released;
  }
  expect((await kmsCall(svc.app, 'CreateKey', {})).status).toBe(200);
}, 30_000);

it('with the audit trail on, a call that cannot record itself while another connection holds the write lock fails closed, and all is well after', async () => {
  const audited = await startTestService();
  try {
    const holder = new Database(path.join(audited.dir, 'metadata.sqlite'));
    holder.exec('BEGIN EXCLUSIVE');
    const released = new Promise<void>((resolve) => setTimeout(() => { holder.exec('COMMIT'); holder.close(); resolve(); }, 3000));
    try {
      const [random, health] = await Promise.all([
        timed(() => kmsCall(audited.app, 'GenerateRandom', { NumberOfBytes: 16 })),
        timed(() => request(audited.app).get('/healthz')),
      ]);
      expect({ status: random.result.status, type: random.result.body.__type }).toEqual({ status: 500, type: 'KMSInternalException' });
      // At most the store's retry deadline for the record, and again for the record of the failure.
      expect(random.ms).toBeLessThan(4500);
      // The process is not frozen meanwhile.
      expect(health.ms).toBeLessThan(2900);
    } finally {
      await released;
    }
    expect((await kmsCall(audited.app, 'GenerateRandom', { NumberOfBytes: 16 })).status).toBe(200);
    // The trail never says the refused call succeeded: it holds its failure (if that record got in once the lock was free), then the success.
    const events = (await audited.store.audit.range(1, 10)).map((r) => JSON.parse(r.event) as { eventName: string; errorCode?: string });
    expect(events[events.length - 1]).toMatchObject({ eventName: 'GenerateRandom' });
    expect(events[events.length - 1]!.errorCode).toBeUndefined();
    expect(events.slice(0, -1).map((e) => e.errorCode)).toEqual(events.length === 2 ? ['KMSInternalException'] : []);
  } finally {
    await audited.close();
  }
}, 30_000);
