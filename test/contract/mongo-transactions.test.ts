// On a real MongoDB replica set only (KMS_TEST_MONGODB_URI; `npm run test:mongo`): a failure in
// the middle of a multi-document change made through the adapter's transaction helper leaves
// nothing of it behind. Skipped loudly elsewhere: no MongoDB server can run on CI here, and a
// wire-compatible stand-in would acknowledge the transaction without applying it.
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { inTransaction } from '../../src/store/mongo/connection';
import { MongoStore } from '../../src/store/mongo';

const uri = process.env.KMS_TEST_MONGODB_URI;
const scope = { accountId: '111122223333', region: 'us-east-1' };
const keyId = '1234abcd-12ab-34cd-56ef-1234567890ab';
const now = new Date('2026-01-01T00:00:00Z');

if (!uri) {
  process.stderr.write('\n  MongoDB transaction atomicity SKIPPED: no MongoDB (set KMS_TEST_MONGODB_URI to a replica set)\n\n');
}

(uri ? describe : describe.skip)('MongoDB transactions (KMS_TEST_MONGODB_URI)', () => {
  const dbName = `hsm_kms_tx_${randomBytes(6).toString('hex')}`;
  let client: MongoClient;
  let store: MongoStore;
  beforeAll(async () => {
    store = new MongoStore(uri!, dbName);
    await store.init();
    client = await MongoClient.connect(uri!);
  });
  afterAll(async () => {
    await store.close();
    await client.db(dbName).dropDatabase();
    await client.close();
  });

  it('a failure injected between the writes of one change leaves none of them', async () => {
    await store.aliases.insert({ ...scope, aliasName: 'alias/kept', targetKeyId: keyId, createdAt: now, updatedAt: now });
    const db = client.db(dbName);
    await expect(inTransaction(client, { aliases: db.collection('aliases'), keyGates: db.collection('keyGates') }, async (tx) => {
      await tx.aliases.deleteMany({ targetKeyId: keyId });
      await tx.keyGates.insertOne({ _id: 'half-done', writes: 1 });
      throw new Error('injected failure');
    })).rejects.toThrow('injected failure');
    expect(await store.aliases.get(scope, 'alias/kept')).toBeDefined();
    expect(await db.collection('keyGates').findOne({ _id: 'half-done' as never })).toBeNull();
  });

  it('deleting a key removes its aliases, grants and the key together', async () => {
    await store.aliases.insert({ ...scope, aliasName: 'alias/gone', targetKeyId: keyId, createdAt: now, updatedAt: now });
    await store.keys.delete(scope, keyId);
    expect(await store.aliases.countForKey(scope, keyId)).toBe(0);
  });
});
