// The SQLite store's on-disk format is a promise to every database already written: these rows are
// spelled out byte for byte, as the store has written them since its first release, so a change to
// the encoding fails here instead of on an operator's data.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { AliasRecord, CustomKeyStoreRecord, GrantRecord, KeyRecord } from '../../src/core/model';
import { EmbeddedStore } from '../../src/store/embedded';
import { migrations } from '../../src/store/embedded/migrations';
import { makeKey } from './metadata-fixtures';

const scope = { accountId: '111122223333', region: 'us-east-1' };
const keyId = '1234abcd-12ab-34cd-56ef-1234567890ab';
const minimalKeyId = '1234abcd-12ab-34cd-56ef-000000000002';

/** A key with every optional field, as the `doc` column holds it: JSON, Dates as ISO-8601 UTC strings. */
const keyDoc = '{"accountId":"111122223333","region":"us-east-1","keyId":"1234abcd-12ab-34cd-56ef-1234567890ab",'
  + '"createdAt":"2024-05-06T07:08:09.123Z","description":"written by the v1 store — 키","keySpec":"SYMMETRIC_DEFAULT",'
  + '"keyUsage":"ENCRYPT_DECRYPT","origin":"EXTERNAL","keyManager":"CUSTOMER","multiRegion":false,"state":"PendingDeletion",'
  + '"deletionDate":"2024-06-01T00:00:00.789Z","pendingWindowInDays":7,"versions":['
  + `{"id":"${'a'.repeat(64)}","backing":{"kind":"pkcs11","tokenId":"default","objectId":"0a1b2c3d"},"createdAt":"2024-05-06T07:08:09.001Z","status":"ACTIVE"},`
  + `{"id":"${'b'.repeat(64)}","backing":{"kind":"xks","keyStoreId":"cks-1234567890abcdef0","xksKeyId":"ext-key-1","localObjectId":"${'ab'.repeat(32)}"},"createdAt":"2024-05-06T08:00:00.002Z","status":"PENDING","publicKeySpki":"MFkw"}],`
  + `"currentVersionId":"${'a'.repeat(64)}","tags":[{"TagKey":"team","TagValue":"payments"}],"policy":"{\\"Version\\":\\"2012-10-17\\"}",`
  + '"rotation":{"enabled":true,"periodInDays":90,"nextRotationDate":"2025-01-01T00:00:00.123Z","onDemandCount":1,'
  + `"history":[{"keyMaterialId":"${'c'.repeat(64)}","date":"2024-02-02T02:02:02.202Z","type":"ON_DEMAND"}],`
  + `"inProgress":[{"versionId":"${'b'.repeat(64)}","type":"AUTOMATIC","startedAt":"2024-05-06T08:00:00.002Z","abandoned":true}]},`
  + `"imported":{"keyMaterialId":"${'c'.repeat(64)}","checkValue":"0123456789abcdef0123456789abcdef","expirationModel":"KEY_MATERIAL_EXPIRES",`
  + '"validTo":"2025-01-01T00:00:00.123Z","parameters":['
  + `{"id":"${'d'.repeat(64)}","tokenId":"default","wrappingAlgorithm":"RSA_AES_KEY_WRAP_SHA_256","wrappingKeySpec":"RSA_4096","secretDigest":"${'e'.repeat(64)}",`
  + '"createdAt":"2024-05-06T08:00:00.001Z","validTo":"2024-05-07T08:00:00.001Z","usedAt":"2024-05-06T09:00:00.002Z"}],'
  + `"retiredObjects":[{"tokenId":"default","objectId":"${'f'.repeat(64)}","retiredAt":"2024-05-06T10:00:00.003Z"}],`
  + '"upkeepAt":"2024-05-06T10:00:00.003Z"},"incomplete":false,"revision":3,"updatedAt":"2024-05-07T10:11:12.456Z"}';

