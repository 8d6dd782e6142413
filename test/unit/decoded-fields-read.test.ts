// Decode-then-drop must be impossible: every field an operation's schema decodes must be read
// by its `run`. For every operation in the table, requests carrying its fields (all that can
// coexist, and further requests for the rest) are decoded as on the wire, the decoded input
// is wrapped in a Proxy that records property reads, and the operation runs on the core
// fakes. A field that is present but never read fails the test: either the operation must
// use it, or the request must drive the path that does. The table is keyed by operation
// name, so a new operation does not compile until it has requests here, and every field of
// every schema must appear in some request.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { RequestContext } from '../../src/core/api/context';
import type { CoreDeps } from '../../src/core/deps';
import { KmsError, type ErrorCode } from '../../src/core/errors';
import type { Operation } from '../../src/core/api/operation';
import { kmsOperations as operations, type KmsOperationName as OperationName } from '../../src/http/kms/operations';
import { defaultKeyPolicy } from '../../src/core/access/policy';
import { decodeInput } from '../../src/core/api/schema';
import { callOperation, newCoreDeps, type Loose } from '../support/core-harness';
import { wrapKeyMaterial } from '../support/import-wrap';
import { ACCESS_KEY_ID, CLUSTER, FakeClusters, FakeProxy, OTHER_CLUSTER, PIN, SECRET, trustAnchorPem } from '../support/fake-connectors';

const externalStoreBody = () => ({
  CustomKeyStoreName: 'xks', CustomKeyStoreType: 'EXTERNAL_KEY_STORE', XksProxyConnectivity: 'PUBLIC_ENDPOINT', XksProxyUriEndpoint: 'https://xks.example.com',
  XksProxyUriPath: '/kms/xks/v1', XksProxyAuthenticationCredential: { AccessKeyId: ACCESS_KEY_ID, RawSecretAccessKey: SECRET },
});

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const root: RequestContext = { principal: { arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, policies: [] }, region: REGION, requestId: 'r' };
const ALICE = `arn:aws:iam::${ACCOUNT}:user/alice`;
const BOB = `arn:aws:iam::${ACCOUNT}:user/bob`;
const b64 = (data: Buffer | string) => Buffer.from(data).toString('base64');
const MESSAGE = b64('decoded fields');

interface Case {
  body: Loose;
  /** The error code the run ends with; success unless set. */
  outcome?: ErrorCode;
  /**
   * Fields this request carries that its run may leave unread because it refuses the request
   * on another field first. Each must be read by another request of the same operation.
   */
  refusedBefore?: string[];
}

/** The set-up every request builder gets: the fakes and calls through the core. */
interface Env {
  deps: CoreDeps;
  call(name: OperationName, body: object): Promise<Loose>;
  key(body?: object): Promise<{ KeyId: string; Arn: string }>;
  /** A valid grant token (of a grant on a key of its own). */
  grantToken(): Promise<string>;
  /** A symmetric key of origin EXTERNAL with material imported, and that material. */
  importedKey(): Promise<{ KeyId: string; KeyMaterialId: string; material: Buffer }>;
  /** A custom key store of `type` named 'hsm' or 'xks' (the first time), connected or not. */
  customKeyStore(type: 'AWS_CLOUDHSM' | 'EXTERNAL_KEY_STORE', connected: boolean): Promise<string>;
  /** GetParametersForImport's answer for `keyId` and `material` wrapped under it. */
  wrapped(keyId: string, material: Buffer): Promise<{ ImportToken: string; EncryptedKeyMaterial: string }>;
}

