// The XKS proxy's core with fakes: the node:crypto FakeToken (whose key material a test may
// read, so ciphertexts are checked independently), the in-memory store and a fixed clock.
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import * as pkcs11js from 'pkcs11js';
import type { RequestContext } from '../../src/core/api/context';
import type { DispatchableOperation } from '../../src/core/api/operation';
import { evaluatePolicySet } from '../../src/core/access/policy';
import type { CoreDeps } from '../../src/core/deps';
import { KmsError, RevisionConflictError } from '../../src/core/errors';
import type { AesGcmSealed } from '../../src/core/key-stores/port';
import { xksGcmAad } from '../../src/core/xks-proxy/aad';
import { ciphertextDataIntegrityValue } from '../../src/core/xks-proxy/cdiv';
import type { XksCallContext } from '../../src/core/xks-proxy/context';
import { createExternalKey } from '../../src/core/xks-proxy/create-external-key';
import { xksDecrypt } from '../../src/core/xks-proxy/decrypt';
import { deleteExternalKey } from '../../src/core/xks-proxy/delete-external-key';
import { disableExternalKey } from '../../src/core/xks-proxy/disable-external-key';
import { enableExternalKey } from '../../src/core/xks-proxy/enable-external-key';
import { xksEncrypt } from '../../src/core/xks-proxy/encrypt';
import { xksGetHealthStatus } from '../../src/core/xks-proxy/get-health-status';
import { xksGetKeyMetadata } from '../../src/core/xks-proxy/get-key-metadata';
import { XksHealthMonitor } from '../../src/core/xks-proxy/health';
import { listExternalKeys } from '../../src/core/xks-proxy/list-external-keys';
import { xksErrorFor } from '../../src/http/xks/errors';
import { toKmsError } from '../../src/pkcs11/errors';
import { TokenExternalKeys, XKS_HEALTH_KEY_ID } from '../../src/pkcs11/external-keys';
import type { TokenAesGcm } from '../../src/pkcs11/aes-gcm';
import type { TokenKeyObjects, TokenObjects } from '../../src/pkcs11/token-objects';
import { newCoreDeps } from '../support/core-harness';
import type { FakeClock } from '../support/clock';
import { FakeToken } from '../support/fake-token';

const PREFIX = '/keystores/alpha';
const ctxBase: RequestContext = { principal: { arn: 'xks-credential:TEST', accountId: '', policies: [] }, region: 'us-east-1', requestId: 'r' };
const meta = (kmsOperation = 'Encrypt', extra: Record<string, unknown> = {}) => ({
  awsPrincipalArn: 'arn:aws:iam::123456789012:user/Alice', kmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/k', kmsOperation, kmsRequestId: 'id', ...extra,
});
const b64 = (b: Buffer) => b.toString('base64');

let deps: CoreDeps;
let token: FakeToken;
let clock: FakeClock;

beforeEach(async () => {
  ({ deps, token, clock } = await newCoreDeps());
  deps.xksProxy = {
    health: new XksHealthMonitor(deps.keyStores, clock, { cacheMs: 2000, degradedAfterMs: 50, timeoutMs: 500 }),
    fleetSize: () => 3,
    tokenTimeoutMs: 100,
  };
});

function xks(externalKeyId?: string, overrides: Partial<XksCallContext> = {}): RequestContext {
  return { ...ctxBase, xks: { keyStorePrefix: PREFIX, externalKeyId, policies: [], ...overrides } };
}

async function run(operation: DispatchableOperation, body: unknown, ctx: RequestContext = xks()): Promise<Record<string, unknown>> {
  return (await operation.prepare(JSON.parse(JSON.stringify(body))).run(deps, ctx)) as Record<string, unknown>;
}

async function failureOf(promise: Promise<unknown>): Promise<{ code: string; xks: string }> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof KmsError)) throw new Error(`expected a KmsError, got ${String(error)}`);
  return { code: error.code, xks: xksErrorFor[error.code] };
}

