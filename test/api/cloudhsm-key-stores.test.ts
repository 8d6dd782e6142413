// CloudHSM key stores on real SoftHSM tokens, through an unmodified AWS SDK: two further tokens
// declared as clusters (one first given a wrong PIN), keys made and used in them, custody
// checked with a raw PKCS#11 session, and no secret in the database file or the log.
import {
  ConnectCustomKeyStoreCommand, CreateCustomKeyStoreCommand, CreateKeyCommand, DecryptCommand, DeleteCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand, DescribeKeyCommand, DisconnectCustomKeyStoreCommand, EncryptCommand, GenerateDataKeyCommand,
  GenerateRandomCommand, KMSClient, ScheduleKeyDeletionCommand, UpdateCustomKeyStoreCommand,
} from '@aws-sdk/client-kms';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as pkcs11js from 'pkcs11js';
import { SOFTHSM_MODULE } from '../../src/config';
import { runMaintenance } from '../../src/core/jobs/maintenance';
import { Pkcs11TokenClusters } from '../../src/pkcs11/clusters';
import { XksHttpConnector } from '../../src/xks-client';
import { FakeClock } from '../support/clock';
import { trustAnchorPem } from '../support/fake-connectors';
import { startFaultXksProxy, type FaultProxy } from '../support/fault-xks-proxy';
import { rejection, settled } from '../support/custom-key-store-client';
import { ROOT, sdkClient, startTestService, type TestService } from '../support/service';
import { createTestToken, inspectObjectsById, type TestToken } from '../support/softhsm';

const CLUSTER_A = 'cluster-aaaaaaaaaaa';
const CLUSTER_B = 'cluster-bbbbbbbbbbb';
const XKS_SECRET = 'XksSecretThatMustNeverBeStoredInClear0123456=';

let tokenA: TestToken;
let tokenB: TestToken;
let svc: TestService;
let kms: KMSClient;
let clock: FakeClock;
let proxy: FaultProxy;

beforeAll(async () => {
  tokenA = createTestToken('cluster A');
  tokenB = createTestToken('cluster B');
  clock = new FakeClock(new Date());
  proxy = await startFaultXksProxy({ credential: { accessKeyId: 'CLOUDHSMTESTXKSKEYID', secretAccessKey: XKS_SECRET } });
  svc = await startTestService({
    listen: true, clock,
    connectors: {
      tokenClusters: new Pkcs11TokenClusters([
        { id: CLUSTER_A, module: SOFTHSM_MODULE, tokenLabel: tokenA.label },
        { id: CLUSTER_B, module: SOFTHSM_MODULE, tokenLabel: tokenB.label },
      ]),
      xksProxies: new XksHttpConnector({ region: 'us-east-1' }),
    },
  });
  kms = sdkClient(svc, ROOT);
});
afterAll(async () => {
  kms?.destroy();
  await svc?.close();
  await proxy?.close();
});



/** A raw session on `token` through the module instance the service uses, as an operator with the PIN would open one. */
function withRawSession<T>(token: TestToken, fn: (lib: pkcs11js.PKCS11, session: pkcs11js.Handle) => T): T {
  const lib = svc.defaultStore.connection.lib;
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === token.label)!;
  const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  try {
    return fn(lib, session);
  } finally {
    lib.C_CloseSession(session);
  }
}

function objectsLabelled(token: TestToken, label: string): pkcs11js.Handle[] {
  return withRawSession(token, (lib, session) => {
    lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: label }]);
    const found = lib.C_FindObjects(session, 10);
    lib.C_FindObjectsFinal(session);
    return found;
  });
}

let storeA: string;
let keyA: { KeyId: string; Arn: string; CurrentKeyMaterialId: string };

