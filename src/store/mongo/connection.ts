// The MongoDB connection the store's repositories share, and what they share besides.
import { MongoServerError } from 'mongodb';
import type {
  BulkWriteOptions, ClientSession, Collection, CountDocumentsOptions, Db, DeleteOptions, Document, Filter, FindOneAndReplaceOptions, FindOptions,
  InsertOneOptions, MongoClient, OptionalUnlessRequiredId, ReplaceOptions, TransactionOptions, UpdateFilter, UpdateOptions, WithId, WithoutId,
} from 'mongodb';
import { DuplicateRecordError } from '../../core/errors';
import type { AliasRecord, CustomKeyStoreRecord, KeyRecord, KeyScope } from '../../core/model';
import type { Lease } from '../../core/ports';
import type { ExternalKeyRecord } from '../../core/xks-proxy/external-key';
import type { GrantDoc } from './grants';

const DUPLICATE_KEY_ERROR = 11000;

export interface Connection {
  client: MongoClient;
  db: Db;
  keys: Collection<KeyRecord>;
  aliases: Collection<AliasRecord>;
  grants: Collection<GrantDoc>;
  leases: Collection<Lease>;
  externalKeys: Collection<ExternalKeyRecord>;
  customKeyStores: Collection<CustomKeyStoreRecord>;
  /** One small document per key that limited inserts write first, so they serialise per key. */
  keyGates: Collection<KeyGateDoc>;
  /** Multi-document transactions need a replica set or a sharded cluster, not a standalone server. */
  supportsTransactions: boolean;
}

/** A key's gate: `writes` counts the limited inserts that passed through it. */
export interface KeyGateDoc {
  _id: string;
  writes: number;
}

/** Holds the connection once init() has made it; the repositories ask it for each call. */
export class MongoConnection {
  private connection: Connection | undefined;

  get isOpen(): boolean {
    return this.connection !== undefined;
  }

  attach(connection: Connection): void {
    this.connection = connection;
  }

  /** Forgets the connection and hands it back for closing. */
  detach(): Connection | undefined {
    const connection = this.connection;
    this.connection = undefined;
    return connection;
  }

  open(): Connection {
    if (!this.connection) throw new Error('MongoStore is not open: call init() first');
    return this.connection;
  }
}

/** Copies the fields by name, so a caller's object with extra properties never widens a query. */
export function scopeFilter(scope: KeyScope): { accountId: string; region: string } {
  return { accountId: scope.accountId, region: scope.region };
}

export function keyFilter(scope: KeyScope, keyId: string): Filter<KeyRecord> {
  return { ...scopeFilter(scope), keyId };
}

/** Records never carry Mongo's _id: it is storage detail, and callers compare records whole. */
export function withoutId<T>(doc: WithId<T>): T {
  const { _id, ...record } = doc;
  return record as T;
}

/** Inserts `doc`; one that breaks a unique index throws DuplicateRecordError naming `what`. */
export async function insertUnique<T extends Document>(collection: Collection<T>, doc: OptionalUnlessRequiredId<T>, what: string): Promise<void> {
  await unique(() => collection.insertOne(doc), what);
}

/** Runs `write`; a write that breaks a unique index throws DuplicateRecordError naming `what`. */
export async function unique<R>(write: () => Promise<R>, what: string): Promise<R> {
  try {
    return await write();
  } catch (e) {
    throw e instanceof MongoServerError && e.code === DUPLICATE_KEY_ERROR ? new DuplicateRecordError(what) : e;
  }
}

/**
 * A collection inside a transaction: every method carries the transaction's session, so no
 * write of a multi-document change can run outside it by omission. Only what the adapter uses.
 */
export class SessionBoundCollection<T extends Document> {
  constructor(private readonly collection: Collection<T>, private readonly session: ClientSession) {}

  findOne(filter: Filter<T>, options: FindOptions = {}) {
    return this.collection.findOne(filter, { ...options, session: this.session });
  }

  find(filter: Filter<T>, options: FindOptions = {}) {
    return this.collection.find(filter, { ...options, session: this.session });
  }

  countDocuments(filter: Filter<T>, options: CountDocumentsOptions = {}) {
    return this.collection.countDocuments(filter, { ...options, session: this.session });
  }

  insertOne(doc: OptionalUnlessRequiredId<T>, options: InsertOneOptions = {}) {
    return this.collection.insertOne(doc, { ...options, session: this.session });
  }

  insertMany(docs: OptionalUnlessRequiredId<T>[], options: BulkWriteOptions = {}) {
    return this.collection.insertMany(docs, { ...options, session: this.session });
  }

  updateOne(filter: Filter<T>, update: UpdateFilter<T>, options: UpdateOptions = {}) {
    return this.collection.updateOne(filter, update, { ...options, session: this.session });
  }

