// The XKS proxy client (src/xks-client) against a fault-injecting proxy on 127.0.0.1: the
// requests it sends (paths, requestMetadata, SigV4 for kms-xks-proxy, verified by our own
// verifier), responses parsed and checked (sizes, Base64, the CDIV), every fault mapped to its
// XksProxyFailure kind, exactly one retry and only for a timeout (or a kept-alive connection
// the proxy had just closed), one connection reused across calls, HTTPS with a test CA.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { XksProxyFailure, type XksProxyClient, type XksProxyEndpoint, type XksSealed } from '../../src/core/key-stores/connectors';
import { XKS_CLIENT_DEFAULTS, XksHttpConnector, type XksClientOptions } from '../../src/xks-client';
import { encryptResult } from '../../src/xks-client/responses';
import { makeTestPki, type TestPki } from '../support/certificates';
import { SPEC_ERRORS, startFaultXksProxy, type Fault, type FaultProxy } from '../support/fault-xks-proxy';

const CREDENTIAL = { accessKeyId: 'AKIA4GBY3I6JCE5M2HPM', secretAccessKey: 'c2VjcmV0LWFjY2Vzcy1rZXktZm9yLXRoZS1jbGllbnQtdGVzdHM=' };
const URI_PATH = '/tenant-a/kms/xks/v1';
const PRINCIPAL = 'arn:aws:iam::123456789012:user/Alice';
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const REGION = 'eu-west-1';
/** Generous for calls that should not time out on a loaded machine. */
const RELAXED_MS = 3000;

/** The spec's Encrypt example (Appendix C): an answer, and the AAD it was made with. */
const SPEC_EXAMPLE = {
  authenticationTag: 'vBxN2ncH1oEkR8WVXpmyYQ==', ciphertext: 'ghxkK1txeDNn3q8Y', ciphertextDataIntegrityValue: 'qHA/ImC9h5HsLRXqCyPmWgYx7tzyoTplzILbP0fPXsc=',
  ciphertextMetadata: 'a2V5X3ZlcnNpb249MQ==', initializationVector: 'HMrlRw85cAJUd5Ax',
};
const SPEC_EXAMPLE_AAD = Buffer.from('project=nile,department=marketing');
const answerOf = (body: unknown, status = 200) => ({ status, headers: {}, body: Buffer.from(JSON.stringify(body)) });

const call = (operation = 'Encrypt', keyArn = KEY_ARN) => ({ operation, requestId: randomUUID(), principalArn: PRINCIPAL, keyArn });

/** Every failure detail a test produced, checked at the end for secrets and plaintexts. */
const details: string[] = [];
/** What no detail may contain. */
const canaries: string[] = [CREDENTIAL.secretAccessKey];

function plaintextCanary(length = 32): Buffer {
  const bytes = randomBytes(length);
  canaries.push(bytes.toString('base64'), bytes.toString('hex'));
  return bytes;
}

async function failure(promise: Promise<unknown>): Promise<XksProxyFailure> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(XksProxyFailure);
    details.push((e as XksProxyFailure).detail, (e as Error).message);
    return e as XksProxyFailure;
  }
  throw new Error('expected an XksProxyFailure');
}

const endpoint = (uriEndpoint: string, secret = CREDENTIAL.secretAccessKey): XksProxyEndpoint => ({
  uriEndpoint, uriPath: URI_PATH, accessKeyId: CREDENTIAL.accessKeyId, rawSecretAccessKey: secret,
});

const clients: XksProxyClient[] = [];
function open(uriEndpoint: string, options: Partial<XksClientOptions> = {}, secret?: string): XksProxyClient {
  const client = new XksHttpConnector({ region: REGION, timeoutMs: RELAXED_MS, ...options }).open(endpoint(uriEndpoint, secret));
  clients.push(client);
  return client;
}

let proxy: FaultProxy;
let client: XksProxyClient;

beforeAll(async () => {
  proxy = await startFaultXksProxy({ credential: CREDENTIAL });
  proxy.addKey('key-1');
  proxy.addKey('encrypt.only_key-2', ['ENCRYPT']);
});

beforeEach(() => {
  proxy.setFault(undefined);
  proxy.requests.length = 0;
  client = open(proxy.url);
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
});

afterAll(async () => {
  await proxy.close();
  for (const detail of details) {
    for (const canary of canaries) expect(detail).not.toContain(canary);
  }
});

