// External key stores end to end, through an unmodified AWS SDK: our own XKS proxy on loopback
// as the external key manager (its own token), and a fault-injecting proxy for the exact
// exception every proxy failure produces.
import {
  ConnectCustomKeyStoreCommand, CreateCustomKeyStoreCommand, CreateKeyCommand, DecryptCommand, DeleteCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand, DescribeKeyCommand, DisconnectCustomKeyStoreCommand, EncryptCommand, GenerateDataKeyCommand,
  KMSClient, ReEncryptCommand, ScheduleKeyDeletionCommand, UpdateCustomKeyStoreCommand,
} from '@aws-sdk/client-kms';
import { readFileSync } from 'node:fs';
import { XksHttpConnector } from '../../src/xks-client';
import { cryptographicMessages } from '../../src/core/custom-key-stores/xks-failures';
import type { XksProxyFailureKind } from '../../src/core/key-stores/connectors';
import { rejection, settled } from '../support/custom-key-store-client';
import { ROOT, sdkClient, startTestService, type TestService } from '../support/service';
import { defaultXksConfig, startXksTestProxy, XKS_CREDENTIAL, XKS_PREFIX, type XksTestProxy } from '../support/xks';
import { SPEC_ERRORS, startFaultXksProxy, type Fault, type FaultProxy } from '../support/fault-xks-proxy';

const SECOND_CREDENTIAL = { accessKeyId: 'SECONDSTOREKEYABCDEFG', secretAccessKey: 'Z'.repeat(44) };
const credential = { AccessKeyId: XKS_CREDENTIAL.accessKeyId, RawSecretAccessKey: XKS_CREDENTIAL.secretAccessKey };