async function create(externalKeyId: string, usage: string[] = ['ENCRYPT', 'DECRYPT'], extra: Record<string, unknown> = {}) {
  return run(createExternalKey, { keyStorePrefix: PREFIX, externalKeyId, usage, ...extra }, ctxBase);
}

/** The key material the fake token holds for an external key: what makes independent checks possible. */
async function materialOf(externalKeyId: string): Promise<Buffer> {
  const record = (await deps.store.externalKeys.get(PREFIX, externalKeyId))!;
  const key = token.keys.get(record.backing.objectId);
  if (key?.kind !== 'aes') throw new Error('no AES key');
  return key.key;
}

const encryptBody = (plaintext: Buffer, extra: Record<string, unknown> = {}) => ({ requestMetadata: meta(), plaintext: b64(plaintext), encryptionAlgorithm: 'AES_GCM', ...extra });
const decryptBody = (sealed: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  requestMetadata: meta('Decrypt'), encryptionAlgorithm: 'AES_GCM', ciphertext: b64(sealed.ciphertext as Buffer),
  initializationVector: b64(sealed.initializationVector as Buffer), authenticationTag: b64(sealed.authenticationTag as Buffer), ...extra,
});

describe('the AAD and the CDIV', () => {
  it('the token\'s AAD is the 2-byte big-endian AAD length, the AAD, the 1-byte metadata length and the metadata', () => {
    expect(xksGcmAad()).toEqual(Buffer.from([0, 0, 0]));
    expect(xksGcmAad(Buffer.from('ab'), Buffer.from('x'))).toEqual(Buffer.from([0, 2, 0x61, 0x62, 1, 0x78]));
    expect(xksGcmAad(Buffer.alloc(300, 7)).subarray(0, 2)).toEqual(Buffer.from([0x01, 0x2c]));
    expect(xksGcmAad(Buffer.alloc(8192)).length).toBe(8192 + 3);
    expect(xksGcmAad(undefined, Buffer.from('m'))).toEqual(Buffer.from([0, 0, 1, 0x6d]));
    // An AAD that ends with what looks like metadata is not the same input as AAD plus metadata.
    expect(xksGcmAad(Buffer.from('abx'))).not.toEqual(xksGcmAad(Buffer.from('ab'), Buffer.from('x')));
    expect(() => xksGcmAad(Buffer.alloc(65536))).toThrow(RangeError);
    expect(() => xksGcmAad(undefined, Buffer.alloc(21))).toThrow(RangeError);
  });

  it('the CDIV of the spec\'s Appendix C example is qHA/ImC9h5HsLRXqCyPmWgYx7tzyoTplzILbP0fPXsc=', () => {
    const sealed: AesGcmSealed = {
      iv: Buffer.from('HMrlRw85cAJUd5Ax', 'base64'), ciphertext: Buffer.from('ghxkK1txeDNn3q8Y', 'base64'), tag: Buffer.from('vBxN2ncH1oEkR8WVXpmyYQ==', 'base64'),
    };
    const cdiv = ciphertextDataIntegrityValue(Buffer.from('project=nile,department=marketing'), Buffer.from('key_version=1'), sealed);
    expect(cdiv.toString('base64')).toBe('qHA/ImC9h5HsLRXqCyPmWgYx7tzyoTplzILbP0fPXsc=');
    expect(cdiv.toString('hex')).toBe('a8703f2260bd8791ec2d15ea0b23e65a0631eedcf2a13a65cc82db3f47cf5ec7');
    // Absent fields count as empty.
    expect(ciphertextDataIntegrityValue(undefined, undefined, sealed)).toEqual(createHash('sha256').update(Buffer.concat([sealed.iv, sealed.ciphertext, sealed.tag])).digest());
  });

  it('Encrypt is AES-256-GCM under the key with the spec\'s AAD, and its CDIV covers AAD, IV, ciphertext and tag (node:crypto)', async () => {
    await create('k1');
    const plaintext = randomBytes(4300);
    const aad = randomBytes(8192);
    const out = await run(xksEncrypt, encryptBody(plaintext, { additionalAuthenticatedData: b64(aad), ciphertextDataIntegrityValueAlgorithm: 'SHA_256' }), xks('k1'));
    const iv = out.initializationVector as Buffer;
    const cipher = createCipheriv('aes-256-gcm', await materialOf('k1'), iv).setAAD(Buffer.concat([Buffer.from([0x20, 0x00]), aad, Buffer.from([0])]));
    expect((out.ciphertext as Buffer).equals(Buffer.concat([cipher.update(plaintext), cipher.final()]))).toBe(true);
    expect((out.authenticationTag as Buffer).equals(cipher.getAuthTag())).toBe(true);
    const expectedCdiv = createHash('sha256').update(Buffer.concat([aad, iv, out.ciphertext as Buffer, out.authenticationTag as Buffer])).digest();
    expect((out.ciphertextDataIntegrityValue as Buffer).equals(expectedCdiv)).toBe(true);
    expect(Object.keys(out).sort()).toEqual(['authenticationTag', 'ciphertext', 'ciphertextDataIntegrityValue', 'initializationVector']);
    const opened = await run(xksDecrypt, decryptBody(out, { additionalAuthenticatedData: b64(aad) }), xks('k1'));
    expect((opened.plaintext as Buffer).equals(plaintext)).toBe(true);
  });

  it('a CDIV is returned only for a result that decrypts to the plaintext.', async () => {
    await create('k1');
    const spy = jest.spyOn(token.externalKeys, 'decrypt').mockResolvedValue(Buffer.from('something else'));
    expect(await failureOf(run(xksEncrypt, encryptBody(Buffer.from('data'), { ciphertextDataIntegrityValueAlgorithm: 'SHA_256' }), xks('k1'))))
      .toEqual({ code: 'KMSInternalException', xks: 'InternalException' });
    spy.mockRestore();
    // An encrypt-only key cannot show its result decrypts, so it gives no CDIV, and the token is not even asked to encrypt.
    await create('enc', ['ENCRYPT']);
    const encrypt = jest.spyOn(token.externalKeys, 'encrypt');
    expect(await failureOf(run(xksEncrypt, encryptBody(Buffer.from('data'), { ciphertextDataIntegrityValueAlgorithm: 'SHA_256' }), xks('enc'))))
      .toEqual({ code: 'InvalidKeyUsageException', xks: 'InvalidKeyUsageException' });
    expect(encrypt).not.toHaveBeenCalled();
  });
});

