// The XKS proxy client against our own XKS proxy server, over a real listener on 127.0.0.1
// (plain HTTP and HTTPS with a test CA): the client signs as AWS KMS, the server verifies,
// and Encrypt (with the CDIV the client checks), Decrypt, GetKeyMetadata and GetHealthStatus
// work; the server's errors come back as their names.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { XksProxyFailure, type XksProxyClient, type XksProxyEndpoint } from '../../src/core/key-stores/connectors';
import { XksHttpConnector } from '../../src/xks-client';
import { makeTestPki, type TestPki } from '../support/certificates';
import { startXksTestProxy, XKS_CREDENTIAL, XKS_CREDENTIAL_2, XKS_PREFIX, type XksTestProxy } from '../support/xks';

const PRINCIPAL = 'arn:aws:iam::123456789012:user/Alice';
const KEY_ARN = 'arn:aws:kms:us-east-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const call = (operation = 'Encrypt') => ({ operation, requestId: randomUUID(), principalArn: PRINCIPAL, keyArn: KEY_ARN });
const health = { operation: 'KmsHealthCheck', requestId: 'health-check' };
/** The token behind the proxy is SoftHSM on a shared machine: a deadline no run should reach. */
const TIMEOUT_MS = 5000;

let proxy: XksTestProxy;
let pki: TestPki;
let httpUrl: string;
let httpsUrl: string;
const clients: XksProxyClient[] = [];

function open(uriEndpoint: string, credential = { accessKeyId: XKS_CREDENTIAL.accessKeyId, rawSecretAccessKey: XKS_CREDENTIAL.secretAccessKey }, extra: Partial<XksProxyEndpoint> = {}, ca?: string): XksProxyClient {
  const client = new XksHttpConnector({ region: 'us-east-2', timeoutMs: TIMEOUT_MS, ...(ca ? { ca } : {}) })
    .open({ uriEndpoint, uriPath: `${XKS_PREFIX}/kms/xks/v1`, ...credential, ...extra });
  clients.push(client);
  return client;
}

async function failure(promise: Promise<unknown>): Promise<XksProxyFailure> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(XksProxyFailure);
    return e as XksProxyFailure;
  }
  throw new Error('expected an XksProxyFailure');
}

beforeAll(async () => {
  proxy = await startXksTestProxy();
  pki = makeTestPki(path.join(proxy.svc.dir, 'pki'));
  await proxy.createKey('foo', ['ENCRYPT', 'DECRYPT']);
  await proxy.createKey('encrypt-only', ['ENCRYPT']);
  httpUrl = (await proxy.listen()).url;
  httpsUrl = (await proxy.listen({ certFile: pki.server.cert, keyFile: pki.server.key })).url;
}, 60_000);

afterAll(async () => {
  for (const client of clients) await client.close();
  await proxy.close();
});

describe.each([['HTTP', () => httpUrl], ['HTTPS', () => httpsUrl]])('over %s', (_name, url) => {
  let client: XksProxyClient;
  beforeAll(() => {
    client = open(url(), undefined, {}, readFileSync(pki.ca.cert, 'utf8'));
  });

  it('GetHealthStatus: the proxy and its token', async () => {
    const status = await client.getHealthStatus(health);
    expect(status).toMatchObject({ xksProxyFleetSize: 2, xksProxyVendor: 'hsm-kms', ekmVendor: 'SoftHSM project' });
    expect(status.ekmFleetDetails).toEqual([{ id: proxy.svc.defaultStore.connection.info.serialNumber, model: expect.stringMatching(/SoftHSM/), healthStatus: expect.stringMatching(/^(ACTIVE|DEGRADED)$/) }]);
  });

  it('GetKeyMetadata: the external key as the proxy holds it', async () => {
    expect(await client.getKeyMetadata('foo', { ...call('CreateKey'), keyArn: '' })).toEqual({ keySpec: 'AES_256', keyUsage: ['ENCRYPT', 'DECRYPT'], keyStatus: 'ENABLED' });
    expect(await client.getKeyMetadata('encrypt-only', call('DescribeKey'))).toMatchObject({ keyUsage: ['ENCRYPT'] });
  });

  it('Encrypt with the CDIV checked, then Decrypt, with and without AAD', async () => {
    for (const aad of [randomBytes(64), Buffer.alloc(0)]) {
      const plaintext = randomBytes(32);
      const sealed = await client.encrypt('foo', aad, plaintext, call('GenerateDataKey'));
      expect(sealed.iv).toHaveLength(12);
      expect(await client.decrypt('foo', aad, sealed, call('Decrypt'))).toEqual(plaintext);
      expect((await failure(client.decrypt('foo', Buffer.from('other context'), sealed, call('Decrypt')))).kind).toBe('InvalidCiphertextException');
    }
  });

  it('the server\'s errors by name: KeyNotFoundException, InvalidKeyUsageException', async () => {
    expect((await failure(client.getKeyMetadata('no-such-key', call('DescribeKey')))).kind).toBe('KeyNotFoundException');
    expect((await failure(client.encrypt('no-such-key', Buffer.alloc(0), randomBytes(16), call()))).kind).toBe('KeyNotFoundException');
    const sealed = await client.encrypt('encrypt-only', Buffer.alloc(0), randomBytes(16), call()).catch((e: unknown) => e);
    // A key that may only encrypt cannot answer with a CDIV, which the client always asks for.
    expect(sealed).toBeInstanceOf(XksProxyFailure);
    expect((sealed as XksProxyFailure).kind).toBe('InvalidKeyUsageException');
  });
});

it('the key store\'s second credential signs as well as the first (rotation)', async () => {
  const client = open(httpUrl, { accessKeyId: XKS_CREDENTIAL_2.accessKeyId, rawSecretAccessKey: XKS_CREDENTIAL_2.secretAccessKey });
  expect((await client.getHealthStatus(health)).xksProxyFleetSize).toBe(2);
});

it('a wrong secret: AuthenticationFailedException, with no secret in the detail', async () => {
  const secret = randomBytes(32).toString('base64');
  const f = await failure(open(httpUrl, { accessKeyId: XKS_CREDENTIAL.accessKeyId, rawSecretAccessKey: secret }).getHealthStatus(health));
  expect(f.kind).toBe('AuthenticationFailedException');
  expect(f.message).not.toContain(secret);
  expect(f.message).not.toContain(XKS_CREDENTIAL.secretAccessKey);
});

it('an unknown access key id: AuthenticationFailedException', async () => {
  expect((await failure(open(httpUrl, { accessKeyId: 'UNKNOWNKEY234567UNKNOWN', rawSecretAccessKey: XKS_CREDENTIAL.secretAccessKey }).getKeyMetadata('foo', call()))).kind)
    .toBe('AuthenticationFailedException');
});

it('a URI path of no key store: InvalidUriPathException', async () => {
  expect((await failure(open(httpUrl, undefined, { uriPath: '/nowhere/kms/xks/v1' }).getHealthStatus(health))).kind).toBe('InvalidUriPathException');
});

it('HTTPS without the test CA: XksProxyInvalidTlsConfiguration', async () => {
  expect((await failure(open(httpsUrl).getHealthStatus(health))).kind).toBe('XksProxyInvalidTlsConfiguration');
});
