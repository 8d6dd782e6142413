// GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext through the HTTP API on
// SoftHSM: a key pair made in the token for every KeyPairSpec (Ed25519 included), the private key as PKCS#8 and
// sealed under the symmetric KMS key with the encryption context, the public key as SPKI;
// the private key matches the public key, and the sealed copy decrypts with Decrypt.
import { constants, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, privateDecrypt, publicEncrypt, sign, verify } from 'node:crypto';
import { kmsCall } from '../support/signed';
import { startTestService, type TestService } from '../support/service';

let svc: TestService;
let keyId: string;
let arn: string;
beforeAll(async () => {
  svc = await startTestService();
  const meta = (await kmsCall(svc.app, 'CreateKey', {})).body.KeyMetadata;
  keyId = meta.KeyId;
  arn = meta.Arn;
});
afterAll(async () => { await svc.close(); });

const specs = [
  ['RSA_2048', 'rsa', { modulusLength: 2048 }], ['RSA_3072', 'rsa', { modulusLength: 3072 }], ['RSA_4096', 'rsa', { modulusLength: 4096 }],
  ['ECC_NIST_P256', 'ec', { namedCurve: 'prime256v1' }], ['ECC_NIST_P384', 'ec', { namedCurve: 'secp384r1' }],
  ['ECC_NIST_P521', 'ec', { namedCurve: 'secp521r1' }], ['ECC_SECG_P256K1', 'ec', { namedCurve: 'secp256k1' }],
] as const;

describe.each(specs)('%s', (KeyPairSpec, type, details) => {
  it('GenerateDataKeyPair: PKCS#8 private key matching the SPKI public key, sealed with the encryption context', async () => {
    const EncryptionContext = { purpose: 'data-key-pair', spec: KeyPairSpec };
    const res = await kmsCall(svc.app, 'GenerateDataKeyPair', { KeyId: keyId, KeyPairSpec, EncryptionContext });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['KeyId', 'KeyMaterialId', 'KeyPairSpec', 'PrivateKeyCiphertextBlob', 'PrivateKeyPlaintext', 'PublicKey']);
    expect(res.body).toMatchObject({ KeyId: arn, KeyPairSpec });
    const der = Buffer.from(res.body.PrivateKeyPlaintext, 'base64');
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const publicKey = createPublicKey({ key: Buffer.from(res.body.PublicKey, 'base64'), format: 'der', type: 'spki' });
    expect(privateKey.asymmetricKeyType).toBe(type);
    expect(publicKey.asymmetricKeyDetails).toMatchObject(details);
    // The private key matches the public key: derived public halves agree, and it signs what the public key verifies.
    expect(createPublicKey(privateKey).export({ format: 'der', type: 'spki' })).toEqual(Buffer.from(res.body.PublicKey, 'base64'));
    const message = Buffer.from('pair check');
    expect(verify('sha256', message, publicKey, sign('sha256', message, privateKey))).toBe(true);
    if (type === 'rsa') {
      const sealed = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, message);
      expect(privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, sealed)).toEqual(message);
    } else {
      const peer = generateKeyPairSync('ec', { namedCurve: (details as { namedCurve: string }).namedCurve });
      expect(diffieHellman({ privateKey, publicKey: peer.publicKey })).toEqual(diffieHellman({ privateKey: peer.privateKey, publicKey }));
    }
    // The sealed copy decrypts with Decrypt, under the same context only.
    const opened = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: res.body.PrivateKeyCiphertextBlob, EncryptionContext });
    expect(opened.body).toMatchObject({ KeyId: arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT', Plaintext: res.body.PrivateKeyPlaintext });
    expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: res.body.PrivateKeyCiphertextBlob })).body).toEqual({ __type: 'InvalidCiphertextException', message: '' });
  });

  it('GenerateDataKeyPairWithoutPlaintext: the public key and the sealed private key only', async () => {
    const res = await kmsCall(svc.app, 'GenerateDataKeyPairWithoutPlaintext', { KeyId: arn, KeyPairSpec });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['KeyId', 'KeyMaterialId', 'KeyPairSpec', 'PrivateKeyCiphertextBlob', 'PublicKey']);
    const opened = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: res.body.PrivateKeyCiphertextBlob });
    const privateKey = createPrivateKey({ key: Buffer.from(opened.body.Plaintext, 'base64'), format: 'der', type: 'pkcs8' });
    expect(createPublicKey(privateKey).export({ format: 'der', type: 'spki' })).toEqual(Buffer.from(res.body.PublicKey, 'base64'));
  });
});

