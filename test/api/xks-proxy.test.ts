// The XKS proxy API, end to end through the XKS app (supertest) on a real SoftHSM token and the
// embedded store: every error name with its status, the AAD and CDIV rules (checked with
// node:crypto against a key whose material the test put into the token), large payloads, each
// key usage, SigV4 as AWS KMS and curl sign, key stores resolved before credentials, 405/404,
// secondary authorization, quotas, token failures, reloads and the request log.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as pkcs11js from 'pkcs11js';
import request from 'supertest';
import { disableExternalKey } from '../../src/core/xks-proxy/disable-external-key';
import { enableExternalKey } from '../../src/core/xks-proxy/enable-external-key';
import type { ExternalKeyRecord } from '../../src/core/xks-proxy/external-key';
import { xksErrorNames } from '../../src/http/xks/errors';
import { externalKeyTemplate } from '../../src/pkcs11/templates';
import { EmbeddedStore } from '../../src/store/embedded';
import {
  b64, defaultXksConfig, healthPath, KMS_KEY_ARN, keyPath, metadata, PRINCIPAL_ARN, startXksTestProxy, xksCall, xksSignedHeaders,
  XKS_CREDENTIAL, XKS_CREDENTIAL_2, XKS_PREFIX, type XksTestProxy,
} from '../support/xks';

const OTHER_PREFIX = '/keystores/other-store';
const OTHER_CREDENTIAL = { accessKeyId: 'OTHERSTORE234567OTHERSTORE', secretAccessKey: 'b3RoZXItc3RvcmUtc2VjcmV0LWtleS1mb3ItdGVzdHMtMDE=' };
const POLICY_PREFIX = '/keystores/with-policy';
const POLICY_CREDENTIAL = { accessKeyId: 'POLICYSTORE2345672345672345', secretAccessKey: 'cG9saWN5LXN0b3JlLXNlY3JldC1rZXktZm9yLXRlc3RzLTE=' };
const THROTTLED_PREFIX = '/keystores/throttled';
const THROTTLED_CREDENTIAL = { accessKeyId: 'THROTTLED234567THROTTLED2', secretAccessKey: 'dGhyb3R0bGVkLXN0b3JlLXNlY3JldC1rZXktZm9yLXRlc3Q=' };
const EMPTY_PREFIX_CREDENTIAL = { accessKeyId: 'EMPTYPREFIX234567EMPTYPRE', secretAccessKey: 'ZW1wdHktcHJlZml4LXN0b3JlLXNlY3JldC1rZXktdGVzdHM=' };

const ALICE = 'arn:aws:iam::123456789012:user/Alice';
const policy = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'AliceUsesKeys', Effect: 'Allow', Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey', 'kms:CreateKey'], Resource: '*',
      Condition: { ArnEquals: { 'aws:PrincipalArn': ALICE } },
    },
    { Sid: 'NotThroughS3', Effect: 'Deny', Action: 'kms:*', Resource: '*', Condition: { StringEquals: { 'kms:ViaService': 's3' } } },
    { Sid: 'NeverTheLockedKey', Effect: 'Deny', Action: 'kms:*', Resource: '*', Condition: { StringEquals: { 'xks:ExternalKeyId': 'locked' } } },
  ],
};

const config = defaultXksConfig([
  { uriPathPrefix: OTHER_PREFIX, credentials: [OTHER_CREDENTIAL] },
  { uriPathPrefix: POLICY_PREFIX, credentials: [POLICY_CREDENTIAL], policies: [policy] },
  { uriPathPrefix: THROTTLED_PREFIX, credentials: [THROTTLED_CREDENTIAL], requestsPerSecond: 1 },
  { uriPathPrefix: '', credentials: [EMPTY_PREFIX_CREDENTIAL] },
]);

let proxy: XksTestProxy;
/** Every XKS error name a test saw on the wire. */
const seen = new Set<string>();
/** Secrets and payloads the log must never show. */
const canaries: string[] = [];

/** A fresh canary plaintext, remembered for the log check. */
function canary(length = 32): Buffer {
  const bytes = randomBytes(length);
  canaries.push(b64(bytes));
  return bytes;
}

async function call(rawPath: string, body: unknown, options: Parameters<typeof xksCall>[3] = {}) {
  const res = await xksCall(proxy.app, rawPath, body, options);
  if (res.body?.errorName) seen.add(res.body.errorName as string);
  return res;
}

/** The error a response carries, with its status, after checking the spec's shape. */
function failure(res: request.Response): { status: number; errorName: string } {
  expect(Object.keys(res.body).sort()).toEqual(['errorMessage', 'errorName']);
  expect(res.body.errorMessage).toMatch(/^[\x20-\x7e]{0,511}$/);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return { status: res.status, errorName: res.body.errorName };
}

async function encrypt(id: string, plaintext: Buffer, extra: Record<string, unknown> = {}, prefix = XKS_PREFIX, options = {}) {
  return call(keyPath(id, 'encrypt', prefix), { requestMetadata: metadata('Encrypt'), plaintext: b64(plaintext), encryptionAlgorithm: 'AES_GCM', ...extra }, options);
}

async function decrypt(id: string, sealed: Record<string, unknown>, extra: Record<string, unknown> = {}, prefix = XKS_PREFIX, options = {}) {
  return call(keyPath(id, 'decrypt', prefix), {
    requestMetadata: metadata('Decrypt'), encryptionAlgorithm: 'AES_GCM',
    ciphertext: sealed.ciphertext, initializationVector: sealed.initializationVector, authenticationTag: sealed.authenticationTag, ...extra,
  }, options);
}

/** The spec's AAD for the token: 2-byte big-endian AAD length ‖ AAD ‖ 1-byte metadata length ‖ metadata. */
function specAad(aad: Buffer = Buffer.alloc(0), ciphertextMetadata: Buffer = Buffer.alloc(0)): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(aad.length);
  return Buffer.concat([length, aad, Buffer.from([ciphertextMetadata.length]), ciphertextMetadata]);
}