/** What keyDoc decodes to. */
const key: KeyRecord = {
  ...scope,
  keyId,
  createdAt: new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 123)),
  description: 'written by the v1 store — 키',
  keySpec: 'SYMMETRIC_DEFAULT',
  keyUsage: 'ENCRYPT_DECRYPT',
  origin: 'EXTERNAL',
  keyManager: 'CUSTOMER',
  multiRegion: false,
  state: 'PendingDeletion',
  deletionDate: new Date(Date.UTC(2024, 5, 1, 0, 0, 0, 789)),
  pendingWindowInDays: 7,
  versions: [
    { id: 'a'.repeat(64), backing: { kind: 'pkcs11', tokenId: 'default', objectId: '0a1b2c3d' }, createdAt: new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 1)), status: 'ACTIVE' },
    {
      id: 'b'.repeat(64), backing: { kind: 'xks', keyStoreId: 'cks-1234567890abcdef0', xksKeyId: 'ext-key-1', localObjectId: 'ab'.repeat(32) },
      createdAt: new Date(Date.UTC(2024, 4, 6, 8, 0, 0, 2)), status: 'PENDING', publicKeySpki: 'MFkw',
    },
  ],
  currentVersionId: 'a'.repeat(64),
  tags: [{ TagKey: 'team', TagValue: 'payments' }],
  policy: '{"Version":"2012-10-17"}',
  rotation: {
    enabled: true,
    periodInDays: 90,
    nextRotationDate: new Date(Date.UTC(2025, 0, 1, 0, 0, 0, 123)),
    onDemandCount: 1,
    history: [{ keyMaterialId: 'c'.repeat(64), date: new Date(Date.UTC(2024, 1, 2, 2, 2, 2, 202)), type: 'ON_DEMAND' }],
    inProgress: [{ versionId: 'b'.repeat(64), type: 'AUTOMATIC', startedAt: new Date(Date.UTC(2024, 4, 6, 8, 0, 0, 2)), abandoned: true }],
  },
  imported: {
    keyMaterialId: 'c'.repeat(64),
    checkValue: '0123456789abcdef0123456789abcdef',
    expirationModel: 'KEY_MATERIAL_EXPIRES',
    validTo: new Date(Date.UTC(2025, 0, 1, 0, 0, 0, 123)),
    parameters: [{
      id: 'd'.repeat(64), tokenId: 'default', wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', wrappingKeySpec: 'RSA_4096', secretDigest: 'e'.repeat(64),
      createdAt: new Date(Date.UTC(2024, 4, 6, 8, 0, 0, 1)), validTo: new Date(Date.UTC(2024, 4, 7, 8, 0, 0, 1)), usedAt: new Date(Date.UTC(2024, 4, 6, 9, 0, 0, 2)),
    }],
    retiredObjects: [{ tokenId: 'default', objectId: 'f'.repeat(64), retiredAt: new Date(Date.UTC(2024, 4, 6, 10, 0, 0, 3)) }],
    upkeepAt: new Date(Date.UTC(2024, 4, 6, 10, 0, 0, 3)),
  },
  incomplete: false,
  revision: 3,
  updatedAt: new Date(Date.UTC(2024, 4, 7, 10, 11, 12, 456)),
};

/** A key with no optional field: absent fields are absent from the JSON, never null. */
const minimalKeyDoc = '{"accountId":"111122223333","region":"us-east-1","keyId":"1234abcd-12ab-34cd-56ef-000000000002",'
  + '"createdAt":"2024-05-06T07:08:09.123Z","description":"","keySpec":"HMAC_256","keyUsage":"GENERATE_VERIFY_MAC",'
  + '"origin":"AWS_KMS","keyManager":"CUSTOMER","multiRegion":false,"state":"Enabled","versions":[],"tags":[],'
  + '"revision":0,"updatedAt":"2024-05-07T10:11:12.456Z"}';

const minimalKey = makeKey(minimalKeyId, { keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });

/** A key in an external key store: its store and external key id, and a version of double encryption. */
const xksKeyId = '1234abcd-12ab-34cd-56ef-000000000003';
const xksKeyDoc = `{"accountId":"111122223333","region":"us-east-1","keyId":"${xksKeyId}",`
  + '"createdAt":"2024-05-06T07:08:09.123Z","description":"","keySpec":"SYMMETRIC_DEFAULT","keyUsage":"ENCRYPT_DECRYPT",'
  + '"origin":"EXTERNAL_KEY_STORE","keyManager":"CUSTOMER","multiRegion":false,"state":"Enabled",'
  + '"customKeyStoreId":"cks-234567890abcdef01","xksKeyId":"ext/key:2","versions":['
  + `{"id":"${'9'.repeat(64)}","backing":{"kind":"xks","keyStoreId":"cks-234567890abcdef01","xksKeyId":"ext/key:2","localObjectId":"${'cd'.repeat(32)}"},`
  + '"createdAt":"2024-05-06T07:08:09.123Z","status":"ACTIVE"}],'
  + `"currentVersionId":"${'9'.repeat(64)}","tags":[],"revision":0,"updatedAt":"2024-05-07T10:11:12.456Z"}`;