describe('ECC_NIST_EDWARDS25519', () => {
  it('GenerateDataKeyPair: an Ed25519 pair from the token; node:crypto signs with the PKCS#8 private key and verifies with the SPKI public key', async () => {
    const EncryptionContext = { purpose: 'ed25519-data-key-pair' };
    const generate = jest.spyOn(svc.defaultStore.keyPairs, 'generateDataKeyPair');
    const res = await kmsCall(svc.app, 'GenerateDataKeyPair', { KeyId: keyId, KeyPairSpec: 'ECC_NIST_EDWARDS25519', EncryptionContext });
    expect(generate.mock.calls).toEqual([['ECC_NIST_EDWARDS25519']]);
    generate.mockRestore();
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['KeyId', 'KeyMaterialId', 'KeyPairSpec', 'PrivateKeyCiphertextBlob', 'PrivateKeyPlaintext', 'PublicKey']);
    expect(res.body).toMatchObject({ KeyId: arn, KeyPairSpec: 'ECC_NIST_EDWARDS25519' });
    const der = Buffer.from(res.body.PrivateKeyPlaintext, 'base64');
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const spki = Buffer.from(res.body.PublicKey, 'base64');
    const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect([privateKey.asymmetricKeyType, publicKey.asymmetricKeyType]).toEqual(['ed25519', 'ed25519']);
    // RFC 8410 encodings: SPKI with id-Ed25519 around the 32-byte key; PKCS#8 around the 32-byte seed.
    expect(spki.subarray(0, 12).toString('hex')).toBe('302a300506032b6570032100');
    expect(der.subarray(0, 16).toString('hex')).toBe('302e020100300506032b657004220420');
    expect(der).toHaveLength(48);
    expect(createPublicKey(privateKey).export({ format: 'der', type: 'spki' })).toEqual(spki);
    const message = Buffer.from('signed with a data key pair');
    const signature = sign(null, message, privateKey);
    expect(verify(null, message, publicKey, signature)).toBe(true);
    expect(verify(null, Buffer.from('another message'), publicKey, signature)).toBe(false);
    // The sealed copy decrypts with Decrypt, under the same context only.
    const opened = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: res.body.PrivateKeyCiphertextBlob, EncryptionContext });
    expect(opened.body).toMatchObject({ KeyId: arn, Plaintext: res.body.PrivateKeyPlaintext });
    expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: res.body.PrivateKeyCiphertextBlob })).body).toEqual({ __type: 'InvalidCiphertextException', message: '' });
  });

  it('GenerateDataKeyPairWithoutPlaintext: the public key and the sealed private key only', async () => {
    const res = await kmsCall(svc.app, 'GenerateDataKeyPairWithoutPlaintext', { KeyId: arn, KeyPairSpec: 'ECC_NIST_EDWARDS25519' });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['KeyId', 'KeyMaterialId', 'KeyPairSpec', 'PrivateKeyCiphertextBlob', 'PublicKey']);
    const opened = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: res.body.PrivateKeyCiphertextBlob });
    const privateKey = createPrivateKey({ key: Buffer.from(opened.body.Plaintext, 'base64'), format: 'der', type: 'pkcs8' });
    expect(createPublicKey(privateKey).export({ format: 'der', type: 'spki' })).toEqual(Buffer.from(res.body.PublicKey, 'base64'));
  });
});

