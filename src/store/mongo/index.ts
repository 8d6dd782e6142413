// The production metadata store: MongoDB through the official driver, one collection per
// aggregate.
import { MongoClient } from 'mongodb';
import type { IndexDescription } from 'mongodb';
import type { AliasRecord, CustomKeyStoreRecord, KeyRecord } from '../../core/model';
import type {
  AliasRepository, AuditRepository, CustomKeyStoreRepository, ExternalKeyRepository, GrantRepository, KeyRepository, Lease, LeaseRepository, MetadataStore,
} from '../../core/ports';
import type { ExternalKeyRecord } from '../../core/xks-proxy/external-key';
import { MongoAliasRepository } from './aliases';
import { MongoAuditRepository } from './audit';
import { MongoConnection, type KeyGateDoc } from './connection';
import { MongoCustomKeyStoreRepository } from './custom-key-stores';
import { MongoExternalKeyRepository } from './external-keys';
import { MongoGrantRepository, type GrantDoc } from './grants';
import { MongoKeyRepository } from './keys';
import { MongoLeaseRepository } from './leases';

const DEFAULT_DB_NAME = 'hsm_kms';
export const SERVER_SELECTION_TIMEOUT_MS = 5000;

/** Every index the store relies on, by collection. init() creates the missing ones. */
const indexes: Record<'keys' | 'aliases' | 'grants' | 'leases' | 'externalKeys' | 'customKeyStores' | 'auditRecords' | 'auditDigests', IndexDescription[]> = {
  keys: [
    { key: { accountId: 1, region: 1, keyId: 1 }, unique: true, name: 'scope_keyId' },
    // Crash recovery scans only the few incomplete keys, so index just those.
    { key: { updatedAt: 1 }, name: 'incomplete_by_update', partialFilterExpression: { incomplete: true } },
    // The background jobs' queries, each partial to the few keys it can return.
    { key: { deletionDate: 1 }, name: 'due_for_deletion', partialFilterExpression: { state: 'PendingDeletion' } },
    { key: { 'rotation.nextRotationDate': 1 }, name: 'due_for_rotation', partialFilterExpression: { state: 'Enabled', 'rotation.enabled': true } },
    { key: { 'versions.status': 1 }, name: 'with_pending_version', partialFilterExpression: { 'versions.status': 'PENDING' } },
    { key: { 'imported.upkeepAt': 1 }, name: 'due_for_import_upkeep', partialFilterExpression: { 'imported.upkeepAt': { $exists: true } } },
    // Only keys in custom key stores carry customKeyStoreId.
    {
      key: { accountId: 1, region: 1, customKeyStoreId: 1, keyId: 1 },
      name: 'scope_customKeyStoreId_keyId',
      partialFilterExpression: { customKeyStoreId: { $exists: true } },
    },
  ],
  aliases: [
    { key: { accountId: 1, region: 1, aliasName: 1 }, unique: true, name: 'scope_aliasName' },
    { key: { accountId: 1, region: 1, targetKeyId: 1 }, name: 'scope_targetKeyId' },
  ],
  grants: [
    { key: { grantId: 1 }, unique: true, name: 'grantId' },
    { key: { grantToken: 1 }, unique: true, name: 'grantToken' },
    { key: { accountId: 1, region: 1, keyId: 1, grantId: 1 }, name: 'scope_keyId_grantId' },
    {
      key: { region: 1, retiringPrincipal: 1, grantId: 1 },
      name: 'region_retiringPrincipal_grantId',
      partialFilterExpression: { retiringPrincipal: { $exists: true } },
    },
  ],
  leases: [{ key: { name: 1 }, unique: true, name: 'name' }],
  externalKeys: [
    { key: { keyStorePrefix: 1, externalKeyId: 1 }, unique: true, name: 'keyStorePrefix_externalKeyId' },
  ],
  customKeyStores: [
    { key: { customKeyStoreId: 1 }, unique: true, name: 'customKeyStoreId' },
    { key: { accountId: 1, region: 1, name: 1 }, unique: true, name: 'scope_name' },
    { key: { accountId: 1, region: 1, createdAt: 1, customKeyStoreId: 1 }, name: 'scope_createdAt_customKeyStoreId' },
    { key: { connectionState: 1 }, name: 'connectionState' },
    {
      key: { 'cloudHsm.clusterId': 1 },
      name: 'cloudHsm_clusterId',
      partialFilterExpression: { 'cloudHsm.clusterId': { $exists: true } },
    },
  ],
  // The audit trail: one sequence and one event id per record; LookupEvents reads newest first
  // by one attribute; the head document (collection auditHead) needs only its _id.
  auditRecords: [
    { key: { sequence: 1 }, unique: true, name: 'sequence' },
    { key: { eventId: 1 }, unique: true, name: 'eventId' },
    { key: { eventTime: 1 }, name: 'eventTime' },
    { key: { eventName: 1, sequence: -1 }, name: 'eventName_sequence' },
    { key: { readOnly: 1, sequence: -1 }, name: 'readOnly_sequence' },
    { key: { username: 1, sequence: -1 }, name: 'username_sequence', partialFilterExpression: { username: { $exists: true } } },
    { key: { accessKeyId: 1, sequence: -1 }, name: 'accessKeyId_sequence', partialFilterExpression: { accessKeyId: { $exists: true } } },
    { key: { resourceNames: 1, sequence: -1 }, name: 'resourceNames_sequence' },
  ],
  auditDigests: [{ key: { sequence: 1, signedAt: 1 }, name: 'sequence_signedAt' }],
};