describe('request checks', () => {
  beforeEach(async () => {
    await create('k1');
  });

  it('plaintext beyond what the proxy supports is UnsupportedOperationException.', async () => {
    expect(await failureOf(run(xksEncrypt, encryptBody(randomBytes(65537)), xks('k1')))).toEqual({ code: 'UnsupportedOperationException', xks: 'UnsupportedOperationException' });
    expect((await run(xksEncrypt, encryptBody(randomBytes(65536)), xks('k1'))).ciphertext).toHaveLength(65536);
  });

  it('additional authenticated data beyond what its 2-byte length prefix states is UnsupportedOperationException.', async () => {
    expect(await failureOf(run(xksEncrypt, encryptBody(Buffer.from('x'), { additionalAuthenticatedData: b64(randomBytes(65536)) }), xks('k1'))))
      .toEqual({ code: 'UnsupportedOperationException', xks: 'UnsupportedOperationException' });
    const sealed = await run(xksEncrypt, encryptBody(Buffer.from('x')), xks('k1'));
    expect(await failureOf(run(xksDecrypt, decryptBody(sealed, { additionalAuthenticatedData: b64(randomBytes(65536)) }), xks('k1'))))
      .toEqual({ code: 'UnsupportedOperationException', xks: 'UnsupportedOperationException' });
  });

  it('ciphertext beyond what the proxy supports is UnsupportedOperationException.', async () => {
    const sealed = await run(xksEncrypt, encryptBody(Buffer.from('x')), xks('k1'));
    expect(await failureOf(run(xksDecrypt, { ...decryptBody(sealed), ciphertext: b64(randomBytes(65537)) }, xks('k1'))))
      .toEqual({ code: 'UnsupportedOperationException', xks: 'UnsupportedOperationException' });
  });

  it('an initialization vector must be 12 or 16 bytes.', async () => {
    const sealed = await run(xksEncrypt, encryptBody(Buffer.from('x')), xks('k1'));
    for (const length of [13, 14, 15]) {
      expect(await failureOf(run(xksDecrypt, { ...decryptBody(sealed), initializationVector: b64(randomBytes(length)) }, xks('k1')))).toEqual({ code: 'ValidationException', xks: 'ValidationException' });
    }
    for (const length of [11, 17]) {
      expect((await failureOf(run(xksDecrypt, { ...decryptBody(sealed), initializationVector: b64(randomBytes(length)) }, xks('k1')))).xks).toBe('ValidationException');
    }
  });

  it('a 16-byte initialization vector is InvalidCiphertextException, as this proxy\'s Encrypt never makes one.', async () => {
    const sealed = await run(xksEncrypt, encryptBody(Buffer.from('x')), xks('k1'));
    const decrypt = jest.spyOn(token.externalKeys, 'decrypt');
    expect(await failureOf(run(xksDecrypt, { ...decryptBody(sealed), initializationVector: b64(randomBytes(16)) }, xks('k1'))))
      .toEqual({ code: 'InvalidCiphertextException', xks: 'InvalidCiphertextException' });
    expect(decrypt).not.toHaveBeenCalled();
  });

  it('an external key id is 1 to 128 characters of letters, digits, \'.\', \'_\' and \'-\'.', async () => {
    for (const id of ['', 'a b', 'a/b', 'é', 'x'.repeat(129), undefined]) {
      expect(await failureOf(run(xksGetKeyMetadata, { requestMetadata: meta('DescribeKey') }, xks(id)))).toEqual({ code: 'ValidationException', xks: 'ValidationException' });
    }
    expect(await failureOf(run(xksGetKeyMetadata, { requestMetadata: meta('DescribeKey') }, xks('Ok.id-1_'.padEnd(128, '9'))))).toEqual({ code: 'NotFoundException', xks: 'KeyNotFoundException' });
  });

  it('requestMetadata is required, with the fields each API needs, and kmsOperation is never refused', async () => {
    for (const body of [{}, { requestMetadata: {} }, { requestMetadata: null }, { requestMetadata: [] }]) {
      expect((await failureOf(run(xksGetHealthStatus, body))).xks).toBe('ValidationException');
      expect((await failureOf(run(xksGetKeyMetadata, body, xks('k1')))).xks).toBe('ValidationException');
    }
    const { kmsKeyArn: _arn, ...noKeyArn } = meta('DescribeKey');
    expect((await run(xksGetKeyMetadata, { requestMetadata: noKeyArn }, xks('k1'))).keySpec).toBe('AES_256');
    expect((await failureOf(run(xksEncrypt, { ...encryptBody(Buffer.from('x')), requestMetadata: noKeyArn }, xks('k1')))).xks).toBe('ValidationException');
    expect((await run(xksEncrypt, { ...encryptBody(Buffer.from('x')), requestMetadata: meta('SomethingNew', { future: { nested: true } }) }, xks('k1'))).ciphertext).toBeDefined();
  });
});