describe('data key pair errors', () => {
  it('every pair is new, and made by the token', async () => {
    const generate = jest.spyOn(svc.defaultStore.keyPairs, 'generateDataKeyPair');
    const first = await kmsCall(svc.app, 'GenerateDataKeyPair', { KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256' });
    const second = await kmsCall(svc.app, 'GenerateDataKeyPair', { KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256' });
    expect(first.body.PublicKey).not.toBe(second.body.PublicKey);
    expect(generate.mock.calls).toEqual([['ECC_NIST_P256'], ['ECC_NIST_P256']]);
    generate.mockRestore();
  });

  it('data keys and data key pairs are sealed only under a symmetric encryption key.', async () => {
    const signing = (await kmsCall(svc.app, 'CreateKey', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })).body.KeyMetadata;
    const rsa = (await kmsCall(svc.app, 'CreateKey', { KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' })).body.KeyMetadata;
    for (const operation of ['GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext']) {
      expect((await kmsCall(svc.app, operation, { KeyId: signing.KeyId, KeyPairSpec: 'RSA_2048' })).body).toEqual({
        __type: 'InvalidKeyUsageException', message: `${signing.Arn} key usage is SIGN_VERIFY which is not valid for ${operation}.`,
      });
      expect((await kmsCall(svc.app, operation, { KeyId: rsa.KeyId, KeyPairSpec: 'RSA_2048' })).body).toEqual({
        __type: 'InvalidKeyUsageException', message: `${rsa.Arn} key KeySpec is RSA_2048 which is not valid for ${operation}.`,
      });
    }
    for (const operation of ['GenerateDataKey', 'GenerateDataKeyWithoutPlaintext']) {
      expect((await kmsCall(svc.app, operation, { KeyId: rsa.KeyId, NumberOfBytes: 16 })).body.message).toBe(`${rsa.Arn} key KeySpec is RSA_2048 which is not valid for ${operation}.`);
    }
  });

  it('refuses pair specs no token here holds, validates the spec, and honours DryRun', async () => {
    for (const KeyPairSpec of ['SM2', 'ML_KEM_512']) {
      const res = await kmsCall(svc.app, 'GenerateDataKeyPair', { KeyId: keyId, KeyPairSpec });
      expect(res.body.__type).toBe('UnsupportedOperationException');
      expect(res.body.message).toMatch(new RegExp(`^KeyPairSpec ${KeyPairSpec} is not supported by this service: `));
    }
    expect((await kmsCall(svc.app, 'GenerateDataKeyPair', { KeyId: keyId, KeyPairSpec: 'RSA_1024' })).body.message).toMatch(/^1 validation error detected: Value 'RSA_1024' at 'keyPairSpec' failed to satisfy constraint: Member must satisfy enum value set: \[/);
    expect((await kmsCall(svc.app, 'GenerateDataKeyPair', { KeyId: keyId })).body.message).toBe("1 validation error detected: Value null at 'keyPairSpec' failed to satisfy constraint: Member must not be null");
    const generate = jest.spyOn(svc.defaultStore.keyPairs, 'generateDataKeyPair');
    for (const operation of ['GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext']) {
      expect((await kmsCall(svc.app, operation, { KeyId: keyId, KeyPairSpec: 'RSA_2048', DryRun: true })).body).toEqual({
        __type: 'DryRunOperationException', message: 'The request would have succeeded, but the DryRun option is set.',
      });
    }
    expect(generate).not.toHaveBeenCalled();
    generate.mockRestore();
    // The plaintext private key never reaches the log.
    const pair = await kmsCall(svc.app, 'GenerateDataKeyPair', { KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256' });
    const { readFileSync } = await import('node:fs');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const log = readFileSync(svc.logFile, 'utf8');
    expect(log).not.toContain(pair.body.PrivateKeyPlaintext);
    expect(log).not.toContain(pair.body.PrivateKeyPlaintext.slice(0, 40));
  });
});