/** What xksKeyDoc decodes to, its fields in the document's order. */
const xksKey: KeyRecord = {
  ...scope,
  keyId: xksKeyId,
  createdAt: new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 123)),
  description: '',
  keySpec: 'SYMMETRIC_DEFAULT',
  keyUsage: 'ENCRYPT_DECRYPT',
  origin: 'EXTERNAL_KEY_STORE',
  keyManager: 'CUSTOMER',
  multiRegion: false,
  state: 'Enabled',
  customKeyStoreId: 'cks-234567890abcdef01',
  xksKeyId: 'ext/key:2',
  versions: [{
    id: '9'.repeat(64),
    backing: { kind: 'xks', keyStoreId: 'cks-234567890abcdef01', xksKeyId: 'ext/key:2', localObjectId: 'cd'.repeat(32) },
    createdAt: new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 123)),
    status: 'ACTIVE',
  }],
  currentVersionId: '9'.repeat(64),
  tags: [],
  revision: 0,
  updatedAt: new Date(Date.UTC(2024, 4, 7, 10, 11, 12, 456)),
};

/** Custom key stores: the whole record in `doc`; created_at in epoch milliseconds; cluster_id only for CloudHSM stores. */
const cloudHsmStoreDoc = '{"accountId":"111122223333","region":"us-east-1","customKeyStoreId":"cks-1234567890abcdef0",'
  + '"name":"hsm — 키","type":"AWS_CLOUDHSM","createdAt":"2024-05-06T07:08:09.123Z","connectionState":"CONNECTED",'
  + `"connectionGeneration":2,"stateChangedAt":"2024-05-06T08:00:00.002Z","secretKeyObjectId":"${'5e'.repeat(32)}",`
  + '"cloudHsm":{"clusterId":"cluster-1234567abcd","trustAnchorCertificate":"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n",'
  + '"keyStorePassword":{"iv":"AAECAwQFBgcICQoL","ciphertext":"c2VhbGVk","tag":"ABEiM0RVZneImaq7zN3u/w=="}},'
  + '"revision":1,"updatedAt":"2024-05-07T10:11:12.456Z"}';

const cloudHsmStore: CustomKeyStoreRecord = {
  ...scope,
  customKeyStoreId: 'cks-1234567890abcdef0',
  name: 'hsm — 키',
  type: 'AWS_CLOUDHSM',
  createdAt: new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 123)),
  connectionState: 'CONNECTED',
  connectionGeneration: 2,
  stateChangedAt: new Date(Date.UTC(2024, 4, 6, 8, 0, 0, 2)),
  secretKeyObjectId: '5e'.repeat(32),
  cloudHsm: {
    clusterId: 'cluster-1234567abcd',
    trustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    keyStorePassword: { iv: 'AAECAwQFBgcICQoL', ciphertext: 'c2VhbGVk', tag: 'ABEiM0RVZneImaq7zN3u/w==' },
  },
  revision: 1,
  updatedAt: new Date(Date.UTC(2024, 4, 7, 10, 11, 12, 456)),
};

const xksStoreDoc = '{"accountId":"111122223333","region":"us-east-1","customKeyStoreId":"cks-234567890abcdef01",'
  + '"name":"xks","type":"EXTERNAL_KEY_STORE","createdAt":"2024-05-06T07:08:09.124Z","connectionState":"FAILED",'
  + '"connectionErrorCode":"XKS_PROXY_TIMED_OUT","connectionGeneration":0,"stateChangedAt":"2024-05-06T08:00:00.002Z",'
  + `"secretKeyObjectId":"${'6f'.repeat(32)}","xks":{"uriEndpoint":"https://xks.example.com","uriPath":"/kms/xks/v1",`
  + '"connectivity":"VPC_ENDPOINT_SERVICE","vpcEndpointServiceName":"com.amazonaws.vpce.us-east-1.vpce-svc-example1",'
  + '"accessKeyId":"AKIAIOSFODNN7EXAMPLE","rawSecretAccessKey":{"iv":"AAECAwQFBgcICQoL","ciphertext":"c2VhbGVk","tag":"ABEiM0RVZneImaq7zN3u/w=="}},'
  + '"revision":0,"updatedAt":"2024-05-07T10:11:12.456Z"}';

const xksStore: CustomKeyStoreRecord = {
  ...scope,
  customKeyStoreId: 'cks-234567890abcdef01',
  name: 'xks',
  type: 'EXTERNAL_KEY_STORE',
  createdAt: new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 124)),
  connectionState: 'FAILED',
  connectionErrorCode: 'XKS_PROXY_TIMED_OUT',
  connectionGeneration: 0,
  stateChangedAt: new Date(Date.UTC(2024, 4, 6, 8, 0, 0, 2)),
  secretKeyObjectId: '6f'.repeat(32),
  xks: {
    uriEndpoint: 'https://xks.example.com',
    uriPath: '/kms/xks/v1',
    connectivity: 'VPC_ENDPOINT_SERVICE',
    vpcEndpointServiceName: 'com.amazonaws.vpce.us-east-1.vpce-svc-example1',
    accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
    rawSecretAccessKey: { iv: 'AAECAwQFBgcICQoL', ciphertext: 'c2VhbGVk', tag: 'ABEiM0RVZneImaq7zN3u/w==' },
  },
  revision: 0,
  updatedAt: new Date(Date.UTC(2024, 4, 7, 10, 11, 12, 456)),
};

