// The XKS proxy client (src/xks-client) against a fault-injecting proxy on 127.0.0.1: the
// requests it sends (paths, requestMetadata, SigV4 for kms-xks-proxy, verified by our own
// verifier), responses parsed and checked (sizes, Base64, the CDIV), every fault mapped to its
// XksProxyFailure kind, exactly one retry and only for a timeout (or a kept-alive connection
// the proxy had just closed), one connection reused across calls, HTTPS with a test CA.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

  it('refuses a request body over its bound without sending it', async () => {
    const small = open(proxy.url, { maxRequestBytes: 1024 });
    const f = await failure(small.encrypt('key-1', Buffer.alloc(0), plaintextCanary(2048), call()));
    expect(f.kind).toBe('ValidationException');
    expect(proxy.requests).toHaveLength(0);
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

  it('checks the CDIV as Appendix C computes it (the spec\'s example)', () => {
    const example = {
      authenticationTag: 'vBxN2ncH1oEkR8WVXpmyYQ==', ciphertext: 'ghxkK1txeDNn3q8Y', ciphertextDataIntegrityValue: 'qHA/ImC9h5HsLRXqCyPmWgYx7tzyoTplzILbP0fPXsc=',
      ciphertextMetadata: 'a2V5X3ZlcnNpb249MQ==', initializationVector: 'HMrlRw85cAJUd5Ax',
    };
    const answer = (body: unknown) => ({ status: 200, headers: {}, body: Buffer.from(JSON.stringify(body)) });
    const aad = Buffer.from('project=nile,department=marketing');
    const sealed = encryptResult(answer(example), aad, 'Hello World!'.length, []);
    expect(sealed).toEqual({
      iv: Buffer.from('HMrlRw85cAJUd5Ax', 'base64'), ciphertext: Buffer.from('ghxkK1txeDNn3q8Y', 'base64'), tag: Buffer.from('vBxN2ncH1oEkR8WVXpmyYQ==', 'base64'),
      metadata: Buffer.from('key_version=1'),
    });
    expect(() => encryptResult(answer(example), Buffer.from('project=nile,department=sales'), 12, [])).toThrow(/ciphertextDataIntegrityValue does not match/);
  });

  it('accepts a 16-byte IV', async () => {
    proxy.setFault({ kind: 'ivSize', bytes: 16 }, 1);
    expect((await client.encrypt('key-1', Buffer.alloc(0), randomBytes(8), call())).iv).toHaveLength(16);
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
  const encryptFaults: [string, Fault][] = [
    ['an unknown errorName', { kind: 'error', errorName: 'SomethingElseException', status: 400 }],
    ['a JSON error without errorName', { kind: 'raw', status: 400, contentType: 'application/json', body: '{"message":"no"}' }],
    ['an HTML 502 from a load balancer', { kind: 'raw', status: 502, contentType: 'text/html', body: '<html><body><h1>502 Bad Gateway</h1></body></html>' }],
    ['an empty 500', { kind: 'raw', status: 500, contentType: 'text/plain', body: '' }],
    ['garbage with 200', { kind: 'raw', status: 200, contentType: 'application/json', body: '\x00\x01not json' }],
    ['a JSON array with 200', { kind: 'raw', status: 200, contentType: 'application/json', body: '[]' }],
    ['201 instead of 200', { kind: 'raw', status: 201, contentType: 'application/json', body: '{}' }],
    ['a redirect', { kind: 'raw', status: 302, contentType: 'text/html', body: 'moved' }],
    ['a CDIV that does not match', { kind: 'wrongCdiv' }],
    ['a ciphertext tampered with after the CDIV', { kind: 'tamperedCiphertext' }],
    ['an 8-byte IV', { kind: 'ivSize', bytes: 8 }],
    ['a 13-byte IV', { kind: 'ivSize', bytes: 13 }],
    ['no CDIV', { kind: 'edit', edit: ({ ciphertextDataIntegrityValue: _, ...rest }) => rest }],
    ['no ciphertext', { kind: 'edit', edit: ({ ciphertext: _, ...rest }) => rest }],
    ['no initializationVector', { kind: 'edit', edit: ({ initializationVector: _, ...rest }) => rest }],
    ['no authenticationTag', { kind: 'edit', edit: ({ authenticationTag: _, ...rest }) => rest }],
    ['a 12-byte tag', { kind: 'edit', edit: (b) => ({ ...b, authenticationTag: randomBytes(12).toString('base64') }) }],
    ['ciphertext that is not Base64', { kind: 'edit', edit: (b) => ({ ...b, ciphertext: 'not base64!' }) }],
    ['ciphertext in URL-safe Base64', { kind: 'edit', edit: (b) => ({ ...b, ciphertext: (b.ciphertext as string).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') + '-_' }) }],
    ['a Base64 IV without padding', { kind: 'edit', edit: (b) => ({ ...b, initializationVector: randomBytes(13).toString('base64').replace(/=+$/, '') }) }],
    ['a ciphertext as a number', { kind: 'edit', edit: (b) => ({ ...b, ciphertext: 12 }) }],
    ['ciphertext shorter than the plaintext', { kind: 'edit', edit: (b) => ({ ...b, ciphertext: Buffer.from(b.ciphertext as string, 'base64').subarray(1).toString('base64') }) }],
    ['21 bytes of ciphertextMetadata', { kind: 'edit', edit: (b) => ({ ...b, ciphertextMetadata: randomBytes(21).toString('base64') }) }],
    ['ciphertextMetadata the CDIV does not cover', { kind: 'edit', edit: (b) => ({ ...b, ciphertextMetadata: Buffer.from('v1').toString('base64') }) }],
  ];

  it.each(encryptFaults)('Encrypt: %s', async (_name, fault) => {
    proxy.setFault(fault);
    const f = await failure(client.encrypt('key-1', Buffer.from('aad'), plaintextCanary(), call()));
    expect(f.kind).toBe('XksProxyInvalidResponse');
    expect(f.detail).toMatch(/^Encrypt: /);
    expect(proxy.requests).toHaveLength(1);
  });

  it('Base64 with stray bits past the last byte (not canonical)', async () => {
    // "QR==" decodes to the same byte as "QQ==".
    proxy.setFault({ kind: 'edit', edit: (b) => ({ ...b, ciphertext: 'QR==' }) });
    expect((await failure(client.encrypt('key-1', Buffer.alloc(0), Buffer.from('A'), call()))).kind).toBe('XksProxyInvalidResponse');
  });

  const sealedFor = async (plaintext: Buffer) => {
    proxy.setFault(undefined);
    return client.encrypt('key-1', Buffer.alloc(0), plaintext, call());
  };

  it.each<[string, (b: Record<string, unknown>) => Record<string, unknown>]>([
    ['no plaintext', () => ({})],
    ['plaintext that is not Base64', () => ({ plaintext: '***' })],
    ['plaintext longer than the ciphertext', (b) => ({ plaintext: Buffer.concat([Buffer.from(b.plaintext as string, 'base64'), Buffer.from('x')]).toString('base64') })],
    ['plaintext null', () => ({ plaintext: null })],
  ])('Decrypt: %s', async (_name, edit) => {
    const sealed = await sealedFor(plaintextCanary());
    proxy.requests.length = 0;
    proxy.setFault({ kind: 'edit', edit });
    const f = await failure(client.decrypt('key-1', Buffer.alloc(0), sealed, call('Decrypt')));
    expect(f.kind).toBe('XksProxyInvalidResponse');
    expect(proxy.requests).toHaveLength(1);
  });

  it.each<[string, (b: Record<string, unknown>) => Record<string, unknown>]>([
    ['no ekmFleetDetails', ({ ekmFleetDetails: _, ...rest }) => rest],
    ['an empty ekmFleetDetails', (b) => ({ ...b, ekmFleetDetails: [] })],
    ['eleven key managers', (b) => ({ ...b, ekmFleetDetails: Array.from({ length: 11 }, (_, i) => ({ id: `e${i}`, model: 'm', healthStatus: 'ACTIVE' })) })],
    ['a key manager without id', (b) => ({ ...b, ekmFleetDetails: [{ model: 'm', healthStatus: 'ACTIVE' }] })],
    ['an unknown healthStatus', (b) => ({ ...b, ekmFleetDetails: [{ id: 'e', model: 'm', healthStatus: 'GREAT' }] })],
    ['xksProxyFleetSize 0', (b) => ({ ...b, xksProxyFleetSize: 0 })],
    ['xksProxyFleetSize 1.5', (b) => ({ ...b, xksProxyFleetSize: 1.5 })],
    ['xksProxyFleetSize as a string', (b) => ({ ...b, xksProxyFleetSize: '2' })],
    ['no ekmVendor', ({ ekmVendor: _, ...rest }) => rest],
    ['no xksProxyVendor', ({ xksProxyVendor: _, ...rest }) => rest],
  ])('GetHealthStatus: %s', async (_name, edit) => {
    proxy.setFault({ kind: 'edit', edit });
    expect((await failure(client.getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' }))).kind).toBe('XksProxyInvalidResponse');
  });

  it.each<[string, (b: Record<string, unknown>) => Record<string, unknown>]>([
    ['no keySpec', ({ keySpec: _, ...rest }) => rest],
    ['no keyUsage', ({ keyUsage: _, ...rest }) => rest],
    ['no keyStatus', ({ keyStatus: _, ...rest }) => rest],
    ['keyUsage as a string', (b) => ({ ...b, keyUsage: 'ENCRYPT' })],
    ['eleven keyUsage values', (b) => ({ ...b, keyUsage: Array.from({ length: 11 }, () => 'ENCRYPT') })],
  ])('GetKeyMetadata: %s', async (_name, edit) => {
    proxy.setFault({ kind: 'edit', edit });
    expect((await failure(client.getKeyMetadata('key-1', call('DescribeKey')))).kind).toBe('XksProxyInvalidResponse');
  });

  it('a response over the bound, whether its length is declared or not', async () => {
    const small = open(proxy.url, { maxResponseBytes: 1024 });
    // With a content-length: refused before it is read.
    proxy.setFault({ kind: 'edit', edit: (b) => ({ ...b, padding: 'x'.repeat(5000) }) });
    expect((await failure(small.getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' }))).detail).toMatch(/declares \d+ bytes, over the limit of 1024/);
    // Chunked, no content-length: refused once past the bound.
    proxy.setFault({ kind: 'raw', status: 200, contentType: 'application/json', body: JSON.stringify({ plaintext: 'A'.repeat(2000) }) });
    const f = await failure(small.getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' }));
    expect(f.kind).toBe('XksProxyInvalidResponse');
    expect(f.detail).toMatch(/exceeds the limit of 1024 bytes/);
    expect(proxy.requests).toHaveLength(2);
    expect(XKS_CLIENT_DEFAULTS.maxResponseBytes).toBe(1024 * 1024);
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

  it('an endpoint that is not an http(s) origin: XksProxyUnreachableException, nothing sent', async () => {
    for (const uri of ['ftp://127.0.0.1', 'not a url', `${proxy.url}/path`, `http://user:pw@127.0.0.1:${proxy.port}`]) {
      expect((await failure(open(uri).getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' }))).kind).toBe('XksProxyUnreachableException');
    }
    expect(proxy.requests).toHaveLength(0);
  });

  it('close() closes the connection, and a closed client makes no call', async () => {
    await client.getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' });
    await client.close();
    expect((await failure(client.getHealthStatus({ operation: 'KmsHealthCheck', requestId: 'h' }))).detail).toMatch(/closed/);
    expect(proxy.requests).toHaveLength(1);
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