describe('requests', () => {
  it('Encrypt: POST {uriPath}/keys/{id}/encrypt, requestMetadata, Base64 fields, AES_GCM and a SHA_256 CDIV asked for, signed as KMS', async () => {
    const plaintext = randomBytes(32);
    const aad = Buffer.from('encryption context');
    const c = call('GenerateDataKey');
    await client.encrypt('key-1', aad, plaintext, c);
    const [req] = proxy.requests;
    expect(req).toMatchObject({ method: 'POST', path: `${URI_PATH}/keys/key-1/encrypt` });
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.json).toEqual({
      requestMetadata: { awsPrincipalArn: PRINCIPAL, kmsKeyArn: KEY_ARN, kmsOperation: 'GenerateDataKey', kmsRequestId: c.requestId },
      additionalAuthenticatedData: aad.toString('base64'),
      plaintext: plaintext.toString('base64'),
      encryptionAlgorithm: 'AES_GCM',
      ciphertextDataIntegrityValueAlgorithm: 'SHA_256',
    });
    // The proxy verified the signature with our own SigV4 verifier; this is its shape.
    expect(req!.headers.authorization).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=${CREDENTIAL.accessKeyId}/\\d{8}/${REGION}/kms-xks-proxy/aws4_request, SignedHeaders=host;x-amz-date, Signature=[0-9a-f]{64}$`),
    );
    expect(req!.headers.host).toBe(`127.0.0.1:${proxy.port}`);
    expect(req!.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(req!.headers['x-amz-content-sha256']).toBeUndefined();
  });

  it('leaves additionalAuthenticatedData out when there is none', async () => {
    await client.encrypt('key-1', Buffer.alloc(0), randomBytes(8), call());
    expect(proxy.requests[0]!.json).not.toHaveProperty('additionalAuthenticatedData');
  });

  it('Decrypt: every part of the sealed result, ciphertextMetadata only when there is some', async () => {
    const sealed: XksSealed = { iv: randomBytes(12), ciphertext: randomBytes(20), tag: randomBytes(16), metadata: Buffer.from('v=2') };
    const c = call('ReEncrypt');
    await failure(client.decrypt('key-1', Buffer.from('aad'), sealed, c));
    const { iv, ciphertext, tag } = sealed;
    await failure(client.decrypt('key-1', Buffer.alloc(0), { iv, ciphertext, tag }, c));
    expect(proxy.requests.map((r) => r.path)).toEqual([`${URI_PATH}/keys/key-1/decrypt`, `${URI_PATH}/keys/key-1/decrypt`]);
    expect(proxy.requests[0]!.json).toEqual({
      requestMetadata: { awsPrincipalArn: PRINCIPAL, kmsKeyArn: KEY_ARN, kmsOperation: 'ReEncrypt', kmsRequestId: c.requestId },
      additionalAuthenticatedData: Buffer.from('aad').toString('base64'),
      ciphertext: ciphertext.toString('base64'),
      ciphertextMetadata: Buffer.from('v=2').toString('base64'),
      encryptionAlgorithm: 'AES_GCM',
      initializationVector: iv.toString('base64'),
      authenticationTag: tag.toString('base64'),
    });
    expect(Object.keys(proxy.requests[1]!.json!).sort()).toEqual(['authenticationTag', 'ciphertext', 'encryptionAlgorithm', 'initializationVector', 'requestMetadata']);
  });

  it('GetHealthStatus: requestMetadata with kmsOperation and kmsRequestId only', async () => {
    await client.getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'health-1' });
    expect(proxy.requests[0]).toMatchObject({ path: `${URI_PATH}/health`, json: { requestMetadata: { kmsOperation: 'KmsHealthCheck', kmsRequestId: 'health-1' } } });
    expect(Object.keys(proxy.requests[0]!.json!)).toEqual(['requestMetadata']);
    expect(Object.keys(proxy.requests[0]!.json!.requestMetadata as object).sort()).toEqual(['kmsOperation', 'kmsRequestId']);
  });

  it('GetKeyMetadata: kmsKeyArn only when the call has a key (CreateKey has none yet)', async () => {
    const c = call('CreateKey', '');
    await client.getKeyMetadata('key-1', c);
    await client.getKeyMetadata('key-1', call('DescribeKey'));
    expect(proxy.requests[0]).toMatchObject({ path: `${URI_PATH}/keys/key-1/metadata` });
    expect(proxy.requests[0]!.json).toEqual({ requestMetadata: { awsPrincipalArn: PRINCIPAL, kmsOperation: 'CreateKey', kmsRequestId: c.requestId } });
    expect(proxy.requests[1]!.json!.requestMetadata).toMatchObject({ kmsKeyArn: KEY_ARN, kmsOperation: 'DescribeKey' });
  });

  it('keeps a key id of the spec\'s characters as it is, and cannot leave the key\'s path with any other', async () => {
    await client.getKeyMetadata('encrypt.only_key-2', call());
    expect(proxy.requests[0]!.path).toBe(`${URI_PATH}/keys/encrypt.only_key-2/metadata`);
    expect((await failure(client.getKeyMetadata('../../health', call()))).kind).toBe('KeyNotFoundException');
    expect(proxy.requests[1]!.path).toBe(`${URI_PATH}/keys/..%2F..%2Fhealth/metadata`);
  });

  it('reuses one kept-alive connection across calls', async () => {
    const plaintext = randomBytes(16);
    const sealed = await client.encrypt('key-1', Buffer.alloc(0), plaintext, call());
    expect(await client.decrypt('key-1', Buffer.alloc(0), sealed, call('Decrypt'))).toEqual(plaintext);
    await client.getKeyMetadata('key-1', call('DescribeKey'));
    await client.getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' });
    const connections = new Set(proxy.requests.map((r) => r.connection));
    expect(proxy.requests).toHaveLength(4);
    expect(connections.size).toBe(1);
  });

  it('the request body stays within the bound.', async () => {
    expect(XKS_CLIENT_DEFAULTS.maxRequestBytes).toBe(256 * 1024);
    const small = open(proxy.url, { maxRequestBytes: 1024 });
    await small.encrypt('key-1', Buffer.alloc(0), plaintextCanary(16), call());
    expect(proxy.requests).toHaveLength(1);
    // The body at the bound is sent; one byte over it is not.
    const sent = proxy.requests[0]!.body.length;
    const exact = open(proxy.url, { maxRequestBytes: sent });
    await exact.encrypt('key-1', Buffer.alloc(0), plaintextCanary(16), call());
    expect(proxy.requests).toHaveLength(2);
    const under = open(proxy.url, { maxRequestBytes: sent - 1 });
    const f = await failure(under.encrypt('key-1', Buffer.alloc(0), plaintextCanary(16), call()));
    expect(f.kind).toBe('ValidationException');
    expect(f.detail).toBe(`Encrypt: the request is ${sent} bytes, over the client's limit of ${sent - 1}`);
    expect((await failure(small.encrypt('key-1', Buffer.alloc(0), plaintextCanary(2048), call()))).kind).toBe('ValidationException');
    expect(proxy.requests).toHaveLength(2);
  });
});

