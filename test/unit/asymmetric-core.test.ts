// Core pieces of asymmetric keys with fakes: the spec tables against AWS's, digests, OAEP
// limits, peer public keys, and RSA decryption's answers.
import { constants, createECDH, createPublicKey, generateKeyPairSync, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';
import { assertOaepFits, peerPublicPoint, rsaDecrypt } from '../../src/core/crypto/asymmetric';
import type { CoreDeps } from '../../src/core/deps';
import { digestOf } from '../../src/core/crypto/digest';
import { KmsError } from '../../src/core/errors';
import {
  encryptionAlgorithmsOf, hmacSpecs, keyAgreementAlgorithmsOf, macAlgorithmsOf, maxOaepPlaintext, signingAlgorithmsOf, signingMethodFor, usagesBySpec,
} from '../../src/core/keys/key-specs';
import { keySpecs, keyUsages, type KeyRecord } from '../../src/core/model';
import { FakeToken, fakeKeyStores } from '../support/fake-token';

describe('key spec tables', () => {
  it('name a usage list for every key spec, and one algorithm list per usage', () => {
    expect(Object.keys(usagesBySpec).sort()).toEqual([...keySpecs].sort());
    for (const spec of keySpecs) {
      for (const usage of keyUsages) {
        const lists = [encryptionAlgorithmsOf, signingAlgorithmsOf, keyAgreementAlgorithmsOf, macAlgorithmsOf].map((f) => f(spec, usage)).filter(Boolean);
        expect(lists.length).toBeLessThanOrEqual(1);
      }
    }
    expect(signingAlgorithmsOf('ECC_SECG_P256K1', 'SIGN_VERIFY')).toEqual(['ECDSA_SHA_256']);
    expect(signingAlgorithmsOf('ECC_NIST_EDWARDS25519', 'SIGN_VERIFY')).toEqual(['ED25519_SHA_512', 'ED25519_PH_SHA_512']);
    expect(keyAgreementAlgorithmsOf('ECC_NIST_P521', 'KEY_AGREEMENT')).toEqual(['ECDH']);
    expect(signingAlgorithmsOf('ECC_NIST_P256', 'KEY_AGREEMENT')).toBeUndefined();
    expect(Object.values(hmacSpecs).map((h) => h.keyBytes)).toEqual([28, 32, 48, 64]);
  });

  it('give AWS\'s OAEP plaintext limits', () => {
    expect([
      maxOaepPlaintext('RSA_2048', 'RSAES_OAEP_SHA_1'), maxOaepPlaintext('RSA_2048', 'RSAES_OAEP_SHA_256'),
      maxOaepPlaintext('RSA_3072', 'RSAES_OAEP_SHA_1'), maxOaepPlaintext('RSA_3072', 'RSAES_OAEP_SHA_256'),
      maxOaepPlaintext('RSA_4096', 'RSAES_OAEP_SHA_1'), maxOaepPlaintext('RSA_4096', 'RSAES_OAEP_SHA_256'),
    ]).toEqual([214, 190, 342, 318, 470, 446]);
  });

  it('map signing algorithms to PSS, PKCS#1 v1.5 and ECDSA schemes over digests, and Ed25519 over messages', () => {
    expect(signingMethodFor('RSA_4096', 'SIGN_VERIFY', 'RSASSA_PSS_SHA_384')).toEqual({ over: 'digest', scheme: { kind: 'RSA_PSS', hash: 'SHA_384' } });
    expect(signingMethodFor('RSA_2048', 'SIGN_VERIFY', 'RSASSA_PKCS1_V1_5_SHA_512')).toEqual({ over: 'digest', scheme: { kind: 'RSA_PKCS1_V1_5', hash: 'SHA_512' } });
    expect(signingMethodFor('ECC_NIST_P521', 'SIGN_VERIFY', 'ECDSA_SHA_512')).toEqual({ over: 'digest', scheme: { kind: 'ECDSA', hash: 'SHA_512' } });
    expect(signingMethodFor('ECC_NIST_EDWARDS25519', 'SIGN_VERIFY', 'ED25519_SHA_512')).toEqual({ over: 'message', scheme: 'ED25519', messageType: 'RAW' });
    expect(signingMethodFor('ECC_NIST_EDWARDS25519', 'SIGN_VERIFY', 'ED25519_PH_SHA_512')).toEqual({ over: 'message', scheme: 'ED25519_PH', messageType: 'DIGEST' });
    // An RSA key for encryption has no signing algorithms at all; Ed25519 algorithms belong to Ed25519 keys only.
    expect(() => signingMethodFor('RSA_2048', 'ENCRYPT_DECRYPT', 'RSASSA_PSS_SHA_256')).toThrow('Algorithm RSASSA_PSS_SHA_256 is incompatible with key spec RSA_2048.');
    expect(() => signingMethodFor('ECC_NIST_P256', 'SIGN_VERIFY', 'ED25519_SHA_512')).toThrow('Algorithm ED25519_SHA_512 is incompatible with key spec ECC_NIST_P256.');
    expect(() => signingMethodFor('ECC_NIST_EDWARDS25519', 'SIGN_VERIFY', 'ECDSA_SHA_512')).toThrow('Algorithm ECDSA_SHA_512 is incompatible with key spec ECC_NIST_EDWARDS25519.');
  });
});

it('an RSA plaintext may not exceed what OAEP fits in the key\'s modulus.', () => {
  expect(() => assertOaepFits('RSA_2048', 'RSAES_OAEP_SHA_256', 190)).not.toThrow();
  expect(() => assertOaepFits('RSA_2048', 'RSAES_OAEP_SHA_256', 191)).toThrow(expect.objectContaining({
    code: 'ValidationException', message: 'Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes.',
  }));
  expect(() => assertOaepFits('RSA_4096', 'RSAES_OAEP_SHA_1', 471)).toThrow(KmsError);
});

it('digests RAW messages with the algorithm\'s hash and takes DIGEST messages as they are', () => {
  const raw = digestOf(Buffer.from('abc'), 'RAW', 'SHA_256', 'ECDSA_SHA_256', 'ECC_NIST_P256');
  expect(raw.toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  expect(digestOf(raw, 'DIGEST', 'SHA_256', 'ECDSA_SHA_256', 'ECC_NIST_P256')).toBe(raw);
  expect(() => digestOf(raw, 'DIGEST', 'SHA_384', 'RSASSA_PSS_SHA_384', 'RSA_2048')).toThrow('Digest is invalid length for algorithm RSASSA_PSS_SHA_384.');
});

it('turns a peer SubjectPublicKeyInfo, compressed or not, into the uncompressed point the token takes', () => {
  const ecdh = createECDH('secp384r1');
  ecdh.generateKeys();
  const jwk = { kty: 'EC', crv: 'P-384', x: ecdh.getPublicKey().subarray(1, 49).toString('base64url'), y: ecdh.getPublicKey().subarray(49).toString('base64url') };
  const spki = createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'spki' });
  expect(peerPublicPoint('ECC_NIST_P384', spki)).toEqual(ecdh.getPublicKey());
  // The same key with a compressed point (SPKI prefix for P-384 + 0x02/0x03 x).
  const compressed = ecdh.getPublicKey(null, 'compressed');
  const prefix = Buffer.from('3046301006072a8648ce3d020106052b81040022033200', 'hex');
  expect(peerPublicPoint('ECC_NIST_P384', Buffer.concat([prefix, compressed]))).toEqual(ecdh.getPublicKey());
  expect(() => peerPublicPoint('ECC_NIST_P256', spki)).toThrow(expect.objectContaining({ code: 'ValidationException', message: '' }));
});