/** An external key whose material the test knows: created in the token with raw PKCS#11, then recorded as the admin command would. */
const KNOWN_MATERIAL: Buffer = randomBytes(32);
async function createKnownKey(externalKeyId: string): Promise<void> {
  const token = proxy.svc.defaultStore;
  const objectId = `78${randomBytes(32).toString('hex')}`;
  const template = externalKeyTemplate(objectId, `xks:test:${externalKeyId}`, { encrypt: true, decrypt: true })
    .filter((a) => a.type !== pkcs11js.CKA_VALUE_LEN);
  await token.connection.withSession(async (session) => {
    token.connection.lib.C_CreateObject(session, [...template, { type: pkcs11js.CKA_VALUE, value: KNOWN_MATERIAL }]);
  });
  const now = new Date();
  await proxy.svc.store.externalKeys.insert({
    keyStorePrefix: XKS_PREFIX, externalKeyId, usage: ['ENCRYPT', 'DECRYPT'], status: 'ENABLED', backing: { tokenId: 'default', objectId }, createdAt: now, updatedAt: now, revision: 0,
  });
}

beforeAll(async () => {
  canaries.push(XKS_CREDENTIAL.secretAccessKey, XKS_CREDENTIAL_2.secretAccessKey, OTHER_CREDENTIAL.secretAccessKey, POLICY_CREDENTIAL.secretAccessKey);
  proxy = await startXksTestProxy({ config });
  await proxy.createKey('foo', ['ENCRYPT', 'DECRYPT']);
  await proxy.createKey('encrypt_only_key', ['ENCRYPT']);
  await proxy.createKey('decrypt_only_key', ['DECRYPT']);
  await proxy.createKey('impotent_key', []);
  await proxy.createKey('switchable', ['ENCRYPT', 'DECRYPT']);
  await proxy.createKey('foo', ['ENCRYPT', 'DECRYPT'], OTHER_PREFIX);
  await proxy.createKey('allowed', ['ENCRYPT', 'DECRYPT'], POLICY_PREFIX);
  await proxy.createKey('locked', ['ENCRYPT', 'DECRYPT'], POLICY_PREFIX);
  await proxy.createKey('k', ['ENCRYPT', 'DECRYPT'], THROTTLED_PREFIX);
  await proxy.createKey('root-key', ['ENCRYPT', 'DECRYPT'], '');
  await createKnownKey('known');
});

afterAll(async () => {
  await proxy.close();
});