describe('answers', () => {
  it('Encrypt then Decrypt round trip, with AAD', async () => {
    const plaintext = plaintextCanary();
    const aad = randomBytes(40);
    const sealed = await client.encrypt('key-1', aad, plaintext, call());
    expect(sealed.iv).toHaveLength(12);
    expect(sealed.tag).toHaveLength(16);
    expect(sealed.ciphertext).toHaveLength(plaintext.length);
    expect(sealed.metadata).toBeUndefined();
    expect(await client.decrypt('key-1', aad, sealed, call('Decrypt'))).toEqual(plaintext);
    expect((await failure(client.decrypt('key-1', Buffer.from('other'), sealed, call('Decrypt')))).kind).toBe('InvalidCiphertextException');
  });

  it('Encrypt then Decrypt round trip with ciphertextMetadata, which the CDIV covers and Decrypt sends back', async () => {
    const withMetadata = await startFaultXksProxy({ credential: CREDENTIAL, ciphertextMetadata: Buffer.from('key_version=1') });
    try {
      withMetadata.addKey('key-1');
      const c = open(withMetadata.url);
      const plaintext = plaintextCanary();
      const aad = Buffer.from('project=nile,department=marketing');
      const sealed = await c.encrypt('key-1', aad, plaintext, call());
      expect(sealed.metadata).toEqual(Buffer.from('key_version=1'));
      expect(await c.decrypt('key-1', aad, sealed, call('Decrypt'))).toEqual(plaintext);
      expect(withMetadata.requests[1]!.json!.ciphertextMetadata).toBe(Buffer.from('key_version=1').toString('base64'));
      // Without its metadata the tag does not verify.
      expect((await failure(c.decrypt('key-1', aad, { ...sealed, metadata: undefined }, call('Decrypt')))).kind).toBe('InvalidCiphertextException');
    } finally {
      await withMetadata.close();
    }
  });

  it('GetHealthStatus: the fleet as the proxy describes it', async () => {
    expect(await client.getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' })).toEqual({
      xksProxyFleetSize: 1, xksProxyVendor: 'test', xksProxyModel: 'fault proxy 1.0', ekmVendor: 'node:crypto',
      ekmFleetDetails: [{ id: 'ekm-1', model: 'in-memory', healthStatus: 'ACTIVE' }],
    });
  });

  it('GetKeyMetadata: keySpec, keyUsage and keyStatus, as they are', async () => {
    expect(await client.getKeyMetadata('encrypt.only_key-2', call('CreateKey', ''))).toEqual({ keySpec: 'AES_256', keyUsage: ['ENCRYPT'], keyStatus: 'ENABLED' });
  });
});

