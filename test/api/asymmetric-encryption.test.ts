// RSA encryption keys through the HTTP API on SoftHSM: Encrypt (RSA-OAEP with the public
// key), Decrypt in the token (native OAEP-SHA-1; raw RSA plus host-side OAEP decoding for
// SHA-256, since SoftHSM 2.6 has no native OAEP-SHA-256), ciphertexts made offline by
// node:crypto, AWS's plaintext limits and messages, and ReEncrypt between RSA and symmetric keys.
import { constants, createPublicKey, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { kmsCall } from '../support/signed';
import { startTestService, type TestService } from '../support/service';

let svc: TestService;
beforeAll(async () => { svc = await startTestService(); });
afterAll(async () => { await svc.close(); });

const b64 = (b: Buffer | string) => (typeof b === 'string' ? Buffer.from(b) : b).toString('base64');
type Meta = { KeyId: string; Arn: string };
const oaepHash = { RSAES_OAEP_SHA_1: 'sha1', RSAES_OAEP_SHA_256: 'sha256' } as const;
type Algorithm = keyof typeof oaepHash;

async function createKey(body: object): Promise<Meta> {
  const res = await kmsCall(svc.app, 'CreateKey', body);
  expect(res.status).toBe(200);
  return res.body.KeyMetadata as Meta;
}
const rsaKey = (KeySpec = 'RSA_2048') => createKey({ KeySpec, KeyUsage: 'ENCRYPT_DECRYPT' });

async function publicKeyOf(keyId: string): Promise<KeyObject> {
  const res = await kmsCall(svc.app, 'GetPublicKey', { KeyId: keyId });
  return createPublicKey({ key: Buffer.from(res.body.PublicKey, 'base64'), format: 'der', type: 'spki' });
}

function offlineEncrypt(publicKey: KeyObject, algorithm: Algorithm, plaintext: Buffer): Buffer {
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: oaepHash[algorithm] }, plaintext);
}

const limits: [string, Algorithm, number][] = [
  ['RSA_2048', 'RSAES_OAEP_SHA_1', 214], ['RSA_2048', 'RSAES_OAEP_SHA_256', 190],
  ['RSA_3072', 'RSAES_OAEP_SHA_1', 342], ['RSA_3072', 'RSAES_OAEP_SHA_256', 318],
  ['RSA_4096', 'RSAES_OAEP_SHA_1', 470], ['RSA_4096', 'RSAES_OAEP_SHA_256', 446],
];