  replaceOne(filter: Filter<T>, replacement: WithoutId<T>, options: ReplaceOptions = {}) {
    return this.collection.replaceOne(filter, replacement, { ...options, session: this.session });
  }

  findOneAndReplace(filter: Filter<T>, replacement: WithoutId<T>, options: FindOneAndReplaceOptions = {}) {
    return this.collection.findOneAndReplace(filter, replacement, { ...options, session: this.session });
  }

  deleteOne(filter: Filter<T>, options: DeleteOptions = {}) {
    return this.collection.deleteOne(filter, { ...options, session: this.session });
  }

  deleteMany(filter: Filter<T>, options: DeleteOptions = {}) {
    return this.collection.deleteMany(filter, { ...options, session: this.session });
  }
}

export type SessionBound<C> = { [K in keyof C]: C[K] extends Collection<infer T> ? SessionBoundCollection<T> : never };

/** Majority reads and writes for every transaction: what a committed multi-document change needs to survive a failover. */
const TRANSACTION_OPTIONS: TransactionOptions = { readConcern: { level: 'snapshot' }, writeConcern: { w: 'majority' } };

/**
 * Runs `work` as one transaction over `collections`, which it receives bound to the session: the
 * only handles it is given cannot write outside the transaction. The driver retries the whole of
 * `work` on transient errors (write conflicts with another instance), so `work` must be safe to
 * run again. Needs a replica set or a sharded cluster.
 */
export async function inTransaction<C extends Record<string, Collection<any>>, R>( // eslint-disable-line @typescript-eslint/no-explicit-any
  client: MongoClient, collections: C, work: (bound: SessionBound<C>) => Promise<R>,
): Promise<R> {
  return client.withSession((session) => session.withTransaction(() => {
    const bound = Object.fromEntries(Object.entries(collections).map(([name, collection]) => [name, new SessionBoundCollection(collection, session)]));
    return work(bound as SessionBound<C>);
  }, TRANSACTION_OPTIONS));
}

/** The gate document of one key. */
export function keyGateId(scope: KeyScope, keyId: string): string {
  return JSON.stringify([scope.accountId, scope.region, keyId]);
}

/**
 * Makes sure the key's gate exists, outside any transaction: two transactions that both create it
 * would fail with a duplicate key, which is not retried, where two that update it conflict and are.
 */
export async function ensureKeyGate(keyGates: Collection<KeyGateDoc>, scope: KeyScope, keyId: string): Promise<void> {
  await keyGates.updateOne({ _id: keyGateId(scope, keyId) }, { $setOnInsert: { writes: 0 } }, { upsert: true })
    .catch((e: unknown) => { if (!isDuplicateKey(e)) throw e; });
}

/** Writes the key's gate inside the transaction: two transactions passing the same gate conflict, and the driver retries one. */
export async function passKeyGate(keyGates: SessionBoundCollection<KeyGateDoc>, scope: KeyScope, keyId: string): Promise<void> {
  await keyGates.updateOne({ _id: keyGateId(scope, keyId) }, { $inc: { writes: 1 } });
}

/**
 * Inserts `doc` if fewer than `limit` documents match `sameKey`, atomically with the count: the
 * count and the insert run in one transaction that first passes the key's gate, so concurrent
 * inserts for one key run one after another. Without transactions (a standalone server) it
 * inserts, counts, and takes its own document back when over the limit: the limit still holds,
 * but two inserts racing for the last place can both be refused.
 */
export async function insertWithinLimit<T extends Document>(
  connection: Connection, collection: Collection<T>, doc: OptionalUnlessRequiredId<T>, sameKey: Filter<T>, limit: number, key: { scope: KeyScope; keyId: string },
  what: string,
): Promise<boolean> {
  const { client, keyGates, supportsTransactions } = connection;
  if (!supportsTransactions) {
    await insertUnique(collection, doc, what);
    if (await collection.countDocuments(sameKey) <= limit) return true;
    await collection.deleteOne({ _id: (doc as { _id?: unknown })._id } as Filter<T>);
    return false;
  }
  await ensureKeyGate(keyGates, key.scope, key.keyId);
  return unique(() => inTransaction(client, { keyGates, collection }, async (tx) => {
    await passKeyGate(tx.keyGates, key.scope, key.keyId);
    if (await tx.collection.countDocuments(sameKey) >= limit) return false;
    // A copy on every attempt: the driver writes the generated _id into the document it is given.
    await tx.collection.insertOne({ ...doc });
    return true;
  }), what);
}

export function isDuplicateKey(e: unknown): boolean {
  return e instanceof MongoServerError && e.code === DUPLICATE_KEY_ERROR;
}