describe('external keys: lookup, status and usage', () => {
  it('an external key is found only in the key store whose URI prefix the request used.', async () => {
    await create('k1');
    expect(await failureOf(run(xksGetKeyMetadata, { requestMetadata: meta('DescribeKey') }, xks('k1', { keyStorePrefix: '/keystores/other' }))))
      .toEqual({ code: 'NotFoundException', xks: 'KeyNotFoundException' });
    expect(await run(xksGetKeyMetadata, { requestMetadata: meta('DescribeKey') }, xks('k1'))).toEqual({ keySpec: 'AES_256', keyUsage: ['ENCRYPT', 'DECRYPT'], keyStatus: 'ENABLED' });
  });

  it('a disabled external key is refused with InvalidStateException.', async () => {
    await create('k1');
    const sealed = await run(xksEncrypt, encryptBody(Buffer.from('x')), xks('k1'));
    await run(disableExternalKey, { keyStorePrefix: PREFIX, externalKeyId: 'k1' }, ctxBase);
    expect(await failureOf(run(xksEncrypt, encryptBody(Buffer.from('x')), xks('k1')))).toEqual({ code: 'DisabledException', xks: 'InvalidStateException' });
    expect(await failureOf(run(xksDecrypt, decryptBody(sealed), xks('k1')))).toEqual({ code: 'DisabledException', xks: 'InvalidStateException' });
    expect((await run(xksGetKeyMetadata, { requestMetadata: meta('DescribeKey') }, xks('k1'))).keyStatus).toBe('DISABLED');
    await run(enableExternalKey, { keyStorePrefix: PREFIX, externalKeyId: 'k1' }, ctxBase);
    expect((await run(xksDecrypt, decryptBody(sealed), xks('k1'))).plaintext).toEqual(Buffer.from('x'));
  });

  it('an external key is used only for what its usage permits; the token enforces it as well.', async () => {
    await create('enc', ['ENCRYPT']);
    await create('dec', ['DECRYPT']);
    await create('none', []);
    const sealed = await run(xksEncrypt, encryptBody(Buffer.from('x')), xks('enc'));
    expect(await failureOf(run(xksDecrypt, decryptBody(sealed), xks('enc')))).toEqual({ code: 'InvalidKeyUsageException', xks: 'InvalidKeyUsageException' });
    expect(await failureOf(run(xksEncrypt, encryptBody(Buffer.from('x')), xks('dec')))).toEqual({ code: 'InvalidKeyUsageException', xks: 'InvalidKeyUsageException' });
    expect(await failureOf(run(xksEncrypt, encryptBody(Buffer.from('x')), xks('none')))).toEqual({ code: 'InvalidKeyUsageException', xks: 'InvalidKeyUsageException' });
    // Beneath core's check, the token refuses on its own.
    const record = (await deps.store.externalKeys.get(PREFIX, 'enc'))!;
    expect((await failureOf(token.externalKeys.decrypt(record.backing.objectId, xksGcmAad(), { iv: sealed.initializationVector as Buffer, ciphertext: sealed.ciphertext as Buffer, tag: sealed.authenticationTag as Buffer }))).code)
      .toBe('InvalidKeyUsageException');
  });

  it('a token that does not answer within the deadline is DependencyTimeoutException', async () => {
    await create('k1');
    jest.spyOn(token.externalKeys, 'encrypt').mockImplementation(() => new Promise(() => undefined));
    expect(await failureOf(run(xksEncrypt, encryptBody(Buffer.from('x')), xks('k1')))).toEqual({ code: 'DependencyTimeoutException', xks: 'DependencyTimeoutException' });
  });
});