describe('an external key store on our own XKS proxy', () => {
  let proxy: XksTestProxy;
  let proxyUrl: string;
  let svc: TestService;
  let kms: KMSClient;

  beforeAll(async () => {
    proxy = await startXksTestProxy({ config: defaultXksConfig([{ uriPathPrefix: '/second-store', name: 'second', credentials: [SECOND_CREDENTIAL] }]) });
    await proxy.createKey('ext-key-1', ['ENCRYPT', 'DECRYPT']);
    await proxy.createKey('ext-key-2', ['ENCRYPT', 'DECRYPT']);
    await proxy.createKey('encrypt-only', ['ENCRYPT']);
    proxyUrl = (await proxy.listen()).url;
    svc = await startTestService({ listen: true, connectors: { xksProxies: new XksHttpConnector({ region: 'us-east-1' }) } });
    kms = sdkClient(svc, ROOT);
  });
  afterAll(async () => {
    kms?.destroy();
    await svc?.close();
    await proxy?.close();
  });

  it('from CreateCustomKeyStore to Decrypt, and back to Unavailable when disconnected', async () => {
    const { CustomKeyStoreId } = await kms.send(new CreateCustomKeyStoreCommand({
      CustomKeyStoreName: 'our-proxy', CustomKeyStoreType: 'EXTERNAL_KEY_STORE', XksProxyConnectivity: 'PUBLIC_ENDPOINT',
      XksProxyUriEndpoint: proxyUrl, XksProxyUriPath: `${XKS_PREFIX}/kms/xks/v1`, XksProxyAuthenticationCredential: credential,
    }));
    expect((await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId }))).CustomKeyStores![0]).toMatchObject({
      ConnectionState: 'DISCONNECTED', CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      XksProxyConfiguration: { AccessKeyId: credential.AccessKeyId, Connectivity: 'PUBLIC_ENDPOINT', UriEndpoint: proxyUrl, UriPath: `${XKS_PREFIX}/kms/xks/v1` },
    });
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId }));
    expect(await settled(kms, CustomKeyStoreId!)).toMatchObject({ ConnectionState: 'CONNECTED' });

    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ CustomKeyStoreId, Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'ext-key-1' }));
    expect(KeyMetadata).toMatchObject({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId, XksKeyConfiguration: { Id: 'ext-key-1' }, KeyState: 'Enabled' });
    const plaintext = Buffer.from('kept by two keys');
    const { CiphertextBlob, $metadata } = await kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: plaintext, EncryptionContext: { tenant: 'a' } }));
    const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { tenant: 'a' } }));
    expect(Buffer.from(decrypted.Plaintext!)).toEqual(plaintext);
    expect(decrypted.KeyId).toBe(KeyMetadata!.Arn);
    const dataKey = await kms.send(new GenerateDataKeyCommand({ KeyId: KeyMetadata!.KeyId, KeySpec: 'AES_256' }));
    expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob }))).Plaintext!)).toEqual(Buffer.from(dataKey.Plaintext!));
    const local = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const reencrypted = await kms.send(new ReEncryptCommand({ CiphertextBlob, SourceEncryptionContext: { tenant: 'a' }, DestinationKeyId: local }));
    expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: reencrypted.CiphertextBlob }))).Plaintext!)).toEqual(plaintext);

    // The proxy's own request log names the KMS operation and our request id (requestMetadata).
    const proxyLog = readFileSync(proxy.svc.logFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(proxyLog).toContainEqual(expect.objectContaining({ operation: 'Encrypt', kmsOperation: 'Encrypt', kmsRequestId: $metadata.requestId, externalKeyId: 'ext-key-1', outcome: 'success' }));
    expect(JSON.stringify(proxyLog)).not.toContain(plaintext.toString('base64'));

    // The external key store's wrong key usage and reuse are refused as AWS refuses them.
    expect(await rejection(kms.send(new CreateKeyCommand({ CustomKeyStoreId, Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'ext-key-1' })))).toMatchObject({ name: 'XksKeyAlreadyInUseException' });
    expect(await rejection(kms.send(new CreateKeyCommand({ CustomKeyStoreId, Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'encrypt-only' })))).toMatchObject({ name: 'XksKeyInvalidConfigurationException' });
    expect(await rejection(kms.send(new CreateKeyCommand({ CustomKeyStoreId, Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'no-such-key' })))).toMatchObject({ name: 'XksKeyNotFoundException' });

    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId: KeyMetadata!.KeyId }))).KeyMetadata!.KeyState).toBe('Unavailable');
    expect(await rejection(kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { tenant: 'a' } })))).toEqual({ name: 'KMSInvalidStateException', message: `${KeyMetadata!.Arn} is unavailable.` });
    expect(await rejection(kms.send(new CreateKeyCommand({ CustomKeyStoreId, Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'ext-key-2' })))).toMatchObject({ name: 'CustomKeyStoreInvalidStateException' });
    expect(await rejection(kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId })))).toMatchObject({ name: 'CustomKeyStoreHasCMKsException' });

    // A wrong credential is refused by the proxy when the update is checked.
    expect(await rejection(kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId, XksProxyAuthenticationCredential: { ...credential, RawSecretAccessKey: 'W'.repeat(44) } }))))
      .toMatchObject({ name: 'XksProxyIncorrectAuthenticationCredentialException' });

    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId }));
    expect(await settled(kms, CustomKeyStoreId!)).toMatchObject({ ConnectionState: 'CONNECTED' });
    expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { tenant: 'a' } }))).Plaintext!)).toEqual(plaintext);
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: KeyMetadata!.KeyId, PendingWindowInDays: 7 }));
  });

  it('a store whose proxy credential is wrong cannot be created: XksProxyIncorrectAuthenticationCredentialException', async () => {
    expect(await rejection(kms.send(new CreateCustomKeyStoreCommand({
      CustomKeyStoreName: 'wrong-secret', CustomKeyStoreType: 'EXTERNAL_KEY_STORE', XksProxyConnectivity: 'PUBLIC_ENDPOINT',
      XksProxyUriEndpoint: proxyUrl, XksProxyUriPath: '/second-store/kms/xks/v1', XksProxyAuthenticationCredential: { AccessKeyId: SECOND_CREDENTIAL.accessKeyId, RawSecretAccessKey: 'W'.repeat(44) },
    })))).toMatchObject({ name: 'XksProxyIncorrectAuthenticationCredentialException' });
    expect(await rejection(kms.send(new CreateCustomKeyStoreCommand({
      CustomKeyStoreName: 'wrong-path', CustomKeyStoreType: 'EXTERNAL_KEY_STORE', XksProxyConnectivity: 'PUBLIC_ENDPOINT',
      XksProxyUriEndpoint: proxyUrl, XksProxyUriPath: '/not/a/store/kms/xks/v1', XksProxyAuthenticationCredential: credential,
    })))).toMatchObject({ name: 'XksProxyInvalidConfigurationException' });
  });
});

