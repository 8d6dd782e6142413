// Every write of a multi-document change carries its transaction's session. The real driver's
// Collection and ClientSession classes are wrapped: inside a transaction, a write without that
// session is a violation. No server is needed (none can run here): the wrapped methods answer
// in place of the network, and transactions run their work once, as a server would when nothing
// conflicts.
import { ClientSession, Collection, MongoClient, type Document } from 'mongodb';
import { MongoAuditRepository } from '../../src/store/mongo/audit';
import { MongoAliasRepository } from '../../src/store/mongo/aliases';
import { inTransaction, MongoConnection } from '../../src/store/mongo/connection';
import { MongoGrantRepository } from '../../src/store/mongo/grants';
import { MongoKeyRepository } from '../../src/store/mongo/keys';

/** Where each method takes its options, and what it answers in place of a server. */
const methods: Record<string, { optionsAt: number; write: boolean; answer: (...args: unknown[]) => unknown }> = {
  insertOne: { optionsAt: 1, write: true, answer: () => ({ acknowledged: true, insertedId: 'id' }) },
  insertMany: { optionsAt: 1, write: true, answer: (docs) => ({ acknowledged: true, insertedCount: (docs as unknown[]).length, insertedIds: {} }) },
  updateOne: { optionsAt: 2, write: true, answer: () => ({ acknowledged: true, matchedCount: 1, modifiedCount: 1, upsertedCount: 0, upsertedId: null }) },
  updateMany: { optionsAt: 2, write: true, answer: () => ({ acknowledged: true, matchedCount: 1, modifiedCount: 1, upsertedCount: 0, upsertedId: null }) },
  replaceOne: { optionsAt: 2, write: true, answer: () => ({ acknowledged: true, matchedCount: 1, modifiedCount: 1, upsertedCount: 0, upsertedId: null }) },
  deleteOne: { optionsAt: 1, write: true, answer: () => ({ acknowledged: true, deletedCount: 1 }) },
  deleteMany: { optionsAt: 1, write: true, answer: () => ({ acknowledged: true, deletedCount: 1 }) },
  findOneAndReplace: { optionsAt: 2, write: true, answer: () => null },
  findOneAndUpdate: { optionsAt: 2, write: true, answer: () => null },
  findOneAndDelete: { optionsAt: 1, write: true, answer: () => null },
  bulkWrite: { optionsAt: 1, write: true, answer: () => ({}) },
  findOne: { optionsAt: 1, write: false, answer: () => null },
  countDocuments: { optionsAt: 1, write: false, answer: () => 0 },
};

let activeTransaction: ClientSession | undefined;
const violations: string[] = [];
const inTransactionCalls: string[] = [];
const originals = new Map<string, unknown>();
const collectionPrototype = Collection.prototype as unknown as Record<string, unknown>;
const sessionPrototype = ClientSession.prototype as unknown as Record<string, unknown>;

beforeAll(() => {
  for (const [name, { optionsAt, write, answer }] of Object.entries(methods)) {
    originals.set(name, collectionPrototype[name]);
    collectionPrototype[name] = async function (this: Collection<Document>, ...args: unknown[]) {
      const session = (args[optionsAt] as { session?: ClientSession } | undefined)?.session;
      if (activeTransaction) {
        inTransactionCalls.push(`${this.collectionName}.${name}`);
        // Reads count too: a read outside the session does not see the transaction's own writes.
        if (session !== activeTransaction) violations.push(`${this.collectionName}.${name} ${write ? 'wrote' : 'read'} inside a transaction without its session`);
      }
      return answer(...args);
    };
  }
  originals.set('withTransaction', sessionPrototype.withTransaction);
  sessionPrototype.withTransaction = async function (this: ClientSession, work: (session: ClientSession) => Promise<unknown>) {
    const session = this;  // eslint-disable-line @typescript-eslint/no-this-alias -- the session the wrapped writes must carry
    activeTransaction = session;
    try {
      return await work(session);
    } finally {
      activeTransaction = undefined;
    }
  };
});