export class MongoStore implements MetadataStore {
  readonly keys: KeyRepository;
  readonly aliases: AliasRepository;
  readonly grants: GrantRepository;
  readonly leases: LeaseRepository;
  readonly externalKeys: ExternalKeyRepository;
  readonly customKeyStores: CustomKeyStoreRepository;
  readonly audit: AuditRepository;
  private readonly connection = new MongoConnection();
  private readonly dbName: string;

  /** `dbName` defaults to the database named in the URI, then to "hsm_kms". */
  constructor(private readonly uri: string, dbName?: string) {
    this.dbName = dbName ?? databaseInUri(uri) ?? DEFAULT_DB_NAME;
    this.keys = new MongoKeyRepository(this.connection);
    this.aliases = new MongoAliasRepository(this.connection);
    this.grants = new MongoGrantRepository(this.connection);
    this.leases = new MongoLeaseRepository(this.connection);
    this.externalKeys = new MongoExternalKeyRepository(this.connection);
    this.customKeyStores = new MongoCustomKeyStoreRepository(this.connection);
    this.audit = new MongoAuditRepository(this.connection);
  }

  async init(): Promise<void> {
    if (this.connection.isOpen) return;
    // ignoreUndefined: an absent optional field stays absent instead of coming back as null.
    // A server that cannot be reached is reported within seconds, not after the driver's 30 s default.
    const client = new MongoClient(this.uri, { ignoreUndefined: true, serverSelectionTimeoutMS: SERVER_SELECTION_TIMEOUT_MS });
    try {
      await client.connect();
      const db = client.db(this.dbName);
      // One createIndexes per collection: parallel index builds that each create the collection can race.
      await Promise.all(Object.entries(indexes).map(([collection, specs]) => db.collection(collection).createIndexes(specs)));
      const hello = await db.admin().command({ hello: 1 });
      const supportsTransactions = typeof hello.setName === 'string' || hello.msg === 'isdbgrid';
      this.connection.attach({
        client,
        db,
        keys: db.collection<KeyRecord>('keys'),
        aliases: db.collection<AliasRecord>('aliases'),
        grants: db.collection<GrantDoc>('grants'),
        leases: db.collection<Lease>('leases'),
        externalKeys: db.collection<ExternalKeyRecord>('externalKeys'),
        customKeyStores: db.collection<CustomKeyStoreRecord>('customKeyStores'),
        keyGates: db.collection<KeyGateDoc>('keyGates'),
        supportsTransactions,
      });
    } catch (e) {
      await client.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.connection.detach()?.client.close();
  }

  async ping(): Promise<void> {
    await this.connection.open().db.command({ ping: 1 });
  }
}

/** The database in the URI's path ("mongodb://host/dbname?..."), if any. */
function databaseInUri(uri: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/]*\/([^?]+)/.exec(uri);
  return match?.[1] ? decodeURIComponent(match[1]) : undefined;
}
