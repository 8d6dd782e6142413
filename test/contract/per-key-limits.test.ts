// Per-key limits (aliases, grants) under writers in several processes at once: the store counts
// and inserts in one atomic step, so the limit holds exactly however the writers interleave.
// The embedded store always; MongoDB where KMS_TEST_MONGODB_URI names a replica set.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';
import { EmbeddedStore } from '../../src/store/embedded';
import { MongoStore } from '../../src/store/mongo';
import type { MetadataStore } from '../../src/core/ports';

const run = promisify(execFile);
const CHILD = path.join(__dirname, '..', 'support', 'limited-inserts.child.ts');
const REGISTER = path.join(__dirname, '..', 'support', 'ts-register.cjs');
const WRITERS = 4;
const EACH = 30;
const LIMIT = 50;
const scope = { accountId: '111122223333', region: 'us-east-1' };
const keyId = '1234abcd-12ab-34cd-56ef-1234567890ab';
jest.setTimeout(120_000);

/** Starts every writer, lets them begin at one moment, and returns what each had accepted. */
async function race(storeSpec: string): Promise<{ aliases: number; grants: number }[]> {
  // Far enough ahead for every child to have loaded and opened the store.
  const startAt = Date.now() + 8000;
  const outputs = await Promise.all(Array.from({ length: WRITERS }, (_, writer) => run(
    process.execPath, ['-r', REGISTER, CHILD, storeSpec, String(writer), String(EACH), String(LIMIT), String(startAt)], { timeout: 90_000 },
  )));
  return outputs.map(({ stdout }) => JSON.parse(stdout) as { aliases: number; grants: number });
}

async function expectLimitHeld(store: MetadataStore, accepted: { aliases: number; grants: number }[]): Promise<void> {
  expect(accepted.reduce((n, a) => n + a.aliases, 0)).toBe(LIMIT);
  expect(accepted.reduce((n, a) => n + a.grants, 0)).toBe(LIMIT);
  expect(await store.aliases.countForKey(scope, keyId)).toBe(LIMIT);
  expect(await store.grants.countForKey(scope, keyId)).toBe(LIMIT);
}

describe('per-key limits with writers in several processes', () => {
  it(`embedded store: ${WRITERS} processes inserting ${EACH} aliases and ${EACH} grants each for one key leave exactly ${LIMIT} of each`, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-limits-'));
    const file = path.join(dir, 'metadata.sqlite');
    const store = new EmbeddedStore(file);
    await store.init();
    try {
      await expectLimitHeld(store, await race(file));
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const uri = process.env.KMS_TEST_MONGODB_URI;
  (uri ? it : it.skip)(`MongoDB (KMS_TEST_MONGODB_URI): the same race leaves exactly ${LIMIT} of each`, async () => {
    const dbName = `hsm_kms_limits_${randomBytes(6).toString('hex')}`;
    const store = new MongoStore(uri!, dbName);
    await store.init();
    try {
      await expectLimitHeld(store, await race(`${uri!}#${dbName}`));
    } finally {
      await store.close();
      const admin = await MongoClient.connect(uri!);
      await admin.db(dbName).dropDatabase();
      await admin.close();
    }
  });
});