describe('RSA decryption in core', () => {
  let pair: { publicKey: KeyObject; privateKey: KeyObject };
  beforeAll(() => { pair = generateKeyPairSync('rsa', { modulusLength: 2048 }); });

  /** A key store holding one RSA private key; how it decrypts is its own business (see pkcs11-oaep-choice.test.ts). */
  function storeWithKey() {
    const store = new FakeToken();
    jest.spyOn(store, 'rsaOaepDecrypt').mockImplementation(async (_objectId, hash, ciphertext) => {
      try {
        return privateDecrypt({ key: pair.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash === 'SHA_1' ? 'sha1' : 'sha256' }, ciphertext);
      } catch {
        throw new KmsError('InvalidCiphertextException', '');
      }
    });
    return { keyStores: fakeKeyStores(store) } as unknown as CoreDeps;
  }

  const key = () => ({
    keyId: 'k', keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT', currentVersionId: 'v',
    versions: [{ id: 'v', status: 'ACTIVE', backing: { kind: 'pkcs11', tokenId: 'default', objectId: 'v' }, publicKeySpki: pair.publicKey.export({ format: 'der', type: 'spki' }).toString('base64') }],
  }) as unknown as KeyRecord & { keySpec: 'RSA_2048' };
  const encrypt = (hash: string, plaintext: Buffer) => publicEncrypt({ key: pair.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, plaintext);

  it('decrypts with the hash of the algorithm', async () => {
    const deps = storeWithKey();
    const plaintext = Buffer.from('capability profile');
    expect(await rsaDecrypt(deps, key(), 'RSAES_OAEP_SHA_256', encrypt('sha256', plaintext))).toEqual(plaintext);
    expect(await rsaDecrypt(deps, key(), 'RSAES_OAEP_SHA_1', encrypt('sha1', plaintext))).toEqual(plaintext);
  });

  it('answers one IncorrectKeyException for a padding failure', async () => {
    const deps = storeWithKey();
    const wrongHash = encrypt('sha1', Buffer.from('x'));
    await expect(rsaDecrypt(deps, key(), 'RSAES_OAEP_SHA_256', wrongHash)).rejects.toMatchObject({ code: 'IncorrectKeyException' });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const otherKey = publicEncrypt({ key: other, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from('x'));
    // Another key's ciphertext, whether or not it lies below this modulus.
    await expect(rsaDecrypt(deps, key(), 'RSAES_OAEP_SHA_1', otherKey)).rejects.toMatchObject({ code: 'IncorrectKeyException' });
  });
});