const cases: Record<OperationName, (env: Env) => Promise<Case[]>> = {
  CancelKeyDeletion: async ({ key, call }) => {
    const { KeyId } = await key();
    await call('ScheduleKeyDeletion', { KeyId });
    return [{ body: { KeyId } }];
  },
  CreateAlias: async ({ key }) => [{ body: { AliasName: 'alias/new', TargetKeyId: (await key()).KeyId } }],
  CreateGrant: async ({ key, grantToken }) => [{
    body: {
      KeyId: (await key()).KeyId, GranteePrincipal: ALICE, RetiringPrincipal: BOB, Operations: ['Decrypt', 'Encrypt'],
      Constraints: { EncryptionContextSubset: { purpose: 'test' } }, GrantTokens: [await grantToken()], Name: 'named', DryRun: false,
    },
  }],
  CreateKey: async () => [
    {
      body: {
        Policy: defaultKeyPolicy(ACCOUNT), Description: 'd', KeyUsage: 'ENCRYPT_DECRYPT', KeySpec: 'SYMMETRIC_DEFAULT', Origin: 'AWS_KMS',
        BypassPolicyLockoutSafetyCheck: false, Tags: [{ TagKey: 'k', TagValue: 'v' }], MultiRegion: false,
      },
    },
    { body: { CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT' } },
    { body: { CustomKeyStoreId: 'cks-1234567890abcdef0' }, outcome: 'ValidationException' },
    { body: { XksKeyId: 'xks-key' }, outcome: 'ValidationException' },
  ],
  // Refused once the key is found (no key here can be ML-KEM): the rest is never used (see keyEncapsulationFields).
  Decapsulate: async ({ key, grantToken }) => [{
    body: { KeyId: (await key()).KeyId, SharedSecretCiphertextBlob: MESSAGE, EncapsulationAlgorithm: 'ML_KEM', GrantTokens: [await grantToken()], DryRun: false },
    outcome: 'UnsupportedOperationException', refusedBefore: ['SharedSecretCiphertextBlob', 'EncapsulationAlgorithm', 'DryRun'],
  }],
  Encapsulate: async ({ key, grantToken }) => [{
    body: { KeyId: (await key()).KeyId, EncapsulationAlgorithm: 'ML_KEM', GrantTokens: [await grantToken()], DryRun: false },
    outcome: 'UnsupportedOperationException', refusedBefore: ['EncapsulationAlgorithm', 'DryRun'],
  }],
  Decrypt: async ({ key, call, grantToken }) => {
    const { KeyId } = await key();
    const EncryptionContext = { purpose: 'test' };
    const { CiphertextBlob } = await call('Encrypt', { KeyId, Plaintext: MESSAGE, EncryptionContext });
    return [{ body: { CiphertextBlob, EncryptionContext, GrantTokens: [await grantToken()], KeyId, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT', DryRun: false } }];
  },
  DeleteAlias: async ({ key, call }) => {
    await call('CreateAlias', { AliasName: 'alias/gone', TargetKeyId: (await key()).KeyId });
    return [{ body: { AliasName: 'alias/gone' } }];
  },
  DeleteImportedKeyMaterial: async ({ importedKey }) => {
    const { KeyId, KeyMaterialId } = await importedKey();
    return [{ body: { KeyId, KeyMaterialId } }];
  },
  DeriveSharedSecret: async ({ key, grantToken }) => {
    const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' });
    const { KeyId } = await key({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' });
    return [{ body: { KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: b64(peer), GrantTokens: [await grantToken()], DryRun: false } }];
  },
  DescribeKey: async ({ key, grantToken }) => [{ body: { KeyId: (await key()).KeyId, GrantTokens: [await grantToken()] } }],
  DisableKey: async ({ key }) => [{ body: { KeyId: (await key()).KeyId } }],
  DisableKeyRotation: async ({ key }) => [{ body: { KeyId: (await key()).KeyId } }],
  EnableKey: async ({ key }) => [{ body: { KeyId: (await key()).KeyId } }],
  EnableKeyRotation: async ({ key }) => [{ body: { KeyId: (await key()).KeyId, RotationPeriodInDays: 100 } }],
  Encrypt: async ({ key, grantToken }) => [{
    body: { KeyId: (await key()).KeyId, Plaintext: MESSAGE, EncryptionContext: { purpose: 'test' }, GrantTokens: [await grantToken()], EncryptionAlgorithm: 'SYMMETRIC_DEFAULT', DryRun: false },
  }],
  GenerateDataKey: (env) => dataKeyCases(env),
  GenerateDataKeyWithoutPlaintext: (env) => dataKeyCases(env),
  GenerateDataKeyPair: (env) => dataKeyPairCases(env),
  GenerateDataKeyPairWithoutPlaintext: (env) => dataKeyPairCases(env),
  GenerateMac: async ({ key, grantToken }) => [{
    body: { Message: MESSAGE, KeyId: (await key({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' })).KeyId, MacAlgorithm: 'HMAC_SHA_256', GrantTokens: [await grantToken()], DryRun: false },
  }],
  GenerateRandom: async ({ customKeyStore }) => [
    { body: { NumberOfBytes: 16 } },
    { body: { NumberOfBytes: 16, CustomKeyStoreId: await customKeyStore('AWS_CLOUDHSM', true) } },
  ],
  ConnectCustomKeyStore: async ({ customKeyStore }) => [{ body: { CustomKeyStoreId: await customKeyStore('AWS_CLOUDHSM', false) } }],
  CreateCustomKeyStore: async () => [
    { body: { CustomKeyStoreName: 'hsm', CustomKeyStoreType: 'AWS_CLOUDHSM', CloudHsmClusterId: CLUSTER, TrustAnchorCertificate: trustAnchorPem(), KeyStorePassword: PIN } },
    { body: externalStoreBody() },
    {
      body: { ...externalStoreBody(), CustomKeyStoreName: 'vpc', XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE', XksProxyVpcEndpointServiceName: 'com.amazonaws.vpce.us-east-1.vpce-svc-0123' },
      outcome: 'UnsupportedOperationException', refusedBefore: ['CustomKeyStoreName', 'XksProxyUriEndpoint', 'XksProxyUriPath'],
    },
  ],
  DeleteCustomKeyStore: async ({ customKeyStore }) => [{ body: { CustomKeyStoreId: await customKeyStore('AWS_CLOUDHSM', false) } }],
  DescribeCustomKeyStores: async ({ customKeyStore, call }) => {
    const id = await customKeyStore('AWS_CLOUDHSM', false);
    await customKeyStore('EXTERNAL_KEY_STORE', false);
    const { NextMarker } = await call('DescribeCustomKeyStores', { Limit: 1 });
    return [{ body: { CustomKeyStoreId: id } }, { body: { CustomKeyStoreName: 'hsm' } }, { body: { Limit: 1, Marker: NextMarker } }];
  },
  DisconnectCustomKeyStore: async ({ customKeyStore }) => [{ body: { CustomKeyStoreId: await customKeyStore('AWS_CLOUDHSM', true) } }],
  UpdateCustomKeyStore: async ({ customKeyStore }) => [
    { body: { CustomKeyStoreId: await customKeyStore('AWS_CLOUDHSM', false), NewCustomKeyStoreName: 'renamed', KeyStorePassword: 'another-pin', CloudHsmClusterId: OTHER_CLUSTER } },
    {
      body: {
        CustomKeyStoreId: await customKeyStore('EXTERNAL_KEY_STORE', false), XksProxyUriEndpoint: 'https://other.example.com', XksProxyUriPath: '/other/kms/xks/v1',
        XksProxyConnectivity: 'PUBLIC_ENDPOINT', XksProxyAuthenticationCredential: { AccessKeyId: ACCESS_KEY_ID, RawSecretAccessKey: SECRET },
      },
    },
    {
      body: { CustomKeyStoreId: await customKeyStore('EXTERNAL_KEY_STORE', false), XksProxyVpcEndpointServiceName: 'com.amazonaws.vpce.us-east-1.vpce-svc-0123' },
      outcome: 'UnsupportedOperationException',
    },
  ],
  GetKeyLastUsage: async ({ key }) => [{ body: { KeyId: (await key()).KeyId } }],
  GetKeyPolicy: async ({ key }) => [{ body: { KeyId: (await key()).KeyId, PolicyName: 'default' } }],
  GetKeyRotationStatus: async ({ key }) => [{ body: { KeyId: (await key()).KeyId } }],
  GetParametersForImport: async ({ key }) => [{
    body: { KeyId: (await key({ Origin: 'EXTERNAL' })).KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' },
  }],
  GetPublicKey: async ({ key, grantToken }) => [{ body: { KeyId: (await key({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })).KeyId, GrantTokens: [await grantToken()] } }],
  ImportKeyMaterial: async ({ deps, key, importedKey, wrapped }) => {
    const fresh = (await key({ Origin: 'EXTERNAL' })).KeyId;
    const validTo = deps.clock.now().getTime() / 1000 + 86_400;
    const again = await importedKey();
    return [
      {
        body: {
          KeyId: fresh, ...(await wrapped(fresh, randomBytes(32))), ValidTo: validTo, ExpirationModel: 'KEY_MATERIAL_EXPIRES',
          ImportType: 'NEW_KEY_MATERIAL', KeyMaterialDescription: 'first material',
        },
      },
      {
        body: {
          KeyId: again.KeyId, ...(await wrapped(again.KeyId, again.material)), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
          ImportType: 'EXISTING_KEY_MATERIAL', KeyMaterialId: again.KeyMaterialId,
        },
      },
    ];
  },
  ListAliases: async ({ key, call }) => {
    const { KeyId } = await key();
    for (const AliasName of ['alias/a', 'alias/b']) await call('CreateAlias', { AliasName, TargetKeyId: KeyId });
    const { NextMarker } = await call('ListAliases', { KeyId, Limit: 1 });
    return [{ body: { KeyId, Limit: 1, Marker: NextMarker } }];
  },
  ListGrants: async ({ key, call }) => {
    const { KeyId } = await key();
    const grants = [];
    for (let i = 0; i < 2; i++) grants.push(await call('CreateGrant', { KeyId, GranteePrincipal: ALICE, Operations: ['Decrypt'] }));
    const { NextMarker } = await call('ListGrants', { KeyId, Limit: 1 });
    return [{ body: { KeyId, Limit: 1, Marker: NextMarker, GrantId: grants[1]!.GrantId, GranteePrincipal: ALICE } }];
  },
  ListKeyPolicies: async ({ key }) => {
    const { KeyId } = await key();
    return [
      { body: { KeyId, Limit: 1 } },
      // No answer is ever truncated, so no marker was ever issued.
      { body: { KeyId, Marker: 'bm90LWlzc3VlZA' }, outcome: 'InvalidMarkerException' },
    ];
  },
  ListKeyRotations: async ({ key, call }) => {
    const { KeyId } = await key();
    for (let i = 0; i < 2; i++) await call('RotateKeyOnDemand', { KeyId });
    const { NextMarker } = await call('ListKeyRotations', { KeyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL', Limit: 1 });
    return [{ body: { KeyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL', Limit: 1, Marker: NextMarker } }];
  },
  ListKeys: async ({ key, call }) => {
    await key();
    await key();
    const { NextMarker } = await call('ListKeys', { Limit: 1 });
    return [{ body: { Limit: 1, Marker: NextMarker } }];
  },
  ListResourceTags: async ({ key, call }) => {
    const { KeyId } = await key({ Tags: [{ TagKey: 'a', TagValue: '1' }, { TagKey: 'b', TagValue: '2' }] });
    const { NextMarker } = await call('ListResourceTags', { KeyId, Limit: 1 });
    return [{ body: { KeyId, Limit: 1, Marker: NextMarker } }];
  },
  ListRetirableGrants: async ({ key, call }) => {
    const { KeyId } = await key();
    for (let i = 0; i < 2; i++) await call('CreateGrant', { KeyId, GranteePrincipal: ALICE, RetiringPrincipal: BOB, Operations: ['Decrypt'] });
    const { NextMarker } = await call('ListRetirableGrants', { RetiringPrincipal: BOB, Limit: 1 });
    return [{ body: { Limit: 1, Marker: NextMarker, RetiringPrincipal: BOB } }];
  },
  PutKeyPolicy: async ({ key }) => [{
    body: { KeyId: (await key()).KeyId, PolicyName: 'default', Policy: defaultKeyPolicy(ACCOUNT), BypassPolicyLockoutSafetyCheck: false },
  }],
  ReEncrypt: async ({ key, call, grantToken }) => {
    const source = await key();
    const destination = await key();
    const SourceEncryptionContext = { side: 'source' };
    const { CiphertextBlob } = await call('Encrypt', { KeyId: source.KeyId, Plaintext: MESSAGE, EncryptionContext: SourceEncryptionContext });
    return [{
      body: {
        CiphertextBlob, SourceEncryptionContext, SourceKeyId: source.KeyId, DestinationKeyId: destination.KeyId, DestinationEncryptionContext: { side: 'destination' },
        SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', GrantTokens: [await grantToken()], DryRun: false,
      },
    }];
  },
  RetireGrant: async ({ key, call }) => {
    const { KeyId } = await key();
    const grant = await call('CreateGrant', { KeyId, GranteePrincipal: ALICE, Operations: ['Decrypt'] });
    return [{ body: { GrantToken: grant.GrantToken, KeyId, GrantId: grant.GrantId, DryRun: false } }];
  },
  RevokeGrant: async ({ key, call }) => {
    const { KeyId } = await key();
    const grant = await call('CreateGrant', { KeyId, GranteePrincipal: ALICE, Operations: ['Decrypt'] });
    return [{ body: { KeyId, GrantId: grant.GrantId, DryRun: false } }];
  },
  RotateKeyOnDemand: async ({ key }) => [{ body: { KeyId: (await key()).KeyId } }],
  ReplicateKey: async ({ key }) => [{
    body: {
      KeyId: (await key({ MultiRegion: true })).KeyId, ReplicaRegion: 'eu-west-1', Policy: defaultKeyPolicy(ACCOUNT), BypassPolicyLockoutSafetyCheck: false,
      Description: 'replica', Tags: [{ TagKey: 'k', TagValue: 'v' }],
    },
  }],
  UpdatePrimaryRegion: async ({ key, call }) => {
    const { KeyId } = await key({ MultiRegion: true });
    await call('ReplicateKey', { KeyId, ReplicaRegion: 'eu-west-1' });
    return [{ body: { KeyId, PrimaryRegion: 'eu-west-1' } }];
  },
  ScheduleKeyDeletion: async ({ key }) => [{ body: { KeyId: (await key()).KeyId, PendingWindowInDays: 7 } }],
  Sign: async ({ key, grantToken }) => [{
    body: {
      KeyId: (await key({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })).KeyId, Message: MESSAGE, MessageType: 'RAW',
      GrantTokens: [await grantToken()], SigningAlgorithm: 'ECDSA_SHA_256', DryRun: false,
    },
  }],
  TagResource: async ({ key }) => [{ body: { KeyId: (await key()).KeyId, Tags: [{ TagKey: 'k', TagValue: 'v' }] } }],
  UntagResource: async ({ key }) => [{ body: { KeyId: (await key({ Tags: [{ TagKey: 'k', TagValue: 'v' }] })).KeyId, TagKeys: ['k'] } }],
  UpdateAlias: async ({ key, call }) => {
    await call('CreateAlias', { AliasName: 'alias/moving', TargetKeyId: (await key()).KeyId });
    return [{ body: { AliasName: 'alias/moving', TargetKeyId: (await key()).KeyId } }];
  },
  UpdateKeyDescription: async ({ key }) => [{ body: { KeyId: (await key()).KeyId, Description: 'new' } }],
  Verify: async ({ key, call, grantToken }) => {
    const { KeyId } = await key({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const signing = { KeyId, Message: MESSAGE, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' };
    const { Signature } = await call('Sign', signing);
    return [{ body: { ...signing, Signature, GrantTokens: [await grantToken()], DryRun: false } }];
  },
  VerifyMac: async ({ key, call, grantToken }) => {
    const { KeyId } = await key({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const mac = { Message: MESSAGE, KeyId, MacAlgorithm: 'HMAC_SHA_256' };
    const { Mac } = await call('GenerateMac', mac);
    return [{ body: { ...mac, Mac, GrantTokens: [await grantToken()], DryRun: false } }];
  },
};

async function dataKeyCases({ key, grantToken }: Env): Promise<Case[]> {
  const { KeyId } = await key();
  // KeySpec and NumberOfBytes exclude each other.
  return [
    { body: { KeyId, EncryptionContext: { purpose: 'test' }, KeySpec: 'AES_256', GrantTokens: [await grantToken()], DryRun: false } },
    { body: { KeyId, NumberOfBytes: 24 } },
  ];
}

async function dataKeyPairCases({ key, grantToken }: Env): Promise<Case[]> {
  return [{
    body: { EncryptionContext: { purpose: 'test' }, KeyId: (await key()).KeyId, KeyPairSpec: 'ECC_NIST_P256', GrantTokens: [await grantToken()], DryRun: false },
  }];
}

async function newEnv(): Promise<Env> {
  const { deps } = await newCoreDeps();
  const proxy = new FakeProxy();
  proxy.addKey('ext-1');
  deps.connectors = { tokenClusters: new FakeClusters(), xksProxies: proxy };
  const call = (name: OperationName, body: object) => callOperation(deps, root, name, body);
  let stores = 0;
  const key = async (body: object = {}) => (await call('CreateKey', body)).KeyMetadata as { KeyId: string; Arn: string };
  const wrapped = async (keyId: string, material: Buffer) => {
    const p = await call('GetParametersForImport', { KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' });
    return { ImportToken: p.ImportToken as string, EncryptedKeyMaterial: b64(wrapKeyMaterial(Buffer.from(p.PublicKey as string, 'base64'), 'RSAES_OAEP_SHA_256', material)) };
  };
  return {
    deps,
    call,
    key,
    wrapped,
    async customKeyStore(type, connected) {
      const n = stores++;
      const name = n < 2 ? (type === 'AWS_CLOUDHSM' ? 'hsm' : 'xks') : `store-${n}`;
      const body = type === 'AWS_CLOUDHSM'
        ? { CustomKeyStoreName: name, CloudHsmClusterId: n === 0 ? CLUSTER : 'cluster-' + 'abcdefghijkmnopq'.slice(0, 11 + (n % 5)), TrustAnchorCertificate: trustAnchorPem(), KeyStorePassword: PIN }
        : { ...externalStoreBody(), CustomKeyStoreName: name, XksProxyUriPath: `/s${n}/kms/xks/v1` };
      const { CustomKeyStoreId } = await call('CreateCustomKeyStore', body);
      if (connected) {
        await call('ConnectCustomKeyStore', { CustomKeyStoreId });
        for (let i = 0; i < 200 && (await call('DescribeCustomKeyStores', { CustomKeyStoreId })).CustomKeyStores[0].ConnectionState === 'CONNECTING'; i++) {
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
      return CustomKeyStoreId as string;
    },
    async grantToken() {
      return (await call('CreateGrant', { KeyId: (await key()).KeyId, GranteePrincipal: ALICE, Operations: ['Decrypt'] })).GrantToken as string;
    },
    async importedKey() {
      const { KeyId } = await key({ Origin: 'EXTERNAL' });
      const material = randomBytes(32);
      const imported = await call('ImportKeyMaterial', { KeyId, ...(await wrapped(KeyId, material)), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
      return { KeyId, KeyMaterialId: imported.KeyMaterialId as string, material };
    },
  };
}

/**
 * Fields no request can get read: Encapsulate and Decapsulate refuse every request once the key is
 * found, since no key here can be ML-KEM. The schema still checks them, as AWS's does.
 */
const keyEncapsulationFields: Partial<Record<OperationName, string[]>> = {
  Encapsulate: ['EncapsulationAlgorithm', 'DryRun'],
  Decapsulate: ['SharedSecretCiphertextBlob', 'EncapsulationAlgorithm', 'DryRun'],
};

/** Runs `name` on `body` as the wire would, and reports which decoded fields `run` read. */
async function run(env: Env, name: OperationName, body: Loose): Promise<{ present: string[]; read: Set<string>; enumerated: boolean; outcome: string }> {
  const operation = operations[name] as unknown as Operation;
  const decoded = decodeInput(operation.input, JSON.parse(JSON.stringify(body))) as Record<string, unknown>;
  const read = new Set<string>();
  // A spread or Object.keys copies every field at once: reads of the copy cannot be told apart, so it counts against the run.
  let enumerated = false;
  const watched = new Proxy(decoded, {
    get(target, property, receiver) {
      if (typeof property === 'string') read.add(property);
      return Reflect.get(target, property, receiver);
    },
    ownKeys(target) {
      enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
  let outcome = 'success';
  try {
    await operation.run(env.deps, root, watched as never);
  } catch (e) {
    outcome = e instanceof KmsError ? e.code : `not a KmsError: ${String(e)}`;
  }
  return { present: Object.keys(decoded), read, enumerated, outcome };
}

it.each(Object.keys(cases) as OperationName[])('%s reads every field it decodes', async (name) => {
  const env = await newEnv();
  const built = await cases[name](env);
  const readSomewhere = new Set<string>();
  const carried = new Set<string>();
  for (const [i, { body, outcome = 'success', refusedBefore = [] }] of built.entries()) {
    const result = await run(env, name, body);
    const unread = result.present.filter((field) => !result.read.has(field) && !refusedBefore.includes(field));
    expect({ request: i, outcome: result.outcome, unread, enumerated: result.enumerated }).toEqual({ request: i, outcome, unread: [], enumerated: false });
    result.present.forEach((field) => carried.add(field));
    result.present.filter((field) => result.read.has(field)).forEach((field) => readSomewhere.add(field));
  }
  const fields = Object.keys((operations[name] as unknown as Operation).input.fields);
  // Every field of the schema is carried by some request, and read where it is carried.
  expect(fields.filter((field) => !carried.has(field))).toEqual([]);
  expect(fields.filter((field) => !readSomewhere.has(field) && !keyEncapsulationFields[name]?.includes(field))).toEqual([]);
});
