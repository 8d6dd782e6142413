// Custom key stores in core, against fakes: the connection state machine, AWS's validation and
// exceptions, keys in a disconnected store, double encryption through an external key store,
// and the failure tables. The real token and proxy paths are in test/api/custom-key-stores.
import type { RequestContext } from '../../src/core/api/context';
import type { CoreDeps } from '../../src/core/deps';
import { xksProxyFailureKinds } from '../../src/core/key-stores/connectors';
import { ALL_KEY_MANAGERS_UNAVAILABLE, connectionErrorCodes, createKeyErrors, cryptographicMessages, keyStoreManagementErrors } from '../../src/core/custom-key-stores/xks-failures';
import { INTERRUPTED_CONNECTION_MS, keyStoreHolding, reconcileConnections } from '../../src/core/custom-key-stores/connections';
import { ExternalKeyStore } from '../../src/core/custom-key-stores/external-key-store';
import { withRepositories } from '../support/wrapped-store';
import { runMaintenance } from '../../src/core/jobs/maintenance';
import { connectionErrorCodes as allConnectionErrorCodes } from '../../src/core/model';
import { callOperation, kmsFailure, newCoreDeps, type Loose, type OperationName } from '../support/core-harness';
import type { FakeToken } from '../support/fake-token';
import { ACCESS_KEY_ID, CLUSTER, FakeClusters, FakeProxy, OTHER_CLUSTER, PIN, SECRET, trustAnchorPem } from '../support/fake-connectors';
import type { FakeClock } from '../support/clock';
import type { MemoryStore } from '../support/memory-store';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const root: RequestContext = { principal: { arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, policies: [] }, region: REGION, requestId: 'req-1' };
const bob: RequestContext = { ...root, principal: { arn: `arn:aws:iam::${ACCOUNT}:user/bob`, accountId: ACCOUNT, policies: [] } };

let deps: CoreDeps;
let store: MemoryStore;
let clock: FakeClock;
let clusters: FakeClusters;
let proxy: FakeProxy;
let defaultToken: FakeToken;
let trustAnchor: string;

beforeAll(() => {
  trustAnchor = trustAnchorPem();
});

beforeEach(async () => {
  ({ deps, store, clock, token: defaultToken } = await newCoreDeps());
  clusters = new FakeClusters();
  proxy = new FakeProxy();
  deps.connectors = { tokenClusters: clusters, xksProxies: proxy };
});

const call = (name: OperationName, body: object, ctx: RequestContext = root): Promise<Loose> => callOperation(deps, ctx, name, body);
const failure = (name: OperationName, body: object, ctx: RequestContext = root) => kmsFailure(callOperation(deps, ctx, name, body));

const cloudHsmStore = (overrides: object = {}) => ({
  CustomKeyStoreName: 'tenant-a', CloudHsmClusterId: CLUSTER, TrustAnchorCertificate: trustAnchor, KeyStorePassword: PIN, ...overrides,
});
const externalStore = (overrides: object = {}) => ({
  CustomKeyStoreName: 'external-a', CustomKeyStoreType: 'EXTERNAL_KEY_STORE', XksProxyConnectivity: 'PUBLIC_ENDPOINT',
  XksProxyUriEndpoint: 'https://xks.example.com:8443', XksProxyUriPath: '/tenant/kms/xks/v1',
  XksProxyAuthenticationCredential: { AccessKeyId: ACCESS_KEY_ID, RawSecretAccessKey: SECRET }, ...overrides,
});

async function describe1(id: string): Promise<Loose> {
  return (await call('DescribeCustomKeyStores', { CustomKeyStoreId: id })).CustomKeyStores[0];
}

/** Polls as a client would, until the store leaves CONNECTING. */
async function settled(id: string): Promise<Loose> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const described = await describe1(id);
    if (described.ConnectionState !== 'CONNECTING') return described;
    if (Date.now() > deadline) throw new Error('still CONNECTING');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function connected(body: object): Promise<string> {
  const { CustomKeyStoreId } = await call('CreateCustomKeyStore', body);
  await call('ConnectCustomKeyStore', { CustomKeyStoreId });
  expect((await settled(CustomKeyStoreId)).ConnectionState).toBe('CONNECTED');
  return CustomKeyStoreId as string;
}

