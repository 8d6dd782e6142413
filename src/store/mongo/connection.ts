// The MongoDB connection the store's repositories share, and what they share besides.
import { MongoServerError } from 'mongodb';
import type { Collection, Db, Document, Filter, MongoClient, OptionalUnlessRequiredId, WithId } from 'mongodb';
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
  /** Multi-document transactions need a replica set or a sharded cluster, not a standalone server. */
  supportsTransactions: boolean;
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