describe('a fault-injecting proxy: the exact exception each failure produces', () => {
  let fault: FaultProxy;
  let svc: TestService;
  let kms: KMSClient;
  let keyId: string;
  let ciphertext: Uint8Array;
  let storeId: string;

  beforeAll(async () => {
    fault = await startFaultXksProxy({ credential: XKS_CREDENTIAL });
    fault.addKey('k1');
    svc = await startTestService({ listen: true, connectors: { xksProxies: new XksHttpConnector({ region: 'us-east-1' }) } });
    kms = sdkClient(svc, ROOT);
    storeId = (await kms.send(new CreateCustomKeyStoreCommand({
      CustomKeyStoreName: 'faulty', CustomKeyStoreType: 'EXTERNAL_KEY_STORE', XksProxyConnectivity: 'PUBLIC_ENDPOINT',
      XksProxyUriEndpoint: fault.url, XksProxyUriPath: '/faulty/kms/xks/v1', XksProxyAuthenticationCredential: credential,
    }))).CustomKeyStoreId!;
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    expect(await settled(kms, storeId)).toMatchObject({ ConnectionState: 'CONNECTED' });
    keyId = (await kms.send(new CreateKeyCommand({ CustomKeyStoreId: storeId, Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'k1' }))).KeyMetadata!.KeyId!;
    ciphertext = (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))).CiphertextBlob!;
  });
  afterEach(() => fault.setFault(undefined));
  afterAll(async () => {
    kms?.destroy();
    await svc?.close();
    await fault?.close();
  });

  const encrypt = () => kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
  const decrypt = () => kms.send(new DecryptCommand({ CiphertextBlob: ciphertext }));

  it.each(Object.entries(SPEC_ERRORS))('the proxy answering %s makes Encrypt KMSInvalidStateException with its message', async (errorName, status) => {
    fault.setFault({ kind: 'error', errorName, status });
    expect(await rejection(encrypt())).toEqual({ name: 'KMSInvalidStateException', message: cryptographicMessages[errorName as XksProxyFailureKind] });
  });

  it.each<[string, Fault, XksProxyFailureKind]>([
    ['slow beyond 250 ms (twice: the retry too)', { kind: 'delay', ms: 700 }, 'XksProxyTimedOut'],
    ['garbage', { kind: 'raw', status: 200, contentType: 'application/json', body: 'not json' }, 'XksProxyInvalidResponse'],
    ['an HTML error page', { kind: 'raw', status: 502, contentType: 'text/html', body: '<html>bad gateway</html>' }, 'XksProxyInvalidResponse'],
    ['a wrong CDIV', { kind: 'wrongCdiv' }, 'XksProxyInvalidResponse'],
    ['a tampered ciphertext', { kind: 'tamperedCiphertext' }, 'XksProxyInvalidResponse'],
    ['an IV of 8 bytes', { kind: 'ivSize', bytes: 8 }, 'XksProxyInvalidResponse'],
    ['a connection closed without an answer', { kind: 'destroyBeforeResponse' }, 'XksProxyUnreachableException'],
  ])('%s makes Encrypt KMSInvalidStateException (%s)', async (_what, injected, kind) => {
    fault.setFault(injected);
    expect(await rejection(encrypt())).toEqual({ name: 'KMSInvalidStateException', message: cryptographicMessages[kind] });
  });

  it('slow once, then fast: the single retry answers', async () => {
    fault.setFault({ kind: 'delay', ms: 700 }, 1);
    expect(Buffer.from((await decrypt()).Plaintext!)).toEqual(Buffer.from('x'));
  });

  it('a ciphertext tampered with by the caller is KMSInvalidStateException: the proxy rejects it', async () => {
    const tampered = Buffer.from(ciphertext);
    tampered[tampered.length - 20]! ^= 1;
    expect(await rejection(kms.send(new DecryptCommand({ CiphertextBlob: tampered })))).toEqual({ name: 'KMSInvalidStateException', message: cryptographicMessages.InvalidCiphertextException });
  });

  it('connecting through a proxy that fails its health check leaves the store FAILED with the matching code', async () => {
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    fault.setFault({ kind: 'error', errorName: 'AuthenticationFailedException', status: 401 });
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    expect(await settled(kms, storeId)).toMatchObject({ ConnectionState: 'FAILED', ConnectionErrorCode: 'INVALID_CREDENTIALS' });
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    fault.setFault({ kind: 'delay', ms: 700 });
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    expect(await settled(kms, storeId)).toMatchObject({ ConnectionState: 'FAILED', ConnectionErrorCode: 'XKS_PROXY_TIMED_OUT' });
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    fault.setFault(undefined);
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    expect(await settled(kms, storeId)).toMatchObject({ ConnectionState: 'CONNECTED' });
  });
});