const cloudHsmStoreRow = {
  custom_key_store_id: 'cks-1234567890abcdef0', account_id: '111122223333', region: 'us-east-1', name: 'hsm — 키',
  created_at: 1714979289123, connection_state: 'CONNECTED', cluster_id: 'cluster-1234567abcd', revision: 1, doc: cloudHsmStoreDoc,
};

const xksStoreRow = {
  custom_key_store_id: 'cks-234567890abcdef01', account_id: '111122223333', region: 'us-east-1', name: 'xks',
  created_at: 1714979289124, connection_state: 'FAILED', cluster_id: null, revision: 0, doc: xksStoreDoc,
};

const grantDoc = `{"accountId":"111122223333","region":"us-east-1","keyId":"${keyId}","grantId":"${'0'.repeat(63)}1",`
  + '"grantToken":"token-1","name":"backups","granteePrincipal":"arn:aws:iam::111122223333:user/alice",'
  + '"retiringPrincipal":"arn:aws:iam::111122223333:user/bob","issuingAccount":"111122223333","operations":["Encrypt","Decrypt"],'
  + '"constraints":{"encryptionContextSubset":{"Department":"IT"},"encryptionContextEquals":{"$set":"a.b"}},'
  + '"createdAt":"2024-05-06T07:08:09.123Z"}';

const grant: GrantRecord = {
  ...scope,
  keyId,
  grantId: `${'0'.repeat(63)}1`,
  grantToken: 'token-1',
  name: 'backups',
  granteePrincipal: 'arn:aws:iam::111122223333:user/alice',
  retiringPrincipal: 'arn:aws:iam::111122223333:user/bob',
  issuingAccount: '111122223333',
  operations: ['Encrypt', 'Decrypt'],
  constraints: { encryptionContextSubset: { Department: 'IT' }, encryptionContextEquals: { $set: 'a.b' } },
  createdAt: new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 123)),
};

/** Aliases are plain columns; their dates are epoch milliseconds. */
const aliasRow = {
  account_id: '111122223333', region: 'us-east-1', alias_name: 'alias/v1', target_key_id: keyId,
  created_at: 1714979289123, updated_at: 1715076672456,
};

const alias: AliasRecord = {
  ...scope,
  aliasName: 'alias/v1',
  targetKeyId: keyId,
  createdAt: new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 123)),
  updatedAt: new Date(Date.UTC(2024, 4, 7, 10, 11, 12, 456)),
};

const keyRow = (id: string, doc: string, revision: number) => ({
  account_id: '111122223333', region: 'us-east-1', key_id: id, incomplete: 0, revision, updated_at: 1715076672456, doc,
});

const grantRow = {
  grant_id: grant.grantId, account_id: '111122223333', region: 'us-east-1', key_id: keyId, grant_token: 'token-1',
  grantee_principal: 'arn:aws:iam::111122223333:user/alice', retiring_principal: 'arn:aws:iam::111122223333:user/bob', doc: grantDoc,
};