describe('secondary authorization', () => {
  const policy = (statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

  it('a policy set allows a request only through an Allow statement, and any Deny that applies overrides it.', () => {
    const root = 'arn:aws:iam::123456789012:root';
    const values = { 'aws:principalarn': root };
    expect(evaluatePolicySet({ action: 'kms:Encrypt', resource: '*', conditionValues: values, policies: [] }).allowed).toBe(false);
    // An account's root has no standing of its own here.
    expect(evaluatePolicySet({ action: 'kms:Encrypt', resource: '*', conditionValues: values, policies: [policy([{ Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' }])] }).allowed).toBe(false);
    const allow = policy([{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }]);
    expect(evaluatePolicySet({ action: 'kms:Encrypt', resource: '*', conditionValues: values, policies: [allow] })).toMatchObject({ allowed: true });
    const deny = policy([{ Sid: 'No', Effect: 'Deny', Action: 'kms:Encrypt', Resource: '*', Condition: { StringEquals: { 'aws:PrincipalArn': root } } }]);
    expect(evaluatePolicySet({ action: 'kms:Encrypt', resource: '*', conditionValues: values, policies: [allow, deny] })).toMatchObject({ allowed: false, reason: 'explicitDeny', matched: { policyIndex: 1, sid: 'No' } });
  });

  it('decides over requestMetadata: principal, kmsOperation, kmsKeyArn as the resource, VPC, via-service and the external key', async () => {
    await create('k1');
    await create('k2');
    const policies = [policy([
      {
        Effect: 'Allow', Action: ['kms:Encrypt', 'kms:GenerateDataKey'], Resource: 'arn:aws:kms:us-east-1:123456789012:key/*',
        Condition: { StringEquals: { 'aws:PrincipalAccount': '123456789012', 'aws:SourceVpc': 'vpc-1', 'xks:ExternalKeyId': 'k1', 'xks:Operation': 'Encrypt' } },
      },
      { Effect: 'Deny', Action: '*', Resource: '*', Condition: { StringEquals: { 'kms:ViaService': 'rds.us-east-1.amazonaws.com' } } },
    ])];
    const ctx = (id: string) => xks(id, { policies });
    const body = (extra: Record<string, unknown>) => encryptBody(Buffer.from('x'), { requestMetadata: meta('Encrypt', { awsSourceVpc: 'vpc-1', ...extra }) });
    expect((await run(xksEncrypt, body({}), ctx('k1'))).ciphertext).toBeDefined();
    expect((await run(xksEncrypt, body({ kmsOperation: 'GenerateDataKey' }), ctx('k1'))).ciphertext).toBeDefined();
    const denied = [
      run(xksEncrypt, body({ kmsOperation: 'ReEncrypt' }), ctx('k1')),
      run(xksEncrypt, body({ awsSourceVpc: 'vpc-2' }), ctx('k1')),
      run(xksEncrypt, body({}), ctx('k2')),
      run(xksEncrypt, body({ kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/k' }), ctx('k1')),
      run(xksEncrypt, body({ awsPrincipalArn: 'arn:aws:iam::999999999999:user/Mallory' }), ctx('k1')),
      run(xksEncrypt, body({ kmsViaService: 'rds.us-east-1.amazonaws.com' }), ctx('k1')),
      run(xksGetKeyMetadata, { requestMetadata: meta('DescribeKey', { awsSourceVpc: 'vpc-1' }) }, ctx('k1')),
    ];
    for (const call of denied) expect(await failureOf(call)).toEqual({ code: 'AccessDeniedException', xks: 'AccessDeniedException' });
    // Health never is.
    expect((await run(xksGetHealthStatus, { requestMetadata: { kmsOperation: 'KmsHealthCheck', kmsRequestId: 'h' } }, xks(undefined, { policies }))).xksProxyFleetSize).toBe(3);
  });
});

describe('GetHealthStatus and the health monitor', () => {
  const health = () => run(xksGetHealthStatus, { requestMetadata: { kmsOperation: 'KmsHealthCheck', kmsRequestId: 'h' } });

  it('reports every token, ACTIVE after a real check, and keeps the answer for its cache time', async () => {
    expect(await health()).toEqual({
      xksProxyFleetSize: 3, xksProxyVendor: 'hsm-kms', xksProxyModel: expect.stringContaining('hsm-kms'), ekmVendor: 'hsm-kms tests',
      ekmFleetDetails: [{ id: 'fake-token-1', model: 'FakeToken on node:crypto', healthStatus: 'ACTIVE' }],
    });
    expect(token.externalKeys.healthChecks).toBe(1);
    await health();
    expect(token.externalKeys.healthChecks).toBe(1);
    token.externalKeys.healthy = false;
    clock.advance(2001);
    expect(((await health()).ekmFleetDetails as { healthStatus: string }[])[0]!.healthStatus).toBe('UNAVAILABLE');
    expect(token.externalKeys.healthChecks).toBe(2);
  });

  it('a slow check is DEGRADED, one that does not answer in time UNAVAILABLE; concurrent callers share one check', async () => {
    token.externalKeys.healthDelayMs = 80;
    const [a, b] = await Promise.all([health(), health()]);
    expect(token.externalKeys.healthChecks).toBe(1);
    expect((a.ekmFleetDetails as { healthStatus: string }[])[0]!.healthStatus).toBe('DEGRADED');
    expect(b).toEqual(a);
    token.externalKeys.healthDelayMs = 800;
    clock.advance(5000);
    expect(((await health()).ekmFleetDetails as { healthStatus: string }[])[0]!.healthStatus).toBe('UNAVAILABLE');
  });

  it('lists each token with external keys, at most ten', async () => {
    for (let i = 0; i < 12; i++) {
      const extra = new FakeToken(`cks-${i}`);
      extra.externalKeys.description = { id: `hsm-${i}`, vendor: i % 2 ? 'Vendor B' : 'Vendor A', model: 'model' };
      deps.keyStores.add(extra);
    }
    const out = await health();
    expect(out.ekmFleetDetails).toHaveLength(10);
    expect(out.ekmVendor).toBe('hsm-kms tests, Vendor A, Vendor B');
  });
});

describe('operator\'s operations', () => {
  it('a key store prefix is empty or 9 to 117 characters of \'/\'-separated segments of letters, digits, \'-\' and \'_\'.', async () => {
    for (const prefix of ['/short', 'no/leading/slash', '/trailing/slash/', '/double//slash', `/${'a'.repeat(117)}`, '/bad chars here', '/kms.xks.v1']) {
      expect((await failureOf(run(createExternalKey, { keyStorePrefix: prefix, externalKeyId: 'k', usage: [] }, ctxBase))).code).toBe('ValidationException');
    }
    for (const prefix of ['', '/abcdefgh', `/${'a'.repeat(116)}`, '/keystores/a_b-c/9']) {
      expect((await run(createExternalKey, { keyStorePrefix: prefix, externalKeyId: 'k', usage: [] }, ctxBase)).keyStorePrefix).toBe(prefix);
    }
  });

  it('creates keys in the token with the usage in canonical order, refuses a duplicate and leaves no object behind', async () => {
    const created = await create('k1', ['DECRYPT', 'ENCRYPT']);
    expect(created).toMatchObject({ keyStorePrefix: PREFIX, externalKeyId: 'k1', usage: ['ENCRYPT', 'DECRYPT'], status: 'ENABLED', tokenId: 'default' });
    expect(created.objectId).toMatch(/^78[0-9a-f]{64}$/);
    const objects = token.keys.size;
    expect((await failureOf(create('k1'))).code).toBe('AlreadyExistsException');
    expect(token.keys.size).toBe(objects);
    // A concurrent creation that wins the insert: this one's object is destroyed.
    const insert = jest.spyOn(deps.store.externalKeys, 'get').mockResolvedValueOnce(undefined);
    expect((await failureOf(create('k1'))).code).toBe('AlreadyExistsException');
    expect(token.keys.size).toBe(objects);
    insert.mockRestore();
    expect((await create('k2', [], { status: 'DISABLED' })).status).toBe('DISABLED');
    expect((await failureOf(create('k3', ['ENCRYPT'], { tokenId: 'nope' }))).code).toBe('NotFoundException');
    expect((await failureOf(create('k3', ['SIGN']))).code).toBe('ValidationException');
  });

  it('lists keys, of one key store or all', async () => {
    await create('b');
    await create('a');
    await run(createExternalKey, { keyStorePrefix: '', externalKeyId: 'z', usage: [] }, ctxBase);
    expect(((await run(listExternalKeys, {}, ctxBase)).externalKeys as { externalKeyId: string }[]).map((k) => k.externalKeyId)).toEqual(['z', 'a', 'b']);
    expect(((await run(listExternalKeys, { keyStorePrefix: PREFIX }, ctxBase)).externalKeys as unknown[])).toHaveLength(2);
  });

  it('enable and disable are idempotent and survive a concurrent change', async () => {
    await create('k1');
    expect((await run(enableExternalKey, { keyStorePrefix: PREFIX, externalKeyId: 'k1' }, ctxBase)).status).toBe('ENABLED');
    const replace = deps.store.externalKeys.replace.bind(deps.store.externalKeys);
    jest.spyOn(deps.store.externalKeys, 'replace').mockRejectedValueOnce(new RevisionConflictError('x')).mockImplementation(replace);
    expect((await run(disableExternalKey, { keyStorePrefix: PREFIX, externalKeyId: 'k1' }, ctxBase)).status).toBe('DISABLED');
    expect((await run(disableExternalKey, { keyStorePrefix: PREFIX, externalKeyId: 'k1' }, ctxBase)).status).toBe('DISABLED');
    expect((await failureOf(run(enableExternalKey, { keyStorePrefix: PREFIX, externalKeyId: 'nope' }, ctxBase))).code).toBe('NotFoundException');
  });

  it('only a disabled external key may be deleted.', async () => {
    const created = await create('k1');
    expect((await failureOf(run(deleteExternalKey, { keyStorePrefix: PREFIX, externalKeyId: 'k1' }, ctxBase))).code).toBe('KMSInvalidStateException');
    await run(disableExternalKey, { keyStorePrefix: PREFIX, externalKeyId: 'k1' }, ctxBase);
    expect(await run(deleteExternalKey, { keyStorePrefix: PREFIX, externalKeyId: 'k1' }, ctxBase)).toEqual({ keyStorePrefix: PREFIX, externalKeyId: 'k1', deleted: true });
    expect(token.keys.has(created.objectId as string)).toBe(false);
    expect(await deps.store.externalKeys.get(PREFIX, 'k1')).toBeUndefined();
    expect((await failureOf(run(deleteExternalKey, { keyStorePrefix: PREFIX, externalKeyId: 'k1' }, ctxBase))).code).toBe('NotFoundException');
  });
});

describe('the PKCS#11 adapter beneath', () => {
  it('a use the key\'s own attributes forbid (CKR_KEY_FUNCTION_NOT_PERMITTED) is InvalidKeyUsageException.', () => {
    const error = new pkcs11js.Pkcs11Error('CKR_KEY_FUNCTION_NOT_PERMITTED', pkcs11js.CKR_KEY_FUNCTION_NOT_PERMITTED, 'C_EncryptInit');
    expect(toKmsError(error, 'aesGcmEncrypt')).toMatchObject({ code: 'InvalidKeyUsageException', detail: 'aesGcmEncrypt: CKR_KEY_FUNCTION_NOT_PERMITTED' });
    expect(toKmsError(new pkcs11js.Pkcs11Error('CKR_GENERAL_ERROR', pkcs11js.CKR_GENERAL_ERROR, 'C_Decrypt'), 'x').code).toBe('KMSInternalException');
  });

  it('a failed GCM decryption is InvalidCiphertextException only when the token then passes a health check.', async () => {
    // The adapter over a stand-in for the token's AES-GCM: the health key round-trips while the
    // token works; every other key's tag fails, as SoftHSM reports it (CKR_GENERAL_ERROR).
    let tokenWorks = true;
    let probe = Buffer.alloc(0);
    const sealed: AesGcmSealed = { iv: Buffer.alloc(12), ciphertext: Buffer.from('c'), tag: Buffer.alloc(16) };
    const aesGcm = {
      async aesGcmEncrypt(_objectId: string, _aad: Buffer, plaintext: Buffer): Promise<AesGcmSealed> {
        if (!tokenWorks) throw new KmsError('KMSInternalException', 'x', 'CKR_DEVICE_ERROR');
        probe = Buffer.from(plaintext);
        return sealed;
      },
      async aesGcmDecrypt(objectId: string): Promise<Buffer> {
        if (objectId !== XKS_HEALTH_KEY_ID) throw new KmsError('InvalidCiphertextException', '', 'GCM authentication failed (CKR_GENERAL_ERROR)');
        return probe;
      },
    };
    const keyObjects = { generateSecretKey: jest.fn(), destroyKey: jest.fn() };
    const adapter = new TokenExternalKeys({} as TokenObjects, keyObjects as unknown as TokenKeyObjects, aesGcm as unknown as TokenAesGcm);
    const objectId = `78${'ab'.repeat(32)}`;
    await expect(adapter.decrypt(objectId, Buffer.alloc(0), sealed)).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
    tokenWorks = false;
    await expect(adapter.decrypt(objectId, Buffer.alloc(0), sealed)).rejects.toMatchObject({ code: 'KMSInternalException' });
  });
});
