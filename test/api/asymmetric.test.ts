// Asymmetric keys through the HTTP API on SoftHSM: CreateKey for every spec and usage AWS
// allows (and AWS's refusals), KeyMetadata and GetPublicKey, Sign and Verify with every
// algorithm (each signature checked by node:crypto against the GetPublicKey key), key usage
// errors, custody of the private keys in the token, crash safety of key pair creation, and
// Ed25519 keys as far as the token's capability profile allows them.
import { constants, createHash, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as pkcs11js from 'pkcs11js';
import { SOFTHSM_MODULE } from '../../src/config';
import { recoverIncompleteKeys } from '../../src/core/jobs/recovery';
import { CKK_EC_EDWARDS } from '../../src/pkcs11/mechanisms';
import { defaultProfileDir } from '../../src/pkcs11/profile';
import { kmsCall } from '../support/signed';
import { ACCOUNT, REGION, startTestService, type TestService } from '../support/service';

let svc: TestService;
let lib: pkcs11js.PKCS11;
beforeAll(async () => {
  svc = await startTestService();
  lib = new pkcs11js.PKCS11();
  lib.load(SOFTHSM_MODULE);
});
afterAll(async () => { await svc.close(); });

const scope = { accountId: ACCOUNT, region: REGION };
const b64 = (b: Buffer | string) => (typeof b === 'string' ? Buffer.from(b) : b).toString('base64');
type Meta = Record<string, unknown> & { KeyId: string; Arn: string };

async function createKey(KeySpec: string, KeyUsage: string, extra: object = {}): Promise<Meta> {
  const res = await kmsCall(svc.app, 'CreateKey', { KeySpec, KeyUsage, ...extra });
  expect({ status: res.status, body: res.status === 200 ? 'ok' : res.body }).toEqual({ status: 200, body: 'ok' });
  return res.body.KeyMetadata as Meta;
}

async function publicKeyOf(keyId: string): Promise<KeyObject> {
  const res = await kmsCall(svc.app, 'GetPublicKey', { KeyId: keyId });
  expect(res.status).toBe(200);
  return createPublicKey({ key: Buffer.from(res.body.PublicKey, 'base64'), format: 'der', type: 'spki' });
}

const rsaSigning = ['RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512', 'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512'];
const hashOf = (algorithm: string) => `sha${algorithm.slice(-3)}`;
const hashBytes = (algorithm: string) => Number(algorithm.slice(-3)) / 8;

/** node:crypto's verdict on a KMS signature of `message`, with PSS salt = hash length. */
function verifiedLocally(publicKey: KeyObject, algorithm: string, message: Buffer, signature: Buffer): boolean {
  const hash = hashOf(algorithm);
  if (algorithm.startsWith('ECDSA')) return nodeVerify(hash, message, { key: publicKey, dsaEncoding: 'der' }, signature);
  if (algorithm.startsWith('RSASSA_PSS')) return nodeVerify(hash, message, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hashBytes(algorithm) }, signature);
  return nodeVerify(hash, message, { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
}

describe('CreateKey', () => {
  it.each([
    ['RSA_2048', 'SIGN_VERIFY', { SigningAlgorithms: rsaSigning }],
    ['RSA_2048', 'ENCRYPT_DECRYPT', { EncryptionAlgorithms: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] }],
    ['RSA_3072', 'SIGN_VERIFY', { SigningAlgorithms: rsaSigning }],
    ['ECC_NIST_P256', 'SIGN_VERIFY', { SigningAlgorithms: ['ECDSA_SHA_256'] }],
    ['ECC_NIST_P384', 'SIGN_VERIFY', { SigningAlgorithms: ['ECDSA_SHA_384'] }],
    ['ECC_NIST_P521', 'SIGN_VERIFY', { SigningAlgorithms: ['ECDSA_SHA_512'] }],
    ['ECC_SECG_P256K1', 'SIGN_VERIFY', { SigningAlgorithms: ['ECDSA_SHA_256'] }],
    ['ECC_NIST_P256', 'KEY_AGREEMENT', { KeyAgreementAlgorithms: ['ECDH'] }],
  ])('%s for %s: KeyMetadata lists exactly the algorithms AWS lists', async (spec, usage, algorithms) => {
    const meta = await createKey(spec, usage);
    const lists = ['EncryptionAlgorithms', 'SigningAlgorithms', 'KeyAgreementAlgorithms', 'MacAlgorithms'];
    expect(Object.fromEntries(lists.filter((l) => l in meta).map((l) => [l, meta[l]]))).toEqual(algorithms);
    expect(meta).toMatchObject({ KeySpec: spec, CustomerMasterKeySpec: spec, KeyUsage: usage, KeyState: 'Enabled', Enabled: true, Origin: 'AWS_KMS' });
    // AWS reports CurrentKeyMaterialId for symmetric encryption keys only.
    expect(meta).not.toHaveProperty('CurrentKeyMaterialId');
    expect((await kmsCall(svc.app, 'DescribeKey', { KeyId: meta.KeyId })).body.KeyMetadata).toEqual(meta);
    const stored = await svc.store.keys.get(scope, meta.KeyId);
    expect(createPublicKey({ key: Buffer.from(stored!.versions[0]!.publicKeySpki!, 'base64'), format: 'der', type: 'spki' }).asymmetricKeyType).toBe(spec.startsWith('RSA') ? 'rsa' : 'ec');
  });

  it('every key spec but SYMMETRIC_DEFAULT needs an explicit KeyUsage.', async () => {
    for (const KeySpec of ['RSA_2048', 'ECC_NIST_P256', 'HMAC_256']) {
      expect((await kmsCall(svc.app, 'CreateKey', { KeySpec })).body).toEqual({
        __type: 'ValidationException', message: 'You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.',
      });
    }
  });

  it('a key usage must be one the key spec allows.', async () => {
    const refused: [string, string][] = [
      ['RSA_2048', 'KEY_AGREEMENT'], ['RSA_4096', 'GENERATE_VERIFY_MAC'], ['ECC_NIST_P256', 'ENCRYPT_DECRYPT'],
      ['ECC_SECG_P256K1', 'KEY_AGREEMENT'], ['ECC_SECG_P256K1', 'ENCRYPT_DECRYPT'], ['HMAC_256', 'SIGN_VERIFY'], ['SYMMETRIC_DEFAULT', 'GENERATE_VERIFY_MAC'],
      ['ECC_NIST_EDWARDS25519', 'KEY_AGREEMENT'], ['ECC_NIST_EDWARDS25519', 'ENCRYPT_DECRYPT'], ['ECC_NIST_EDWARDS25519', 'GENERATE_VERIFY_MAC'],
    ];
    for (const [KeySpec, KeyUsage] of refused) {
      expect((await kmsCall(svc.app, 'CreateKey', { KeySpec, KeyUsage })).body).toEqual({ __type: 'ValidationException', message: `KeyUsage ${KeyUsage} is not compatible with KeySpec ${KeySpec}` });
    }
    // The deprecated CustomerMasterKeySpec names the spec just the same.
    expect((await kmsCall(svc.app, 'CreateKey', { CustomerMasterKeySpec: 'RSA_2048', KeyUsage: 'KEY_AGREEMENT' })).body.message).toBe('KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048');
  });

  it('a key spec no standard PKCS#11 token can hold is refused.', async () => {
    const cases: [string, string, RegExp][] = [
      ['SM2', 'SIGN_VERIFY', /SM2/], ['ML_DSA_44', 'SIGN_VERIFY', /ML-DSA/], ['ML_DSA_87', 'SIGN_VERIFY', /ML-DSA/],
      ['ML_KEM_768', 'ENCAPSULATE_DECAPSULATE', /ML-KEM/],
    ];
    for (const [KeySpec, KeyUsage, reason] of cases) {
      const res = await kmsCall(svc.app, 'CreateKey', { KeySpec, KeyUsage });
      expect(res.status).toBe(400);
      expect(res.body.__type).toBe('UnsupportedOperationException');
      expect(res.body.message).toMatch(new RegExp(`^KeySpec ${KeySpec} is not supported by this service: `));
      expect(res.body.message).toMatch(reason);
    }
    // Usage is checked against the spec first, as for every spec.
    expect((await kmsCall(svc.app, 'CreateKey', { KeySpec: 'ML_DSA_65', KeyUsage: 'ENCRYPT_DECRYPT' })).body.__type).toBe('ValidationException');
  });

  it('custody: every private key and HMAC key CreateKey makes is a sensitive, non-extractable token object; the public key is stored', async () => {
    const pairs = [
      ['RSA_2048', 'SIGN_VERIFY'], ['RSA_2048', 'ENCRYPT_DECRYPT'], ['RSA_3072', 'SIGN_VERIFY'], ['RSA_3072', 'ENCRYPT_DECRYPT'],
      ['RSA_4096', 'SIGN_VERIFY'], ['RSA_4096', 'ENCRYPT_DECRYPT'], ['ECC_NIST_P256', 'SIGN_VERIFY'], ['ECC_NIST_P256', 'KEY_AGREEMENT'],
      ['ECC_NIST_P384', 'SIGN_VERIFY'], ['ECC_NIST_P384', 'KEY_AGREEMENT'], ['ECC_NIST_P521', 'SIGN_VERIFY'], ['ECC_NIST_P521', 'KEY_AGREEMENT'],
      ['ECC_SECG_P256K1', 'SIGN_VERIFY'], ['ECC_NIST_EDWARDS25519', 'SIGN_VERIFY'],
    ] as const;
    for (const spec of ['HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512']) {
      const meta = await createKey(spec, 'GENERATE_VERIFY_MAC');
      const stored = (await svc.store.keys.get(scope, meta.KeyId))!;
      expect(inspect(stored.versions[0]!.id)).toEqual([{
        class: 'secret', token: true, sensitive: true, extractable: false, neverExtractable: true, alwaysSensitive: true, secretReadError: 'CKR_ATTRIBUTE_SENSITIVE',
      }]);
      expect(Object.keys(stored.versions[0]!).sort()).toEqual(['backing', 'createdAt', 'id', 'status']);
    }
    for (const [spec, usage] of pairs) {
      const meta = await createKey(spec, usage);
      const stored = (await svc.store.keys.get(scope, meta.KeyId))!;
      const objects = inspect(stored.versions[0]!.id);
      expect(objects.map((o) => o.class).sort()).toEqual(['private', 'public']);
      const privateKey = objects.find((o) => o.class === 'private')!;
      expect(privateKey).toEqual({
        class: 'private', token: true, sensitive: true, extractable: false, neverExtractable: true, alwaysSensitive: true,
        secretReadError: 'CKR_ATTRIBUTE_SENSITIVE',
      });
      // The public half in the token is the one the service publishes.
      const published = await publicKeyOf(meta.KeyId);
      expect(published.export({ format: 'jwk' })).toEqual(objects.find((o) => o.class === 'public')!.publicJwk);
      expect(objects.find((o) => o.class === 'public')!.token).toBe(true);
      // The store holds the public key and references, never private material.
      expect(Object.keys(stored.versions[0]!).sort()).toEqual(['backing', 'createdAt', 'id', 'publicKeySpki', 'status']);
    }
  }, 120_000);

  it('a token failure while generating a key pair leaves no record; a store failure after it leaves no objects', async () => {
    const token = svc.defaultStore;
    const count = async () => (await svc.store.keys.list(scope, { limit: 1000 })).items.length + (await svc.store.keys.listIncomplete(new Date(Date.now() + 3600_000))).length;
    const before = await count();
    const failing = jest.spyOn(token.keyPairs, 'generateKeyPair').mockRejectedValueOnce(new Error('injected token failure'));
    expect((await kmsCall(svc.app, 'CreateKey', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })).status).toBe(500);
    failing.mockRestore();
    expect(await count()).toBe(before);

    const made: string[] = [];
    const real = token.keyPairs.generateKeyPair.bind(token.keyPairs);
    const spy = jest.spyOn(token.keyPairs, 'generateKeyPair').mockImplementationOnce(async (objectId, ...rest) => {
      made.push(objectId);
      return real(objectId, ...rest);
    });
    const replace = jest.spyOn(svc.deps.store.keys, 'replace').mockRejectedValueOnce(new Error('injected store failure'));
    expect((await kmsCall(svc.app, 'CreateKey', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })).status).toBe(500);
    spy.mockRestore();
    replace.mockRestore();
    expect(made).toHaveLength(1);
    expect(inspect(made[0]!)).toEqual([]);
    expect(await count()).toBe(before);
  });

  it('a crash between the token and the store leaves an incomplete record, and recovery removes both halves of the pair and the HMAC key', async () => {
    const token = svc.defaultStore;
    const made: string[] = [];
    const realPair = token.keyPairs.generateKeyPair.bind(token.keyPairs);
    const realHmac = token.hmacKeys.generateHmacKey.bind(token.hmacKeys);
    jest.spyOn(token.keyPairs, 'generateKeyPair').mockImplementationOnce(async (objectId, ...rest) => { made.push(objectId); return realPair(objectId, ...rest); });
    jest.spyOn(token.hmacKeys, 'generateHmacKey').mockImplementationOnce(async (objectId, ...rest) => { made.push(objectId); return realHmac(objectId, ...rest); });
    // The process "dies" after the token call: neither the finishing write nor any clean-up happens.
    const replace = jest.spyOn(svc.deps.store.keys, 'replace').mockRejectedValue(new Error('process gone'));
    const destroy = jest.spyOn(token.keyObjects, 'destroyKey').mockRejectedValue(new Error('process gone'));
    const remove = jest.spyOn(svc.deps.store.keys, 'delete').mockRejectedValue(new Error('process gone'));
    expect((await kmsCall(svc.app, 'CreateKey', { KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' })).status).toBe(500);
    expect((await kmsCall(svc.app, 'CreateKey', { KeySpec: 'HMAC_384', KeyUsage: 'GENERATE_VERIFY_MAC' })).status).toBe(500);
    replace.mockRestore();
    destroy.mockRestore();
    remove.mockRestore();
    expect(made).toHaveLength(2);
    expect(inspect(made[0]!).map((o) => o.class).sort()).toEqual(['private', 'public']);
    expect(inspect(made[1]!).map((o) => o.class)).toEqual(['secret']);
    const leftovers = await svc.store.keys.listIncomplete(new Date(Date.now() + 1000));
    expect(leftovers.map((k) => k.versions[0]!.id)).toEqual(expect.arrayContaining(made));

    await recoverIncompleteKeys(svc.deps, 'none');
    for (const objectId of made) expect(inspect(objectId)).toEqual([]);
    expect(await svc.store.keys.listIncomplete(new Date(Date.now() + 1000))).toHaveLength(0);
  });
});

interface Inspected {
  class: 'private' | 'public' | 'secret';
  token: boolean;
  sensitive?: boolean;
  extractable?: boolean;
  neverExtractable?: boolean;
  alwaysSensitive?: boolean;
  secretReadError?: string;
  publicJwk?: object;
}

/**
 * The token's objects under a CKA_ID, read through a PKCS#11 session of the test's own (the
 * module is shared with the service in this process, so its login applies), as a custody
 * auditor would.
 */
function inspect(objectIdHex: string): Inspected[] {
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === svc.token.label)!;
  const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
  const bool = (h: pkcs11js.Handle, type: number) => (lib.C_GetAttributeValue(session, h, [{ type }])[0]!.value as Buffer)[0] === 1;
  try {
    lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_ID, value: Buffer.from(objectIdHex, 'hex') }]);
    const handles = lib.C_FindObjects(session, 10);
    lib.C_FindObjectsFinal(session);
    return handles.map((h): Inspected => {
      const cls = (lib.C_GetAttributeValue(session, h, [{ type: pkcs11js.CKA_CLASS }])[0]!.value as Buffer).readUInt32LE();
      const token = bool(h, pkcs11js.CKA_TOKEN);
      if (cls === pkcs11js.CKO_PUBLIC_KEY) {
        const keyType = (lib.C_GetAttributeValue(session, h, [{ type: pkcs11js.CKA_KEY_TYPE }])[0]!.value as Buffer).readUInt32LE();
        let publicJwk: object;
        if (keyType === pkcs11js.CKK_RSA) {
          const [n, e] = lib.C_GetAttributeValue(session, h, [{ type: pkcs11js.CKA_MODULUS }, { type: pkcs11js.CKA_PUBLIC_EXPONENT }]).map((a) => a.value as Buffer);
          publicJwk = createPublicKey({ key: { kty: 'RSA', n: n!.toString('base64url'), e: e!.toString('base64url') }, format: 'jwk' }).export({ format: 'jwk' });
        } else if (keyType === CKK_EC_EDWARDS) {
          const point = lib.C_GetAttributeValue(session, h, [{ type: pkcs11js.CKA_EC_POINT }])[0]!.value as Buffer;
          // A DER OCTET STRING around the 32-byte Ed25519 public key: 04 20 [key].
          expect(point.subarray(0, 2).toString('hex')).toBe('0420');
          expect((lib.C_GetAttributeValue(session, h, [{ type: pkcs11js.CKA_EC_PARAMS }])[0]!.value as Buffer).toString('hex')).toBe('06032b6570');
          publicJwk = { kty: 'OKP', crv: 'Ed25519', x: point.subarray(2).toString('base64url') };
        } else {
          const point = lib.C_GetAttributeValue(session, h, [{ type: pkcs11js.CKA_EC_POINT }])[0]!.value as Buffer;
          // A DER OCTET STRING around the uncompressed point: 04 len [04 x y].
          const raw = point.subarray(point[1]! & 0x80 ? 2 + (point[1]! & 0x7f) : 2);
          const size = (raw.length - 1) / 2;
          const params = (lib.C_GetAttributeValue(session, h, [{ type: pkcs11js.CKA_EC_PARAMS }])[0]!.value as Buffer).toString('hex');
          const crv = ({ '06082a8648ce3d030107': 'P-256', '06052b81040022': 'P-384', '06052b81040023': 'P-521', '06052b8104000a': 'secp256k1' } as Record<string, string>)[params]!;
          publicJwk = { kty: 'EC', crv, x: raw.subarray(1, 1 + size).toString('base64url'), y: raw.subarray(1 + size).toString('base64url') };
        }
        return { class: 'public', token, publicJwk };
      }
      const secretAttribute = cls === pkcs11js.CKO_SECRET_KEY ? pkcs11js.CKA_VALUE
        : (lib.C_GetAttributeValue(session, h, [{ type: pkcs11js.CKA_KEY_TYPE }])[0]!.value as Buffer).readUInt32LE() === pkcs11js.CKK_RSA ? pkcs11js.CKA_PRIVATE_EXPONENT : pkcs11js.CKA_VALUE;
      let secretReadError: string | undefined;
      try {
        lib.C_GetAttributeValue(session, h, [{ type: secretAttribute }]);
      } catch (e) {
        secretReadError = (e as Error).message;
      }
      return {
        class: cls === pkcs11js.CKO_SECRET_KEY ? 'secret' : 'private',
        token,
        sensitive: bool(h, pkcs11js.CKA_SENSITIVE),
        extractable: bool(h, pkcs11js.CKA_EXTRACTABLE),
        neverExtractable: bool(h, pkcs11js.CKA_NEVER_EXTRACTABLE),
        alwaysSensitive: bool(h, pkcs11js.CKA_ALWAYS_SENSITIVE),
        secretReadError,
      };
    });
  } finally {
    lib.C_CloseSession(session);
  }
}