it('a key store on a second token: CreateCustomKeyStore to Decrypt, with the key sensitive, non-extractable and labelled with its ARN', async () => {
  storeA = (await kms.send(new CreateCustomKeyStoreCommand({
    CustomKeyStoreName: 'tenant-a', CloudHsmClusterId: CLUSTER_A, TrustAnchorCertificate: trustAnchorPem(), KeyStorePassword: tokenA.pin,
  }))).CustomKeyStoreId!;
  await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeA }));
  expect(await settled(kms, storeA)).toMatchObject({ ConnectionState: 'CONNECTED', CloudHsmClusterId: CLUSTER_A, TrustAnchorCertificate: trustAnchorPem() });

  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ CustomKeyStoreId: storeA, Origin: 'AWS_CLOUDHSM', Description: 'in tenant A' }));
  expect(KeyMetadata).toMatchObject({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: storeA, CloudHsmClusterId: CLUSTER_A, KeyState: 'Enabled' });
  keyA = KeyMetadata as typeof keyA;

  // Custody: the object is in tenant A's token, not in the default token, sensitive and never extractable.
  const lib = svc.defaultStore.connection.lib;
  expect(inspectObjectsById(lib, tokenA, keyA.CurrentKeyMaterialId)).toEqual([expect.objectContaining({ sensitive: true, extractable: false, token: true, valueReadError: expect.stringContaining('CKR_ATTRIBUTE_SENSITIVE') })]);
  expect(inspectObjectsById(lib, svc.token, keyA.CurrentKeyMaterialId)).toEqual([]);
  expect(objectsLabelled(tokenA, keyA.Arn)).toHaveLength(1);

  const plaintext = Buffer.from('tenant A data');
  const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyA.KeyId, Plaintext: plaintext }));
  expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob }))).Plaintext!)).toEqual(plaintext);
  const dataKey = await kms.send(new GenerateDataKeyCommand({ KeyId: keyA.Arn, NumberOfBytes: 32 }));
  expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob }))).Plaintext!)).toEqual(Buffer.from(dataKey.Plaintext!));
  expect((await kms.send(new GenerateRandomCommand({ NumberOfBytes: 64, CustomKeyStoreId: storeA }))).Plaintext).toHaveLength(64);

  // Disconnected: Unavailable, and refused as AWS refuses; reconnected: usable again.
  await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeA }));
  expect((await kms.send(new DescribeKeyCommand({ KeyId: keyA.KeyId }))).KeyMetadata!.KeyState).toBe('Unavailable');
  expect(await rejection(kms.send(new DecryptCommand({ CiphertextBlob })))).toEqual({ name: 'KMSInvalidStateException', message: `${keyA.Arn} is unavailable.` });
  expect(await rejection(kms.send(new GenerateRandomCommand({ NumberOfBytes: 8, CustomKeyStoreId: storeA })))).toMatchObject({ name: 'CustomKeyStoreInvalidStateException' });
  expect(await rejection(kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: storeA })))).toMatchObject({ name: 'CustomKeyStoreHasCMKsException' });
  await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeA }));
  expect(await settled(kms, storeA)).toMatchObject({ ConnectionState: 'CONNECTED' });
  expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob }))).Plaintext!)).toEqual(plaintext);
});

it('everything AWS refuses for CloudHSM key store keys is refused with AWS\'s errors', async () => {
  for (const body of [{ KeySpec: 'RSA_2048' as const, KeyUsage: 'SIGN_VERIFY' as const }, { KeySpec: 'HMAC_256' as const, KeyUsage: 'GENERATE_VERIFY_MAC' as const }, { MultiRegion: true }]) {
    expect(await rejection(kms.send(new CreateKeyCommand({ CustomKeyStoreId: storeA, Origin: 'AWS_CLOUDHSM', ...body })))).toMatchObject({ name: 'UnsupportedOperationException' });
  }
  expect(await rejection(kms.send(new CreateCustomKeyStoreCommand({
    CustomKeyStoreName: 'tenant-a-again', CloudHsmClusterId: CLUSTER_A, TrustAnchorCertificate: trustAnchorPem(), KeyStorePassword: tokenA.pin,
  })))).toMatchObject({ name: 'CloudHsmClusterInUseException' });
  expect(await rejection(kms.send(new CreateCustomKeyStoreCommand({
    CustomKeyStoreName: 'undeclared', CloudHsmClusterId: 'cluster-zzzzzzzzzzz', TrustAnchorCertificate: trustAnchorPem(), KeyStorePassword: tokenA.pin,
  })))).toMatchObject({ name: 'CloudHsmClusterNotFoundException' });
});