describe('the connection state machine', () => {
  it('a new store is DISCONNECTED; Connect answers at once and the store becomes CONNECTED; Disconnect makes it DISCONNECTED', async () => {
    const { CustomKeyStoreId } = await call('CreateCustomKeyStore', cloudHsmStore());
    expect(CustomKeyStoreId).toMatch(/^cks-[0-9a-f]{17}$/);
    const created = await describe1(CustomKeyStoreId);
    expect(created).toEqual({
      CustomKeyStoreId, CustomKeyStoreName: 'tenant-a', CustomKeyStoreType: 'AWS_CLOUDHSM', CloudHsmClusterId: CLUSTER,
      TrustAnchorCertificate: trustAnchor, ConnectionState: 'DISCONNECTED', CreationDate: expect.any(Number),
    });
    expect(await call('ConnectCustomKeyStore', { CustomKeyStoreId })).toEqual({});
    expect(await settled(CustomKeyStoreId)).toMatchObject({ ConnectionState: 'CONNECTED' });
    // Connecting a CONNECTED store is a no-op.
    expect(await call('ConnectCustomKeyStore', { CustomKeyStoreId })).toEqual({});
    expect(await call('DisconnectCustomKeyStore', { CustomKeyStoreId })).toEqual({});
    expect(await describe1(CustomKeyStoreId)).toMatchObject({ ConnectionState: 'DISCONNECTED' });
    expect(deps.keyStores.get(CustomKeyStoreId)).toBeUndefined();
  });

  it.each([
    ['a wrong PIN', (c: FakeClusters) => { c.clusters.get(CLUSTER)!.pin = 'another-pin'; }, 'INVALID_CREDENTIALS'],
    ['a locked-out user', (c: FakeClusters) => { c.clusters.get(CLUSTER)!.lockedOut = true; }, 'USER_LOCKED_OUT'],
    ['a missing token', (c: FakeClusters) => { c.clusters.get(CLUSTER)!.missing = true; }, 'CLUSTER_NOT_FOUND'],
  ])('%s makes the store FAILED with %s; it must be disconnected before it connects again', async (_what, breakIt, code) => {
    const { CustomKeyStoreId } = await call('CreateCustomKeyStore', cloudHsmStore());
    breakIt(clusters);
    await call('ConnectCustomKeyStore', { CustomKeyStoreId });
    expect(await settled(CustomKeyStoreId)).toMatchObject({ ConnectionState: 'FAILED', ConnectionErrorCode: code });
    expect(await failure('ConnectCustomKeyStore', { CustomKeyStoreId })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
    await call('DisconnectCustomKeyStore', { CustomKeyStoreId });
    const disconnected = await describe1(CustomKeyStoreId);
    expect(disconnected.ConnectionState).toBe('DISCONNECTED');
    expect(disconnected.ConnectionErrorCode).toBeUndefined();
  });

  it('Disconnect of a DISCONNECTED store is CustomKeyStoreInvalidStateException', async () => {
    const { CustomKeyStoreId } = await call('CreateCustomKeyStore', cloudHsmStore());
    expect(await failure('DisconnectCustomKeyStore', { CustomKeyStoreId })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
  });

  it('a CONNECTING or DISCONNECTING left by a crash is settled by maintenance after the grace period', async () => {
    const { CustomKeyStoreId } = await call('CreateCustomKeyStore', cloudHsmStore());
    const record = (await store.customKeyStores.get({ accountId: ACCOUNT, region: REGION }, CustomKeyStoreId))!;
    await store.customKeyStores.replace({ ...record, connectionState: 'CONNECTING', stateChangedAt: clock.now() });
    expect(await reconcileConnections(deps)).toBe(0);
    clock.advance(INTERRUPTED_CONNECTION_MS + 1);
    await runMaintenance(deps, { atStartup: false });
    expect(await describe1(CustomKeyStoreId)).toMatchObject({ ConnectionState: 'FAILED', ConnectionErrorCode: 'INTERNAL_ERROR' });
  });

  it('another instance drops its connection once the store is disconnected, and reconnects with the new generation', async () => {
    const id = await connected(cloudHsmStore());
    const { KeyMetadata } = await call('CreateKey', { CustomKeyStoreId: id, Origin: 'AWS_CLOUDHSM' });
    // A second instance: same store and default token, its own registry.
    const other: CoreDeps = { ...deps, keyStores: new (deps.keyStores.constructor as typeof import('../../src/core/key-stores/registry').KeyStoreRegistry)(defaultToken) };
    const blob = (await call('Encrypt', { KeyId: KeyMetadata.KeyId, Plaintext: Buffer.from('x').toString('base64') })).CiphertextBlob;
    expect((await callOperation(other, root, 'Decrypt', { CiphertextBlob: blob })).Plaintext).toBe(Buffer.from('x').toString('base64'));
    expect(other.keyStores.get(id)).toBeDefined();
    await call('DisconnectCustomKeyStore', { CustomKeyStoreId: id });
    expect(await kmsFailure(callOperation(other, root, 'Decrypt', { CiphertextBlob: blob }))).toMatchObject({ code: 'KMSInvalidStateException', message: `${KeyMetadata.Arn} is unavailable.` });
    // Its connection is closed at its next maintenance run at the latest.
    await reconcileConnections(other);
    expect(other.keyStores.get(id)).toBeUndefined();
    // Reconnected (a new generation): the other instance opens a new connection on first use.
    await call('ConnectCustomKeyStore', { CustomKeyStoreId: id });
    await settled(id);
    const connectsBefore = clusters.connects;
    expect((await callOperation(other, root, 'Decrypt', { CiphertextBlob: blob })).Plaintext).toBe(Buffer.from('x').toString('base64'));
    expect(clusters.connects).toBe(connectsBefore + 1);
  });
});

describe('CreateCustomKeyStore validation', () => {
  it('an undeclared cluster is CloudHsmClusterNotFoundException; a cluster in use is CloudHsmClusterInUseException', async () => {
    expect(await failure('CreateCustomKeyStore', cloudHsmStore({ CloudHsmClusterId: 'cluster-zzzzzzzzzzz' }))).toMatchObject({ code: 'CloudHsmClusterNotFoundException' });
    await call('CreateCustomKeyStore', cloudHsmStore());
    expect(await failure('CreateCustomKeyStore', cloudHsmStore({ CustomKeyStoreName: 'tenant-b' }))).toMatchObject({ code: 'CloudHsmClusterInUseException' });
  });

  it('the same name with identical settings answers the same id; other settings are CustomKeyStoreNameInUseException', async () => {
    const { CustomKeyStoreId } = await call('CreateCustomKeyStore', cloudHsmStore());
    expect(await call('CreateCustomKeyStore', cloudHsmStore())).toEqual({ CustomKeyStoreId });
    expect(await failure('CreateCustomKeyStore', cloudHsmStore({ KeyStorePassword: 'another-pin' }))).toMatchObject({ code: 'CustomKeyStoreNameInUseException' });
    expect(await failure('CreateCustomKeyStore', externalStore({ CustomKeyStoreName: 'tenant-a' }))).toMatchObject({ code: 'CustomKeyStoreNameInUseException' });
  });

  it('at most 10 stores per account and region: LimitExceededException', async () => {
    for (let i = 0; i < 10; i++) await call('CreateCustomKeyStore', externalStore({ CustomKeyStoreName: `x${i}`, XksProxyUriPath: `/p${i}/kms/xks/v1` }));
    expect(await failure('CreateCustomKeyStore', externalStore({ CustomKeyStoreName: 'x10', XksProxyUriPath: '/p10/kms/xks/v1' }))).toMatchObject({ code: 'LimitExceededException' });
  });

  it.each([
    [{ KeyStorePassword: 'short' }, 'ValidationException'],
    [{ CloudHsmClusterId: undefined }, 'ValidationException'],
    [{ TrustAnchorCertificate: 'not a certificate' }, 'IncorrectTrustAnchorException'],
    [{ XksProxyUriPath: '/kms/xks/v1' }, 'ValidationException'],
  ])('CloudHSM %j is %s', async (overrides, code) => {
    expect(await failure('CreateCustomKeyStore', cloudHsmStore(overrides))).toMatchObject({ code });
  });

  it.each([
    [{ XksProxyUriEndpoint: 'http://xks.example.com' }, 'ValidationException'],
    [{ XksProxyUriEndpoint: 'https://xks.example.com/path' }, 'ValidationException'],
    [{ XksProxyUriPath: '/kms/xks/v2x' }, 'ValidationException'],
    [{ XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE', XksProxyVpcEndpointServiceName: 'com.amazonaws.vpce.us-east-1.vpce-svc-1' }, 'UnsupportedOperationException'],
    [{ XksProxyAuthenticationCredential: { AccessKeyId: 'lowercase-not-allowed', RawSecretAccessKey: SECRET } }, 'ValidationException'],
    [{ XksProxyAuthenticationCredential: { AccessKeyId: ACCESS_KEY_ID, RawSecretAccessKey: 'short' } }, 'ValidationException'],
    [{ KeyStorePassword: PIN }, 'ValidationException'],
  ])('XKS %j is %s', async (overrides, code) => {
    expect(await failure('CreateCustomKeyStore', externalStore(overrides))).toMatchObject({ code });
  });

  it('plain http is accepted for a loopback proxy only', async () => {
    await call('CreateCustomKeyStore', externalStore({ XksProxyUriEndpoint: 'http://127.0.0.1:9443' }));
    expect(proxy.opened.at(-1)).toMatchObject({ uriEndpoint: 'http://127.0.0.1:9443', uriPath: '/tenant/kms/xks/v1', accessKeyId: ACCESS_KEY_ID });
  });

  it('endpoint and path are unique per account and region: XksProxyUriInUseException', async () => {
    await call('CreateCustomKeyStore', externalStore());
    expect(await failure('CreateCustomKeyStore', externalStore({ CustomKeyStoreName: 'external-b' }))).toMatchObject({ code: 'XksProxyUriInUseException' });
  });

  it.each([
    ['AuthenticationFailedException', 'XksProxyIncorrectAuthenticationCredentialException'],
    ['XksProxyUnreachableException', 'XksProxyUriUnreachableException'],
    ['XksProxyTimedOut', 'XksProxyUriUnreachableException'],
    ['XksProxyInvalidResponse', 'XksProxyInvalidResponseException'],
    ['InvalidUriPathException', 'XksProxyInvalidConfigurationException'],
  ] as const)('a health check failing with %s is %s, and nothing is stored', async (fault, code) => {
    proxy.fault = fault;
    expect(await failure('CreateCustomKeyStore', externalStore())).toMatchObject({ code });
    expect((await call('DescribeCustomKeyStores', {})).CustomKeyStores).toEqual([]);
  });

  it('a proxy whose key managers are all UNAVAILABLE is XksProxyUriUnreachableException', async () => {
    proxy.healthStatuses = ['UNAVAILABLE', 'UNAVAILABLE'];
    expect(await failure('CreateCustomKeyStore', externalStore())).toMatchObject({ code: 'XksProxyUriUnreachableException' });
  });

  it('custom key store actions are IAM-only: a user without an identity policy is denied', async () => {
    expect(await failure('CreateCustomKeyStore', cloudHsmStore(), bob)).toMatchObject({ code: 'AccessDeniedException' });
    const allowed: RequestContext = { ...bob, principal: { ...bob.principal, policies: [JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*CustomKeyStore*', Resource: '*' }] })] } };
    const { CustomKeyStoreId } = await call('CreateCustomKeyStore', cloudHsmStore(), allowed);
    expect(await describe1(CustomKeyStoreId)).toBeDefined();
  });
});

describe('secrets are kept as AWS keeps them', () => {
  it('neither the PIN nor the XKS secret is in the stored record in clear, nor in any answer', async () => {
    const a = await call('CreateCustomKeyStore', cloudHsmStore());
    const b = await call('CreateCustomKeyStore', externalStore());
    const records = (await store.customKeyStores.list({ accountId: ACCOUNT, region: REGION }, { limit: 10 })).items;
    const stored = JSON.stringify(records);
    expect(stored).not.toContain(PIN);
    expect(stored).not.toContain(SECRET);
    expect(stored).not.toContain(Buffer.from(PIN).toString('base64'));
    const described = JSON.stringify(await call('DescribeCustomKeyStores', {}));
    expect(described).not.toContain(PIN);
    expect(described).not.toContain(SECRET);
    expect(described).toContain(ACCESS_KEY_ID);
    // Sealed under a key of each store's own, in the default token.
    expect(records.map((r) => defaultToken.keys.has(r.secretKeyObjectId))).toEqual([true, true]);
    expect(new Set(records.map((r) => r.secretKeyObjectId)).size).toBe(2);
    expect([a.CustomKeyStoreId, b.CustomKeyStoreId]).toEqual(expect.arrayContaining(records.map((r) => r.customKeyStoreId)));
  });
});

describe('DescribeCustomKeyStores', () => {
  it('by id, by name, or all, paginated; unknown id or name is CustomKeyStoreNotFoundException; not both', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await call('CreateCustomKeyStore', externalStore({ CustomKeyStoreName: `x${i}`, XksProxyUriPath: `/p${i}/kms/xks/v1` }))).CustomKeyStoreId);
    expect((await call('DescribeCustomKeyStores', { CustomKeyStoreName: 'x1' })).CustomKeyStores.map((c: Loose) => c.CustomKeyStoreId)).toEqual([ids[1]]);
    const first = await call('DescribeCustomKeyStores', { Limit: 2 });
    expect(first.Truncated).toBe(true);
    const second = await call('DescribeCustomKeyStores', { Limit: 2, Marker: first.NextMarker });
    expect(second.Truncated).toBe(false);
    expect([...first.CustomKeyStores, ...second.CustomKeyStores].map((c: Loose) => c.CustomKeyStoreId).sort()).toEqual([...ids].sort());
    expect(await failure('DescribeCustomKeyStores', { CustomKeyStoreId: 'cks-00000000000000000' })).toMatchObject({ code: 'CustomKeyStoreNotFoundException' });
    expect(await failure('DescribeCustomKeyStores', { CustomKeyStoreName: 'nope' })).toMatchObject({ code: 'CustomKeyStoreNotFoundException' });
    expect(await failure('DescribeCustomKeyStores', { CustomKeyStoreName: 'x1', CustomKeyStoreId: ids[1] })).toMatchObject({ code: 'ValidationException' });
    expect((await call('DescribeCustomKeyStores', { CustomKeyStoreId: ids[0] })).CustomKeyStores[0].XksProxyConfiguration).toEqual({
      Connectivity: 'PUBLIC_ENDPOINT', AccessKeyId: ACCESS_KEY_ID, UriEndpoint: 'https://xks.example.com:8443', UriPath: '/p0/kms/xks/v1',
    });
  });
});

describe('UpdateCustomKeyStore', () => {
  it('a CloudHSM key store is updated only while DISCONNECTED; a new PIN is used at the next connect', async () => {
    const id = await connected(cloudHsmStore());
    expect(await failure('UpdateCustomKeyStore', { CustomKeyStoreId: id, NewCustomKeyStoreName: 'renamed' })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
    await call('DisconnectCustomKeyStore', { CustomKeyStoreId: id });
    clusters.clusters.get(CLUSTER)!.pin = 'rotated-pin';
    await call('UpdateCustomKeyStore', { CustomKeyStoreId: id, NewCustomKeyStoreName: 'renamed', KeyStorePassword: 'rotated-pin' });
    await call('ConnectCustomKeyStore', { CustomKeyStoreId: id });
    expect(await settled(id)).toMatchObject({ ConnectionState: 'CONNECTED', CustomKeyStoreName: 'renamed' });
  });

  it('an external key store changes its credential and path while connected (checked first), its endpoint only while DISCONNECTED', async () => {
    const id = await connected(externalStore());
    expect(await failure('UpdateCustomKeyStore', { CustomKeyStoreId: id, XksProxyUriEndpoint: 'https://other.example.com' })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
    expect(await failure('UpdateCustomKeyStore', { CustomKeyStoreId: id, XksProxyAuthenticationCredential: { AccessKeyId: ACCESS_KEY_ID, RawSecretAccessKey: 'W'.repeat(43) } }))
      .toMatchObject({ code: 'XksProxyIncorrectAuthenticationCredentialException' });
    const before = (await store.customKeyStores.get({ accountId: ACCOUNT, region: REGION }, id))!.connectionGeneration;
    await call('UpdateCustomKeyStore', { CustomKeyStoreId: id, XksProxyUriPath: '/moved/kms/xks/v1', NewCustomKeyStoreName: 'moved' });
    const after = (await store.customKeyStores.get({ accountId: ACCOUNT, region: REGION }, id))!;
    expect(after.connectionGeneration).toBe(before + 1);
    expect(await describe1(id)).toMatchObject({ CustomKeyStoreName: 'moved', ConnectionState: 'CONNECTED', XksProxyConfiguration: { UriPath: '/moved/kms/xks/v1' } });
  });

  it('a rename onto another store\'s name is CustomKeyStoreNameInUseException', async () => {
    await call('CreateCustomKeyStore', cloudHsmStore());
    const { CustomKeyStoreId } = await call('CreateCustomKeyStore', externalStore());
    expect(await failure('UpdateCustomKeyStore', { CustomKeyStoreId, NewCustomKeyStoreName: 'tenant-a' })).toMatchObject({ code: 'CustomKeyStoreNameInUseException' });
  });
});

describe('keys in a CloudHSM key store', () => {
  it('CreateKey makes an AWS_CLOUDHSM key in the store\'s token; Encrypt and Decrypt use it; it is Unavailable while disconnected', async () => {
    const id = await connected(cloudHsmStore());
    const { KeyMetadata } = await call('CreateKey', { CustomKeyStoreId: id, Origin: 'AWS_CLOUDHSM' });
    expect(KeyMetadata).toMatchObject({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: id, CloudHsmClusterId: CLUSTER, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT' });
    const token = clusters.clusters.get(CLUSTER)!.token!;
    expect(token.keys.size).toBe(1);
    const plaintext = Buffer.from('tenant data').toString('base64');
    const { CiphertextBlob } = await call('Encrypt', { KeyId: KeyMetadata.KeyId, Plaintext: plaintext });
    expect((await call('Decrypt', { CiphertextBlob })).Plaintext).toBe(plaintext);

    await call('DisconnectCustomKeyStore', { CustomKeyStoreId: id });
    expect((await call('DescribeKey', { KeyId: KeyMetadata.KeyId })).KeyMetadata).toMatchObject({ KeyState: 'Unavailable', Enabled: false });
    expect(await failure('Decrypt', { CiphertextBlob })).toEqual({ code: 'KMSInvalidStateException', message: `${KeyMetadata.Arn} is unavailable.` });
    expect(await failure('CreateKey', { CustomKeyStoreId: id, Origin: 'AWS_CLOUDHSM' })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
    // Management still works, and takes effect on reconnection.
    await call('DisableKey', { KeyId: KeyMetadata.KeyId });
    await call('TagResource', { KeyId: KeyMetadata.KeyId, Tags: [{ TagKey: 'k', TagValue: 'v' }] });
    expect((await call('DescribeKey', { KeyId: KeyMetadata.KeyId })).KeyMetadata.KeyState).toBe('Unavailable');
    await call('ConnectCustomKeyStore', { CustomKeyStoreId: id });
    await settled(id);
    expect((await call('DescribeKey', { KeyId: KeyMetadata.KeyId })).KeyMetadata.KeyState).toBe('Disabled');
    await call('EnableKey', { KeyId: KeyMetadata.KeyId });
    expect((await call('Decrypt', { CiphertextBlob })).Plaintext).toBe(plaintext);
  });

  it.each([
    [{ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }, 'UnsupportedOperationException'],
    [{ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }, 'UnsupportedOperationException'],
    [{ MultiRegion: true }, 'UnsupportedOperationException'],
    [{ Origin: 'AWS_KMS' }, 'ValidationException'],
    [{ Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'k1' }, 'ValidationException'],
    [{ CustomKeyStoreId: 'cks-00000000000000000' }, 'CustomKeyStoreNotFoundException'],
  ])('CreateKey with %j is %s', async (overrides, code) => {
    const id = await connected(cloudHsmStore());
    expect(await failure('CreateKey', { CustomKeyStoreId: id, Origin: 'AWS_CLOUDHSM', ...overrides })).toMatchObject({ code });
  });

  it('rotation and import are refused for keys in a custom key store', async () => {
    const id = await connected(cloudHsmStore());
    const { KeyMetadata } = await call('CreateKey', { CustomKeyStoreId: id, Origin: 'AWS_CLOUDHSM' });
    expect(await failure('EnableKeyRotation', { KeyId: KeyMetadata.KeyId })).toMatchObject({ code: 'UnsupportedOperationException' });
    expect(await failure('RotateKeyOnDemand', { KeyId: KeyMetadata.KeyId })).toMatchObject({ code: 'UnsupportedOperationException' });
    expect(await failure('GetParametersForImport', { KeyId: KeyMetadata.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' })).toMatchObject({ code: 'UnsupportedOperationException' });
  });

  it('GenerateRandom draws from a connected CloudHSM key store; an external or disconnected one is refused', async () => {
    const id = await connected(cloudHsmStore());
    expect(Buffer.from((await call('GenerateRandom', { NumberOfBytes: 32, CustomKeyStoreId: id })).Plaintext, 'base64')).toHaveLength(32);
    const external = await connected(externalStore());
    expect(await failure('GenerateRandom', { NumberOfBytes: 32, CustomKeyStoreId: external })).toMatchObject({ code: 'UnsupportedOperationException' });
    await call('DisconnectCustomKeyStore', { CustomKeyStoreId: id });
    expect(await failure('GenerateRandom', { NumberOfBytes: 32, CustomKeyStoreId: id })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
  });

  it('a store is deleted only when DISCONNECTED and empty; the key\'s deletion destroys its backing key', async () => {
    const id = await connected(cloudHsmStore());
    const { KeyMetadata } = await call('CreateKey', { CustomKeyStoreId: id, Origin: 'AWS_CLOUDHSM' });
    expect(await failure('DeleteCustomKeyStore', { CustomKeyStoreId: id })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
    await call('DisconnectCustomKeyStore', { CustomKeyStoreId: id });
    expect(await failure('DeleteCustomKeyStore', { CustomKeyStoreId: id })).toMatchObject({ code: 'CustomKeyStoreHasCMKsException' });
    await call('ConnectCustomKeyStore', { CustomKeyStoreId: id });
    await settled(id);
    await call('ScheduleKeyDeletion', { KeyId: KeyMetadata.KeyId, PendingWindowInDays: 7 });
    clock.advance(8 * 86_400_000);
    const report = await runMaintenance(deps, { atStartup: false });
    expect(report.deleted).toEqual([KeyMetadata.KeyId]);
    expect(clusters.clusters.get(CLUSTER)!.token!.keys.size).toBe(0);
    await call('DisconnectCustomKeyStore', { CustomKeyStoreId: id });
    const secretKey = (await store.customKeyStores.get({ accountId: ACCOUNT, region: REGION }, id))!.secretKeyObjectId;
    expect(await call('DeleteCustomKeyStore', { CustomKeyStoreId: id })).toEqual({});
    expect(defaultToken.keys.has(secretKey)).toBe(false);
    expect(await failure('DescribeCustomKeyStores', { CustomKeyStoreId: id })).toMatchObject({ code: 'CustomKeyStoreNotFoundException' });
  });
});

describe('keys in an external key store', () => {
  it('double encryption: our token first, then the proxy, with requestMetadata; Decrypt reverses it', async () => {
    proxy.addKey('ext-1');
    const id = await connected(externalStore());
    const { KeyMetadata } = await call('CreateKey', { CustomKeyStoreId: id, Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'ext-1' });
    expect(KeyMetadata).toMatchObject({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: id, XksKeyConfiguration: { Id: 'ext-1' } });
    expect(KeyMetadata.CloudHsmClusterId).toBeUndefined();
    const plaintext = Buffer.from('secret data');
    const { CiphertextBlob } = await call('Encrypt', { KeyId: KeyMetadata.KeyId, Plaintext: plaintext.toString('base64'), EncryptionContext: { purpose: 'test' } });
    const blob = Buffer.from(CiphertextBlob, 'base64');
    expect(blob[1]).toBe(0x02);
    const encryptCall = proxy.calls.find((c) => c.api === 'Encrypt')!;
    expect(encryptCall.call).toEqual({ operation: 'Encrypt', requestId: 'req-1', principalArn: root.principal.arn, keyArn: KeyMetadata.Arn });
    // The proxy never saw the plaintext: what it encrypted is our own token's ciphertext.
    expect(blob.includes(plaintext)).toBe(false);
    expect((await call('Decrypt', { CiphertextBlob, EncryptionContext: { purpose: 'test' } })).Plaintext).toBe(plaintext.toString('base64'));
    expect(await failure('Decrypt', { CiphertextBlob, EncryptionContext: { purpose: 'other' } })).toMatchObject({ code: 'KMSInvalidStateException', message: cryptographicMessages.InvalidCiphertextException });
    // Data keys and ReEncrypt go through the same path.
    const dataKey = await call('GenerateDataKey', { KeyId: KeyMetadata.KeyId, KeySpec: 'AES_256' });
    expect((await call('Decrypt', { CiphertextBlob: dataKey.CiphertextBlob })).Plaintext).toBe(dataKey.Plaintext);
    const other = (await call('CreateKey', {})).KeyMetadata.KeyId;
    const moved = await call('ReEncrypt', { CiphertextBlob, SourceEncryptionContext: { purpose: 'test' }, DestinationKeyId: other });
    expect((await call('Decrypt', { CiphertextBlob: moved.CiphertextBlob })).Plaintext).toBe(plaintext.toString('base64'));
    // Without the proxy's key, our own layer alone cannot open it.
    proxy.keys.delete('ext-1');
    expect(await failure('Decrypt', { CiphertextBlob, EncryptionContext: { purpose: 'test' } })).toEqual({ code: 'KMSInvalidStateException', message: cryptographicMessages.KeyNotFoundException });
  });

  it('a proxy that answers Decrypt with something else is KMSInvalidStateException: the proxy\'s fault, not the caller\'s', async () => {
    proxy.addKey('ext-1');
    const id = await connected(externalStore());
    const { KeyMetadata } = await call('CreateKey', { CustomKeyStoreId: id, Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'ext-1' });
    const { CiphertextBlob } = await call('Encrypt', { KeyId: KeyMetadata.KeyId, Plaintext: 'AAAA' });
    proxy.lies = true;
    expect(await failure('Decrypt', { CiphertextBlob })).toMatchObject({ code: 'KMSInvalidStateException', message: expect.stringContaining('submitted for decryption is corrupted') });
  });

  it.each(xksProxyFailureKinds.map((kind) => [kind]))('a proxy failing Encrypt with %s is KMSInvalidStateException with its own message', async (kind) => {
    proxy.addKey('ext-1');
    const id = await connected(externalStore());
    const { KeyMetadata } = await call('CreateKey', { CustomKeyStoreId: id, Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'ext-1' });
    proxy.fault = kind;
    expect(await failure('Encrypt', { KeyId: KeyMetadata.KeyId, Plaintext: 'AAAA' })).toEqual({ code: 'KMSInvalidStateException', message: cryptographicMessages[kind] });
  });

  it.each([
    ['an unknown external key', () => undefined, 'XksKeyNotFoundException'],
    ['a disabled external key', () => proxy.addKey('ext-1', { status: 'DISABLED' }), 'XksKeyInvalidConfigurationException'],
    ['an AES_128 external key', () => proxy.addKey('ext-1', { spec: 'AES_128' }), 'XksKeyInvalidConfigurationException'],
    ['an encrypt-only external key', () => proxy.addKey('ext-1', { usage: ['ENCRYPT'] }), 'XksKeyInvalidConfigurationException'],
  ])('CreateKey with %s is %s', async (_what, setUp, code) => {
    setUp();
    const id = await connected(externalStore());
    expect(await failure('CreateKey', { CustomKeyStoreId: id, Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'ext-1' })).toMatchObject({ code });
    expect((await callOperation(deps, root, 'ListKeys', {})).Keys).toEqual([]);
  });

  it('an external key backs one KMS key: XksKeyAlreadyInUseException', async () => {
    proxy.addKey('ext-1');
    const id = await connected(externalStore());
    await call('CreateKey', { CustomKeyStoreId: id, Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'ext-1' });
    expect(await failure('CreateKey', { CustomKeyStoreId: id, Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'ext-1' })).toMatchObject({ code: 'XksKeyAlreadyInUseException' });
    expect((await callOperation(deps, root, 'ListKeys', {})).Keys).toHaveLength(1);
  });

  it.each([
    ['AuthenticationFailedException', 'INVALID_CREDENTIALS'],
    ['XksProxyUnreachableException', 'XKS_PROXY_NOT_REACHABLE'],
    ['XksProxyTimedOut', 'XKS_PROXY_TIMED_OUT'],
    ['XksProxyInvalidResponse', 'XKS_PROXY_INVALID_RESPONSE'],
    ['XksProxyInvalidTlsConfiguration', 'XKS_PROXY_INVALID_TLS_CONFIGURATION'],
    ['AccessDeniedException', 'XKS_PROXY_ACCESS_DENIED'],
    ['InvalidUriPathException', 'XKS_PROXY_INVALID_CONFIGURATION'],
  ] as const)('Connect failing with %s leaves the store FAILED with %s', async (fault, code) => {
    const { CustomKeyStoreId } = await call('CreateCustomKeyStore', externalStore());
    proxy.fault = fault;
    await call('ConnectCustomKeyStore', { CustomKeyStoreId });
    expect(await settled(CustomKeyStoreId)).toMatchObject({ ConnectionState: 'FAILED', ConnectionErrorCode: code });
  });
});

describe('the failure tables', () => {
  const outcomes = [...xksProxyFailureKinds, ALL_KEY_MANAGERS_UNAVAILABLE];
  it('name an AWS exception for every outcome in every context, and only codes AWS defines', () => {
    for (const outcome of outcomes) {
      expect(keyStoreManagementErrors[outcome].code).toMatch(/^Xks/);
      expect(allConnectionErrorCodes).toContain(connectionErrorCodes[outcome]);
    }
    for (const kind of xksProxyFailureKinds) {
      expect(['XksKeyNotFoundException', 'XksKeyInvalidConfigurationException', 'XksProxyInvalidResponseException', 'CustomKeyStoreInvalidStateException']).toContain(createKeyErrors[kind]);
      expect(cryptographicMessages[kind].length).toBeGreaterThan(20);
    }
  });

  it('follow KMS-SPEC §6.4 for the named rows', () => {
    expect(keyStoreManagementErrors.AuthenticationFailedException.code).toBe('XksProxyIncorrectAuthenticationCredentialException');
    expect(keyStoreManagementErrors.DependencyTimeoutException.code).toBe('XksProxyUriUnreachableException');
    expect(keyStoreManagementErrors.InternalException.code).toBe('XksProxyInvalidResponseException');
    expect(keyStoreManagementErrors.InvalidUriPathException.code).toBe('XksProxyInvalidConfigurationException');
    expect(keyStoreManagementErrors.ThrottlingException.code).toBe('XksProxyUriUnreachableException');
    expect(keyStoreManagementErrors.ValidationException.code).toBe('XksProxyInvalidResponseException');
    expect(connectionErrorCodes.AuthenticationFailedException).toBe('INVALID_CREDENTIALS');
    expect(createKeyErrors.KeyNotFoundException).toBe('XksKeyNotFoundException');
    expect(createKeyErrors.InvalidKeyUsageException).toBe('XksKeyInvalidConfigurationException');
    expect(createKeyErrors.InvalidStateException).toBe('XksKeyInvalidConfigurationException');
    expect(createKeyErrors.AuthenticationFailedException).toBe('CustomKeyStoreInvalidStateException');
    // Every message is distinct, so a caller can tell the causes apart.
    expect(new Set(Object.values(cryptographicMessages)).size).toBe(xksProxyFailureKinds.length);
  });
});

describe('preconditions', () => {
  const scope = { accountId: ACCOUNT, region: REGION };
  const otherAccount: RequestContext = { ...root, principal: { arn: 'arn:aws:iam::444455556666:root', accountId: '444455556666', policies: [] } };

  async function externalKeyCiphertext(): Promise<{ id: string; keyId: string; blob: Buffer }> {
    proxy.addKey('ext-1');
    const id = await connected(externalStore());
    const keyId = (await call('CreateKey', { CustomKeyStoreId: id, Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'ext-1' })).KeyMetadata.KeyId as string;
    return { id, keyId, blob: Buffer.from((await call('Encrypt', { KeyId: keyId, Plaintext: 'AAAA' })).CiphertextBlob, 'base64') };
  }

  it('the ciphertext\'s scheme is the one its key version makes.', async () => {
    const { blob } = await externalKeyCiphertext();
    const relabelled = Buffer.from(blob);
    relabelled[1] = 0x01;
    const decrypts = proxy.calls.filter((c) => c.api === 'Decrypt').length;
    expect(await failure('Decrypt', { CiphertextBlob: relabelled.toString('base64') })).toMatchObject({ code: 'InvalidCiphertextException' });
    // Refused before any key store was asked.
    expect(proxy.calls.filter((c) => c.api === 'Decrypt')).toHaveLength(decrypts);
  });

  it('a key in a custom key store that is not connected is not used.', async () => {
    const id = await connected(cloudHsmStore());
    const { KeyMetadata } = await call('CreateKey', { CustomKeyStoreId: id, Origin: 'AWS_CLOUDHSM' });
    await call('DisconnectCustomKeyStore', { CustomKeyStoreId: id });
    const key = (await store.keys.get(scope, KeyMetadata.KeyId))!;
    await expect(keyStoreHolding(deps, key, id, KeyMetadata.Arn)).rejects.toMatchObject({ code: 'KMSInvalidStateException', message: `${KeyMetadata.Arn} is unavailable.` });
  });

  it('a custom key store id names a store of the caller\'s account and region, or CustomKeyStoreNotFoundException.', async () => {
    const { CustomKeyStoreId } = await call('CreateCustomKeyStore', cloudHsmStore());
    expect(await failure('DescribeCustomKeyStores', { CustomKeyStoreId }, otherAccount)).toMatchObject({ code: 'CustomKeyStoreNotFoundException' });
    expect(await failure('ConnectCustomKeyStore', { CustomKeyStoreId }, { ...root, region: 'eu-west-1' })).toMatchObject({ code: 'CustomKeyStoreNotFoundException' });
    expect(await failure('DeleteCustomKeyStore', { CustomKeyStoreId }, otherAccount)).toMatchObject({ code: 'CustomKeyStoreNotFoundException' });
  });

  it('a key in a custom key store is a single-Region SYMMETRIC_DEFAULT encryption key whose Origin names the store\'s type.', async () => {
    const id = await connected(cloudHsmStore());
    expect(await failure('CreateKey', { CustomKeyStoreId: id, Origin: 'AWS_CLOUDHSM', KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })).toMatchObject({ code: 'UnsupportedOperationException' });
    expect(await failure('CreateKey', { CustomKeyStoreId: id, Origin: 'AWS_CLOUDHSM', MultiRegion: true })).toMatchObject({ code: 'UnsupportedOperationException' });
    expect(await failure('CreateKey', { CustomKeyStoreId: id })).toMatchObject({ code: 'ValidationException' });
    expect(await failure('CreateKey', { Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'ext-1' })).toMatchObject({ code: 'ValidationException' });
  });

  it('the key\'s Origin matches the custom key store\'s type.', async () => {
    proxy.addKey('ext-1');
    const cloudHsm = await connected(cloudHsmStore());
    const external = await connected(externalStore());
    expect(await failure('CreateKey', { CustomKeyStoreId: cloudHsm, Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'ext-1' })).toMatchObject({ code: 'ValidationException' });
    expect(await failure('CreateKey', { CustomKeyStoreId: external, Origin: 'AWS_CLOUDHSM' })).toMatchObject({ code: 'ValidationException' });
  });

  it('keys are created only in a CONNECTED custom key store.', async () => {
    const { CustomKeyStoreId } = await call('CreateCustomKeyStore', cloudHsmStore());
    expect(await failure('CreateKey', { CustomKeyStoreId, Origin: 'AWS_CLOUDHSM' })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
    expect(clusters.connects).toBe(0);
  });

  it('an external key is used for a new KMS key only if the proxy reports it AES_256, ENABLED and able to encrypt and decrypt.', async () => {
    proxy.addKey('decrypt-only', { usage: ['DECRYPT'] });
    proxy.addKey('aes-128', { spec: 'AES_128' });
    proxy.addKey('disabled', { status: 'DISABLED' });
    const id = await connected(externalStore());
    for (const XksKeyId of ['decrypt-only', 'aes-128', 'disabled']) {
      expect(await failure('CreateKey', { CustomKeyStoreId: id, Origin: 'EXTERNAL_KEY_STORE', XksKeyId })).toMatchObject({ code: 'XksKeyInvalidConfigurationException' });
    }
  });

  it('an external key backs at most one KMS key in its custom key store.', async () => {
    const { id } = await externalKeyCiphertext();
    expect(await failure('CreateKey', { CustomKeyStoreId: id, Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'ext-1' })).toMatchObject({ code: 'XksKeyAlreadyInUseException' });
  });

  it('an XKS proxy endpoint is https (a port may be given), or http to a loopback host only.', async () => {
    expect(await failure('CreateCustomKeyStore', externalStore({ XksProxyUriEndpoint: 'http://xks.example.com:80' }))).toMatchObject({ code: 'ValidationException' });
    expect(await failure('CreateCustomKeyStore', externalStore({ XksProxyUriEndpoint: 'ftp://xks.example.com' }))).toMatchObject({ code: 'ValidationException' });
    await call('CreateCustomKeyStore', externalStore({ CustomKeyStoreName: 'a', XksProxyUriEndpoint: 'https://xks.example.com:9443' }));
    await call('CreateCustomKeyStore', externalStore({ CustomKeyStoreName: 'b', XksProxyUriEndpoint: 'http://localhost:9443' }));
  });

  it('VPC endpoint service connectivity has no meaning on-premises and is refused.', async () => {
    expect(await failure('CreateCustomKeyStore', externalStore({ XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE' }))).toMatchObject({ code: 'UnsupportedOperationException' });
    const { CustomKeyStoreId } = await call('CreateCustomKeyStore', externalStore());
    expect(await failure('UpdateCustomKeyStore', { CustomKeyStoreId, XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE' })).toMatchObject({ code: 'UnsupportedOperationException' });
  });

  it('the trust anchor certificate is a PEM X.509 certificate.', async () => {
    expect(await failure('CreateCustomKeyStore', cloudHsmStore({ TrustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }))).toMatchObject({ code: 'IncorrectTrustAnchorException' });
  });

  it('a FAILED or DISCONNECTING store must be disconnected before it connects again.', async () => {
    const { CustomKeyStoreId } = await call('CreateCustomKeyStore', cloudHsmStore());
    const record = (await store.customKeyStores.get(scope, CustomKeyStoreId))!;
    await store.customKeyStores.replace({ ...record, connectionState: 'DISCONNECTING' });
    expect(await failure('ConnectCustomKeyStore', { CustomKeyStoreId })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
    const disconnecting = (await store.customKeyStores.get(scope, CustomKeyStoreId))!;
    await store.customKeyStores.replace({ ...disconnecting, connectionState: 'FAILED', connectionErrorCode: 'NETWORK_ERRORS' });
    expect(await failure('ConnectCustomKeyStore', { CustomKeyStoreId })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
    expect(clusters.connects).toBe(0);
  });

  it('an AWS_CLOUDHSM store takes the cluster, its trust anchor and the kmsuser password, and no XKS settings.', async () => {
    for (const missing of ['CloudHsmClusterId', 'TrustAnchorCertificate', 'KeyStorePassword']) {
      expect(await failure('CreateCustomKeyStore', cloudHsmStore({ [missing]: undefined }))).toMatchObject({ code: 'ValidationException' });
    }
    expect(await failure('CreateCustomKeyStore', cloudHsmStore({ XksProxyUriPath: '/kms/xks/v1' }))).toMatchObject({ code: 'ValidationException' });
  });

  it('an EXTERNAL_KEY_STORE store takes the proxy\'s endpoint, path, connectivity and credential, and no CloudHSM settings.', async () => {
    for (const missing of ['XksProxyConnectivity', 'XksProxyUriEndpoint', 'XksProxyUriPath', 'XksProxyAuthenticationCredential']) {
      expect(await failure('CreateCustomKeyStore', externalStore({ [missing]: undefined }))).toMatchObject({ code: 'ValidationException' });
    }
    expect(await failure('CreateCustomKeyStore', externalStore({ CloudHsmClusterId: CLUSTER }))).toMatchObject({ code: 'ValidationException' });
  });

  it('a custom key store is deleted only while DISCONNECTED.', async () => {
    const id = await connected(cloudHsmStore());
    expect(await failure('DeleteCustomKeyStore', { CustomKeyStoreId: id })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
    expect(await describe1(id)).toMatchObject({ ConnectionState: 'CONNECTED' });
  });

  it('a custom key store that holds KMS keys (even pending deletion) is not deleted.', async () => {
    const id = await connected(cloudHsmStore());
    const { KeyMetadata } = await call('CreateKey', { CustomKeyStoreId: id, Origin: 'AWS_CLOUDHSM' });
    await call('ScheduleKeyDeletion', { KeyId: KeyMetadata.KeyId, PendingWindowInDays: 7 });
    await call('DisconnectCustomKeyStore', { CustomKeyStoreId: id });
    expect(await failure('DeleteCustomKeyStore', { CustomKeyStoreId: id })).toMatchObject({ code: 'CustomKeyStoreHasCMKsException' });
  });

  it('a store is named by its id or by its name, not both.', async () => {
    const { CustomKeyStoreId } = await call('CreateCustomKeyStore', cloudHsmStore());
    expect(await failure('DescribeCustomKeyStores', { CustomKeyStoreId, CustomKeyStoreName: 'tenant-a' })).toMatchObject({ code: 'ValidationException' });
  });

  it('only a store that is not DISCONNECTED or DISCONNECTING can be disconnected.', async () => {
    const { CustomKeyStoreId } = await call('CreateCustomKeyStore', cloudHsmStore());
    expect(await failure('DisconnectCustomKeyStore', { CustomKeyStoreId })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
    const record = (await store.customKeyStores.get(scope, CustomKeyStoreId))!;
    await store.customKeyStores.replace({ ...record, connectionState: 'DISCONNECTING' });
    expect(await failure('DisconnectCustomKeyStore', { CustomKeyStoreId })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
  });

  it('GenerateRandom draws only from a CloudHSM key store, never from an external key store.', async () => {
    const id = await connected(externalStore());
    expect(await failure('GenerateRandom', { NumberOfBytes: 8, CustomKeyStoreId: id })).toMatchObject({ code: 'UnsupportedOperationException' });
    // And the external key store itself has no random source to offer.
    await expect(new ExternalKeyStore(id, proxy.open({ uriEndpoint: 'https://x.example.com', uriPath: '/kms/xks/v1', accessKeyId: ACCESS_KEY_ID, rawSecretAccessKey: SECRET })).randomBytes())
      .rejects.toMatchObject({ code: 'UnsupportedOperationException' });
  });

  it('random bytes come from a custom key store only while it is CONNECTED.', async () => {
    const { CustomKeyStoreId } = await call('CreateCustomKeyStore', cloudHsmStore());
    expect(await failure('GenerateRandom', { NumberOfBytes: 8, CustomKeyStoreId })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
    expect(clusters.connects).toBe(0);
  });

  it('XKS settings apply only to external key stores.', async () => {
    const { CustomKeyStoreId } = await call('CreateCustomKeyStore', cloudHsmStore());
    expect(await failure('UpdateCustomKeyStore', { CustomKeyStoreId, XksProxyUriPath: '/x/kms/xks/v1' })).toMatchObject({ code: 'ValidationException' });
    const external = (await call('CreateCustomKeyStore', externalStore())).CustomKeyStoreId;
    expect(await failure('UpdateCustomKeyStore', { CustomKeyStoreId: external, KeyStorePassword: 'another-pin' })).toMatchObject({ code: 'ValidationException' });
  });

  it('a CloudHSM key store is updated only while DISCONNECTED.', async () => {
    const id = await connected(cloudHsmStore());
    expect(await failure('UpdateCustomKeyStore', { CustomKeyStoreId: id, KeyStorePassword: 'another-pin' })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
    expect(await failure('UpdateCustomKeyStore', { CustomKeyStoreId: id, CloudHsmClusterId: OTHER_CLUSTER })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
  });

  it('the endpoint and connectivity of an external key store change only while DISCONNECTED.', async () => {
    const id = await connected(externalStore());
    expect(await failure('UpdateCustomKeyStore', { CustomKeyStoreId: id, XksProxyUriEndpoint: 'https://moved.example.com' })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
    await call('DisconnectCustomKeyStore', { CustomKeyStoreId: id });
    await call('UpdateCustomKeyStore', { CustomKeyStoreId: id, XksProxyUriEndpoint: 'https://moved.example.com' });
    expect((await describe1(id)).XksProxyConfiguration.UriEndpoint).toBe('https://moved.example.com');
  });

  it('the connection state the checks above relied on has not changed meanwhile.', async () => {
    const { CustomKeyStoreId } = await call('CreateCustomKeyStore', cloudHsmStore());
    // Another instance connects the store between this update's checks and its write.
    const repository = store.customKeyStores;
    let raced = false;
    deps.store = withRepositories(store, {
      customKeyStores: Object.assign(Object.create(repository) as typeof repository, {
        replace: async (record: Parameters<typeof repository.replace>[0]) => {
          if (!raced) {
            raced = true;
            const current = (await repository.get(scope, CustomKeyStoreId))!;
            await repository.replace({ ...current, connectionState: 'CONNECTING' });
          }
          return repository.replace(record);
        },
      }),
    });
    expect(await failure('UpdateCustomKeyStore', { CustomKeyStoreId, KeyStorePassword: 'another-pin' })).toMatchObject({ code: 'CustomKeyStoreInvalidStateException' });
    expect(raced).toBe(true);
  });
});
