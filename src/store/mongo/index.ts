// The production metadata store: MongoDB through the official driver, one collection per
// aggregate.
import type { AliasRecord, CustomKeyStoreRecord, KeyRecord } from '../../core/model';
import type {
  AliasRepository, AuditRepository, CustomKeyStoreRepository, ExternalKeyRepository, GrantRepository, KeyRepository, Lease, LeaseRepository, MetadataStore,
} from '../../core/ports';
import type { ExternalKeyRecord } from '../../core/xks-proxy/external-key';
import { MongoAliasRepository } from './aliases';
import { MongoAuditRepository } from './audit';
import { createMongoClient } from './client-options';
import { MongoConnection, type KeyGateDoc } from './connection';
import { MongoCustomKeyStoreRepository } from './custom-key-stores';
import { MongoExternalKeyRepository } from './external-keys';
import { MongoGrantRepository, type GrantDoc } from './grants';
import { ensureStoreIndexes } from './indexes';
import { MongoKeyRepository } from './keys';
import { MongoLeaseRepository } from './leases';

export { SERVER_SELECTION_TIMEOUT_MS, mongoClientOptions } from './client-options';
export { IndexMismatchError, STORE_INDEXES } from './indexes';
export { MongoStoreSetupError } from './setup-error';

const DEFAULT_DB_NAME = 'hsm_kms';

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
  private extraIndexes: string[] = [];

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
    // Refuses a connection string that would weaken the client's settings, before connecting.
    const client = createMongoClient(this.uri);
    try {
      await client.connect();
      const db = client.db(this.dbName);
      // Creates what is missing and refuses to start when an existing index differs from ours.
      const extras = await ensureStoreIndexes(db);
      this.extraIndexes = extras.map((extra) => `${extra.collection}.${extra.index}: ${extra.detail}`);
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

  /** After init(): indexes on the store's collections that hsm-kms does not use, in plain words. They are left alone. */
  get unexpectedIndexes(): readonly string[] {
    return this.extraIndexes;
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