describe('GetHealthStatus', () => {
  it('reports the proxy and the token behind it, after a real round trip, as compact JSON', async () => {
    const res = await call(healthPath(), { requestMetadata: { kmsOperation: 'KmsHealthCheck', kmsRequestId: 'health-1' } });
    expect(res.status).toBe(200);
    expect(res.text).not.toMatch(/\n|": /);
    expect(res.body).toEqual({
      xksProxyFleetSize: 2, xksProxyVendor: 'hsm-kms', xksProxyModel: expect.stringMatching(/hsm-kms/), ekmVendor: 'SoftHSM project',
      // DEGRADED only when the check took over 100 ms, as it may on a loaded test machine.
      ekmFleetDetails: [{ id: proxy.svc.defaultStore.connection.info.serialNumber, model: expect.stringMatching(/SoftHSM/), healthStatus: expect.stringMatching(/^(ACTIVE|DEGRADED)$/) }],
    });
  });

  it('requires requestMetadata with kmsOperation and kmsRequestId, and accepts any kmsOperation', async () => {
    for (const body of [{}, { requestMetadata: {} }, { requestMetadata: { kmsOperation: 'KmsHealthCheck' } }, { requestMetadata: { kmsRequestId: 'x' } }, { requestMetadata: 'x' }]) {
      expect(failure(await call(healthPath(), body))).toEqual({ status: 400, errorName: 'ValidationException' });
    }
    const res = await call(healthPath(), { requestMetadata: { kmsOperation: 'SomeFutureOperation', kmsRequestId: 'opaque value, not a UUID', extra: 1 } });
    expect(res.status).toBe(200);
  });
});

describe('GetKeyMetadata', () => {
  it('answers AES_256, the key\'s usage and its status, for each usage', async () => {
    const expectations: [string, string[]][] = [['foo', ['ENCRYPT', 'DECRYPT']], ['encrypt_only_key', ['ENCRYPT']], ['decrypt_only_key', ['DECRYPT']], ['impotent_key', []]];
    for (const [id, keyUsage] of expectations) {
      const res = await call(keyPath(id, 'metadata'), { requestMetadata: metadata('DescribeKey') });
      expect({ id, status: res.status, body: res.body }).toEqual({ id, status: 200, body: { keySpec: 'AES_256', keyUsage, keyStatus: 'ENABLED' } });
    }
  });

  it('needs awsPrincipalArn but not kmsKeyArn (CreateKey has none), takes ARNs of 2048 characters and does not parse them', async () => {
    const { kmsKeyArn: _kmsKeyArn, ...withoutKeyArn } = metadata('CreateKey');
    expect((await call(keyPath('foo', 'metadata'), { requestMetadata: withoutKeyArn })).status).toBe(200);
    const { awsPrincipalArn: _arn, ...withoutPrincipal } = metadata('DescribeKey');
    expect(failure(await call(keyPath('foo', 'metadata'), { requestMetadata: withoutPrincipal }))).toEqual({ status: 400, errorName: 'ValidationException' });
    expect((await call(keyPath('foo', 'metadata'), { requestMetadata: metadata('DescribeKey', { awsPrincipalArn: 'AWS Internal', kmsKeyArn: 'k'.repeat(2048) }) })).status).toBe(200);
    expect(failure(await call(keyPath('foo', 'metadata'), { requestMetadata: metadata('DescribeKey', { kmsKeyArn: 'k'.repeat(2049) }) }))).toEqual({ status: 400, errorName: 'ValidationException' });
    expect(failure(await call(keyPath('foo', 'metadata'), {}))).toEqual({ status: 400, errorName: 'ValidationException' });
  });

  it('an unknown key is KeyNotFoundException (404); a key of another key store is not seen', async () => {
    expect(failure(await call(keyPath('non_existing_key', 'metadata'), { requestMetadata: metadata('DescribeKey') }))).toEqual({ status: 404, errorName: 'KeyNotFoundException' });
    expect(failure(await call(keyPath('allowed', 'metadata'), { requestMetadata: metadata('DescribeKey') }))).toEqual({ status: 404, errorName: 'KeyNotFoundException' });
  });

  it('an external key id is 1 to 128 characters of letters, digits, period, hyphen and underscore', async () => {
    expect(failure(await call(keyPath('x'.repeat(129), 'metadata'), { requestMetadata: metadata('DescribeKey') }))).toEqual({ status: 400, errorName: 'ValidationException' });
    expect(failure(await call(keyPath('a%20b', 'metadata'), { requestMetadata: metadata('DescribeKey') }))).toEqual({ status: 400, errorName: 'ValidationException' });
    expect(failure(await call(keyPath('', 'metadata'), { requestMetadata: metadata('DescribeKey') }))).toEqual({ status: 400, errorName: 'ValidationException' });
    expect(failure(await call(keyPath('A.b-c_9'.padEnd(128, 'z'), 'metadata'), { requestMetadata: metadata('DescribeKey') }))).toEqual({ status: 404, errorName: 'KeyNotFoundException' });
  });
});

describe('Encrypt and Decrypt', () => {
  it('round-trips with a 12-byte IV, a 16-byte tag and a ciphertext as long as the plaintext, with and without AAD', async () => {
    for (const aad of [undefined, canary(33)]) {
      const plaintext = canary(12);
      const res = await encrypt('foo', plaintext, aad ? { additionalAuthenticatedData: b64(aad) } : {});
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['authenticationTag', 'ciphertext', 'initializationVector']);
      expect(Buffer.from(res.body.initializationVector, 'base64')).toHaveLength(12);
      expect(Buffer.from(res.body.authenticationTag, 'base64')).toHaveLength(16);
      expect(Buffer.from(res.body.ciphertext, 'base64')).toHaveLength(12);
      canaries.push(res.body.ciphertext);
      const opened = await decrypt('foo', res.body, aad ? { additionalAuthenticatedData: b64(aad) } : {});
      expect(opened.status).toBe(200);
      expect(Buffer.from(opened.body.plaintext, 'base64').equals(plaintext)).toBe(true);
    }
  });

  it('builds the token\'s AAD as the spec says: length-prefixed AAD and length-prefixed ciphertext metadata (checked with node:crypto)', async () => {
    const plaintext = canary(24);
    const aad = canary(100);
    const res = await encrypt('known', plaintext, { additionalAuthenticatedData: b64(aad) });
    expect(res.status).toBe(200);
    const iv = Buffer.from(res.body.initializationVector, 'base64');
    const cipher = createCipheriv('aes-256-gcm', KNOWN_MATERIAL, iv).setAAD(specAad(aad));
    const expected = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    expect(res.body.ciphertext).toBe(b64(expected));
    expect(res.body.authenticationTag).toBe(b64(cipher.getAuthTag()));

    // Ciphertext metadata made elsewhere (a proxy that issues it) is bound through its own length prefix.
    const md = Buffer.from('key_version=1');
    const iv2 = randomBytes(12);
    const forged = createCipheriv('aes-256-gcm', KNOWN_MATERIAL, iv2).setAAD(specAad(aad, md));
    const sealed = { ciphertext: b64(Buffer.concat([forged.update(plaintext), forged.final()])), initializationVector: b64(iv2), authenticationTag: b64(forged.getAuthTag()) };
    const opened = await decrypt('known', sealed, { additionalAuthenticatedData: b64(aad), ciphertextMetadata: b64(md) });
    expect(opened.status).toBe(200);
    expect(Buffer.from(opened.body.plaintext, 'base64').equals(plaintext)).toBe(true);
    // The spec's cautionary case: the metadata moved into the AAD (or left out) no longer authenticates.
    for (const extra of [{ additionalAuthenticatedData: b64(Buffer.concat([aad, md])) }, { additionalAuthenticatedData: b64(aad) }, { additionalAuthenticatedData: b64(md), ciphertextMetadata: b64(aad.subarray(0, 20)) }]) {
      expect(failure(await decrypt('known', sealed, extra))).toEqual({ status: 400, errorName: 'InvalidCiphertextException' });
    }
    // Without AAD, the token saw two zero lengths.
    const bare = await encrypt('known', plaintext);
    const decipher = createDecipheriv('aes-256-gcm', KNOWN_MATERIAL, Buffer.from(bare.body.initializationVector, 'base64'))
      .setAAD(Buffer.from([0, 0, 0])).setAuthTag(Buffer.from(bare.body.authenticationTag, 'base64'));
    expect(Buffer.concat([decipher.update(Buffer.from(bare.body.ciphertext, 'base64')), decipher.final()]).equals(plaintext)).toBe(true);
  });

  it('binds the AAD: missing, different or extra AAD, a changed IV, tag or ciphertext, or metadata never issued is InvalidCiphertextException', async () => {
    const aad = canary(33);
    const res = await encrypt('foo', canary(16), { additionalAuthenticatedData: b64(aad) });
    const flip = (field: string) => {
      const bytes = Buffer.from(res.body[field], 'base64');
      bytes[0]! ^= 1;
      return { ...res.body, [field]: b64(bytes) };
    };
    const cases: [Record<string, unknown>, Record<string, unknown>][] = [
      [res.body, {}],
      [res.body, { additionalAuthenticatedData: b64(canary(33)) }],
      [res.body, { additionalAuthenticatedData: b64(aad), ciphertextMetadata: b64(Buffer.from('v1')) }],
      [flip('initializationVector'), { additionalAuthenticatedData: b64(aad) }],
      [flip('authenticationTag'), { additionalAuthenticatedData: b64(aad) }],
      [flip('ciphertext'), { additionalAuthenticatedData: b64(aad) }],
    ];
    for (const [sealed, extra] of cases) expect(failure(await decrypt('foo', sealed, extra))).toEqual({ status: 400, errorName: 'InvalidCiphertextException' });
    // A 16-byte IV is a valid size, but never one this proxy made.
    expect(failure(await decrypt('foo', { ...res.body, initializationVector: b64(randomBytes(16)) }, { additionalAuthenticatedData: b64(aad) }))).toEqual({ status: 400, errorName: 'InvalidCiphertextException' });
    expect((await decrypt('foo', res.body, { additionalAuthenticatedData: b64(aad) })).status).toBe(200);
  });

  it('takes at least 4300 bytes of plaintext and 8192 bytes of AAD', async () => {
    for (const [plainLength, aadLength] of [[4300, 8192], [4096, 8192], [65536, 65535]] as const) {
      const plaintext = randomBytes(plainLength);
      const aad = randomBytes(aadLength);
      const res = await encrypt('foo', plaintext, { additionalAuthenticatedData: b64(aad) });
      expect({ plainLength, status: res.status }).toEqual({ plainLength, status: 200 });
      const opened = await decrypt('foo', res.body, { additionalAuthenticatedData: b64(aad) });
      expect(Buffer.from(opened.body.plaintext, 'base64').equals(plaintext)).toBe(true);
    }
  });

  it('answers UnsupportedOperationException (501) beyond the sizes the proxy supports', async () => {
    expect(failure(await encrypt('foo', randomBytes(65537)))).toEqual({ status: 501, errorName: 'UnsupportedOperationException' });
    const big = await proxyWithSmallBody();
    expect(failure(await xksCall(big.app, keyPath('foo', 'encrypt'), { requestMetadata: metadata('Encrypt'), plaintext: b64(randomBytes(2000)), encryptionAlgorithm: 'AES_GCM' })))
      .toEqual({ status: 501, errorName: 'UnsupportedOperationException' });
    seen.add('UnsupportedOperationException');
  });

  it('returns the CDIV of Appendix C, recomputed here with node:crypto, with and without AAD', async () => {
    for (const aad of [canary(33), undefined]) {
      const res = await encrypt('foo', canary(12), { ciphertextDataIntegrityValueAlgorithm: 'SHA_256', ...(aad ? { additionalAuthenticatedData: b64(aad) } : {}) });
      expect(res.status).toBe(200);
      const parts = [aad ?? Buffer.alloc(0), res.body.initializationVector, res.body.ciphertext, res.body.authenticationTag].map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p, 'base64')));
      expect(res.body.ciphertextDataIntegrityValue).toBe(createHash('sha256').update(Buffer.concat(parts)).digest('base64'));
      expect((await decrypt('foo', res.body, aad ? { additionalAuthenticatedData: b64(aad) } : {})).status).toBe(200);
    }
    expect(failure(await encrypt('foo', canary(), { ciphertextDataIntegrityValueAlgorithm: 'SHA_512' }))).toEqual({ status: 400, errorName: 'ValidationException' });
  });

  it('each key usage: encrypt-only cannot decrypt or give a CDIV, decrypt-only cannot encrypt, a key with neither does nothing', async () => {
    const sealed = await encrypt('encrypt_only_key', canary());
    expect(sealed.status).toBe(200);
    expect(failure(await decrypt('encrypt_only_key', sealed.body))).toEqual({ status: 400, errorName: 'InvalidKeyUsageException' });
    expect(failure(await encrypt('encrypt_only_key', canary(), { ciphertextDataIntegrityValueAlgorithm: 'SHA_256' }))).toEqual({ status: 400, errorName: 'InvalidKeyUsageException' });
    for (const id of ['decrypt_only_key', 'impotent_key']) {
      expect(failure(await encrypt(id, canary()))).toEqual({ status: 400, errorName: 'InvalidKeyUsageException' });
      expect(failure(await encrypt(id, canary(), { ciphertextDataIntegrityValueAlgorithm: 'SHA_256', additionalAuthenticatedData: b64(canary()) }))).toEqual({ status: 400, errorName: 'InvalidKeyUsageException' });
    }
    expect(failure(await decrypt('impotent_key', sealed.body))).toEqual({ status: 400, errorName: 'InvalidKeyUsageException' });
    // A decrypt-only key may decrypt: what it cannot open is a ciphertext it did not make.
    expect(failure(await decrypt('decrypt_only_key', sealed.body))).toEqual({ status: 400, errorName: 'InvalidCiphertextException' });
  });

  it('the token itself holds each key\'s usage in CKA_ENCRYPT and CKA_DECRYPT, sensitive and never extractable', async () => {
    const token = proxy.svc.defaultStore;
    const lib = token.connection.lib;
    const expected: Record<string, [boolean, boolean]> = { foo: [true, true], encrypt_only_key: [true, false], decrypt_only_key: [false, true], impotent_key: [false, false] };
    for (const [id, [enc, dec]] of Object.entries(expected)) {
      const record = (await proxy.svc.store.externalKeys.get(XKS_PREFIX, id))!;
      const attributes = await token.connection.withSession(async (session) => {
        lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_ID, value: Buffer.from(record.backing.objectId, 'hex') }]);
        const handles = lib.C_FindObjects(session, 10);
        lib.C_FindObjectsFinal(session);
        expect(handles).toHaveLength(1);
        const flag = (type: number) => (lib.C_GetAttributeValue(session, handles[0]!, [{ type }])[0]!.value as Buffer)[0] === 1;
        const valueLen = (lib.C_GetAttributeValue(session, handles[0]!, [{ type: pkcs11js.CKA_VALUE_LEN }])[0]!.value as Buffer).readUInt32LE(0);
        let valueReadable = true;
        try {
          lib.C_GetAttributeValue(session, handles[0]!, [{ type: pkcs11js.CKA_VALUE }]);
        } catch {
          valueReadable = false;
        }
        return {
          encrypt: flag(pkcs11js.CKA_ENCRYPT), decrypt: flag(pkcs11js.CKA_DECRYPT), sign: flag(pkcs11js.CKA_SIGN), wrap: flag(pkcs11js.CKA_WRAP), unwrap: flag(pkcs11js.CKA_UNWRAP),
          derive: flag(pkcs11js.CKA_DERIVE), token: flag(pkcs11js.CKA_TOKEN), sensitive: flag(pkcs11js.CKA_SENSITIVE), extractable: flag(pkcs11js.CKA_EXTRACTABLE),
          modifiable: flag(pkcs11js.CKA_MODIFIABLE), valueLen, valueReadable,
        };
      });
      expect({ id, ...attributes }).toEqual({
        id, encrypt: enc, decrypt: dec, sign: false, wrap: false, unwrap: false, derive: false, token: true, sensitive: true, extractable: false, modifiable: false, valueLen: 32, valueReadable: false,
      });
      expect(record.backing.objectId).toMatch(/^78[0-9a-f]{64}$/);
    }
  });

  it('checks the request: algorithm, IV, tag and metadata sizes, base64, JSON and required fields are ValidationException', async () => {
    const good = await encrypt('foo', canary());
    const bad: [string, unknown][] = [
      [keyPath('foo', 'encrypt'), { requestMetadata: metadata('Encrypt'), encryptionAlgorithm: 'AES_GCM' }],
      [keyPath('foo', 'encrypt'), { requestMetadata: metadata('Encrypt'), plaintext: b64(canary()), encryptionAlgorithm: 'AES_CBC' }],
      [keyPath('foo', 'encrypt'), { requestMetadata: metadata('Encrypt'), plaintext: b64(canary()) }],
      [keyPath('foo', 'encrypt'), { requestMetadata: metadata('Encrypt'), plaintext: 'not base64!', encryptionAlgorithm: 'AES_GCM' }],
      [keyPath('foo', 'encrypt'), { requestMetadata: metadata('Encrypt', { kmsKeyArn: undefined }), plaintext: b64(canary()), encryptionAlgorithm: 'AES_GCM' }],
      [keyPath('foo', 'encrypt'), { plaintext: b64(canary()), encryptionAlgorithm: 'AES_GCM' }],
      [keyPath('foo', 'decrypt'), { requestMetadata: metadata('Decrypt'), ...good.body, initializationVector: b64(randomBytes(13)), encryptionAlgorithm: 'AES_GCM' }],
      [keyPath('foo', 'decrypt'), { requestMetadata: metadata('Decrypt'), ...good.body, initializationVector: b64(randomBytes(8)), encryptionAlgorithm: 'AES_GCM' }],
      [keyPath('foo', 'decrypt'), { requestMetadata: metadata('Decrypt'), ...good.body, authenticationTag: b64(randomBytes(15)), encryptionAlgorithm: 'AES_GCM' }],
      [keyPath('foo', 'decrypt'), { requestMetadata: metadata('Decrypt'), ...good.body, ciphertextMetadata: b64(randomBytes(21)), encryptionAlgorithm: 'AES_GCM' }],
      [keyPath('foo', 'decrypt'), { requestMetadata: metadata('Decrypt'), ...good.body }],
      [keyPath('foo', 'encrypt'), '{"requestMetadata":'],
      [keyPath('foo', 'encrypt'), '[]'],
      [keyPath('foo', 'encrypt'), { requestMetadata: metadata('Encrypt'), plaintext: 42, encryptionAlgorithm: 'AES_GCM' }],
    ];
    for (const [rawPath, body] of bad) {
      expect({ body, ...failure(await call(rawPath, body)) }).toEqual({ body, status: 400, errorName: 'ValidationException' });
    }
  });

  it('errorMessage is printable ASCII under 512 characters, whatever the request held', async () => {
    const res = await call(keyPath('foo', 'metadata'), { requestMetadata: { ...metadata('DescribeKey'), kmsKeyArn: `키${'x'.repeat(3000)}` } });
    expect(failure(res)).toEqual({ status: 400, errorName: 'ValidationException' });
    expect(res.body.errorMessage.length).toBeLessThan(512);
  });

  it('a disabled key is InvalidStateException at once, reports DISABLED, and serves again once enabled', async () => {
    const sealed = await encrypt('switchable', canary());
    await proxy.admin(disableExternalKey, { keyStorePrefix: XKS_PREFIX, externalKeyId: 'switchable' });
    expect(failure(await encrypt('switchable', canary()))).toEqual({ status: 400, errorName: 'InvalidStateException' });
    expect(failure(await decrypt('switchable', sealed.body))).toEqual({ status: 400, errorName: 'InvalidStateException' });
    expect((await call(keyPath('switchable', 'metadata'), { requestMetadata: metadata('DescribeKey') })).body.keyStatus).toBe('DISABLED');
    await proxy.admin(enableExternalKey, { keyStorePrefix: XKS_PREFIX, externalKeyId: 'switchable' });
    expect((await decrypt('switchable', sealed.body)).status).toBe(200);
  });

  it('a status change made by another instance on the same store holds at once', async () => {
    const other = new EmbeddedStore(path.join(proxy.svc.dir, 'metadata.sqlite'));
    await other.init();
    try {
      const key = (await other.externalKeys.get(XKS_PREFIX, 'switchable'))!;
      const disabled = await other.externalKeys.replace({ ...key, status: 'DISABLED' });
      expect(failure(await encrypt('switchable', canary()))).toEqual({ status: 400, errorName: 'InvalidStateException' });
      await other.externalKeys.replace({ ...disabled, status: 'ENABLED' });
      expect((await encrypt('switchable', canary())).status).toBe(200);
    } finally {
      await other.close();
    }
  });

  it('each key store has its own keys: the same id in two stores is two keys', async () => {
    const sealed = await encrypt('foo', canary());
    const other = { credential: OTHER_CREDENTIAL };
    expect((await encrypt('foo', canary(), {}, OTHER_PREFIX, other)).status).toBe(200);
    expect(failure(await decrypt('foo', sealed.body, {}, OTHER_PREFIX, other))).toEqual({ status: 400, errorName: 'InvalidCiphertextException' });
    // The empty prefix is a key store too.
    expect((await encrypt('root-key', canary(), {}, '', { credential: EMPTY_PREFIX_CREDENTIAL })).status).toBe(200);
  });
});

