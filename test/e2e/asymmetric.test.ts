// Asymmetric, HMAC and key agreement keys through the unmodified AWS SDK for JavaScript v3
// against a listening service: what users run. Every signature is checked with node:crypto
// and the GetPublicKey key, ECDH against node:crypto, RSA against ciphertexts made offline.
import {
  CreateKeyCommand, DecryptCommand, DeriveSharedSecretCommand, DescribeKeyCommand, DryRunOperationException, EncryptCommand,
  GenerateDataKeyPairCommand, GenerateDataKeyPairWithoutPlaintextCommand, GenerateMacCommand, GetPublicKeyCommand,
  IncorrectKeyException, InvalidKeyUsageException, KMSClient, KMSInvalidMacException, KMSInvalidSignatureException,
  ReEncryptCommand, SignCommand, UnsupportedOperationException, VerifyCommand, VerifyMacCommand,
  type KeySpec, type KeyUsageType, type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import {
  constants, createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, publicEncrypt, sign as nodeSign, verify as nodeVerify, type KeyObject,
} from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { ROOT, startTestService, type TestService, sdkClient } from '../support/service';
import { rejection } from '../support/sdk-rejection';

let svc: TestService;
let kms: KMSClient;
beforeAll(async () => {
  svc = await startTestService({ listen: true });
  kms = sdkClient(svc, ROOT);
});
afterAll(async () => {
  kms.destroy();
  await svc.close();
});

async function createKey(KeySpec: KeySpec, KeyUsage: KeyUsageType, extra: object = {}) {
  return (await kms.send(new CreateKeyCommand({ KeySpec, KeyUsage, ...extra }))).KeyMetadata!;
}

async function publicKeyOf(KeyId: string): Promise<KeyObject> {
  const out = await kms.send(new GetPublicKeyCommand({ KeyId }));
  return createPublicKey({ key: Buffer.from(out.PublicKey!), format: 'der', type: 'spki' });
}


const message = Buffer.from('signed through the AWS SDK');

describe('Sign and Verify', () => {
  const cases: [KeySpec, SigningAlgorithmSpec][] = [
    ['RSA_2048', 'RSASSA_PSS_SHA_256'], ['RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_384'], ['RSA_3072', 'RSASSA_PSS_SHA_512'],
    ['ECC_NIST_P256', 'ECDSA_SHA_256'], ['ECC_NIST_P384', 'ECDSA_SHA_384'], ['ECC_NIST_P521', 'ECDSA_SHA_512'], ['ECC_SECG_P256K1', 'ECDSA_SHA_256'],
  ];
  it.each(cases)('%s with %s: the SDK signs, node:crypto and Verify verify', async (spec, SigningAlgorithm) => {
    const key = await createKey(spec, 'SIGN_VERIFY');
    expect(key.SigningAlgorithms).toContain(SigningAlgorithm);
    const publicKey = await publicKeyOf(key.KeyId!);
    const hash = `sha${SigningAlgorithm.slice(-3)}`;
    for (const [MessageType, Message] of [['RAW', message], ['DIGEST', createHash(hash).update(message).digest()]] as const) {
      const signed = await kms.send(new SignCommand({ KeyId: key.Arn, Message, MessageType, SigningAlgorithm }));
      expect(signed.KeyId).toBe(key.Arn);
      const signature = Buffer.from(signed.Signature!);
      const options = SigningAlgorithm.startsWith('ECDSA') ? { key: publicKey, dsaEncoding: 'der' as const }
        : SigningAlgorithm.startsWith('RSASSA_PSS') ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(SigningAlgorithm.slice(-3)) / 8 }
          : { key: publicKey, padding: constants.RSA_PKCS1_PADDING };
      expect(nodeVerify(hash, message, options, signature)).toBe(true);
      const verified = await kms.send(new VerifyCommand({ KeyId: key.KeyId, Message, MessageType, Signature: signature, SigningAlgorithm }));
      expect(verified).toMatchObject({ KeyId: key.Arn, SignatureValid: true, SigningAlgorithm });
    }
  });

  it('surfaces KMSInvalidSignatureException, InvalidKeyUsageException and ValidationException as the SDK\'s classes', async () => {
    const key = await createKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const stranger = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const bad = await rejection(kms.send(new VerifyCommand({ KeyId: key.KeyId, Message: message, Signature: nodeSign('sha256', message, stranger), SigningAlgorithm: 'ECDSA_SHA_256' })));
    expect(bad).toBeInstanceOf(KMSInvalidSignatureException);
    expect(bad.$metadata.httpStatusCode).toBe(400);
    const wrongAlgorithm = await rejection(kms.send(new SignCommand({ KeyId: key.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_384' })));
    expect(wrongAlgorithm).toBeInstanceOf(InvalidKeyUsageException);
    expect(wrongAlgorithm.message).toBe('Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256.');
    const digest = await rejection(kms.send(new SignCommand({ KeyId: key.KeyId, Message: Buffer.alloc(20), MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })));
    expect(digest.name).toBe('ValidationException');
    expect(digest.message).toBe('Digest is invalid length for algorithm ECDSA_SHA_256.');
    const encryptWithSigningKey = await rejection(kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: message })));
    expect(encryptWithSigningKey).toBeInstanceOf(InvalidKeyUsageException);
    expect(encryptWithSigningKey.message).toBe(`${key.Arn} key usage is SIGN_VERIFY which is not valid for Encrypt.`);
    expect(await rejection(kms.send(new SignCommand({ KeyId: key.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256', DryRun: true })))).toBeInstanceOf(DryRunOperationException);
  });

  it('signs a JWT (ES256) that jose verifies against the service\'s JWKS', async () => {
    const key = await createKey('ECC_NIST_P256', 'SIGN_VERIFY', { Tags: [{ TagKey: 'jwks', TagValue: 'true' }] });
    const input = `${Buffer.from(JSON.stringify({ alg: 'ES256', kid: key.Arn })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'sdk' })).toString('base64url')}`;
    const der = Buffer.from((await kms.send(new SignCommand({ KeyId: key.Arn, Message: Buffer.from(input), MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' }))).Signature!);
    // KMS returns DER; a JWS carries r‖s (RFC 7518 §3.4).
    const jose = derToRaw(der, 32);
    const jwks = (await (await fetch(`${svc.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    const { payload } = await jwtVerify(`${input}.${jose.toString('base64url')}`, createLocalJWKSet(jwks));
    expect(payload.sub).toBe('sdk');
  });
});

describe('Ed25519', () => {
  it('ECC_NIST_EDWARDS25519: the SDK signs with ED25519_SHA_512; node:crypto verifies with the GetPublicKey key, and so does Verify', async () => {
    const key = await createKey('ECC_NIST_EDWARDS25519', 'SIGN_VERIFY');
    expect(key).toMatchObject({ KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY', SigningAlgorithms: ['ED25519_SHA_512'] });
    const out = await kms.send(new GetPublicKeyCommand({ KeyId: key.Arn }));
    expect(out).toMatchObject({ KeyId: key.Arn, KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY', SigningAlgorithms: ['ED25519_SHA_512'] });
    const publicKey = createPublicKey({ key: Buffer.from(out.PublicKey!), format: 'der', type: 'spki' });
    expect(publicKey.asymmetricKeyType).toBe('ed25519');
    const signed = await kms.send(new SignCommand({ KeyId: key.KeyId, Message: message, MessageType: 'RAW', SigningAlgorithm: 'ED25519_SHA_512' }));
    expect(signed).toMatchObject({ KeyId: key.Arn, SigningAlgorithm: 'ED25519_SHA_512' });
    const signature = Buffer.from(signed.Signature!);
    expect(signature).toHaveLength(64);
    expect(nodeVerify(null, message, publicKey, signature)).toBe(true);
    expect(await kms.send(new VerifyCommand({ KeyId: key.KeyId, Message: message, Signature: signature, SigningAlgorithm: 'ED25519_SHA_512' }))).toMatchObject({ SignatureValid: true, KeyId: key.Arn });
    const tampered = Buffer.from(signature);
    tampered[0] = tampered[0]! ^ 1;
    expect(await rejection(kms.send(new VerifyCommand({ KeyId: key.KeyId, Message: message, Signature: tampered, SigningAlgorithm: 'ED25519_SHA_512' })))).toBeInstanceOf(KMSInvalidSignatureException);
    // AWS's rules for the message type, as the SDK surfaces them.
    const digest = createHash('sha512').update(message).digest();
    const wrongType = await rejection(kms.send(new SignCommand({ KeyId: key.KeyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ED25519_SHA_512' })));
    expect(wrongType.name).toBe('ValidationException');
    expect(wrongType.message).toBe('Message type DIGEST is incompatible with algorithm ED25519_SHA_512.');
    // SoftHSM cannot compute Ed25519ph: refused, not signed some other way.
    const prehash = await rejection(kms.send(new SignCommand({ KeyId: key.KeyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ED25519_PH_SHA_512' })));
    expect(prehash).toBeInstanceOf(UnsupportedOperationException);
    expect(prehash.message).toMatch(/cannot compute Ed25519ph/);
  });

  it('a JWT signed with EdDSA through Sign verifies with jose against the service\'s JWKS', async () => {
    const key = await createKey('ECC_NIST_EDWARDS25519', 'SIGN_VERIFY', { Tags: [{ TagKey: 'jwks', TagValue: 'true' }] });
    const jwks = (await (await fetch(`${svc.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    expect(jwks.keys.find((k) => k.kid === key.Arn)).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    const input = `${Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: key.Arn })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'ed25519' })).toString('base64url')}`;
    // JWS EdDSA is pure Ed25519 over the signing input, and the signature is already in JOSE's form.
    const signature = Buffer.from((await kms.send(new SignCommand({ KeyId: key.Arn, Message: Buffer.from(input), MessageType: 'RAW', SigningAlgorithm: 'ED25519_SHA_512' }))).Signature!);
    const { payload, protectedHeader } = await jwtVerify(`${input}.${signature.toString('base64url')}`, createLocalJWKSet(jwks));
    expect({ sub: payload.sub, alg: protectedHeader.alg }).toEqual({ sub: 'ed25519', alg: 'EdDSA' });
  });
});

/** DER SEQUENCE { INTEGER r, INTEGER s } (short form: P-256) to fixed-size r‖s. */
function derToRaw(der: Buffer, size: number): Buffer {
  const rLength = der[3]!;
  const r = der.subarray(4, 4 + rLength);
  const s = der.subarray(6 + rLength);
  const fixed = (v: Buffer) => { const t = v.subarray(Math.max(0, v.length - size)); return Buffer.concat([Buffer.alloc(size - t.length), t]); };
  return Buffer.concat([fixed(r), fixed(s)]);
}

describe('RSA encryption', () => {
  it('Encrypt and Decrypt with both OAEP hashes, offline ciphertexts, and ReEncrypt to a symmetric key', async () => {
    const key = await createKey('RSA_2048', 'ENCRYPT_DECRYPT');
    const symmetric = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    expect(key.EncryptionAlgorithms).toEqual(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
    const publicKey = await publicKeyOf(key.KeyId!);
    for (const [EncryptionAlgorithm, oaepHash] of [['RSAES_OAEP_SHA_1', 'sha1'], ['RSAES_OAEP_SHA_256', 'sha256']] as const) {
      const encrypted = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: message, EncryptionAlgorithm }));
      expect(encrypted.EncryptionAlgorithm).toBe(EncryptionAlgorithm);
      const decrypted = await kms.send(new DecryptCommand({ KeyId: key.Arn, CiphertextBlob: encrypted.CiphertextBlob, EncryptionAlgorithm }));
      expect(Buffer.from(decrypted.Plaintext!)).toEqual(message);
      const offline = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, message);
      expect(Buffer.from((await kms.send(new DecryptCommand({ KeyId: key.KeyId, CiphertextBlob: offline, EncryptionAlgorithm }))).Plaintext!)).toEqual(message);
      const moved = await kms.send(new ReEncryptCommand({ CiphertextBlob: offline, SourceKeyId: key.KeyId, SourceEncryptionAlgorithm: EncryptionAlgorithm, DestinationKeyId: symmetric.KeyId }));
      expect(moved).toMatchObject({ SourceKeyId: key.Arn, KeyId: symmetric.Arn, SourceEncryptionAlgorithm: EncryptionAlgorithm, DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
      expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: moved.CiphertextBlob }))).Plaintext!)).toEqual(message);
    }
    const tooLong = await rejection(kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.alloc(191), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })));
    expect(tooLong.name).toBe('ValidationException');
    expect(tooLong.message).toBe('Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes.');
    const noAlgorithm = await rejection(kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: message })));
    expect(noAlgorithm).toBeInstanceOf(InvalidKeyUsageException);
    const ciphertext = (await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: message, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' }))).CiphertextBlob;
    expect(await rejection(kms.send(new DecryptCommand({ KeyId: key.KeyId, CiphertextBlob: ciphertext, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })))).toBeInstanceOf(IncorrectKeyException);
  });
});

describe('HMAC', () => {
  it('GenerateMac and VerifyMac, KMSInvalidMacException on a mismatch', async () => {
    const key = await createKey('HMAC_384', 'GENERATE_VERIFY_MAC');
    expect(key.MacAlgorithms).toEqual(['HMAC_SHA_384']);
    const mac = await kms.send(new GenerateMacCommand({ KeyId: key.KeyId, Message: message, MacAlgorithm: 'HMAC_SHA_384' }));
    expect(mac.Mac).toHaveLength(48);
    expect(await kms.send(new VerifyMacCommand({ KeyId: key.Arn, Message: message, Mac: mac.Mac, MacAlgorithm: 'HMAC_SHA_384' }))).toMatchObject({ MacValid: true, KeyId: key.Arn });
    const bad = await rejection(kms.send(new VerifyMacCommand({ KeyId: key.KeyId, Message: Buffer.from('other'), Mac: mac.Mac, MacAlgorithm: 'HMAC_SHA_384' })));
    expect(bad).toBeInstanceOf(KMSInvalidMacException);
    expect(await rejection(kms.send(new GenerateMacCommand({ KeyId: key.KeyId, Message: message, MacAlgorithm: 'HMAC_SHA_256' })))).toBeInstanceOf(InvalidKeyUsageException);
    expect(await rejection(kms.send(new GetPublicKeyCommand({ KeyId: key.KeyId })))).toBeInstanceOf(UnsupportedOperationException);
  });
});

describe('DeriveSharedSecret', () => {
  it('matches node:crypto ECDH with a local key pair', async () => {
    const key = await createKey('ECC_NIST_P256', 'KEY_AGREEMENT');
    expect((await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.KeyAgreementAlgorithms).toEqual(['ECDH']);
    const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const out = await kms.send(new DeriveSharedSecretCommand({ KeyId: key.KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer.publicKey.export({ format: 'der', type: 'spki' }) }));
    expect(out).toMatchObject({ KeyId: key.Arn, KeyAgreementAlgorithm: 'ECDH', KeyOrigin: 'AWS_KMS' });
    expect(Buffer.from(out.SharedSecret!)).toEqual(diffieHellman({ privateKey: peer.privateKey, publicKey: await publicKeyOf(key.KeyId!) }));
    const wrongCurve = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ format: 'der', type: 'spki' });
    expect((await rejection(kms.send(new DeriveSharedSecretCommand({ KeyId: key.KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: wrongCurve })))).name).toBe('ValidationException');
  });
});

describe('data key pairs', () => {
  it('GenerateDataKeyPair(WithoutPlaintext): the private key matches the public key and the sealed copy decrypts', async () => {
    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const EncryptionContext = { app: 'e2e' };
    for (const KeyPairSpec of ['RSA_2048', 'ECC_NIST_P384', 'ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519'] as const) {
      const pair = await kms.send(new GenerateDataKeyPairCommand({ KeyId: key.KeyId, KeyPairSpec, EncryptionContext }));
      expect(pair).toMatchObject({ KeyId: key.Arn, KeyPairSpec });
      const privateKey = createPrivateKey({ key: Buffer.from(pair.PrivateKeyPlaintext!), format: 'der', type: 'pkcs8' });
      expect(createPublicKey(privateKey).export({ format: 'der', type: 'spki' })).toEqual(Buffer.from(pair.PublicKey!));
      const opened = await kms.send(new DecryptCommand({ CiphertextBlob: pair.PrivateKeyCiphertextBlob, EncryptionContext }));
      expect(Buffer.from(opened.Plaintext!)).toEqual(Buffer.from(pair.PrivateKeyPlaintext!));
      const only = await kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: key.Arn, KeyPairSpec }));
      expect(only.PrivateKeyCiphertextBlob).toBeDefined();
      expect(only).not.toHaveProperty('PrivateKeyPlaintext');
    }
  });
});