describe('GetPublicKey', () => {
  it('returns the DER SubjectPublicKeyInfo with the spec, usage and algorithm lists', async () => {
    const meta = await createKey('ECC_NIST_P256', 'SIGN_VERIFY');
    for (const KeyId of [meta.KeyId, meta.Arn]) {
      const res = await kmsCall(svc.app, 'GetPublicKey', { KeyId });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['CustomerMasterKeySpec', 'KeyId', 'KeySpec', 'KeyUsage', 'PublicKey', 'SigningAlgorithms']);
      expect(res.body).toMatchObject({ KeyId: meta.Arn, KeySpec: 'ECC_NIST_P256', CustomerMasterKeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', SigningAlgorithms: ['ECDSA_SHA_256'] });
      const key = createPublicKey({ key: Buffer.from(res.body.PublicKey, 'base64'), format: 'der', type: 'spki' });
      expect(key.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    }
    const rsa = await createKey('RSA_3072', 'ENCRYPT_DECRYPT');
    const res = await kmsCall(svc.app, 'GetPublicKey', { KeyId: rsa.KeyId });
    expect(res.body.EncryptionAlgorithms).toEqual(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
    expect(createPublicKey({ key: Buffer.from(res.body.PublicKey, 'base64'), format: 'der', type: 'spki' }).asymmetricKeyDetails).toMatchObject({ modulusLength: 3072, publicExponent: 65537n });
  });

  it('only an asymmetric key has a public key to give out.', async () => {
    const symmetric = (await kmsCall(svc.app, 'CreateKey', {})).body.KeyMetadata as Meta;
    const hmac = await createKey('HMAC_256', 'GENERATE_VERIFY_MAC');
    for (const meta of [symmetric, hmac]) {
      const res = await kmsCall(svc.app, 'GetPublicKey', { KeyId: meta.KeyId });
      expect(res.status).toBe(400);
      expect(res.body.__type).toBe('UnsupportedOperationException');
      expect(res.body.message).toContain(meta.Arn);
    }
  });
});

describe('Sign and Verify', () => {
  const message = Buffer.from('the quick brown fox signs the lazy dog');
  const cases: [string, string[]][] = [
    ['RSA_2048', rsaSigning],
    ['ECC_NIST_P256', ['ECDSA_SHA_256']],
    ['ECC_NIST_P384', ['ECDSA_SHA_384']],
    ['ECC_NIST_P521', ['ECDSA_SHA_512']],
    ['ECC_SECG_P256K1', ['ECDSA_SHA_256']],
  ];

  it.each(cases)('%s: every algorithm, RAW and DIGEST, verified by node:crypto and by Verify', async (spec, algorithms) => {
    const meta = await createKey(spec, 'SIGN_VERIFY');
    const publicKey = await publicKeyOf(meta.KeyId);
    for (const SigningAlgorithm of algorithms) {
      const digest = createHash(hashOf(SigningAlgorithm)).update(message).digest();
      for (const [MessageType, Message] of [['RAW', message], ['DIGEST', digest], [undefined, message]] as const) {
        const signed = await kmsCall(svc.app, 'Sign', { KeyId: meta.KeyId, Message: b64(Message), SigningAlgorithm, ...(MessageType ? { MessageType } : {}) });
        expect(signed.status).toBe(200);
        expect(Object.keys(signed.body).sort()).toEqual(['KeyId', 'Signature', 'SigningAlgorithm']);
        expect(signed.body).toMatchObject({ KeyId: meta.Arn, SigningAlgorithm });
        const signature = Buffer.from(signed.body.Signature, 'base64');
        // Whether RAW or DIGEST, the signature is over the same message.
        expect(verifiedLocally(publicKey, SigningAlgorithm, message, signature)).toBe(true);
        const verified = await kmsCall(svc.app, 'Verify', { KeyId: meta.Arn, Message: b64(Message), Signature: signed.body.Signature, SigningAlgorithm, ...(MessageType ? { MessageType } : {}) });
        expect(verified.body).toEqual({ KeyId: meta.Arn, SignatureValid: true, SigningAlgorithm });
      }
      if (SigningAlgorithm.startsWith('ECDSA')) {
        // ECDSA signatures are DER: SEQUENCE { INTEGER r, INTEGER s }.
        const signature = Buffer.from((await kmsCall(svc.app, 'Sign', { KeyId: meta.KeyId, Message: b64(message), SigningAlgorithm })).body.Signature, 'base64');
        expect(signature[0]).toBe(0x30);
      }
    }
  });

  it('refuses a signature made by another key pair', async () => {
    const meta = await createKey('RSA_2048', 'SIGN_VERIFY');
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const foreign = nodeSign('sha256', message, { key: stranger.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    const res = await kmsCall(svc.app, 'Verify', { KeyId: meta.KeyId, Message: b64(message), Signature: b64(foreign), SigningAlgorithm: 'RSASSA_PSS_SHA_256' });
    expect(res.body).toEqual({ __type: 'KMSInvalidSignatureException', message: '' });
  });

  it('a signature that does not verify is refused with KMSInvalidSignatureException.', async () => {
    for (const [spec, SigningAlgorithm] of [['RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_256'], ['ECC_NIST_P256', 'ECDSA_SHA_256']] as const) {
      const meta = await createKey(spec, 'SIGN_VERIFY');
      const signature = Buffer.from((await kmsCall(svc.app, 'Sign', { KeyId: meta.KeyId, Message: b64(message), SigningAlgorithm })).body.Signature, 'base64');
      const tampered = Buffer.from(signature);
      tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 1;
      const badInputs = [
        { Message: b64('another message'), Signature: b64(signature) },
        { Message: b64(message), Signature: b64(tampered) },
        { Message: b64(message), Signature: b64(Buffer.alloc(7, 1)) },
      ];
      for (const input of badInputs) {
        const res = await kmsCall(svc.app, 'Verify', { KeyId: meta.KeyId, SigningAlgorithm, ...input });
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ __type: 'KMSInvalidSignatureException', message: '' });
      }
    }
  });

  it('a DIGEST message must be exactly as long as the signing algorithm\'s hash.', async () => {
    const rsa = await createKey('RSA_2048', 'SIGN_VERIFY');
    const ec = await createKey('ECC_NIST_P384', 'SIGN_VERIFY');
    for (const [meta, SigningAlgorithm, wrong] of [[rsa, 'RSASSA_PSS_SHA_256', 31], [rsa, 'RSASSA_PKCS1_V1_5_SHA_512', 32], [ec, 'ECDSA_SHA_384', 32]] as const) {
      for (const operation of ['Sign', 'Verify']) {
        const res = await kmsCall(svc.app, operation, { KeyId: meta.KeyId, Message: b64(Buffer.alloc(wrong, 1)), MessageType: 'DIGEST', SigningAlgorithm, ...(operation === 'Verify' ? { Signature: b64('sig') } : {}) });
        expect(res.body).toEqual({ __type: 'ValidationException', message: `Digest is invalid length for algorithm ${SigningAlgorithm}.` });
      }
    }
    const mu = await kmsCall(svc.app, 'Sign', { KeyId: rsa.KeyId, Message: b64(Buffer.alloc(64)), MessageType: 'EXTERNAL_MU', SigningAlgorithm: 'RSASSA_PSS_SHA_256' });
    expect(mu.body).toEqual({ __type: 'ValidationException', message: 'Message type EXTERNAL_MU is incompatible with key spec RSA_2048.' });
  });

  it('a signing algorithm must be one the key\'s spec allows.', async () => {
    const p256 = await createKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const rsa = await createKey('RSA_2048', 'SIGN_VERIFY');
    for (const [meta, spec, SigningAlgorithm] of [[p256, 'ECC_NIST_P256', 'ECDSA_SHA_384'], [p256, 'ECC_NIST_P256', 'RSASSA_PSS_SHA_256'], [rsa, 'RSA_2048', 'ECDSA_SHA_256'], [rsa, 'RSA_2048', 'SM2DSA']] as const) {
      const res = await kmsCall(svc.app, 'Sign', { KeyId: meta.KeyId, Message: b64(message), SigningAlgorithm });
      expect(res.body).toEqual({ __type: 'InvalidKeyUsageException', message: `Algorithm ${SigningAlgorithm} is incompatible with key spec ${spec}.` });
    }
  });

  it('answers key usage errors in AWS\'s words', async () => {
    const encryption = await createKey('RSA_2048', 'ENCRYPT_DECRYPT');
    const signing = await createKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const hmac = await createKey('HMAC_256', 'GENERATE_VERIFY_MAC');
    const symmetric = (await kmsCall(svc.app, 'CreateKey', {})).body.KeyMetadata as Meta;
    const sign = { Message: b64(message), SigningAlgorithm: 'ECDSA_SHA_256' };
    const expectUsage = async (operation: string, meta: Meta, usage: string, body: object) => {
      expect((await kmsCall(svc.app, operation, { KeyId: meta.KeyId, ...body })).body).toEqual({
        __type: 'InvalidKeyUsageException', message: `${meta.Arn} key usage is ${usage} which is not valid for ${operation}.`,
      });
    };
    await expectUsage('Sign', hmac, 'GENERATE_VERIFY_MAC', sign);
    await expectUsage('Verify', encryption, 'ENCRYPT_DECRYPT', { ...sign, Signature: b64('x') });
    await expectUsage('Sign', symmetric, 'ENCRYPT_DECRYPT', sign);
    await expectUsage('Encrypt', signing, 'SIGN_VERIFY', { Plaintext: b64('x') });
    await expectUsage('GenerateMac', symmetric, 'ENCRYPT_DECRYPT', { Message: b64('x'), MacAlgorithm: 'HMAC_SHA_256' });
    await expectUsage('DeriveSharedSecret', signing, 'SIGN_VERIFY', { KeyAgreementAlgorithm: 'ECDH', PublicKey: b64('x') });
    // Decrypt names no operation: a KeyId that cannot decrypt is IncorrectKeyException.
    const ciphertext = (await kmsCall(svc.app, 'Encrypt', { KeyId: symmetric.KeyId, Plaintext: b64('x') })).body.CiphertextBlob;
    expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: ciphertext, KeyId: hmac.KeyId })).body).toEqual({
      __type: 'IncorrectKeyException', message: 'The key ID in the request does not identify a CMK that can perform this operation.',
    });
  });

  it('validates Sign and Verify input as AWS does', async () => {
    const meta = await createKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const tooLong = await kmsCall(svc.app, 'Sign', { KeyId: meta.KeyId, Message: b64(Buffer.alloc(4097)), SigningAlgorithm: 'ECDSA_SHA_256' });
    expect(tooLong.body).toEqual({ __type: 'ValidationException', message: "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length less than or equal to 4096" });
    expect((await kmsCall(svc.app, 'Sign', { KeyId: meta.KeyId, Message: b64(Buffer.alloc(4096, 7)), SigningAlgorithm: 'ECDSA_SHA_256' })).status).toBe(200);
    const noAlgorithm = await kmsCall(svc.app, 'Sign', { KeyId: meta.KeyId, Message: b64('m') });
    expect(noAlgorithm.body).toEqual({ __type: 'ValidationException', message: "1 validation error detected: Value null at 'signingAlgorithm' failed to satisfy constraint: Member must not be null" });
    const badType = await kmsCall(svc.app, 'Sign', { KeyId: meta.KeyId, Message: b64('m'), MessageType: 'HASH', SigningAlgorithm: 'ECDSA_SHA_256' });
    expect(badType.body.message).toMatch(/^1 validation error detected: Value 'HASH' at 'messageType' failed to satisfy constraint: Member must satisfy enum value set: \[/);
    const noSignature = await kmsCall(svc.app, 'Verify', { KeyId: meta.KeyId, Message: b64('m'), SigningAlgorithm: 'ECDSA_SHA_256' });
    expect(noSignature.body.message).toBe("1 validation error detected: Value null at 'signature' failed to satisfy constraint: Member must not be null");
  });

  it('DryRun answers DryRunOperationException after every check, and signs nothing', async () => {
    const meta = await createKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const signing = jest.spyOn(svc.defaultStore.keyPairs, 'signDigest');
    const dry = await kmsCall(svc.app, 'Sign', { KeyId: meta.KeyId, Message: b64(message), SigningAlgorithm: 'ECDSA_SHA_256', DryRun: true });
    expect(dry.body).toEqual({ __type: 'DryRunOperationException', message: 'The request would have succeeded, but the DryRun option is set.' });
    expect(signing).not.toHaveBeenCalled();
    signing.mockRestore();
    // A request that would fail fails as it would without DryRun.
    expect((await kmsCall(svc.app, 'Sign', { KeyId: meta.KeyId, Message: b64(message), SigningAlgorithm: 'ECDSA_SHA_512', DryRun: true })).body.__type).toBe('InvalidKeyUsageException');
    expect((await kmsCall(svc.app, 'Verify', { KeyId: meta.KeyId, Message: b64(message), Signature: b64('x'), SigningAlgorithm: 'ECDSA_SHA_256', DryRun: true })).body.__type).toBe('DryRunOperationException');
  });

  it('signs through an alias', async () => {
    const meta = await createKey('ECC_NIST_P256', 'SIGN_VERIFY');
    expect((await kmsCall(svc.app, 'CreateAlias', { AliasName: 'alias/signer', TargetKeyId: meta.KeyId })).status).toBe(200);
    const signed = await kmsCall(svc.app, 'Sign', { KeyId: 'alias/signer', Message: b64(message), SigningAlgorithm: 'ECDSA_SHA_256' });
    expect(signed.body.KeyId).toBe(meta.Arn);
    expect(verifiedLocally(await publicKeyOf('alias/signer'), 'ECDSA_SHA_256', message, Buffer.from(signed.body.Signature, 'base64'))).toBe(true);
  });
});