describe('the proxy\'s errors', () => {
  it.each(Object.entries(SPEC_ERRORS))('%s (HTTP %i) is that failure, not retried', async (errorName, status) => {
    proxy.setFault({ kind: 'error', errorName, status });
    const f = await failure(client.encrypt('key-1', Buffer.alloc(0), plaintextCanary(), call()));
    expect(f.kind).toBe(errorName);
    expect(f.detail).toContain(`HTTP ${status}`);
    expect(proxy.requests).toHaveLength(1);
  });

  it('the errorMessage, in the detail, without the secret or a plaintext the proxy echoes, printable and bounded', async () => {
    const plaintext = plaintextCanary();
    proxy.setFault({ kind: 'error', errorName: 'ValidationException', status: 400, errorMessage: `bad plaintext ${plaintext.toString('base64')} for ${CREDENTIAL.secretAccessKey}\n${'x'.repeat(1000)}` });
    const f = await failure(client.encrypt('key-1', Buffer.alloc(0), plaintext, call()));
    expect(f.detail).toMatch(/^Encrypt: HTTP 400, "bad plaintext <redacted> for <redacted>\?x+\.\.\."$/);
    expect(f.detail.length).toBeLessThan(600);
  });

  it('an error of the proxy on any operation', async () => {
    proxy.setFault({ kind: 'error', errorName: 'InvalidStateException', status: 400 });
    expect((await failure(client.getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' }))).kind).toBe('InvalidStateException');
    expect((await failure(client.getKeyMetadata('key-1', call()))).kind).toBe('InvalidStateException');
    expect((await failure(client.decrypt('key-1', Buffer.alloc(0), { iv: randomBytes(12), ciphertext: randomBytes(4), tag: randomBytes(16) }, call()))).kind).toBe('InvalidStateException');
  });

  it('KeyNotFoundException for a key the proxy does not have', async () => {
    expect((await failure(client.getKeyMetadata('no-such-key', call()))).kind).toBe('KeyNotFoundException');
  });

  it('AuthenticationFailedException when the proxy does not accept the signature', async () => {
    const wrong = open(proxy.url, {}, 'd3Jvbmctc2VjcmV0LWFjY2Vzcy1rZXktZm9yLXRlc3RzLTEyMw==');
    expect((await failure(wrong.getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' }))).kind).toBe('AuthenticationFailedException');
  });
});

describe('answers that are not what the API specifies: XksProxyInvalidResponse, not retried', () => {
  const AAD = Buffer.from('aad');
  const edit = (change: (b: Record<string, unknown>) => Record<string, unknown>): Fault => ({ kind: 'edit', edit: change });
  const without = (name: string) => edit(({ [name]: _, ...rest }) => rest);
  const encrypt = () => client.encrypt('key-1', AAD, plaintextCanary(), call());
  const health = () => client.getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' });
  const keyMetadata = () => client.getKeyMetadata('key-1', call('DescribeKey'));

  /** With `fault` on for one answer, `run` ends in XksProxyInvalidResponse with a detail matching `detail`, after one request. */
  async function refused(fault: Fault, run: () => Promise<unknown>, detail: RegExp | string): Promise<void> {
    proxy.requests.length = 0;
    proxy.setFault(fault, 1);
    const f = await failure(run());
    expect(f.kind).toBe('XksProxyInvalidResponse');
    if (typeof detail === 'string') expect(f.detail).toBe(detail);
    else expect(f.detail).toMatch(detail);
    expect(proxy.requests).toHaveLength(1);
  }

  /** With `fault` on for one answer, what `run` answers. */
  async function accepted<T>(fault: Fault, run: () => Promise<T>): Promise<T> {
    proxy.setFault(fault, 1);
    return run();
  }

  /** An Encrypt answer with its CDIV computed again (Appendix C, independently of src) over `aad`, so only what an edit changed is wrong. */
  function recomputedCdiv(body: Record<string, unknown>, aad = AAD): Record<string, unknown> {
    const part = (name: string) => (typeof body[name] === 'string' ? Buffer.from(body[name] as string, 'base64') : Buffer.alloc(0));
    const cdiv = createHash('sha256').update(Buffer.concat([aad, part('ciphertextMetadata'), part('initializationVector'), part('ciphertext'), part('authenticationTag')])).digest();
    return { ...body, ciphertextDataIntegrityValue: cdiv.toString('base64') };
  }

  const resized = (b: Record<string, unknown>, name: string, bytes: number) => {
    const value = Buffer.from(b[name] as string, 'base64');
    return { ...b, [name]: (bytes <= value.length ? value.subarray(0, bytes) : Buffer.concat([value, randomBytes(bytes - value.length)])).toString('base64') };
  };

  const HEALTH = { xksProxyFleetSize: 1, xksProxyVendor: 'test', xksProxyModel: 'fault proxy 1.0', ekmVendor: 'node:crypto', ekmFleetDetails: [{ id: 'ekm-1', model: 'in-memory', healthStatus: 'ACTIVE' }] };

  it.each<[string, Fault]>([
    ['an unknown errorName', { kind: 'error', errorName: 'SomethingElseException', status: 400 }],
    ['a JSON error without errorName', { kind: 'raw', status: 400, contentType: 'application/json', body: '{"message":"no"}' }],
    ['an HTML 502 from a load balancer', { kind: 'raw', status: 502, contentType: 'text/html', body: '<html><body><h1>502 Bad Gateway</h1></body></html>' }],
    ['an empty 500', { kind: 'raw', status: 500, contentType: 'text/plain', body: '' }],
    ['a redirect', { kind: 'raw', status: 302, contentType: 'text/html', body: 'moved' }],
  ])('Encrypt: %s', async (_name, fault) => {
    await refused(fault, encrypt, /^Encrypt: HTTP \d+ with/);
  });

  it('success is 200 (XKS proxy API, every operation).', async () => {
    // Bodies each operation accepts with 200: only the status is wrong.
    const sealed: XksSealed = { iv: randomBytes(12), ciphertext: randomBytes(4), tag: randomBytes(16) };
    const operations: [string, () => Promise<unknown>, string][] = [
      ['GetHealthStatus', health, JSON.stringify(HEALTH)],
      ['GetKeyMetadata', keyMetadata, JSON.stringify({ keySpec: 'AES_256', keyUsage: ['ENCRYPT'], keyStatus: 'ENABLED' })],
      ['Decrypt', () => client.decrypt('key-1', Buffer.alloc(0), sealed, call('Decrypt')), JSON.stringify({ plaintext: randomBytes(4).toString('base64') })],
    ];
    for (const [operation, run, body] of operations) {
      await accepted({ kind: 'raw', status: 200, contentType: 'application/json', body }, run);
      for (const status of [201, 202, 203, 299]) {
        await refused({ kind: 'raw', status, contentType: 'application/json', body }, run, `${operation}: HTTP ${status} instead of 200`);
      }
    }
    // Encrypt: the spec's example answer, accepted with 200 (see the CDIV's test), refused with 201.
    expect(() => encryptResult(answerOf(SPEC_EXAMPLE, 201), SPEC_EXAMPLE_AAD, 12, [])).toThrow('XksProxyInvalidResponse: Encrypt: HTTP 201 instead of 200');
  });

  it('a successful answer is a JSON object.', async () => {
    for (const body of ['\x00\x01not json', '', '[]', `[${JSON.stringify(HEALTH)}]`, 'null', '"ACTIVE"', '42', JSON.stringify(HEALTH).slice(0, -1)]) {
      await refused({ kind: 'raw', status: 200, contentType: 'application/json', body }, health, 'GetHealthStatus: the response body is not a JSON object');
    }
    await refused({ kind: 'raw', status: 200, contentType: 'application/json', body: '[]' }, encrypt, 'Encrypt: the response body is not a JSON object');
    await refused({ kind: 'raw', status: 200, contentType: 'application/json', body: '[]' }, keyMetadata, 'GetKeyMetadata: the response body is not a JSON object');
  });

  it('a required Base64 field is present.', async () => {
    for (const name of ['ciphertext', 'initializationVector', 'authenticationTag']) {
      await refused(without(name), encrypt, `Encrypt: the response has no ${name}`);
      await refused(edit((b) => ({ ...b, [name]: null })), encrypt, `Encrypt: the response has no ${name}`);
    }
    const sealed = await client.encrypt('key-1', Buffer.alloc(0), plaintextCanary(), call());
    const decrypt = () => client.decrypt('key-1', Buffer.alloc(0), sealed, call('Decrypt'));
    await refused(edit(() => ({})), decrypt, 'Decrypt: the response has no plaintext');
    await refused(edit(() => ({ plaintext: null })), decrypt, 'Decrypt: the response has no plaintext');
  });

  it('a Base64 field is a string of standard Base64.', async () => {
    const cases: [string, (b: Record<string, unknown>) => unknown][] = [
      ['ciphertext', () => 'not base64!'],
      // URL-safe Base64 (RFC 4648 §5), without padding.
      ['ciphertext', (b) => (b.ciphertext as string).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') + '-_'],
      ['ciphertext', (b) => Buffer.from(b.ciphertext as string, 'base64').toString('base64url')],
      // Stray bits past the last byte: "QR==" decodes to the same byte as "QQ==", but is not canonical.
      ['ciphertext', () => 'QR=='],
      ['ciphertext', (b) => `${(b.ciphertext as string).slice(0, 8)}\n${(b.ciphertext as string).slice(8)}`],
      ['ciphertext', () => 12],
      ['ciphertext', (b) => [b.ciphertext]],
      ['initializationVector', () => randomBytes(13).toString('base64').replace(/=+$/, '')],
      ['authenticationTag', (b) => ` ${b.authenticationTag as string}`],
      ['ciphertextMetadata', () => 'v=1'],
      ['ciphertextDataIntegrityValue', (b) => (b.ciphertextDataIntegrityValue as string).replace(/=$/, '')],
    ];
    for (const [name, value] of cases) {
      await refused(edit((b) => ({ ...b, [name]: value(b) })), encrypt, `Encrypt: the response's ${name} is not standard Base64`);
    }
    const sealed = await client.encrypt('key-1', Buffer.alloc(0), plaintextCanary(), call());
    await refused(edit(() => ({ plaintext: '***' })), () => client.decrypt('key-1', Buffer.alloc(0), sealed, call('Decrypt')), 'Decrypt: the response\'s plaintext is not standard Base64');
  });

  it('a required string field is a string.', async () => {
    for (const name of ['keySpec', 'keyStatus']) {
      await refused(without(name), keyMetadata, `GetKeyMetadata: the response has no ${name} string`);
      await refused(edit((b) => ({ ...b, [name]: 1 })), keyMetadata, `GetKeyMetadata: the response has no ${name} string`);
      await refused(edit((b) => ({ ...b, [name]: null })), keyMetadata, `GetKeyMetadata: the response has no ${name} string`);
    }
    for (const name of ['xksProxyVendor', 'xksProxyModel', 'ekmVendor']) {
      await refused(without(name), health, `GetHealthStatus: the response has no ${name} string`);
      await refused(edit((b) => ({ ...b, [name]: ['test'] })), health, `GetHealthStatus: the response has no ${name} string`);
    }
  });

  it('AES-GCM ciphertext is as long as the plaintext.', async () => {
    // The answer with only its CDIV recomputed is accepted: what follows is wrong in its length alone.
    expect((await accepted(edit((b) => recomputedCdiv(b)), encrypt)).ciphertext).toHaveLength(32);
    for (const bytes of [31, 33, 0]) {
      await refused(edit((b) => recomputedCdiv(resized(b, 'ciphertext', bytes))), encrypt, `Encrypt: the ciphertext is ${bytes} bytes for 32 bytes of plaintext`);
    }
  });

  it('the initialization vector is 12 or 16 bytes.', async () => {
    // The fault proxy computes the CDIV over the resized IV: only its size is wrong.
    for (const bytes of [8, 13, 0, 24]) {
      await refused({ kind: 'ivSize', bytes }, encrypt, `Encrypt: the initializationVector is ${bytes} bytes, not 12 or 16`);
    }
    expect((await accepted({ kind: 'ivSize', bytes: 16 }, encrypt)).iv).toHaveLength(16);
    expect((await accepted({ kind: 'ivSize', bytes: 12 }, encrypt)).iv).toHaveLength(12);
  });

  it('the authentication tag is 16 bytes.', async () => {
    for (const bytes of [12, 15, 17, 0]) {
      await refused(edit((b) => recomputedCdiv(resized(b, 'authenticationTag', bytes))), encrypt, `Encrypt: the authenticationTag is ${bytes} bytes, not 16`);
    }
  });

  it('ciphertextMetadata is at most 20 bytes.', async () => {
    const metadata = (bytes: number) => edit((b) => recomputedCdiv({ ...b, ciphertextMetadata: randomBytes(bytes).toString('base64') }));
    expect((await accepted(metadata(20), encrypt)).metadata).toHaveLength(20);
    for (const bytes of [21, 64]) {
      await refused(metadata(bytes), encrypt, `Encrypt: the ciphertextMetadata is ${bytes} bytes, over 20`);
    }
  });

  it('the CDIV asked for is present.', async () => {
    await refused(without('ciphertextDataIntegrityValue'), encrypt, 'Encrypt: the response has no ciphertextDataIntegrityValue though one was asked for');
    await refused(edit((b) => ({ ...b, ciphertextDataIntegrityValue: null })), encrypt, 'Encrypt: the response has no ciphertextDataIntegrityValue though one was asked for');
  });

  it('the CDIV matches the SHA-256 computed here over aad ‖ metadata ‖ iv ‖ ciphertext ‖ tag.', async () => {
    const mismatch = 'Encrypt: the ciphertextDataIntegrityValue does not match the result';
    await refused({ kind: 'wrongCdiv' }, encrypt, mismatch);
    await refused({ kind: 'tamperedCiphertext' }, encrypt, mismatch);
    // Each part counts: ciphertextMetadata added after the CDIV, the CDIV over other AAD, truncated.
    await refused(edit((b) => ({ ...b, ciphertextMetadata: Buffer.from('v1').toString('base64') })), encrypt, mismatch);
    await refused(edit((b) => recomputedCdiv(b, Buffer.from('other aad'))), encrypt, mismatch);
    await refused(edit((b) => recomputedCdiv(b, Buffer.alloc(0))), encrypt, mismatch);
    await refused(edit((b) => resized(b, 'ciphertextDataIntegrityValue', 16)), encrypt, mismatch);
    // The spec's example (Appendix C): it matches with its AAD, and not with another.
    const sealed = encryptResult(answerOf(SPEC_EXAMPLE), SPEC_EXAMPLE_AAD, 'Hello World!'.length, []);
    expect(sealed).toEqual({
      iv: Buffer.from('HMrlRw85cAJUd5Ax', 'base64'), ciphertext: Buffer.from('ghxkK1txeDNn3q8Y', 'base64'), tag: Buffer.from('vBxN2ncH1oEkR8WVXpmyYQ==', 'base64'),
      metadata: Buffer.from('key_version=1'),
    });
    expect(() => encryptResult(answerOf(SPEC_EXAMPLE), Buffer.from('project=nile,department=sales'), 12, [])).toThrow(mismatch);
  });

  it('AES-GCM plaintext is as long as the ciphertext.', async () => {
    const sealed = await client.encrypt('key-1', Buffer.alloc(0), plaintextCanary(), call());
    const decrypt = () => client.decrypt('key-1', Buffer.alloc(0), sealed, call('Decrypt'));
    for (const bytes of [33, 31, 0]) {
      await refused(edit((b) => resized(b, 'plaintext', bytes)), decrypt, 'Decrypt: the plaintext is not as long as the ciphertext (32 bytes)');
    }
  });

  it('a list field is an array of at most ten strings.', async () => {
    const detail = 'GetKeyMetadata: the response\'s keyUsage is not a list of at most 10 strings';
    for (const keyUsage of [undefined, null, 'ENCRYPT', { 0: 'ENCRYPT' }, Array.from({ length: 11 }, () => 'ENCRYPT'), ['ENCRYPT', 1], [null]]) {
      await refused(edit((b) => ({ ...b, keyUsage })), keyMetadata, detail);
    }
    const ten = Array.from({ length: 10 }, () => 'ENCRYPT');
    expect((await accepted(edit((b) => ({ ...b, keyUsage: ten })), keyMetadata)).keyUsage).toEqual(ten);
  });

  it('xksProxyFleetSize is an integer greater than zero.', async () => {
    const detail = 'GetHealthStatus: the response\'s xksProxyFleetSize is not an integer greater than zero';
    for (const xksProxyFleetSize of [undefined, null, 0, -1, 1.5, '2', 2 ** 53, [1]]) {
      await refused(edit((b) => ({ ...b, xksProxyFleetSize })), health, detail);
    }
    expect((await accepted(edit((b) => ({ ...b, xksProxyFleetSize: 3 })), health)).xksProxyFleetSize).toBe(3);
  });

  it('ekmFleetDetails lists one to ten key managers.', async () => {
    const detail = 'GetHealthStatus: the response\'s ekmFleetDetails is not a list of 1 to 10 entries';
    const managers = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `ekm-${i}`, model: 'm', healthStatus: 'ACTIVE' }));
    for (const ekmFleetDetails of [undefined, null, [], managers(11), managers(1)[0], 'ekm-1']) {
      await refused(edit((b) => ({ ...b, ekmFleetDetails })), health, detail);
    }
    expect((await accepted(edit((b) => ({ ...b, ekmFleetDetails: managers(10) })), health)).ekmFleetDetails).toEqual(managers(10));
  });

  it('each key manager entry is an object with id, model and a known healthStatus.', async () => {
    const good = { id: 'ekm-1', model: 'm', healthStatus: 'ACTIVE' };
    const fleet = (entry: unknown) => edit((b) => ({ ...b, ekmFleetDetails: [good, entry] }));
    for (const entry of [null, 'ekm-2', 2, [good]]) {
      await refused(fleet(entry), health, 'GetHealthStatus: ekmFleetDetails[1] is not an object');
    }
    for (const name of ['id', 'model', 'healthStatus']) {
      await refused(fleet({ ...good, [name]: undefined }), health, `GetHealthStatus ekmFleetDetails[1]: the response has no ${name} string`);
      await refused(fleet({ ...good, [name]: 7 }), health, `GetHealthStatus ekmFleetDetails[1]: the response has no ${name} string`);
    }
    for (const healthStatus of ['GREAT', 'active', 'HEALTHY', '']) {
      await refused(fleet({ ...good, healthStatus }), health, 'GetHealthStatus: ekmFleetDetails[1].healthStatus is not one of ACTIVE, DEGRADED, UNAVAILABLE');
    }
    const known = ['ACTIVE', 'DEGRADED', 'UNAVAILABLE'].map((healthStatus, i) => ({ id: `ekm-${i}`, model: 'm', healthStatus }));
    expect((await accepted(edit((b) => ({ ...b, ekmFleetDetails: known })), health)).ekmFleetDetails).toEqual(known);
  });

  /** The proxy's health answer as JSON of exactly `bytes` bytes. */
  const healthOf = (bytes: number) => {
    const padded = { ...HEALTH, padding: '' };
    return JSON.stringify({ ...padded, padding: 'x'.repeat(bytes - JSON.stringify(padded).length) });
  };

  /** An HTTP server that starts an answer with `begin` and never finishes it. */
  async function unfinished(begin: (res: http.ServerResponse) => void) {
    let served = 0;
    const server = http.createServer((_req, res) => {
      served += 1;
      begin(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
      served: () => served,
      close: () => {
        server.closeAllConnections();
        server.close();
      },
    };
  }

  it('a response larger than the bound is refused before it is read.', async () => {
    expect(XKS_CLIENT_DEFAULTS.maxResponseBytes).toBe(1024 * 1024);
    const small = open(proxy.url, { maxResponseBytes: 1024 });
    const smallHealth = () => small.getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' });
    // The fault proxy declares each answer's content-length: at the bound it is read, one byte over it is not.
    const declared = (bytes: number) => edit(() => JSON.parse(healthOf(bytes)) as Record<string, unknown>);
    expect(await accepted(declared(1024), smallHealth)).toMatchObject({ xksProxyFleetSize: 1 });
    await refused(declared(1025), smallHealth, `GetHealthStatus: the response from 127.0.0.1:${proxy.port} declares 1025 bytes, over the limit of 1024`);
    // A proxy that declares more than the bound and sends one byte: refused at once, not waited for.
    const server = await unfinished((res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) });
      res.write('{');
    });
    try {
      const started = Date.now();
      const f = await failure(open(server.url, { maxResponseBytes: 1024, timeoutMs: 1000 }).getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' }));
      expect(f.kind).toBe('XksProxyInvalidResponse');
      expect(f.detail).toMatch(/declares 10485760 bytes, over the limit of 1024$/);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(server.served()).toBe(1);
    } finally {
      server.close();
    }
  });

  it('a response larger than the bound is refused as soon as it exceeds it.', async () => {
    const small = open(proxy.url, { maxResponseBytes: 1024 });
    const smallHealth = () => small.getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' });
    // Chunked, without a content-length: at the bound it is read, one byte over it is not.
    expect(await accepted({ kind: 'raw', status: 200, contentType: 'application/json', body: healthOf(1024) }, smallHealth)).toMatchObject({ xksProxyFleetSize: 1 });
    await refused({ kind: 'raw', status: 200, contentType: 'application/json', body: healthOf(1025) }, smallHealth, `GetHealthStatus: the response from 127.0.0.1:${proxy.port} exceeds the limit of 1024 bytes`);
    // A proxy that streams past the bound and never ends: refused once past it, not waited for.
    const server = await unfinished((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"padding":"${'x'.repeat(2048)}`);
    });
    try {
      const started = Date.now();
      const f = await failure(open(server.url, { maxResponseBytes: 1024, timeoutMs: 1000 }).getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' }));
      expect(f.kind).toBe('XksProxyInvalidResponse');
      expect(f.detail).toMatch(/exceeds the limit of 1024 bytes$/);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(server.served()).toBe(1);
    } finally {
      server.close();
    }
  });

  it('an answer that is not HTTP at all', async () => {
    const server = net.createServer((socket) => {
      socket.once('data', () => socket.end('SSH-2.0-OpenSSH_9.6\r\n'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const c = open(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
      expect((await failure(c.getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' }))).kind).toBe('XksProxyInvalidResponse');
    } finally {
      server.close();
    }
  });
});

describe('connections that fail', () => {
  it('a connection destroyed mid-response: XksProxyUnreachableException, not retried', async () => {
    proxy.setFault({ kind: 'destroyMidResponse' });
    const f = await failure(client.encrypt('key-1', Buffer.alloc(0), plaintextCanary(), call()));
    expect(f.kind).toBe('XksProxyUnreachableException');
    expect(proxy.requests).toHaveLength(1);
  });

  it('a new connection closed without an answer: XksProxyUnreachableException, not retried', async () => {
    proxy.setFault({ kind: 'destroyBeforeResponse' });
    expect((await failure(client.getKeyMetadata('key-1', call()))).kind).toBe('XksProxyUnreachableException');
    expect(proxy.requests).toHaveLength(1);
  });

  it('a kept-alive connection the proxy closed as it was reused: one retry on a new connection', async () => {
    await client.getKeyMetadata('key-1', call());
    proxy.setFault({ kind: 'destroyBeforeResponse' }, 1);
    expect(await client.getKeyMetadata('key-1', call())).toMatchObject({ keySpec: 'AES_256' });
    expect(proxy.requests).toHaveLength(3);
    expect(proxy.requests[1]!.connection).toBe(proxy.requests[0]!.connection);
    expect(proxy.requests[2]!.connection).not.toBe(proxy.requests[0]!.connection);
    // And only one: the new connection closed too is a failure.
    await client.getKeyMetadata('key-1', call());
    proxy.requests.length = 0;
    proxy.setFault({ kind: 'destroyBeforeResponse' });
    expect((await failure(client.getKeyMetadata('key-1', call()))).kind).toBe('XksProxyUnreachableException');
    expect(proxy.requests).toHaveLength(2);
  });

  it('connection refused: XksProxyUnreachableException', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const f = await failure(open(`http://127.0.0.1:${port}`).getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' }));
    expect(f.kind).toBe('XksProxyUnreachableException');
    expect(f.detail).toMatch(/ECONNREFUSED/);
  });

  it('a host that does not resolve: XksProxyUnreachableException', async () => {
    const f = await failure(open('http://xks-proxy.invalid').getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' }));
    expect(f.kind).toBe('XksProxyUnreachableException');
    expect(f.detail).toMatch(/ENOTFOUND|EAI_AGAIN/);
  });

  /** Each of the client's four calls, made with `c`. */
  const everyCall = (c: XksProxyClient): [string, () => Promise<unknown>][] => [
    ['Encrypt', () => c.encrypt('key-1', Buffer.alloc(0), plaintextCanary(), call())],
    ['Decrypt', () => c.decrypt('key-1', Buffer.alloc(0), { iv: randomBytes(12), ciphertext: randomBytes(4), tag: randomBytes(16) }, call('Decrypt'))],
    ['GetKeyMetadata', () => c.getKeyMetadata('key-1', call('DescribeKey'))],
    ['GetHealthStatus', () => c.getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' })],
  ];

  it('the endpoint is an http(s) origin, without a path, query or credentials of its own.', async () => {
    const refused = [
      'ftp://127.0.0.1', 'file:///tmp/xks', 'not a url', '', `${proxy.url}/path`, `${proxy.url}/kms/xks/v1`, `${proxy.url}/?query=1`, `${proxy.url}?query`,
      `${proxy.url}/#fragment`, `http://user:pw@127.0.0.1:${proxy.port}`, `http://user@127.0.0.1:${proxy.port}`, `http://:pw@127.0.0.1:${proxy.port}`,
    ];
    for (const uri of refused) {
      const f = await failure(open(uri).getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' }));
      expect(f.kind).toBe('XksProxyUnreachableException');
      expect(f.detail).toBe('GetHealthStatus: the endpoint is not an http(s) origin (scheme://host[:port])');
    }
    expect(proxy.requests).toHaveLength(0);
    // An origin is used, with or without its trailing slash.
    for (const uri of [proxy.url, `${proxy.url}/`]) await open(uri).getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' });
    expect(proxy.requests.map((r) => r.path)).toEqual([`${URI_PATH}/health`, `${URI_PATH}/health`]);
  });

  it('the endpoint must be usable.', async () => {
    // Unusable for either reason the client knows: not an origin, or a URI path not under /.
    const noOrigin = open('not a url');
    const relativePath = new XksHttpConnector({ region: REGION, timeoutMs: RELAXED_MS }).open({ ...endpoint(proxy.url), uriPath: URI_PATH.slice(1) });
    clients.push(relativePath);
    for (const [operation, run] of everyCall(noOrigin)) {
      const f = await failure(run());
      expect(f.kind).toBe('XksProxyUnreachableException');
      expect(f.detail).toBe(`${operation}: the endpoint is not an http(s) origin (scheme://host[:port])`);
    }
    for (const [operation, run] of everyCall(relativePath)) {
      const f = await failure(run());
      expect(f.kind).toBe('XksProxyUnreachableException');
      expect(f.detail).toBe(`${operation}: the URI path does not start with /`);
    }
    expect(proxy.requests).toHaveLength(0);
  });

  it('a closed client makes no calls.', async () => {
    await client.getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' });
    await client.close();
    for (const [operation, run] of everyCall(client)) {
      const f = await failure(run());
      expect(f.kind).toBe('XksProxyUnreachableException');
      expect(f.detail).toBe(`${operation}: the client is closed`);
    }
    expect(proxy.requests).toHaveLength(1);
    // Closing twice is harmless.
    await client.close();
  });
});

describe('deadline', () => {
  it('is 250 ms per attempt by default; a proxy that never answers in time: one retry, then XksProxyTimedOut', async () => {
    expect(XKS_CLIENT_DEFAULTS.timeoutMs).toBe(250);
    const c = open(proxy.url, { timeoutMs: undefined });
    proxy.setFault({ kind: 'delay', ms: 1500 });
    const started = Date.now();
    const f = await failure(c.encrypt('key-1', Buffer.alloc(0), plaintextCanary(), call()));
    const elapsed = Date.now() - started;
    expect(f.kind).toBe('XksProxyTimedOut');
    expect(f.detail).toMatch(/within 250 ms \(after one retry\)/);
    expect(proxy.requests).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(490);
    expect(elapsed).toBeLessThan(1400);
  });

  it('slow once, then fast: the retry succeeds, on a new connection', async () => {
    const c = open(proxy.url, { timeoutMs: 300 });
    proxy.setFault({ kind: 'delay', ms: 1200 }, 1);
    const plaintext = plaintextCanary();
    const sealed = await c.encrypt('key-1', Buffer.alloc(0), plaintext, call());
    expect(proxy.requests).toHaveLength(2);
    expect(proxy.requests[1]!.connection).not.toBe(proxy.requests[0]!.connection);
    // The same request, signed again.
    expect(proxy.requests[1]!.body).toEqual(proxy.requests[0]!.body);
    expect(await client.decrypt('key-1', Buffer.alloc(0), sealed, call('Decrypt'))).toEqual(plaintext);
  });
});

describe('HTTPS', () => {
  let dir: string;
  let pki: TestPki;
  let tlsProxy: FaultProxy;
  let ca: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'xks-client-'));
    pki = makeTestPki(path.join(dir, 'pki'));
    ca = readFileSync(pki.ca.cert, 'utf8');
    tlsProxy = await startFaultXksProxy({ credential: CREDENTIAL, tls: pki.server });
    tlsProxy.addKey('key-1');
  }, 60_000);

  afterAll(async () => {
    await tlsProxy.close();
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    tlsProxy.requests.length = 0;
  });

  it('verifies the proxy\'s certificate with the extra CA besides the root CAs, by IP and by name, over one kept-alive connection', async () => {
    const connectionsBefore = tlsProxy.connections();
    const c = open(tlsProxy.url, { ca });
    const plaintext = plaintextCanary();
    const sealed = await c.encrypt('key-1', Buffer.alloc(0), plaintext, call());
    expect(await c.decrypt('key-1', Buffer.alloc(0), sealed, call('Decrypt'))).toEqual(plaintext);
    await c.getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' });
    expect(tlsProxy.connections() - connectionsBefore).toBe(1);
    const byName = open(`https://localhost:${tlsProxy.port}`, { ca: [Buffer.from(ca)] });
    expect(await byName.getKeyMetadata('key-1', call())).toMatchObject({ keyStatus: 'ENABLED' });
    expect(tlsProxy.requests.at(-1)!.headers.host).toBe(`localhost:${tlsProxy.port}`);
  });

  it('refuses extra CAs that are not certificates when the connector is made', () => {
    expect(() => new XksHttpConnector({ region: REGION, ca: 'not a certificate' })).toThrow(/ca is not PEM certificates/);
    expect(() => new XksHttpConnector({ region: REGION, ca: [ca, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'] })).toThrow(/ca is not PEM/);
    expect(() => new XksHttpConnector({ region: REGION, ca: ca + ca })).not.toThrow();
  });

  it('without the CA: XksProxyInvalidTlsConfiguration, no request made, not retried', async () => {
    const connectionsBefore = tlsProxy.connections();
    const f = await failure(open(tlsProxy.url).getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' }));
    expect(f.kind).toBe('XksProxyInvalidTlsConfiguration');
    expect(f.detail).toMatch(/certificate/);
    expect(tlsProxy.requests).toHaveLength(0);
    expect(tlsProxy.connections()).toBe(connectionsBefore);
  });

  it('a certificate for another host name: XksProxyInvalidTlsConfiguration', async () => {
    const other = serverCertificate(dir, pki, 'elsewhere.example');
    const elsewhere = await startFaultXksProxy({ tls: other });
    try {
      const f = await failure(open(elsewhere.url, { ca }).getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' }));
      expect(f.kind).toBe('XksProxyInvalidTlsConfiguration');
      expect(f.detail).toMatch(/altnames|does not match/i);
    } finally {
      await elsewhere.close();
    }
  });

  it('a plain HTTP server behind an https endpoint: XksProxyInvalidTlsConfiguration', async () => {
    const f = await failure(open(proxy.url.replace('http:', 'https:'), { ca }).getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' }));
    expect(f.kind).toBe('XksProxyInvalidTlsConfiguration');
  });

  it('a proxy that demands a client certificate: XksProxyInvalidTlsConfiguration', async () => {
    const server = https.createServer({ cert: readFileSync(pki.server.cert), key: readFileSync(pki.server.key), ca: readFileSync(pki.ca.cert), requestCert: true, rejectUnauthorized: true }, (_req, res) => res.end('{}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const f = await failure(open(`https://127.0.0.1:${(server.address() as net.AddressInfo).port}`, { ca }).getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' }));
      expect(f.kind).toBe('XksProxyInvalidTlsConfiguration');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

/** A server certificate for `name` only, from the test CA. */
function serverCertificate(dir: string, pki: TestPki, name: string): { cert: string; key: string } {
  const base = path.join(dir, name);
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${name}`);
  writeFileSync(`${base}.ext`, `subjectAltName=DNS:${name}\nextendedKeyUsage=serverAuth\n`);
  run('x509', '-req', '-in', `${base}.csr`, '-CA', pki.ca.cert, '-CAkey', pki.ca.key, '-CAcreateserial', '-out', `${base}.pem`, '-days', '2', '-extfile', `${base}.ext`);
  return { cert: `${base}.pem`, key: `${base}.key` };
}