it('a wrong PIN leaves the store FAILED with INVALID_CREDENTIALS; with the right PIN it connects', async () => {
  const storeB = (await kms.send(new CreateCustomKeyStoreCommand({
    CustomKeyStoreName: 'tenant-b', CloudHsmClusterId: CLUSTER_B, TrustAnchorCertificate: trustAnchorPem(), KeyStorePassword: 'wrong-pin-123',
  }))).CustomKeyStoreId!;
  await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeB }));
  expect(await settled(kms, storeB)).toMatchObject({ ConnectionState: 'FAILED', ConnectionErrorCode: 'INVALID_CREDENTIALS' });
  expect(await rejection(kms.send(new CreateKeyCommand({ CustomKeyStoreId: storeB, Origin: 'AWS_CLOUDHSM' })))).toMatchObject({ name: 'CustomKeyStoreInvalidStateException' });
  await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeB }));
  await kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: storeB, KeyStorePassword: tokenB.pin }));
  await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeB }));
  expect(await settled(kms, storeB)).toMatchObject({ ConnectionState: 'CONNECTED' });
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ CustomKeyStoreId: storeB, Origin: 'AWS_CLOUDHSM' }));
  expect(inspectObjectsById(svc.defaultStore.connection.lib, tokenB, KeyMetadata!.CurrentKeyMaterialId!)).toHaveLength(1);
  expect(inspectObjectsById(svc.defaultStore.connection.lib, tokenA, KeyMetadata!.CurrentKeyMaterialId!)).toEqual([]);
  await kms.send(new ScheduleKeyDeletionCommand({ KeyId: KeyMetadata!.KeyId, PendingWindowInDays: 7 }));
  clock.advanceDays(8);
  expect((await runMaintenance(svc.deps, { atStartup: false })).deleted).toContain(KeyMetadata!.KeyId);
  // Scheduled deletion destroyed the backing key in that store's token.
  expect(inspectObjectsById(svc.defaultStore.connection.lib, tokenB, KeyMetadata!.CurrentKeyMaterialId!)).toEqual([]);
  await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeB }));
  await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: storeB }));
  expect(await rejection(kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: storeB })))).toMatchObject({ name: 'CustomKeyStoreNotFoundException' });
});

it('a backing key someone deleted from the token answers KMSInvalidStateException, not a 500', async () => {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ CustomKeyStoreId: storeA, Origin: 'AWS_CLOUDHSM' }));
  const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('x') }));
  withRawSession(tokenA, (lib, session) => {
    for (const handle of objectsLabelled(tokenA, KeyMetadata!.Arn!)) lib.C_DestroyObject(session, handle);
  });
  const failure = await rejection(kms.send(new DecryptCommand({ CiphertextBlob })));
  expect(failure.name).toBe('KMSInvalidStateException');
  expect(failure.message).toMatch(/missing/);
  // The store and its other keys keep working.
  const { CiphertextBlob: other } = await kms.send(new EncryptCommand({ KeyId: keyA.KeyId, Plaintext: Buffer.from('y') }));
  expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: other }))).Plaintext!)).toEqual(Buffer.from('y'));
});

it('neither a token PIN nor an XKS secret is in the database files or the log', async () => {
  proxy.addKey('k1');
  await kms.send(new CreateCustomKeyStoreCommand({
    CustomKeyStoreName: 'external', CustomKeyStoreType: 'EXTERNAL_KEY_STORE', XksProxyConnectivity: 'PUBLIC_ENDPOINT',
    XksProxyUriEndpoint: proxy.url, XksProxyUriPath: '/ext/kms/xks/v1', XksProxyAuthenticationCredential: { AccessKeyId: 'CLOUDHSMTESTXKSKEYID', RawSecretAccessKey: XKS_SECRET },
  }));
  const files = readdirSync(svc.dir).filter((f) => f.startsWith('metadata.sqlite') || f.endsWith('.log'));
  expect(files).toEqual(expect.arrayContaining(['metadata.sqlite', 'service.log']));
  for (const file of files) {
    const bytes = readFileSync(path.join(svc.dir, file));
    for (const secret of [tokenA.pin, tokenB.pin, 'wrong-pin-123', XKS_SECRET]) {
      expect({ file, found: bytes.includes(Buffer.from(secret)) || bytes.includes(Buffer.from(Buffer.from(secret).toString('base64'))) }).toEqual({ file, found: false });
    }
  }
});