afterAll(() => {
  for (const [name, original] of originals) {
    if (name === 'withTransaction') sessionPrototype.withTransaction = original;
    else collectionPrototype[name] = original;
  }
});

beforeEach(() => {
  violations.length = 0;
  inTransactionCalls.length = 0;
});

/** A connection to no server, as MongoStore.init() would attach it on a replica set. */
function connection(): { connection: MongoConnection; client: MongoClient } {
  const client = new MongoClient('mongodb://127.0.0.1:9/hsm_kms_sessions', { ignoreUndefined: true });
  const db = client.db('hsm_kms_sessions');
  const opened = new MongoConnection();
  opened.attach({
    client, db, keys: db.collection('keys'), aliases: db.collection('aliases'), grants: db.collection('grants'), leases: db.collection('leases'),
    externalKeys: db.collection('externalKeys'), customKeyStores: db.collection('customKeyStores'), keyGates: db.collection('keyGates'),
    supportsTransactions: true,
  });
  return { connection: opened, client };
}

const scope = { accountId: '111122223333', region: 'us-east-1' };
const keyId = '1234abcd-12ab-34cd-56ef-1234567890ab';
const now = new Date('2026-01-01T00:00:00Z');

describe("the Mongo adapter's multi-document changes", () => {
  it('deleting a key (aliases, grants, its gate and the key) writes only through the session', async () => {
    const { connection: conn, client } = connection();
    await new MongoKeyRepository(conn).delete(scope, keyId);
    expect(inTransactionCalls).toEqual(['aliases.deleteMany', 'grants.deleteMany', 'keyGates.deleteOne', 'keys.deleteOne']);
    expect(violations).toEqual([]);
    await client.close();
  });

  it('an alias or grant within the per-key limit: the gate, the count and the insert all carry the session', async () => {
    const { connection: conn, client } = connection();
    expect(await new MongoAliasRepository(conn).insertWithinLimit({ ...scope, aliasName: 'alias/a', targetKeyId: keyId, createdAt: now, updatedAt: now }, 50)).toBe(true);
    expect(await new MongoAliasRepository(conn).moveWithinLimit(scope, 'alias/a', keyId, now, 50)).toBe('moved');
    expect(await new MongoGrantRepository(conn).insertWithinLimit({
      ...scope, keyId, grantId: 'g'.repeat(64), grantToken: 't', granteePrincipal: 'arn:aws:iam::111122223333:root', issuingAccount: scope.accountId,
      operations: ['Decrypt'], createdAt: now,
    }, 50)).toBe(true);
    expect(inTransactionCalls).toEqual([
      'keyGates.updateOne', 'aliases.countDocuments', 'aliases.insertOne',
      'keyGates.updateOne', 'aliases.countDocuments', 'aliases.updateOne',
      'keyGates.updateOne', 'grants.countDocuments', 'grants.insertOne',
    ]);
    expect(violations).toEqual([]);
    await client.close();
  });

  it('an audit append (head and records) writes only through the session', async () => {
    const { connection: conn, client } = connection();
    const records = await new MongoAuditRepository(conn).append([{
      eventId: 'e1', eventTime: now, eventName: 'Encrypt', readOnly: true, succeeded: true, resourceNames: [], event: '{}',
    }]);
    expect(records.map((r) => r.sequence)).toEqual([1]);
    expect(inTransactionCalls).toEqual(['auditHead.findOne', 'auditHead.insertOne', 'auditRecords.insertMany']);
    expect(violations).toEqual([]);
    await client.close();
  });

  it('catches a write that forgets the session: the check itself works', async () => {
    const { connection: conn, client } = connection();
    const { aliases } = conn.open();
    await inTransaction(client, { aliases }, async (tx) => {
      await tx.aliases.deleteOne({ aliasName: 'alias/a' });
      // The raw collection, not the session-bound one the transaction handed out.
      await aliases.deleteOne({ aliasName: 'alias/b' });
    });
    expect(violations).toEqual(['aliases.deleteOne wrote inside a transaction without its session']);
    await client.close();
  });
});
