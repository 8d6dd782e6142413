// The production metadata store: MongoDB through the official driver. A key is one document, so
// every state change is one atomic document update guarded by the key's revision.
import { MongoClient, MongoServerError } from 'mongodb';
import type { Collection, Db, Filter, WithId } from 'mongodb';
import { DuplicateRecordError, RevisionConflictError } from '../core/errors';
import type { AliasRecord, GrantConstraints, GrantRecord, KeyRecord, KeyScope } from '../core/model';
import type { MetadataStore, Page, PageRequest } from '../core/ports';
import { decodeMarker, encodeMarker } from '../core/page-marker';

const DEFAULT_DB_NAME = 'hsm_kms';
const DUPLICATE_KEY_ERROR = 11000;

interface Connection {
  client: MongoClient;
  db: Db;
  keys: Collection<KeyRecord>;
  aliases: Collection<AliasRecord>;
  grants: Collection<GrantDoc>;
  /** Multi-document transactions need a replica set or a sharded cluster, not a standalone server. */
  supportsTransactions: boolean;
}

export class MongoStore implements MetadataStore {
  private connection: Connection | undefined;
  private readonly dbName: string;

  /** `dbName` defaults to the database named in the URI, then to "hsm_kms". */
  constructor(private readonly uri: string, dbName?: string) {
    this.dbName = dbName ?? databaseInUri(uri) ?? DEFAULT_DB_NAME;
  }

