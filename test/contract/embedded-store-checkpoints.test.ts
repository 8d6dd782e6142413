// The server's embedded store checkpoints its write-ahead log in a thread of its own, so SQLite's
// copy of the log into the database never runs inside a request's commit on the event loop.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SAFETY_NET_CHECKPOINT_PAGES, type CheckpointResult } from '../../src/store/embedded/checkpointer';
import { EmbeddedStore } from '../../src/store/embedded';
import { auditDraft } from '../support/audit-drafts';

let dir: string;
beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-checkpoints-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** `count` drafts of about 1.5 KB each, as real events are. */
const batch = (count: number) => Array.from({ length: count }, () => auditDraft({ eventName: 'Encrypt', eventTime: new Date(), resourceNames: [`arn:aws:kms:us-east-1:111122223333:key/${'x'.repeat(1200)}`] }));

const walPages = (file: string) => Math.floor(statSync(`${file}-wal`).size / 4096);

it('a store told to checkpoint in the background does, off its own connection, and its own threshold becomes a safety net', async () => {
  const file = path.join(dir, 'metadata.sqlite');
  const store = new EmbeddedStore(file);
  await store.init();
  const results: CheckpointResult[] = [];
  store.checkpointInBackground((result) => results.push(result));
  try {
    // Well past SQLite's default threshold of 1000 pages, which this connection no longer applies.
    for (let i = 0; i < 60; i++) await store.audit.append(batch(50));
    expect(walPages(file)).toBeGreaterThan(1000);
    // The thread's checkpoints (it reports each one) caught up with the whole log; this connection
    // would not have checkpointed before 10,000 pages.
    const caughtUp = () => results.some((r) => r.busy === 0 && r.log > 100 && r.checkpointed === r.log);
    const deadline = Date.now() + 20_000;
    while (!caughtUp() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(caughtUp()).toBe(true);
    // Every record is still there, through the store's own connection.
    expect((await store.audit.head())?.sequence).toBe(3000);
  } finally {
    await store.close();
  }
  // Another connection sees the database whole, and the server connection's threshold was the safety net.
  const db = new Database(file, { readonly: true });
  expect(db.prepare('SELECT count(*) AS n FROM audit_records').get()).toEqual({ n: 3000 });
  db.close();
  expect(SAFETY_NET_CHECKPOINT_PAGES).toBeGreaterThan(1000);
});

it('a store not told to (tests, the CLI) keeps SQLite\'s own checkpoints and starts no thread', async () => {
  const file = path.join(dir, 'metadata.sqlite');
  const store = new EmbeddedStore(file);
  await store.init();
  try {
    for (let i = 0; i < 60; i++) await store.audit.append(batch(50));
    // The automatic checkpoint at 1000 pages kept the log from growing past it for long.
    expect(walPages(file)).toBeLessThan(2000);
  } finally {
    await store.close();
  }
});