describe('EmbeddedStore (SQLite) stored format', () => {
  let dir = '';
  let file = '';
  let store: EmbeddedStore;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hsm-kms-embedded-format-'));
    file = path.join(dir, 'metadata.sqlite');
    store = new EmbeddedStore(file);
    await store.init();
  });

  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs `fn` on a second connection to the store's file, as another program reading it would. */
  function withRawDatabase<T>(fn: (db: Database.Database) => T): T {
    return withDatabase(file, fn);
  }

  test('rows written in the stored format read back as the records they hold', async () => {
    withRawDatabase((db) => {
      const insertKey = db.prepare(`INSERT INTO keys (account_id, region, key_id, incomplete, revision, updated_at, doc)
        VALUES (@account_id, @region, @key_id, @incomplete, @revision, @updated_at, @doc)`);
      insertKey.run(keyRow(keyId, keyDoc, 3));
      insertKey.run(keyRow(minimalKeyId, minimalKeyDoc, 0));
      db.prepare(`INSERT INTO aliases (account_id, region, alias_name, target_key_id, created_at, updated_at)
        VALUES (@account_id, @region, @alias_name, @target_key_id, @created_at, @updated_at)`).run(aliasRow);
      db.prepare(`INSERT INTO grants (grant_id, account_id, region, key_id, grant_token, grantee_principal, retiring_principal, doc)
        VALUES (@grant_id, @account_id, @region, @key_id, @grant_token, @grantee_principal, @retiring_principal, @doc)`).run(grantRow);
      insertKey.run(keyRow(xksKeyId, xksKeyDoc, 0));
      const insertStore = db.prepare(`INSERT INTO custom_key_stores
          (custom_key_store_id, account_id, region, name, created_at, connection_state, cluster_id, revision, doc)
        VALUES (@custom_key_store_id, @account_id, @region, @name, @created_at, @connection_state, @cluster_id, @revision, @doc)`);
      insertStore.run(cloudHsmStoreRow);
      insertStore.run(xksStoreRow);
    });

    expect(await store.keys.get(scope, keyId)).toStrictEqual(key);
    expect(await store.keys.get(scope, minimalKeyId)).toStrictEqual(minimalKey);
    expect(await store.aliases.get(scope, 'alias/v1')).toStrictEqual(alias);
    expect(await store.grants.findByToken('token-1')).toStrictEqual(grant);
    expect(await store.keys.get(scope, xksKeyId)).toStrictEqual(xksKey);
    expect(await store.keys.listInCustomKeyStore(scope, 'cks-234567890abcdef01', 10)).toStrictEqual([xksKey]);
    expect((await store.customKeyStores.list(scope, { limit: 10 })).items).toStrictEqual([cloudHsmStore, xksStore]);
    expect(await store.customKeyStores.findByClusterId('cluster-1234567abcd')).toStrictEqual([cloudHsmStore]);
    expect(await store.customKeyStores.listInStates(['FAILED'])).toStrictEqual([xksStore]);
  });

  test('the store writes records in exactly that format', async () => {
    await store.keys.insert(key);
    await store.keys.insert(minimalKey);
    await store.aliases.insert(alias);
    await store.grants.insert(grant);
    const replaced = await store.keys.replace({ ...minimalKey, revision: 0 });
    await store.keys.insert(xksKey);
    await store.customKeyStores.insert({ ...cloudHsmStore, revision: 0 });
    await store.customKeyStores.replace({ ...cloudHsmStore, revision: 0 });
    await store.customKeyStores.insert(xksStore);

    withRawDatabase((db) => {
      const keys = db.prepare('SELECT * FROM keys ORDER BY key_id').all();
      expect(keys).toStrictEqual([
        keyRow(minimalKeyId, minimalKeyDoc.replace('"revision":0', '"revision":1'), 1),
        keyRow(xksKeyId, xksKeyDoc, 0),
        keyRow(keyId, keyDoc, 3),
      ]);
      expect(db.prepare('SELECT * FROM aliases').all()).toStrictEqual([aliasRow]);
      expect(db.prepare('SELECT * FROM grants').all()).toStrictEqual([grantRow]);
      expect(db.prepare('SELECT * FROM custom_key_stores ORDER BY custom_key_store_id').all()).toStrictEqual([cloudHsmStoreRow, xksStoreRow]);
    });
    expect(replaced.revision).toBe(1);
  });

  test('keys written before custom key stores existed are found in their custom key store once migrated', async () => {
    // A database as the store left it before migration 5: the first four migrations, and a key
    // whose document names a custom key store.
    const oldFile = path.join(dir, 'before-custom-key-stores.sqlite');
    const db = new Database(oldFile);
    try {
      db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version (version) VALUES (4)');
      for (const step of migrations.slice(0, 4)) db.exec(step);
      db.prepare(`INSERT INTO keys (account_id, region, key_id, incomplete, revision, updated_at, doc)
        VALUES (@account_id, @region, @key_id, @incomplete, @revision, @updated_at, @doc)`).run(keyRow(xksKeyId, xksKeyDoc, 0));
    } finally {
      db.close();
    }

    const migrated = new EmbeddedStore(oldFile);
    await migrated.init();
    try {
      expect(await migrated.keys.listInCustomKeyStore(scope, 'cks-234567890abcdef01', 10)).toStrictEqual([xksKey]);
      expect(await migrated.customKeyStores.count(scope)).toBe(0);
    } finally {
      await migrated.close();
    }
    const version = withDatabase(oldFile, (raw) => raw.prepare<[], { version: number }>('SELECT version FROM schema_version').get());
    expect(version).toEqual({ version: migrations.length });
  });
});

function withDatabase<T>(databaseFile: string, fn: (db: Database.Database) => T): T {
  const db = new Database(databaseFile);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}