describe('Encrypt and Decrypt with RSA keys', () => {
  const keys = new Map<string, Meta>();
  beforeAll(async () => {
    for (const spec of ['RSA_2048', 'RSA_3072', 'RSA_4096']) keys.set(spec, await rsaKey(spec));
  }, 120_000);

  it.each(limits)('%s with %s: up to %i bytes round-trip; one more is refused with AWS\'s message', async (spec, EncryptionAlgorithm, max) => {
    const key = keys.get(spec)!;
    const plaintext = randomBytes(max);
    const enc = await kmsCall(svc.app, 'Encrypt', { KeyId: key.KeyId, Plaintext: b64(plaintext), EncryptionAlgorithm });
    expect(enc.status).toBe(200);
    expect(enc.body).toMatchObject({ KeyId: key.Arn, EncryptionAlgorithm });
    const ciphertext = Buffer.from(enc.body.CiphertextBlob, 'base64');
    // Standard RSA-OAEP: exactly one modulus long, nothing around it.
    expect(ciphertext.length).toBe(Number(spec.slice(4)) / 8);
    const dec = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: enc.body.CiphertextBlob, KeyId: key.Arn, EncryptionAlgorithm });
    expect(dec.body).toEqual({ KeyId: key.Arn, Plaintext: b64(plaintext), EncryptionAlgorithm });
    const over = await kmsCall(svc.app, 'Encrypt', { KeyId: key.KeyId, Plaintext: b64(randomBytes(max + 1)), EncryptionAlgorithm });
    expect(over.body).toEqual({ __type: 'ValidationException', message: `Algorithm ${EncryptionAlgorithm} and key spec ${spec} cannot encrypt data larger than ${max} bytes.` });
  });

  it.each(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as Algorithm[])('decrypts ciphertexts made offline by node:crypto with %s and the GetPublicKey key', async (EncryptionAlgorithm) => {
    for (const spec of ['RSA_2048', 'RSA_4096']) {
      const key = keys.get(spec)!;
      const publicKey = await publicKeyOf(key.KeyId);
      for (const length of [1, 32, 100]) {
        const plaintext = randomBytes(length);
        const ciphertext = offlineEncrypt(publicKey, EncryptionAlgorithm, plaintext);
        const dec = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: b64(ciphertext), KeyId: key.KeyId, EncryptionAlgorithm });
        expect(dec.status).toBe(200);
        expect(Buffer.from(dec.body.Plaintext, 'base64')).toEqual(plaintext);
      }
    }
  });

  it('keeps the private key in the token: SHA-1 natively, SHA-256 as the raw primitive with host-side OAEP decoding (SoftHSM profile)', async () => {
    const token = svc.defaultStore;
    expect(token.profile.rsaOaepHashes).toEqual(['SHA_1']);
    const key = keys.get('RSA_2048')!;
    const publicKey = await publicKeyOf(key.KeyId);
    const calls = jest.spyOn(token.keyPairs, 'rsaDecrypt');
    for (const EncryptionAlgorithm of ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as Algorithm[]) {
      const ciphertext = offlineEncrypt(publicKey, EncryptionAlgorithm, Buffer.from('x'));
      expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: b64(ciphertext), KeyId: key.KeyId, EncryptionAlgorithm })).status).toBe(200);
    }
    expect(calls.mock.calls.map(([, padding]) => padding)).toEqual([{ oaep: 'SHA_1' }, 'RAW']);
    calls.mockRestore();
  });

  it('an RSA encryption key only takes RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256.', async () => {
    const key = keys.get('RSA_2048')!;
    // No EncryptionAlgorithm means SYMMETRIC_DEFAULT to AWS, which an RSA key refuses.
    for (const [body, algorithm] of [[{}, 'SYMMETRIC_DEFAULT'], [{ EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }, 'SYMMETRIC_DEFAULT'], [{ EncryptionAlgorithm: 'SM2PKE' }, 'SM2PKE']] as const) {
      const res = await kmsCall(svc.app, 'Encrypt', { KeyId: key.KeyId, Plaintext: b64('x'), ...body });
      expect(res.body).toEqual({ __type: 'InvalidKeyUsageException', message: `Algorithm ${algorithm} is incompatible with key spec RSA_2048.` });
    }
    const ciphertext = (await kmsCall(svc.app, 'Encrypt', { KeyId: key.KeyId, Plaintext: b64('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' })).body.CiphertextBlob;
    expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: ciphertext, KeyId: key.KeyId })).body).toEqual({
      __type: 'InvalidKeyUsageException', message: 'Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.',
    });
  });

  it('an encryption context is refused with an asymmetric key, which cannot bind it.', async () => {
    const key = keys.get('RSA_2048')!;
    const res = await kmsCall(svc.app, 'Encrypt', { KeyId: key.KeyId, Plaintext: b64('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256', EncryptionContext: { purpose: 'test' } });
    expect(res.status).toBe(400);
    expect(res.body.__type).toBe('ValidationException');
    const ciphertext = (await kmsCall(svc.app, 'Encrypt', { KeyId: key.KeyId, Plaintext: b64('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256', EncryptionContext: {} })).body.CiphertextBlob;
    expect(ciphertext).toBeDefined();
    expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: ciphertext, KeyId: key.KeyId, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256', EncryptionContext: { purpose: 'test' } })).body.__type).toBe('ValidationException');
  });

  it('Decrypt needs the KeyId of the RSA key: an asymmetric ciphertext names no key', async () => {
    const key = keys.get('RSA_2048')!;
    const ciphertext = (await kmsCall(svc.app, 'Encrypt', { KeyId: key.KeyId, Plaintext: b64('secret'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })).body.CiphertextBlob;
    expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: ciphertext, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })).body).toEqual({ __type: 'InvalidCiphertextException', message: '' });
    // A symmetric key named with it cannot read it either.
    const symmetric = await createKey({});
    expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: ciphertext, KeyId: symmetric.KeyId })).body.__type).toBe('InvalidCiphertextException');
  });

  it('an RSA ciphertext must be exactly one modulus long and smaller than the modulus.', async () => {
    const key = keys.get('RSA_2048')!;
    const n = Buffer.from((await publicKeyOf(key.KeyId)).export({ format: 'jwk' }).n!, 'base64url');
    for (const EncryptionAlgorithm of ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']) {
      for (const blob of [randomBytes(255), randomBytes(257), randomBytes(384)]) {
        expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: b64(blob), KeyId: key.KeyId, EncryptionAlgorithm })).body).toEqual({ __type: 'InvalidCiphertextException', message: '' });
      }
      // At or above the modulus it cannot be this key's; it may be another same-size key's.
      for (const blob of [n, Buffer.alloc(256, 0xff)]) {
        expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: b64(blob), KeyId: key.KeyId, EncryptionAlgorithm })).body.__type).toBe('IncorrectKeyException');
      }
    }
  });

  it('a ciphertext that does not decrypt under the key and hash is IncorrectKeyException, the same for every padding failure', async () => {
    const key = keys.get('RSA_2048')!;
    const other = await rsaKey();
    const incorrect = { __type: 'IncorrectKeyException', message: 'The key ID in the request does not identify a CMK that can perform this operation.' };
    for (const [made, read] of [['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'], ['RSAES_OAEP_SHA_256', 'RSAES_OAEP_SHA_1']] as [Algorithm, Algorithm][]) {
      const ciphertext = (await kmsCall(svc.app, 'Encrypt', { KeyId: key.KeyId, Plaintext: b64('x'), EncryptionAlgorithm: made })).body.CiphertextBlob;
      // The other hash, and another key.
      expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: ciphertext, KeyId: key.KeyId, EncryptionAlgorithm: read })).body).toEqual(incorrect);
      // Whether or not the ciphertext happens to lie below the other key's modulus.
      expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: ciphertext, KeyId: other.KeyId, EncryptionAlgorithm: made })).body).toEqual(incorrect);
      // A damaged ciphertext (still below the modulus).
      const damaged = Buffer.from(ciphertext, 'base64');
      damaged[100] = damaged[100]! ^ 0x40;
      expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: b64(damaged), KeyId: key.KeyId, EncryptionAlgorithm: made })).body).toEqual(incorrect);
    }
    // A well-formed RSA block whose padding is another scheme's (PKCS#1 v1.5) fails the same way.
    const publicKey = await publicKeyOf(key.KeyId);
    const v15 = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from('x'));
    for (const EncryptionAlgorithm of ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']) {
      expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: b64(v15), KeyId: key.KeyId, EncryptionAlgorithm })).body).toEqual(incorrect);
    }
  });

  it('answers key usage errors and DryRun for RSA keys', async () => {
    const signing = await createKey({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' });
    expect((await kmsCall(svc.app, 'Encrypt', { KeyId: signing.KeyId, Plaintext: b64('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' })).body).toEqual({
      __type: 'InvalidKeyUsageException', message: `${signing.Arn} key usage is SIGN_VERIFY which is not valid for Encrypt.`,
    });
    const key = keys.get('RSA_2048')!;
    const dryRun = { __type: 'DryRunOperationException', message: 'The request would have succeeded, but the DryRun option is set.' };
    expect((await kmsCall(svc.app, 'Encrypt', { KeyId: key.KeyId, Plaintext: b64('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_1', DryRun: true })).body).toEqual(dryRun);
    const ciphertext = (await kmsCall(svc.app, 'Encrypt', { KeyId: key.KeyId, Plaintext: b64('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' })).body.CiphertextBlob;
    const decrypts = jest.spyOn(svc.defaultStore.keyPairs, 'rsaDecrypt');
    expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: ciphertext, KeyId: key.KeyId, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1', DryRun: true })).body).toEqual(dryRun);
    expect(decrypts).not.toHaveBeenCalled();
    decrypts.mockRestore();
    // Data keys and data key pairs are sealed only under symmetric keys.
    for (const [operation, body] of [['GenerateDataKey', { KeySpec: 'AES_256' }], ['GenerateDataKeyPair', { KeyPairSpec: 'ECC_NIST_P256' }]] as const) {
      expect((await kmsCall(svc.app, operation, { KeyId: key.KeyId, ...body })).body).toEqual({
        __type: 'InvalidKeyUsageException', message: `${key.Arn} key KeySpec is RSA_2048 which is not valid for ${operation}.`,
      });
    }
  });
});

it('a KeyId given with a ciphertext must name a key that can decrypt.', async () => {
  const symmetric = await createKey({});
  const ciphertext = (await kmsCall(svc.app, 'Encrypt', { KeyId: symmetric.KeyId, Plaintext: b64('x') })).body.CiphertextBlob;
  const rsa = await rsaKey();
  const rsaCiphertext = (await kmsCall(svc.app, 'Encrypt', { KeyId: rsa.KeyId, Plaintext: b64('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' })).body.CiphertextBlob;
  const incorrect = { __type: 'IncorrectKeyException', message: 'The key ID in the request does not identify a CMK that can perform this operation.' };
  for (const body of [{ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }, { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }, { KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' }]) {
    const wrong = await createKey(body);
    for (const CiphertextBlob of [ciphertext, rsaCiphertext]) {
      expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob, KeyId: wrong.KeyId, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' })).body).toEqual(incorrect);
      expect((await kmsCall(svc.app, 'ReEncrypt', { CiphertextBlob, SourceKeyId: wrong.KeyId, DestinationKeyId: symmetric.KeyId })).body).toEqual(incorrect);
    }
  }
});

describe('ReEncrypt with RSA keys', () => {
  it('moves a ciphertext between RSA keys and symmetric keys in every direction', async () => {
    const rsa1 = await rsaKey();
    const rsa2 = await rsaKey('RSA_3072');
    const symmetric = await createKey({});
    const plaintext = Buffer.from('re-encrypt me');
    const fromRsa = (await kmsCall(svc.app, 'Encrypt', { KeyId: rsa1.KeyId, Plaintext: b64(plaintext), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })).body.CiphertextBlob;

    // RSA → RSA (as AWS records it: both algorithms echoed, no key material ids).
    const rr = await kmsCall(svc.app, 'ReEncrypt', {
      CiphertextBlob: fromRsa, SourceKeyId: rsa1.Arn, SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', DestinationKeyId: rsa2.KeyId, DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
    });
    expect(rr.status).toBe(200);
    expect(Object.keys(rr.body).sort()).toEqual(['CiphertextBlob', 'DestinationEncryptionAlgorithm', 'KeyId', 'SourceEncryptionAlgorithm', 'SourceKeyId']);
    expect(rr.body).toMatchObject({ SourceKeyId: rsa1.Arn, KeyId: rsa2.Arn, SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1' });
    expect(Buffer.from(rr.body.CiphertextBlob, 'base64').length).toBe(384);
    const back = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: rr.body.CiphertextBlob, KeyId: rsa2.KeyId, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' });
    expect(Buffer.from(back.body.Plaintext, 'base64')).toEqual(plaintext);

    // RSA → symmetric, with a destination encryption context.
    const rs = await kmsCall(svc.app, 'ReEncrypt', {
      CiphertextBlob: fromRsa, SourceKeyId: rsa1.KeyId, SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', DestinationKeyId: symmetric.KeyId, DestinationEncryptionContext: { k: 'v' },
    });
    expect(rs.body).toMatchObject({ SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', KeyId: symmetric.Arn });
    expect(rs.body.DestinationKeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
    expect(rs.body.SourceKeyMaterialId).toBeUndefined();
    const opened = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: rs.body.CiphertextBlob, EncryptionContext: { k: 'v' } });
    expect(Buffer.from(opened.body.Plaintext, 'base64')).toEqual(plaintext);

    // symmetric → RSA.
    const sr = await kmsCall(svc.app, 'ReEncrypt', { CiphertextBlob: rs.body.CiphertextBlob, SourceEncryptionContext: { k: 'v' }, DestinationKeyId: rsa1.KeyId, DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1' });
    expect(sr.body).toMatchObject({ SourceKeyId: symmetric.Arn, SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1' });
    expect(sr.body.SourceKeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
    const last = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: sr.body.CiphertextBlob, KeyId: rsa1.KeyId, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' });
    expect(Buffer.from(last.body.Plaintext, 'base64')).toEqual(plaintext);
  });

  it('refuses what AWS refuses: no SourceKeyId, the wrong source key, a plaintext too long for the destination, a destination context', async () => {
    const rsa = await rsaKey();
    const other = await rsaKey();
    const symmetric = await createKey({});
    const fromRsa = (await kmsCall(svc.app, 'Encrypt', { KeyId: rsa.KeyId, Plaintext: b64('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' })).body.CiphertextBlob;
    expect((await kmsCall(svc.app, 'ReEncrypt', { CiphertextBlob: fromRsa, SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_1', DestinationKeyId: symmetric.KeyId })).body.__type).toBe('InvalidCiphertextException');
    expect((await kmsCall(svc.app, 'ReEncrypt', { CiphertextBlob: fromRsa, SourceKeyId: other.KeyId, SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_1', DestinationKeyId: symmetric.KeyId })).body.__type).toBe('IncorrectKeyException');
    const large = (await kmsCall(svc.app, 'Encrypt', { KeyId: symmetric.KeyId, Plaintext: b64(randomBytes(191)) })).body.CiphertextBlob;
    expect((await kmsCall(svc.app, 'ReEncrypt', { CiphertextBlob: large, DestinationKeyId: rsa.KeyId, DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })).body).toEqual({
      __type: 'ValidationException', message: 'Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes.',
    });
    expect((await kmsCall(svc.app, 'ReEncrypt', { CiphertextBlob: large, DestinationKeyId: rsa.KeyId })).body.message).toBe('Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.');
    expect((await kmsCall(svc.app, 'ReEncrypt', { CiphertextBlob: large, DestinationKeyId: rsa.KeyId, DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1', DestinationEncryptionContext: { a: 'b' } })).body.__type).toBe('ValidationException');
    expect((await kmsCall(svc.app, 'ReEncrypt', { CiphertextBlob: fromRsa, SourceKeyId: rsa.KeyId, SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_1', DestinationKeyId: symmetric.KeyId, DryRun: true })).body.__type).toBe('DryRunOperationException');
  });
});