  async init(): Promise<void> {
    if (this.connection) return;
    // ignoreUndefined: an absent optional field stays absent instead of coming back as null.
    const client = new MongoClient(this.uri, { ignoreUndefined: true });
    try {
      await client.connect();
      const db = client.db(this.dbName);
      const keys = db.collection<KeyRecord>('keys');
      const aliases = db.collection<AliasRecord>('aliases');
      const grants = db.collection<GrantDoc>('grants');
      // One createIndexes per collection: parallel index builds that each create the collection can race.
      await Promise.all([
        keys.createIndexes([
          { key: { accountId: 1, region: 1, keyId: 1 }, unique: true, name: 'scope_keyId' },
          // Crash recovery scans only the few incomplete keys, so index just those.
          { key: { updatedAt: 1 }, name: 'incomplete_by_update', partialFilterExpression: { incomplete: true } },
        ]),
        aliases.createIndexes([
          { key: { accountId: 1, region: 1, aliasName: 1 }, unique: true, name: 'scope_aliasName' },
          { key: { accountId: 1, region: 1, targetKeyId: 1 }, name: 'scope_targetKeyId' },
        ]),
        grants.createIndexes([
          { key: { grantId: 1 }, unique: true, name: 'grantId' },
          { key: { grantToken: 1 }, unique: true, name: 'grantToken' },
          { key: { accountId: 1, region: 1, keyId: 1, grantId: 1 }, name: 'scope_keyId_grantId' },
          {
            key: { region: 1, retiringPrincipal: 1, grantId: 1 },
            name: 'region_retiringPrincipal_grantId',
            partialFilterExpression: { retiringPrincipal: { $exists: true } },
          },
        ]),
      ]);
      const hello = await db.admin().command({ hello: 1 });
      const supportsTransactions = typeof hello.setName === 'string' || hello.msg === 'isdbgrid';
      this.connection = { client, db, keys, aliases, grants, supportsTransactions };
    } catch (e) {
      await client.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    await connection?.client.close();
  }

  async ping(): Promise<void> {
    await this.open().db.command({ ping: 1 });
  }

  async insertKey(key: KeyRecord): Promise<void> {
    try {
      // A copy, because the driver writes the generated _id into the document it is given.
      await this.open().keys.insertOne({ ...key });
    } catch (e) {
      throw isDuplicateKeyError(e) ? new DuplicateRecordError(`key ${key.keyId}`) : e;
    }
  }

  async getKey(scope: KeyScope, keyId: string): Promise<KeyRecord | undefined> {
    const doc = await this.open().keys.findOne(keyFilter(scope, keyId));
    return doc ? withoutId(doc) : undefined;
  }

  async listKeys(scope: KeyScope, page: PageRequest): Promise<Page<KeyRecord>> {
    const filter: Filter<KeyRecord> = { ...scopeFilter(scope), incomplete: { $ne: true } };
    if (page.marker !== undefined) filter.keyId = { $gt: decodeMarker('key', page.marker) };
    // One document more than asked tells whether another page follows.
    const docs = await this.open().keys.find(filter).sort({ keyId: 1 }).limit(page.limit + 1).toArray();
    const items = docs.slice(0, page.limit).map(withoutId);
    const last = items[items.length - 1];
    return docs.length > page.limit && last ? { items, nextMarker: encodeMarker('key', last.keyId) } : { items };
  }

  async replaceKey(key: KeyRecord): Promise<KeyRecord> {
    // Compare-and-set: the filter matches only if nobody has replaced the document since `key` was
    // read. Returning the document as stored also means the caller shares no objects with its input.
    const stored = await this.open().keys.findOneAndReplace(
      { ...keyFilter(key, key.keyId), revision: key.revision },
      { ...key, revision: key.revision + 1 },
      { returnDocument: 'after' },
    );
    if (!stored) throw new RevisionConflictError(`key ${key.keyId}`);
    return withoutId(stored);
  }

  async deleteKey(scope: KeyScope, keyId: string): Promise<void> {
    const { client, keys, aliases, grants, supportsTransactions } = this.open();
    const aliasFilter: Filter<AliasRecord> = { ...scopeFilter(scope), targetKeyId: keyId };
    const grantFilter: Filter<GrantDoc> = { ...scopeFilter(scope), keyId };
    if (supportsTransactions) {
      await client.withSession((session) => session.withTransaction(async () => {
        await aliases.deleteMany(aliasFilter, { session });
        await grants.deleteMany(grantFilter, { session });
        await keys.deleteOne(keyFilter(scope, keyId), { session });
      }));
      return;
    }
    // A standalone server has no transactions. Aliases and grants go first: if we stop in
    // between, the key survives without them and a retried deleteKey finishes the job, whereas
    // the other order could leave aliases and grants naming a key that no longer exists.
    await aliases.deleteMany(aliasFilter);
    await grants.deleteMany(grantFilter);
    await keys.deleteOne(keyFilter(scope, keyId));
  }

  async listIncompleteKeys(before: Date): Promise<KeyRecord[]> {
    const docs = await this.open().keys
      .find({ incomplete: true, updatedAt: { $lt: before } })
      .sort({ updatedAt: 1, accountId: 1, region: 1, keyId: 1 })
      .toArray();
    return docs.map(withoutId);
  }

  async listKeysDueForDeletion(dueBy: Date): Promise<KeyRecord[]> {
    const docs = await this.open().keys
      .find({ incomplete: { $ne: true }, state: 'PendingDeletion', deletionDate: { $lte: dueBy } })
      .sort({ deletionDate: 1, accountId: 1, region: 1, keyId: 1 })
      .toArray();
    return docs.map(withoutId);
  }

  async listKeysDueForRotation(dueBy: Date): Promise<KeyRecord[]> {
    const docs = await this.open().keys
      .find({ incomplete: { $ne: true }, state: 'Enabled', 'rotation.enabled': true, 'rotation.nextRotationDate': { $lte: dueBy } })
      .sort({ 'rotation.nextRotationDate': 1, accountId: 1, region: 1, keyId: 1 })
      .toArray();
    return docs.map(withoutId);
  }

  async listKeysWithPendingVersions(before: Date): Promise<KeyRecord[]> {
    const docs = await this.open().keys
      .find({ incomplete: { $ne: true }, versions: { $elemMatch: { status: 'PENDING', createdAt: { $lt: before } } } })
      .sort({ accountId: 1, region: 1, keyId: 1 })
      .toArray();
    return docs.map(withoutId);
  }

  async listKeysDueForImportUpkeep(dueBy: Date): Promise<KeyRecord[]> {
    const docs = await this.open().keys
      .find({ incomplete: { $ne: true }, 'imported.upkeepAt': { $lte: dueBy } })
      .sort({ 'imported.upkeepAt': 1, accountId: 1, region: 1, keyId: 1 })
      .toArray();
    return docs.map(withoutId);
  }

  async insertAlias(alias: AliasRecord): Promise<void> {
    try {
      await this.open().aliases.insertOne({ ...alias });
    } catch (e) {
      throw isDuplicateKeyError(e) ? new DuplicateRecordError(`alias ${alias.aliasName}`) : e;
    }
  }

  async getAlias(scope: KeyScope, aliasName: string): Promise<AliasRecord | undefined> {
    const doc = await this.open().aliases.findOne(aliasFilter(scope, aliasName));
    return doc ? withoutId(doc) : undefined;
  }

  async listAliases(scope: KeyScope, filter: { keyId?: string }, page: PageRequest): Promise<Page<AliasRecord>> {
    const query: Filter<AliasRecord> = scopeFilter(scope);
    if (filter.keyId !== undefined) query.targetKeyId = filter.keyId;
    if (page.marker !== undefined) query.aliasName = { $gt: decodeMarker('alias', page.marker) };
    const docs = await this.open().aliases.find(query).sort({ aliasName: 1 }).limit(page.limit + 1).toArray();
    const items = docs.slice(0, page.limit).map(withoutId);
    const last = items[items.length - 1];
    return docs.length > page.limit && last ? { items, nextMarker: encodeMarker('alias', last.aliasName) } : { items };
  }

  async updateAlias(scope: KeyScope, aliasName: string, targetKeyId: string, now: Date): Promise<boolean> {
    const result = await this.open().aliases.updateOne(
      aliasFilter(scope, aliasName),
      { $set: { targetKeyId, updatedAt: now } },
    );
    return result.matchedCount > 0;
  }

  async deleteAlias(scope: KeyScope, aliasName: string): Promise<boolean> {
    const result = await this.open().aliases.deleteOne(aliasFilter(scope, aliasName));
    return result.deletedCount > 0;
  }

  async countAliasesForKey(scope: KeyScope, keyId: string): Promise<number> {
    return this.open().aliases.countDocuments({ ...scopeFilter(scope), targetKeyId: keyId });
  }

  async insertGrant(grant: GrantRecord): Promise<void> {
    try {
      await this.open().grants.insertOne(grantToDoc(grant));
    } catch (e) {
      throw isDuplicateKeyError(e) ? new DuplicateRecordError(`grant ${grant.grantId}`) : e;
    }
  }

  async getGrant(scope: KeyScope, keyId: string, grantId: string): Promise<GrantRecord | undefined> {
    const doc = await this.open().grants.findOne({ ...scopeFilter(scope), keyId, grantId });
    return doc ? grantFromDoc(doc) : undefined;
  }

  async findGrantByToken(grantToken: string): Promise<GrantRecord | undefined> {
    const doc = await this.open().grants.findOne({ grantToken });
    return doc ? grantFromDoc(doc) : undefined;
  }

  async listGrants(
    scope: KeyScope, keyId: string, filter: { grantId?: string; granteePrincipal?: string }, page: PageRequest,
  ): Promise<Page<GrantRecord>> {
    const query: Filter<GrantDoc> = { ...scopeFilter(scope), keyId };
    if (filter.granteePrincipal !== undefined) query.granteePrincipal = filter.granteePrincipal;
    const after = page.marker === undefined ? undefined : decodeMarker('grant', page.marker);
    if (filter.grantId !== undefined || after !== undefined) {
      query.grantId = {
        ...(filter.grantId === undefined ? {} : { $eq: filter.grantId }),
        ...(after === undefined ? {} : { $gt: after }),
      };
    }
    return this.grantPage(query, page.limit);
  }

  async listRetirableGrants(region: string, retiringPrincipal: string, page: PageRequest): Promise<Page<GrantRecord>> {
    const query: Filter<GrantDoc> = { region, retiringPrincipal };
    if (page.marker !== undefined) query.grantId = { $gt: decodeMarker('grant', page.marker) };
    return this.grantPage(query, page.limit);
  }

  async deleteGrant(scope: KeyScope, keyId: string, grantId: string): Promise<boolean> {
    const result = await this.open().grants.deleteOne({ ...scopeFilter(scope), keyId, grantId });
    return result.deletedCount > 0;
  }

  async countGrantsForKey(scope: KeyScope, keyId: string): Promise<number> {
    return this.open().grants.countDocuments({ ...scopeFilter(scope), keyId });
  }

  /** One document more than asked tells whether another page follows. */
  private async grantPage(query: Filter<GrantDoc>, limit: number): Promise<Page<GrantRecord>> {
    const docs = await this.open().grants.find(query).sort({ grantId: 1 }).limit(limit + 1).toArray();
    const items = docs.slice(0, limit).map(grantFromDoc);
    const last = items[items.length - 1];
    return docs.length > limit && last ? { items, nextMarker: encodeMarker('grant', last.grantId) } : { items };
  }

  private open(): Connection {
    if (!this.connection) throw new Error('MongoStore is not open: call init() first');
    return this.connection;
  }
}

/** Copies the fields by name, so a caller's object with extra properties never widens a query. */
function scopeFilter(scope: KeyScope): { accountId: string; region: string } {
  return { accountId: scope.accountId, region: scope.region };
}

function keyFilter(scope: KeyScope, keyId: string): Filter<KeyRecord> {
  return { ...scopeFilter(scope), keyId };
}

function aliasFilter(scope: KeyScope, aliasName: string): Filter<AliasRecord> {
  return { ...scopeFilter(scope), aliasName };
}

/**
 * A GrantRecord as stored. Encryption-context keys are arbitrary strings, and field names
 * beginning with "$" or holding "." are not safe in MongoDB, so constraint maps are stored as
 * [key, value] pairs.
 */
type StoredContext = [string, string][];
type GrantDoc = Omit<GrantRecord, 'constraints'> & {
  constraints?: { encryptionContextSubset?: StoredContext; encryptionContextEquals?: StoredContext };
};

function grantToDoc({ constraints, ...rest }: GrantRecord): GrantDoc {
  if (!constraints) return { ...rest };
  const { encryptionContextSubset: subset, encryptionContextEquals: equals } = constraints;
  return {
    ...rest,
    constraints: {
      ...(subset === undefined ? {} : { encryptionContextSubset: Object.entries(subset) }),
      ...(equals === undefined ? {} : { encryptionContextEquals: Object.entries(equals) }),
    },
  };
}

function grantFromDoc(doc: WithId<GrantDoc>): GrantRecord {
  const { constraints, ...rest } = withoutId(doc);
  if (!constraints) return rest;
  const { encryptionContextSubset: subset, encryptionContextEquals: equals } = constraints;
  const restored: GrantConstraints = {
    ...(subset === undefined ? {} : { encryptionContextSubset: Object.fromEntries(subset) }),
    ...(equals === undefined ? {} : { encryptionContextEquals: Object.fromEntries(equals) }),
  };
  return { ...rest, constraints: restored };
}

/** Records never carry Mongo's _id: it is storage detail, and callers compare records whole. */
function withoutId<T>(doc: WithId<T>): T {
  const { _id, ...record } = doc;
  return record as T;
}

function isDuplicateKeyError(e: unknown): boolean {
  return e instanceof MongoServerError && e.code === DUPLICATE_KEY_ERROR;
}

/** The database in the URI's path ("mongodb://host/dbname?..."), if any. */
function databaseInUri(uri: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/]*\/([^?]+)/.exec(uri);
  return match?.[1] ? decodeURIComponent(match[1]) : undefined;
}