describe('Ed25519 (ECC_NIST_EDWARDS25519) on SoftHSM, whose profile runs Ed25519 but not Ed25519ph', () => {
  const message = Buffer.from('an Ed25519 message, signed in the token');
  const digest = createHash('sha512').update(message).digest();
  let ed: Meta;
  let publicKey: KeyObject;
  beforeAll(async () => {
    ed = await createKey('ECC_NIST_EDWARDS25519', 'SIGN_VERIFY');
    publicKey = await publicKeyOf(ed.KeyId);
  });

  it('CreateKey and DescribeKey: KeyMetadata lists the Ed25519 algorithms the token computes (ED25519_SHA_512 only)', async () => {
    expect(ed).toMatchObject({
      KeySpec: 'ECC_NIST_EDWARDS25519', CustomerMasterKeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY', KeyState: 'Enabled', Origin: 'AWS_KMS',
      SigningAlgorithms: ['ED25519_SHA_512'],
    });
    for (const list of ['EncryptionAlgorithms', 'KeyAgreementAlgorithms', 'MacAlgorithms', 'CurrentKeyMaterialId']) expect(ed).not.toHaveProperty(list);
    expect((await kmsCall(svc.app, 'DescribeKey', { KeyId: ed.KeyId })).body.KeyMetadata).toEqual(ed);
  });

  it('GetPublicKey: a DER SubjectPublicKeyInfo of the 32-byte key in the token, with KeySpec and SigningAlgorithms', async () => {
    const res = await kmsCall(svc.app, 'GetPublicKey', { KeyId: ed.Arn });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['CustomerMasterKeySpec', 'KeyId', 'KeySpec', 'KeyUsage', 'PublicKey', 'SigningAlgorithms']);
    expect(res.body).toMatchObject({ KeyId: ed.Arn, KeySpec: 'ECC_NIST_EDWARDS25519', CustomerMasterKeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY', SigningAlgorithms: ['ED25519_SHA_512'] });
    const der = Buffer.from(res.body.PublicKey, 'base64');
    expect(der).toHaveLength(44);
    expect(der.subarray(0, 12).toString('hex')).toBe('302a300506032b6570032100');
    expect(publicKey.asymmetricKeyType).toBe('ed25519');
    const stored = (await svc.store.keys.get(scope, ed.KeyId))!;
    const [publicHalf] = inspect(stored.versions[0]!.id).filter((o) => o.class === 'public');
    expect(der.subarray(12).toString('base64url')).toBe((publicHalf!.publicJwk as { x: string }).x);
  });

  it('ED25519_SHA_512 (MessageType RAW, the default): a 64-byte signature node:crypto verifies; Verify accepts it', async () => {
    for (const input of [{ MessageType: 'RAW' }, {}]) {
      const signed = await kmsCall(svc.app, 'Sign', { KeyId: ed.KeyId, Message: b64(message), SigningAlgorithm: 'ED25519_SHA_512', ...input });
      expect(signed.status).toBe(200);
      expect(Object.keys(signed.body).sort()).toEqual(['KeyId', 'Signature', 'SigningAlgorithm']);
      expect(signed.body).toMatchObject({ KeyId: ed.Arn, SigningAlgorithm: 'ED25519_SHA_512' });
      const signature = Buffer.from(signed.body.Signature, 'base64');
      expect(signature).toHaveLength(64);
      // Pure Ed25519 over the message itself: any Ed25519 implementation verifies it.
      expect(nodeVerify(null, message, publicKey, signature)).toBe(true);
      expect(nodeVerify(null, digest, publicKey, signature)).toBe(false);
      const verified = await kmsCall(svc.app, 'Verify', { KeyId: ed.Arn, Message: b64(message), Signature: signed.body.Signature, SigningAlgorithm: 'ED25519_SHA_512', ...input });
      expect(verified.body).toEqual({ KeyId: ed.Arn, SignatureValid: true, SigningAlgorithm: 'ED25519_SHA_512' });
    }
    // The longest message AWS takes is signed in one piece.
    const long = Buffer.alloc(4096, 0x5a);
    const signed = await kmsCall(svc.app, 'Sign', { KeyId: ed.KeyId, Message: b64(long), SigningAlgorithm: 'ED25519_SHA_512' });
    expect(nodeVerify(null, long, publicKey, Buffer.from(signed.body.Signature, 'base64'))).toBe(true);
  });

  it('Verify refuses a tampered signature, another message and a foreign Ed25519 signature with KMSInvalidSignatureException', async () => {
    const signature = Buffer.from((await kmsCall(svc.app, 'Sign', { KeyId: ed.KeyId, Message: b64(message), SigningAlgorithm: 'ED25519_SHA_512' })).body.Signature, 'base64');
    const tampered = Buffer.from(signature);
    tampered[10] = tampered[10]! ^ 1;
    const stranger = generateKeyPairSync('ed25519');
    const badInputs = [
      { Message: b64(message), Signature: b64(tampered) },
      { Message: b64('another message'), Signature: b64(signature) },
      { Message: b64(message), Signature: b64(nodeSign(null, message, stranger.privateKey)) },
      { Message: b64(message), Signature: b64(signature.subarray(0, 63)) },
    ];
    for (const input of badInputs) {
      const res = await kmsCall(svc.app, 'Verify', { KeyId: ed.KeyId, SigningAlgorithm: 'ED25519_SHA_512', ...input });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ __type: 'KMSInvalidSignatureException', message: '' });
    }
  });

  it('an Ed25519 signing algorithm takes only its own message type: RAW for ED25519_SHA_512, a SHA-512 DIGEST for ED25519_PH_SHA_512.', async () => {
    for (const operation of ['Sign', 'Verify']) {
      const extra = operation === 'Verify' ? { Signature: b64(Buffer.alloc(64, 1)) } : {};
      const call = (body: object) => kmsCall(svc.app, operation, { KeyId: ed.KeyId, ...extra, ...body });
      // AWS's wording: the two algorithms are different signatures, neither message type stands in for the other.
      expect((await call({ Message: b64(digest), MessageType: 'DIGEST', SigningAlgorithm: 'ED25519_SHA_512' })).body).toEqual({
        __type: 'ValidationException', message: 'Message type DIGEST is incompatible with algorithm ED25519_SHA_512.',
      });
      expect((await call({ Message: b64(digest), MessageType: 'EXTERNAL_MU', SigningAlgorithm: 'ED25519_SHA_512' })).body).toEqual({
        __type: 'ValidationException', message: 'Message type EXTERNAL_MU is incompatible with algorithm ED25519_SHA_512.',
      });
      for (const type of [{ MessageType: 'RAW' }, {}]) {
        expect((await call({ Message: b64(message), SigningAlgorithm: 'ED25519_PH_SHA_512', ...type })).body).toEqual({
          __type: 'ValidationException', message: 'Message type RAW is incompatible with algorithm ED25519_PH_SHA_512.',
        });
      }
      // A DIGEST must be a SHA-512 digest: the error every algorithm gives for a digest of the wrong length.
      for (const wrong of [32, 63, 65]) {
        expect((await call({ Message: b64(Buffer.alloc(wrong, 1)), MessageType: 'DIGEST', SigningAlgorithm: 'ED25519_PH_SHA_512' })).body).toEqual({
          __type: 'ValidationException', message: 'Digest is invalid length for algorithm ED25519_PH_SHA_512.',
        });
      }
    }
  });

  it('an Ed25519 signing algorithm the key\'s token cannot compute is refused, never run on the host.', async () => {
    // SoftHSM 2.6.1 ignores the Ed25519ph flag (its profile sets eddsaPrehash false): ED25519_PH_SHA_512 is refused, not signed as pure Ed25519.
    const signing = jest.spyOn(svc.defaultStore.keyPairs, 'signMessage');
    const verifying = jest.spyOn(svc.defaultStore.keyPairs, 'verifyMessage');
    try {
      for (const operation of ['Sign', 'Verify']) {
        for (const dryRun of [{}, { DryRun: true }]) {
          const res = await kmsCall(svc.app, operation, {
            KeyId: ed.KeyId, Message: b64(digest), MessageType: 'DIGEST', SigningAlgorithm: 'ED25519_PH_SHA_512', ...dryRun,
            ...(operation === 'Verify' ? { Signature: b64(Buffer.alloc(64, 1)) } : {}),
          });
          expect(res.status).toBe(400);
          expect(res.body.__type).toBe('UnsupportedOperationException');
          expect(res.body.message).toBe(`SigningAlgorithm ED25519_PH_SHA_512 is not supported by this service: the PKCS#11 token that holds ${ed.Arn} cannot compute Ed25519ph (prehash) signatures (its capability profile does not set eddsaPrehash), and no signature is made outside the token.`);
        }
      }
      expect(signing).not.toHaveBeenCalled();
      expect(verifying).not.toHaveBeenCalled();
    } finally {
      signing.mockRestore();
      verifying.mockRestore();
    }
  });

  it('answers other algorithms on an Ed25519 key, and Ed25519 algorithms on other keys, with InvalidKeyUsageException', async () => {
    const p256 = await createKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const cases = [[ed, 'ECC_NIST_EDWARDS25519', 'ECDSA_SHA_512'], [ed, 'ECC_NIST_EDWARDS25519', 'RSASSA_PSS_SHA_512'], [p256, 'ECC_NIST_P256', 'ED25519_SHA_512'], [p256, 'ECC_NIST_P256', 'ED25519_PH_SHA_512']] as const;
    for (const [meta, spec, SigningAlgorithm] of cases) {
      const res = await kmsCall(svc.app, 'Sign', { KeyId: meta.KeyId, Message: b64(message), SigningAlgorithm });
      expect(res.body).toEqual({ __type: 'InvalidKeyUsageException', message: `Algorithm ${SigningAlgorithm} is incompatible with key spec ${spec}.` });
    }
  });

  it('DryRun answers DryRunOperationException after every check, and signs nothing', async () => {
    const signing = jest.spyOn(svc.defaultStore.keyPairs, 'signMessage');
    const dry = await kmsCall(svc.app, 'Sign', { KeyId: ed.KeyId, Message: b64(message), SigningAlgorithm: 'ED25519_SHA_512', DryRun: true });
    expect(dry.body.__type).toBe('DryRunOperationException');
    expect(signing).not.toHaveBeenCalled();
    signing.mockRestore();
    expect((await kmsCall(svc.app, 'Sign', { KeyId: ed.KeyId, Message: b64(digest), MessageType: 'DIGEST', SigningAlgorithm: 'ED25519_SHA_512', DryRun: true })).body.__type).toBe('ValidationException');
  });

  it('Ed25519 key material is generated in the token, never imported.', async () => {
    const res = await kmsCall(svc.app, 'CreateKey', { KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY', Origin: 'EXTERNAL' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      __type: 'UnsupportedOperationException',
      message: 'Origin EXTERNAL is not supported by this service for KeySpec ECC_NIST_EDWARDS25519: importing Ed25519 key material is not implemented; create the key with Origin AWS_KMS.',
    });
  });

  it('an Ed25519 key or data key pair is made only in a token whose capability profile says it runs EdDSA.', async () => {
    // The same SoftHSM token type, but a profile that does not claim EdDSA.
    const dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-profiles-'));
    for (const file of ['softhsm2.json', 'generic.json']) {
      const profile = JSON.parse(readFileSync(path.join(defaultProfileDir, file), 'utf8')) as Record<string, unknown>;
      writeFileSync(path.join(dir, file), JSON.stringify({ ...profile, eddsa: false, eddsaPrehash: false }));
    }
    const noEdDsa = await startTestService({ profileDir: dir });
    try {
      expect(noEdDsa.defaultStore.profile).toMatchObject({ vendor: 'SoftHSM2', eddsa: false });
      const generate = jest.spyOn(noEdDsa.defaultStore.keyPairs, 'generateKeyPair');
      const generateData = jest.spyOn(noEdDsa.defaultStore.keyPairs, 'generateDataKeyPair');
      const created = await kmsCall(noEdDsa.app, 'CreateKey', { KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' });
      expect(created.status).toBe(400);
      expect(created.body).toEqual({
        __type: 'UnsupportedOperationException',
        message: 'KeySpec ECC_NIST_EDWARDS25519 is not supported by this service: the PKCS#11 token cannot generate Ed25519 keys or sign with EdDSA (its capability profile does not set eddsa), and no key is made or used outside the token.',
      });
      const symmetric = (await kmsCall(noEdDsa.app, 'CreateKey', {})).body.KeyMetadata as Meta;
      for (const operation of ['GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext']) {
        const res = await kmsCall(noEdDsa.app, operation, { KeyId: symmetric.KeyId, KeyPairSpec: 'ECC_NIST_EDWARDS25519' });
        expect(res.body.__type).toBe('UnsupportedOperationException');
        expect(res.body.message).toMatch(/^KeyPairSpec ECC_NIST_EDWARDS25519 is not supported by this service: the PKCS#11 token cannot generate Ed25519 keys/);
      }
      expect(generate).not.toHaveBeenCalled();
      expect(generateData).not.toHaveBeenCalled();
      // Nothing was recorded; other asymmetric keys are unaffected.
      expect((await noEdDsa.store.keys.list(scope, { limit: 100 })).items.map((k) => k.keySpec)).toEqual(['SYMMETRIC_DEFAULT']);
      expect((await kmsCall(noEdDsa.app, 'CreateKey', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })).status).toBe(200);
    } finally {
      await noEdDsa.close();
    }
  });

  it('a key made before a restart signs after it: the new process finds both halves in the token afresh', async () => {
    const first = await startTestService();
    const key = (await kmsCall(first.app, 'CreateKey', { KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' })).body.KeyMetadata as Meta;
    const spki = Buffer.from((await kmsCall(first.app, 'GetPublicKey', { KeyId: key.KeyId })).body.PublicKey, 'base64');
    await first.close({ keepData: true });
    const second = await startTestService({ restartOf: { token: first.token, dir: first.dir } });
    try {
      const signed = await kmsCall(second.app, 'Sign', { KeyId: key.KeyId, Message: b64(message), SigningAlgorithm: 'ED25519_SHA_512' });
      expect(signed.status).toBe(200);
      expect(nodeVerify(null, message, createPublicKey({ key: spki, format: 'der', type: 'spki' }), Buffer.from(signed.body.Signature, 'base64'))).toBe(true);
      expect((await kmsCall(second.app, 'Verify', { KeyId: key.KeyId, Message: b64(message), Signature: signed.body.Signature, SigningAlgorithm: 'ED25519_SHA_512' })).body.SignatureValid).toBe(true);
    } finally {
      await second.close();
    }
  });
});