describe('authentication and URIs', () => {
  const body = () => ({ requestMetadata: metadata('DescribeKey') });

  it('verifies SigV4 with service kms-xks-proxy over exactly the signed headers: AWS KMS signs host;x-amz-date, curl content-type;host;x-amz-date', async () => {
    const kmsStyle = await call(keyPath('foo', 'metadata'), body(), { unsigned: ['content-type'] });
    expect(kmsStyle.status).toBe(200);
    expect((await call(keyPath('foo', 'metadata'), body())).status).toBe(200);
    // Any region; the host header with a port.
    expect((await call(keyPath('foo', 'metadata'), body(), { region: 'eu-west-3', host: 'xks.example.com:8443' })).status).toBe(200);
    // An extra signed header is verified too: change it after signing and the signature fails.
    const bytes = Buffer.from(JSON.stringify(body()));
    const headers = await xksSignedHeaders(keyPath('foo', 'metadata'), bytes, { headers: { 'x-extra': 'signed' } });
    const tampered = await request(proxy.app).post(keyPath('foo', 'metadata')).set({ ...headers, 'x-extra': 'changed' }).send(bytes.toString());
    expect(failure(tampered)).toEqual({ status: 401, errorName: 'AuthenticationFailedException' });
  });

  it('answers AuthenticationFailedException (401) for a missing, wrong or stale signature and for an unknown or malformed access key id', async () => {
    const bytes = Buffer.from(JSON.stringify(body()));
    const unsigned = await request(proxy.app).post(keyPath('foo', 'metadata')).set('content-type', 'application/json').send(bytes.toString());
    const cases = [
      unsigned,
      await call(keyPath('foo', 'metadata'), body(), { credential: { accessKeyId: 'UNKNOWNKEY234567UNKNOWNK', secretAccessKey: XKS_CREDENTIAL.secretAccessKey } }),
      await call(keyPath('foo', 'metadata'), body(), { credential: { accessKeyId: `Invalid${XKS_CREDENTIAL.accessKeyId}`, secretAccessKey: XKS_CREDENTIAL.secretAccessKey } }),
      await call(keyPath('foo', 'metadata'), body(), { credential: { accessKeyId: XKS_CREDENTIAL.accessKeyId, secretAccessKey: `Invalid${XKS_CREDENTIAL.secretAccessKey}` } }),
      await call(keyPath('foo', 'metadata'), body(), { service: 'kms' }),
      await call(keyPath('foo', 'metadata'), body(), { credential: OTHER_CREDENTIAL }),
      await call(keyPath('foo', 'metadata'), body(), { signingDate: new Date(Date.now() - 6 * 60_000) }),
      await call(keyPath('foo', 'metadata'), body(), { signingDate: new Date(Date.now() + 6 * 60_000) }),
    ];
    for (const res of cases) expect(failure(res)).toEqual({ status: 401, errorName: 'AuthenticationFailedException' });
    // Four minutes of skew either way is fine.
    for (const skew of [-4, 4]) expect((await call(keyPath('foo', 'metadata'), body(), { signingDate: new Date(Date.now() + skew * 60_000) })).status).toBe(200);
  });

  it('signs the raw body and the raw path: a changed body, host, path or x-amz-content-sha256 fails', async () => {
    const bytes = Buffer.from(JSON.stringify(body()));
    const headers = await xksSignedHeaders(keyPath('foo', 'metadata'), bytes);
    const send = (h: Record<string, string>, b: Buffer, p = keyPath('foo', 'metadata')) => request(proxy.app).post(p).set(h).send(b.toString());
    expect((await send(headers, bytes)).status).toBe(200);
    expect(failure(await send(headers, Buffer.from(JSON.stringify({ requestMetadata: metadata('DescribeKey') }))))).toEqual({ status: 401, errorName: 'AuthenticationFailedException' });
    expect(failure(await send({ ...headers, host: 'elsewhere' }, bytes))).toEqual({ status: 401, errorName: 'AuthenticationFailedException' });
    expect(failure(await send(headers, bytes, keyPath('encrypt_only_key', 'metadata')))).toEqual({ status: 401, errorName: 'AuthenticationFailedException' });
    const withHash = await xksSignedHeaders(keyPath('foo', 'metadata'), bytes, { headers: { 'x-amz-content-sha256': createHash('sha256').update(bytes).digest('hex') } });
    expect((await send(withHash, bytes)).status).toBe(200);
    const wrongHash = await xksSignedHeaders(keyPath('foo', 'metadata'), bytes, { headers: { 'x-amz-content-sha256': createHash('sha256').update('other').digest('hex') } });
    expect(failure(await send(wrongHash, bytes))).toEqual({ status: 401, errorName: 'AuthenticationFailedException' });
    // A percent-encoded id is signed and received as it is, never decoded: the signature holds and the id is refused.
    expect(failure(await call(keyPath('fo%6F', 'metadata'), body()))).toEqual({ status: 400, errorName: 'ValidationException' });
  });

  it('accepts each of a key store\'s credentials at once (rotation)', async () => {
    expect((await call(keyPath('foo', 'metadata'), body(), { credential: XKS_CREDENTIAL_2 })).status).toBe(200);
  });

  // The key store is resolved before the credentials: a correctly signed request to an unknown prefix is not an authentication failure.
  it('a request whose URI names no XKS API of a configured key store is InvalidUriPathException, before any authentication.', async () => {
    const invalid = `${XKS_PREFIX}/invalid`;
    expect(failure(await call(healthPath(invalid), { requestMetadata: { kmsOperation: 'KmsHealthCheck', kmsRequestId: '1' } }))).toEqual({ status: 404, errorName: 'InvalidUriPathException' });
    expect(failure(await call(keyPath('foo', 'encrypt', invalid), body()))).toEqual({ status: 404, errorName: 'InvalidUriPathException' });
    // No normalisation: '//' or '/./' in the path is another path.
    expect(failure(await call(keyPath('foo', 'metadata', '/example/uri//path/prefix'), body()))).toEqual({ status: 404, errorName: 'InvalidUriPathException' });
    expect(failure(await call(keyPath('foo', 'metadata', '/example/uri/./path/prefix'), body()))).toEqual({ status: 404, errorName: 'InvalidUriPathException' });
    expect(failure(await call(`${XKS_PREFIX}/kms/xks/v1/keys/foo/sign`, body()))).toEqual({ status: 404, errorName: 'InvalidUriPathException' });
    expect(failure(await call('/', body()))).toEqual({ status: 404, errorName: 'InvalidUriPathException' });
    // Unsigned, too.
    expect(failure(await request(proxy.app).post(healthPath('/nope/nope/nope')).send({}))).toEqual({ status: 404, errorName: 'InvalidUriPathException' });
  });

  it('an XKS API answers POST only; any other method is 405.', async () => {
    for (const method of ['get', 'put', 'delete', 'patch'] as const) {
      for (const p of [healthPath(), keyPath('foo', 'encrypt'), keyPath('foo', 'metadata'), keyPath('foo', 'decrypt')]) {
        const res = await request(proxy.app)[method](p);
        expect({ method, p, status: res.status, allow: res.headers.allow }).toEqual({ method, p, status: 405, allow: 'POST' });
      }
    }
    expect((await request(proxy.app).get(healthPath('/not/a/key/store'))).status).toBe(404);
  });

  it('serves GET /healthz to load balancers without authentication', async () => {
    const res = await request(proxy.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
  });
});

describe('secondary authorization, quotas and failures', () => {
  const opts = { credential: POLICY_CREDENTIAL };

  it('with secondary authorization on, a call its key store\'s policies do not allow is refused as AccessDeniedException.', async () => {
    expect((await encrypt('allowed', canary(), {}, POLICY_PREFIX, opts)).status).toBe(200);
    const bob = metadata('Encrypt', { awsPrincipalArn: 'arn:aws:iam::123456789012:user/Bob' });
    const asBob = await call(keyPath('allowed', 'encrypt', POLICY_PREFIX), { requestMetadata: bob, plaintext: b64(canary()), encryptionAlgorithm: 'AES_GCM' }, opts);
    expect(failure(asBob)).toEqual({ status: 403, errorName: 'AccessDeniedException' });
    const viaS3 = await call(keyPath('allowed', 'encrypt', POLICY_PREFIX), { requestMetadata: metadata('Encrypt', { kmsViaService: 's3' }), plaintext: b64(canary()), encryptionAlgorithm: 'AES_GCM' }, opts);
    expect(failure(viaS3)).toEqual({ status: 403, errorName: 'AccessDeniedException' });
    expect(failure(await encrypt('locked', canary(), {}, POLICY_PREFIX, opts))).toEqual({ status: 403, errorName: 'AccessDeniedException' });
    // A kmsOperation the policy does not name is refused (not invalid).
    const future = await call(keyPath('allowed', 'encrypt', POLICY_PREFIX), { requestMetadata: metadata('BulkEncrypt'), plaintext: b64(canary()), encryptionAlgorithm: 'AES_GCM' }, opts);
    expect(failure(future)).toEqual({ status: 403, errorName: 'AccessDeniedException' });
    // CreateKey's GetKeyMetadata has no kmsKeyArn: it is evaluated against Resource "*".
    const { kmsKeyArn: _k, ...createKey } = metadata('CreateKey');
    expect((await call(keyPath('allowed', 'metadata', POLICY_PREFIX), { requestMetadata: createKey }, opts)).status).toBe(200);
    // Health is never subject to it.
    expect((await call(healthPath(POLICY_PREFIX), { requestMetadata: { kmsOperation: 'KmsHealthCheck', kmsRequestId: 'x' } }, opts)).status).toBe(200);
    const log = readFileSync(proxy.svc.logFile, 'utf8');
    expect(log).toMatch(/secondary authorization: kms:Encrypt by arn:aws:iam::123456789012:user\/Bob/);
    expect(log).toMatch(/denied by policy 0 statement 2 \(NeverTheLockedKey\)/);
  });

  it('a key store over its request quota answers ThrottlingException.', async () => {
    const opts2 = { credential: THROTTLED_CREDENTIAL };
    const results = [];
    for (let i = 0; i < 4; i++) results.push((await encrypt('k', canary(), {}, THROTTLED_PREFIX, opts2)).status);
    expect(results[0]).toBe(200);
    expect(results).toContain(429);
    const res = await encrypt('k', canary(), {}, THROTTLED_PREFIX, opts2);
    if (res.status === 429) expect(failure(res)).toEqual({ status: 429, errorName: 'ThrottlingException' });
    // Other key stores are not affected.
    expect((await encrypt('foo', canary())).status).toBe(200);
  });

  it('a token that does not answer in time is DependencyTimeoutException (503); one that fails is InternalException (500) without detail', async () => {
    // A deadline a loaded machine's real token still meets, and a delay far beyond it.
    const slow = await startXksTestProxy({ tokenTimeoutMs: 500 });
    try {
      await slow.createKey('foo', ['ENCRYPT', 'DECRYPT']);
      const keys = slow.svc.defaultStore.externalKeys;
      const realEncrypt = keys.encrypt.bind(keys);
      const spy = jest.spyOn(keys, 'encrypt').mockImplementation(async (...args) => {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        return realEncrypt(...args);
      });
      const timedOut = await xksCall(slow.app, keyPath('foo', 'encrypt'), { requestMetadata: metadata('Encrypt'), plaintext: b64(canary()), encryptionAlgorithm: 'AES_GCM' });
      seen.add(timedOut.body.errorName);
      expect(failure(timedOut)).toEqual({ status: 503, errorName: 'DependencyTimeoutException' });
      spy.mockImplementation(async () => {
        throw new Error('CKR_DEVICE_ERROR while the device was exploding');
      });
      const broken = await xksCall(slow.app, keyPath('foo', 'encrypt'), { requestMetadata: metadata('Encrypt'), plaintext: b64(canary()), encryptionAlgorithm: 'AES_GCM' });
      seen.add(broken.body.errorName);
      expect(failure(broken)).toEqual({ status: 500, errorName: 'InternalException' });
      expect(broken.text).not.toMatch(/exploding|CKR_|at .*\.ts/);
      spy.mockRestore();
      expect((await xksCall(slow.app, keyPath('foo', 'encrypt'), { requestMetadata: metadata('Encrypt'), plaintext: b64(canary()), encryptionAlgorithm: 'AES_GCM' })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 250));
      expect(readFileSync(slow.svc.logFile, 'utf8')).toMatch(/exploding/);
      expect(readFileSync(slow.svc.logFile, 'utf8')).toMatch(/no answer from the token within 500 ms/);
    } finally {
      await slow.close();
    }
  });

  it('an external key record that names a KMS key\'s object is refused by the token adapter: the two never share objects', async () => {
    const kmsKeyObject = randomBytes(32).toString('hex');
    await proxy.svc.defaultStore.keyObjects.generateAesKey(kmsKeyObject, 'kms:shared');
    const now = new Date();
    const forged: ExternalKeyRecord = { keyStorePrefix: XKS_PREFIX, externalKeyId: 'forged', usage: ['ENCRYPT', 'DECRYPT'], status: 'ENABLED', backing: { tokenId: 'default', objectId: kmsKeyObject }, createdAt: now, updatedAt: now, revision: 0 };
    await proxy.svc.store.externalKeys.insert(forged);
    expect(failure(await encrypt('forged', canary()))).toEqual({ status: 500, errorName: 'InternalException' });
    expect(await proxy.svc.defaultStore.keyObjects.hasKey(kmsKeyObject)).toBe(true);
  });

  it('takes up a changed configuration file: a new credential works, a removed one stops, a bad version changes nothing', async () => {
    const added = { accessKeyId: 'ADDEDLATER234567ADDEDLATER', secretAccessKey: 'YWRkZWQtbGF0ZXItY3JlZGVudGlhbC1zZWNyZXQta2V5LTAx' };
    const eventually = async (credential: typeof added, expected: number) => {
      const deadline = Date.now() + 5000;
      let status = 0;
      while (Date.now() < deadline) {
        status = (await call(keyPath('foo', 'metadata'), { requestMetadata: metadata('DescribeKey') }, { credential })).status;
        if (status === expected) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(status).toBe(expected);
    };
    proxy.writeConfig({ keyStores: [{ uriPathPrefix: XKS_PREFIX, credentials: [XKS_CREDENTIAL, added] }, { uriPathPrefix: OTHER_PREFIX, credentials: [OTHER_CREDENTIAL] }] });
    await eventually(added, 200);
    await eventually(XKS_CREDENTIAL_2, 401);
    for (const bad of ['{', JSON.stringify({ keyStores: [{ uriPathPrefix: XKS_PREFIX, credentials: [{ accessKeyId: 'short', secretAccessKey: 'x' }] }] })]) {
      proxy.writeConfig(bad);
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect((await call(keyPath('foo', 'metadata'), { requestMetadata: metadata('DescribeKey') }, { credential: added })).status).toBe(200);
    }
    expect(readFileSync(proxy.svc.logFile, 'utf8')).toMatch(/XKS proxy configuration file refused/);
    proxy.writeConfig(config);
    await eventually(XKS_CREDENTIAL_2, 200);
  });
});

describe('what was seen, and the log', () => {
  it('covered every error name of the spec', () => {
    expect([...seen].sort()).toEqual([...xksErrorNames].sort());
  });

  it('logs each call with kmsRequestId, kmsOperation, key store prefix, external key id, outcome and latency, and never a payload or secret', async () => {
    const requestId = `log-check-${randomBytes(4).toString('hex')}`;
    await call(keyPath('foo', 'encrypt'), { requestMetadata: metadata('GenerateDataKey', { kmsRequestId: requestId }), plaintext: b64(canary()), encryptionAlgorithm: 'AES_GCM' });
    await call(keyPath('foo', 'encrypt'), { requestMetadata: metadata('GenerateDataKey', { kmsRequestId: `${requestId}-denied` }), plaintext: b64(canary()), encryptionAlgorithm: 'AES_GCM' }, { credential: OTHER_CREDENTIAL });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const lines = readFileSync(proxy.svc.logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const mine = lines.find((l) => l.kmsRequestId === requestId)!;
    expect(mine).toMatchObject({ message: 'request', source: 'xks', operation: 'Encrypt', kmsOperation: 'GenerateDataKey', keyStorePrefix: XKS_PREFIX, externalKeyId: 'foo', outcome: 'success', status: 200 });
    expect(typeof mine.latencyMs).toBe('number');
    expect(lines.find((l) => l.kmsRequestId === `${requestId}-denied`)).toMatchObject({ outcome: 'UnrecognizedClientException', status: 401, keyStorePrefix: XKS_PREFIX, externalKeyId: 'foo', kmsOperation: 'GenerateDataKey' });
    const text = readFileSync(proxy.svc.logFile, 'utf8');
    for (const secret of canaries) expect(text.includes(secret)).toBe(false);
    expect(text).not.toContain(b64(KNOWN_MATERIAL));
    expect(text).not.toContain(proxy.svc.token.pin);
    expect(text).not.toContain(PRINCIPAL_ARN.replace('Alice', 'nobody'));
    expect(KMS_KEY_ARN.length).toBeGreaterThan(0);
  });
});

/** A second proxy with a 1 KiB body limit. */
async function proxyWithSmallBody(): Promise<XksTestProxy> {
  const small = await startXksTestProxy({ maxBodyBytes: 1024 });
  afterAllClose.push(small);
  return small;
}
const afterAllClose: XksTestProxy[] = [];
afterAll(async () => {
  for (const p of afterAllClose) await p.close();
});
