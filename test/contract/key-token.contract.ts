// The key store contract for tokens: every implementation with all the token capabilities
// (SoftHSM here, a real HSM when configured, and the node:crypto FakeToken core unit tests
// use) must behave like this. Crypto
// results are checked independently with node:crypto wherever the public half allows it.
import {
  constants, createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync,
  publicEncrypt, randomBytes, sign as nodeSign, verify as nodeVerify, type KeyObject,
} from 'node:crypto';
import { KmsError } from '../../src/core/errors';
import { CHECK_VALUE_BLOCK } from '../../src/pkcs11/import-material';
import { decodeOaep } from '../../src/pkcs11/oaep';
import type {
  AsymmetricKeySpec, HashAlgorithm, ImportedMaterialSpec, KeyPairCapability, KeyStore, KeyStoreCall, KeyStoreCapabilities, SignatureScheme,
} from '../../src/core/key-stores/port';

/**
 * A key store with every token capability, plus what the contract checks beneath the port: the
 * token's own RSA decryption (native OAEP with a hash it lists, or the bare primitive).
 */
export type ContractToken = KeyStore & Readonly<KeyStoreCapabilities> & {
  readonly keyPairs: KeyPairCapability & { rsaDecrypt(objectId: string, padding: { oaep: HashAlgorithm } | 'RAW', ciphertext: Buffer): Promise<Buffer> };
};

const call: KeyStoreCall = { operation: 'Encrypt', requestId: 'contract', principalArn: 'arn:aws:iam::111122223333:root', keyArn: 'arn:aws:kms:us-east-1:111122223333:key/contract' };
import { wrapKeyMaterial, wrappingAlgorithmNames, type WrappingAlgorithmName } from '../support/import-wrap';

const newObjectId = () => randomBytes(32).toString('hex');

const nodeHash: Record<HashAlgorithm, string> = { SHA_1: 'sha1', SHA_224: 'sha224', SHA_256: 'sha256', SHA_384: 'sha384', SHA_512: 'sha512' };
const hashBytes: Record<HashAlgorithm, number> = { SHA_1: 20, SHA_224: 28, SHA_256: 32, SHA_384: 48, SHA_512: 64 };
const digestOf = (hash: HashAlgorithm, message: Buffer) => createHash(nodeHash[hash]).update(message).digest();

const rsaSpecs = ['RSA_2048', 'RSA_3072', 'RSA_4096'] as const;
const ecSpecs = ['ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1'] as const;
const curveOf: Record<(typeof ecSpecs)[number], { name: string; jwk: string; fieldBytes: number; hash: HashAlgorithm }> = {
  ECC_NIST_P256: { name: 'prime256v1', jwk: 'P-256', fieldBytes: 32, hash: 'SHA_256' },
  ECC_NIST_P384: { name: 'secp384r1', jwk: 'P-384', fieldBytes: 48, hash: 'SHA_384' },
  ECC_NIST_P521: { name: 'secp521r1', jwk: 'P-521', fieldBytes: 66, hash: 'SHA_512' },
  ECC_SECG_P256K1: { name: 'secp256k1', jwk: 'secp256k1', fieldBytes: 32, hash: 'SHA_256' },
};
const bitsOf = (spec: (typeof rsaSpecs)[number]) => Number(spec.slice(4));

/** The uncompressed point 04‖x‖y of an EC public key. */
function uncompressedPoint(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
}

async function rejection(promise: Promise<unknown>): Promise<KmsError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(KmsError);
  return error as KmsError;
}

const flip = (b: Buffer, index: number, bit = 0x01) => {
  const copy = Buffer.from(b);
  copy[index]! ^= bit;
  return copy;
};

export function describeKeyTokenContract(
  name: string,
  open: () => Promise<{ token: ContractToken; nativeOaepHashes: readonly HashAlgorithm[]; close: () => Promise<void> }>,
): void {
  describe(`KeyToken contract: ${name}`, () => {
    let token: ContractToken;
    let nativeOaepHashes: readonly HashAlgorithm[];
    let close: () => Promise<void>;
    beforeAll(async () => ({ token, nativeOaepHashes, close } = await open()));
    afterAll(async () => close());

    it('generates an AES key it then holds, and destroys it idempotently', async () => {
      const id = newObjectId();
      expect(await token.keyObjects.hasKey(id)).toBe(false);
      await token.keyObjects.generateAesKey(id, 'kms:test');
      expect(await token.keyObjects.hasKey(id)).toBe(true);
      expect(await token.keyObjects.destroyKey(id)).toBe(true);
      expect(await token.keyObjects.hasKey(id)).toBe(false);
      expect(await token.keyObjects.destroyKey(id)).toBe(false);
    });

    it('seals and opens with AES-GCM, binding the AAD', async () => {
      const id = newObjectId();
      await token.keyObjects.generateAesKey(id, 'kms:test');
      const aad = Buffer.from('header and context');
      const sealed = await token.encrypt(id, aad, Buffer.from('payload'), call);
      expect(sealed.iv).toHaveLength(12);
      expect(sealed.tag).toHaveLength(16);
      expect(sealed.ciphertext).toHaveLength(7);
      expect((await token.decrypt(id, aad, sealed, call)).toString()).toBe('payload');
      await expect(token.decrypt(id, Buffer.from('other aad'), sealed, call)).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
      const flipped = { ...sealed, tag: Buffer.from(sealed.tag.map((b, i) => (i === 0 ? b ^ 1 : b))) };
      await expect(token.decrypt(id, aad, flipped, call)).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
      const again = await token.encrypt(id, aad, Buffer.from('payload'), call);
      expect(again.iv.equals(sealed.iv)).toBe(false);
      await token.keyObjects.destroyKey(id);
    });

    it('reports a missing key as KeyUnavailableException, not an internal error', async () => {
      const error = await token.encrypt(newObjectId(), Buffer.alloc(0), Buffer.from('x'), call).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KmsError);
      expect((error as KmsError).code).toBe('KeyUnavailableException');
    });

    it('reports a missing key as KeyUnavailableException for every asymmetric and HMAC operation', async () => {
      const id = newObjectId();
      const digest = Buffer.alloc(32, 1);
      const missing = [
        token.keyPairs.signDigest(id, { kind: 'ECDSA', hash: 'SHA_256' }, digest),
        token.keyPairs.verifyDigest(id, { kind: 'RSA_PSS', hash: 'SHA_256' }, digest, Buffer.alloc(256)),
        token.keyPairs.rsaDecrypt(id, 'RAW', Buffer.alloc(256, 1)),
        token.hmacKeys.hmac(id, 'SHA_256', Buffer.from('m')),
        token.hmacKeys.verifyHmac(id, 'SHA_256', Buffer.from('m'), Buffer.alloc(32)),
        token.keyPairs.deriveSharedSecret(id, Buffer.alloc(65, 4)),
      ];
      for (const call of missing) expect((await rejection(call)).code).toBe('KeyUnavailableException');
    });

    it('draws random bytes', async () => {
      const a = await token.randomBytes(32);
      const b = await token.randomBytes(32);
      expect(a).toHaveLength(32);
      expect(a.equals(b)).toBe(false);
    });

    it('is healthy', async () => {
      expect(await token.isHealthy()).toBe(true);
    });

    describe('external keys (XKS proxy)', () => {
      const both = { encrypt: true, decrypt: true };
      const aad = Buffer.from('length-prefixed aad');

      it('an external key with both usages seals and opens with a 12-byte IV and a 16-byte tag, binding the AAD', async () => {
        const id = await token.externalKeys.generateExternalKey('xks:/keystores/contract:both', both);
        expect(id).toMatch(/^78[0-9a-f]{64}$/);
        const plaintext = randomBytes(4300);
        const sealed = await token.externalKeys.encrypt(id, aad, plaintext);
        expect(sealed.iv).toHaveLength(12);
        expect(sealed.tag).toHaveLength(16);
        expect(sealed.ciphertext).toHaveLength(4300);
        expect((await token.externalKeys.decrypt(id, aad, sealed)).equals(plaintext)).toBe(true);
        await expect(token.externalKeys.decrypt(id, Buffer.from('other'), sealed)).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
        await expect(token.externalKeys.decrypt(id, aad, { ...sealed, tag: flip(sealed.tag, 3) })).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
        await expect(token.externalKeys.decrypt(id, aad, { ...sealed, iv: flip(sealed.iv, 0) })).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
        expect((await token.externalKeys.decrypt(id, aad, sealed)).equals(plaintext)).toBe(true);
        expect(await token.externalKeys.destroyExternalKey(id)).toBe(true);
        expect(await token.externalKeys.destroyExternalKey(id)).toBe(false);
        expect((await rejection(token.externalKeys.encrypt(id, aad, plaintext))).code).toBe('KeyUnavailableException');
      });

      it('the token refuses what an external key\'s usage does not permit, with InvalidKeyUsageException', async () => {
        const encryptOnly = await token.externalKeys.generateExternalKey('xks:contract:e', { encrypt: true, decrypt: false });
        const decryptOnly = await token.externalKeys.generateExternalKey('xks:contract:d', { encrypt: false, decrypt: true });
        const neither = await token.externalKeys.generateExternalKey('xks:contract:n', { encrypt: false, decrypt: false });
        const sealed = await token.externalKeys.encrypt(encryptOnly, aad, Buffer.from('data'));
        expect((await rejection(token.externalKeys.decrypt(encryptOnly, aad, sealed))).code).toBe('InvalidKeyUsageException');
        expect((await rejection(token.externalKeys.encrypt(decryptOnly, aad, Buffer.from('data')))).code).toBe('InvalidKeyUsageException');
        // Decryption is permitted: what it cannot open is a ciphertext, not a usage, problem.
        expect((await rejection(token.externalKeys.decrypt(decryptOnly, aad, sealed))).code).toBe('InvalidCiphertextException');
        expect((await rejection(token.externalKeys.encrypt(neither, aad, Buffer.from('data')))).code).toBe('InvalidKeyUsageException');
        expect((await rejection(token.externalKeys.decrypt(neither, aad, sealed))).code).toBe('InvalidKeyUsageException');
        for (const id of [encryptOnly, decryptOnly, neither]) await token.externalKeys.destroyExternalKey(id);
      });

      it('the external keys capability touches only objects in the external keys\' CKA_ID namespace.', async () => {
        const kmsKey = newObjectId();
        await token.keyObjects.generateAesKey(kmsKey, 'kms:shared-token');
        const sealed = await token.encrypt(kmsKey, aad, Buffer.from('kms data'), call);
        expect((await rejection(token.externalKeys.encrypt(kmsKey, aad, Buffer.from('x')))).code).toBe('KMSInternalException');
        expect((await rejection(token.externalKeys.decrypt(kmsKey, aad, sealed))).code).toBe('KMSInternalException');
        expect((await rejection(token.externalKeys.destroyExternalKey(kmsKey))).code).toBe('KMSInternalException');
        expect(await token.keyObjects.hasKey(kmsKey)).toBe(true);
        expect((await token.decrypt(kmsKey, aad, sealed, call)).toString()).toBe('kms data');
        await token.keyObjects.destroyKey(kmsKey);
      });

      it('checks its own health with a real round trip, and describes itself as a key manager', async () => {
        await token.externalKeys.checkHealth();
        await token.externalKeys.checkHealth();
        const description = token.externalKeys.describe();
        for (const field of [description.id, description.vendor, description.model]) expect(field.length).toBeGreaterThan(0);
      });
    });

    describe('signing keys', () => {
      const signers = new Map<AsymmetricKeySpec, { id: string; publicKey: KeyObject }>();
      beforeAll(async () => {
        await Promise.all([...rsaSpecs, ...ecSpecs].map(async (spec) => {
          const id = newObjectId();
          const spki = await token.keyPairs.generateKeyPair(id, `kms:sign:${spec}`, spec, 'SIGN_VERIFY');
          signers.set(spec, { id, publicKey: createPublicKey({ key: spki, format: 'der', type: 'spki' }) });
        }));
      }, 120_000);
      afterAll(async () => {
        for (const { id } of signers.values()) await token.keyObjects.destroyKey(id);
      });

      it('returns each public key as DER SubjectPublicKeyInfo of the requested spec', () => {
        for (const spec of rsaSpecs) {
          const details = signers.get(spec)!.publicKey.asymmetricKeyDetails!;
          expect(signers.get(spec)!.publicKey.asymmetricKeyType).toBe('rsa');
          expect(details.modulusLength).toBe(bitsOf(spec));
          expect(details.publicExponent).toBe(65537n);
        }
        for (const spec of ecSpecs) {
          expect(signers.get(spec)!.publicKey.asymmetricKeyType).toBe('ec');
          expect(signers.get(spec)!.publicKey.asymmetricKeyDetails!.namedCurve).toBe(curveOf[spec].name);
        }
      });

      const rsaSchemes: SignatureScheme[] = (['RSA_PKCS1_V1_5', 'RSA_PSS'] as const).flatMap((kind) =>
        (['SHA_256', 'SHA_384', 'SHA_512'] as const).map((hash) => ({ kind, hash })));

      for (const spec of rsaSpecs) {
        for (const scheme of rsaSchemes) {
          it(`${spec} ${scheme.kind} ${scheme.hash}: node:crypto verifies the signature; verifyDigest accepts it and refuses tampering`, async () => {
            const { id, publicKey } = signers.get(spec)!;
            const message = randomBytes(100);
            const digest = digestOf(scheme.hash, message);
            const signature = await token.keyPairs.signDigest(id, scheme, digest);
            expect(signature).toHaveLength(bitsOf(spec) / 8);
            const pss = scheme.kind === 'RSA_PSS';
            const nodeKey = pss ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hashBytes[scheme.hash] } : publicKey;
            expect(nodeVerify(nodeHash[scheme.hash], message, nodeKey, signature)).toBe(true);
            // PSS is randomised; PKCS#1 v1.5 is deterministic.
            expect((await token.keyPairs.signDigest(id, scheme, digest)).equals(signature)).toBe(!pss);
            expect(await token.keyPairs.verifyDigest(id, scheme, digest, signature)).toBe(true);
            expect(await token.keyPairs.verifyDigest(id, scheme, flip(digest, 0), signature)).toBe(false);
            expect(await token.keyPairs.verifyDigest(id, scheme, digest, flip(signature, signature.length - 1))).toBe(false);
            expect(await token.keyPairs.verifyDigest(id, scheme, digest, signature.subarray(1))).toBe(false);
            expect(await token.keyPairs.verifyDigest(id, scheme, digest, Buffer.alloc(0))).toBe(false);
            const other: SignatureScheme = { kind: pss ? 'RSA_PKCS1_V1_5' : 'RSA_PSS', hash: scheme.hash };
            expect(await token.keyPairs.verifyDigest(id, other, digest, signature)).toBe(false);
          });
        }
      }

      for (const spec of ecSpecs) {
        it(`${spec} ECDSA ${curveOf[spec].hash}: a DER signature node:crypto verifies; verifyDigest accepts it and refuses tampering`, async () => {
          const { id, publicKey } = signers.get(spec)!;
          const { hash, fieldBytes } = curveOf[spec];
          const scheme: SignatureScheme = { kind: 'ECDSA', hash };
          const message = randomBytes(100);
          const digest = digestOf(hash, message);
          const signature = await token.keyPairs.signDigest(id, scheme, digest);
          expect(signature[0]).toBe(0x30);
          expect(nodeVerify(nodeHash[hash], message, { key: publicKey, dsaEncoding: 'der' }, signature)).toBe(true);
          expect(await token.keyPairs.verifyDigest(id, scheme, digest, signature)).toBe(true);
          expect(await token.keyPairs.verifyDigest(id, scheme, flip(digest, 3), signature)).toBe(false);
          expect(await token.keyPairs.verifyDigest(id, scheme, digest, flip(signature, signature.length - 1))).toBe(false);
          // Randomised: a second signature differs and verifies too.
          const again = await token.keyPairs.signDigest(id, scheme, digest);
          expect(again.equals(signature)).toBe(false);
          expect(await token.keyPairs.verifyDigest(id, scheme, digest, again)).toBe(true);
          // A DER signature node:crypto made with another key does not verify.
          const stranger = generateKeyPairSync('ec', { namedCurve: curveOf[spec].name });
          expect(await token.keyPairs.verifyDigest(id, scheme, digest, nodeSign(nodeHash[hash], message, { key: stranger.privateKey, dsaEncoding: 'der' }))).toBe(false);
          // The same signature as r‖s (what PKCS#11 speaks) is not DER, so it does not verify.
          const raw = nodeSign(nodeHash[hash], message, { key: stranger.privateKey, dsaEncoding: 'ieee-p1363' });
          expect(raw).toHaveLength(2 * fieldBytes);
          expect(await token.keyPairs.verifyDigest(id, scheme, digest, raw)).toBe(false);
        });
      }

      it('verifyDigest answers false, never throws, for malformed DER ECDSA signatures', async () => {
        const { id } = signers.get('ECC_NIST_P256')!;
        const scheme: SignatureScheme = { kind: 'ECDSA', hash: 'SHA_256' };
        const digest = digestOf('SHA_256', Buffer.from('m'));
        const good = await token.keyPairs.signDigest(id, scheme, digest);
        const r = Buffer.alloc(32, 0x11);
        const int = (content: Buffer) => Buffer.concat([Buffer.from([0x02, content.length]), content]);
        const seq = (...parts: Buffer[]) => { const body = Buffer.concat(parts); return Buffer.concat([Buffer.from([0x30, body.length]), body]); };
        const malformed = [
          Buffer.alloc(0),
          Buffer.from([0x30]),
          Buffer.from('3000', 'hex'),
          Buffer.concat([good, Buffer.from([0])]), // trailing data
          good.subarray(0, good.length - 1), // truncated
          Buffer.concat([Buffer.from([0x31]), good.subarray(1)]), // SET, not SEQUENCE
          seq(int(r)), // one integer
          seq(int(r), int(r), int(r)), // three
          seq(int(Buffer.concat([Buffer.from([0]), r])), int(r)), // non-minimal integer
          seq(int(Buffer.from([0x80, ...r])), int(r)), // negative r
          seq(int(Buffer.alloc(0)), int(r)), // empty integer
          seq(int(Buffer.alloc(33, 0x7f)), int(r)), // r wider than the field
          seq(int(Buffer.from([0])), int(Buffer.from([0]))), // zero r and s
          Buffer.concat([Buffer.from([0x30, 0x81, 0x44]), good.subarray(2)]), // long-form length under 128
          randomBytes(72),
        ];
        for (const signature of malformed) expect(await token.keyPairs.verifyDigest(id, scheme, digest, signature)).toBe(false);
      });

      it('a digest must be as long as the hash of the signing algorithm.', async () => {
        const { id } = signers.get('RSA_2048')!;
        const { id: ecId } = signers.get('ECC_NIST_P256')!;
        const short = Buffer.alloc(31, 1);
        for (const scheme of [{ kind: 'RSA_PKCS1_V1_5', hash: 'SHA_256' }, { kind: 'RSA_PSS', hash: 'SHA_256' }] as SignatureScheme[]) {
          expect((await rejection(token.keyPairs.signDigest(id, scheme, short))).code).toBe('ValidationException');
          expect((await rejection(token.keyPairs.verifyDigest(id, scheme, short, Buffer.alloc(256)))).code).toBe('ValidationException');
        }
        expect((await rejection(token.keyPairs.signDigest(ecId, { kind: 'ECDSA', hash: 'SHA_384' }, Buffer.alloc(32, 1)))).code).toBe('ValidationException');
        expect((await rejection(token.keyPairs.signDigest(ecId, { kind: 'ECDSA', hash: 'SHA_256' }, Buffer.alloc(0)))).code).toBe('ValidationException');
      });

      it('refuses a scheme that does not fit the key type', async () => {
        const digest = Buffer.alloc(32, 1);
        await rejection(token.keyPairs.signDigest(signers.get('RSA_2048')!.id, { kind: 'ECDSA', hash: 'SHA_256' }, digest));
        await rejection(token.keyPairs.signDigest(signers.get('ECC_NIST_P256')!.id, { kind: 'RSA_PSS', hash: 'SHA_256' }, digest));
      });

      it('refuses to decrypt or agree keys with a signing key', async () => {
        await rejection(token.keyPairs.rsaDecrypt(signers.get('RSA_2048')!.id, { oaep: 'SHA_1' }, Buffer.alloc(256, 1)));
        await rejection(token.keyPairs.rsaDecrypt(signers.get('RSA_2048')!.id, 'RAW', Buffer.alloc(256, 1)));
        const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        await rejection(token.keyPairs.deriveSharedSecret(signers.get('ECC_NIST_P256')!.id, uncompressedPoint(peer.publicKey)));
      });
    });

    describe('RSA decryption keys', () => {
      const decrypters = new Map<AsymmetricKeySpec, { id: string; publicKey: KeyObject }>();
      beforeAll(async () => {
        await Promise.all(rsaSpecs.map(async (spec) => {
          const id = newObjectId();
          const spki = await token.keyPairs.generateKeyPair(id, `kms:decrypt:${spec}`, spec, 'ENCRYPT_DECRYPT');
          decrypters.set(spec, { id, publicKey: createPublicKey({ key: spki, format: 'der', type: 'spki' }) });
        }));
      }, 120_000);
      afterAll(async () => {
        for (const { id } of decrypters.values()) await token.keyObjects.destroyKey(id);
      });
      const encrypt = (publicKey: KeyObject, hash: HashAlgorithm, message: Buffer) =>
        publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: nodeHash[hash] }, message);

      it('offers native OAEP with SHA-1 at least', () => {
        expect(nativeOaepHashes).toContain('SHA_1');
      });

      for (const spec of rsaSpecs) {
        it(`${spec}: decrypts node:crypto OAEP ciphertexts natively for each hash the capabilities list, and via RAW + decodeOaep for SHA-256`, async () => {
          const { id, publicKey } = decrypters.get(spec)!;
          const k = bitsOf(spec) / 8;
          for (const hash of nativeOaepHashes) {
            for (const length of [1, 32, k - 2 * hashBytes[hash] - 2]) {
              const message = randomBytes(length);
              expect((await token.keyPairs.rsaDecrypt(id, { oaep: hash }, encrypt(publicKey, hash, message))).equals(message)).toBe(true);
            }
          }
          for (const hash of ['SHA_1', 'SHA_256'] as const) {
            const message = randomBytes(k - 2 * hashBytes[hash] - 2);
            const block = await token.keyPairs.rsaDecrypt(id, 'RAW', encrypt(publicKey, hash, message));
            expect(block).toHaveLength(k);
            expect(decodeOaep(block, hash, k).equals(message)).toBe(true);
          }
        });
      }

      it('rsaOaepDecrypt decrypts node:crypto OAEP ciphertexts with SHA-1 and SHA-256, and answers InvalidCiphertextException for the wrong hash', async () => {
        const { id, publicKey } = decrypters.get('RSA_2048')!;
        for (const hash of ['SHA_1', 'SHA_256'] as const) {
          const message = randomBytes(32);
          expect((await token.keyPairs.rsaOaepDecrypt(id, hash, encrypt(publicKey, hash, message))).equals(message)).toBe(true);
        }
        const error = await rejection(token.keyPairs.rsaOaepDecrypt(id, 'SHA_256', encrypt(publicKey, 'SHA_1', Buffer.from('x'))));
        expect(error.code).toBe('InvalidCiphertextException');
      });

      it('an OAEP padding that does not check is reported as InvalidCiphertextException.', async () => {
        const { id, publicKey } = decrypters.get('RSA_2048')!;
        const ciphertext = encrypt(publicKey, 'SHA_1', Buffer.from('secret'));
        // A label, the wrong hash, a flipped bit: each leaves a block whose padding fails.
        const labelled = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1', oaepLabel: Buffer.from('L') }, Buffer.from('secret'));
        const sha256 = encrypt(publicKey, 'SHA_256', Buffer.from('secret'));
        for (const bad of [labelled, sha256, flip(ciphertext, 128), flip(ciphertext, 255)]) {
          const error = await rejection(token.keyPairs.rsaDecrypt(id, { oaep: 'SHA_1' }, bad));
          expect(error.code).toBe('InvalidCiphertextException');
          expect(error.message).toBe('');
        }
        // The key still serves afterwards.
        expect((await token.keyPairs.rsaDecrypt(id, { oaep: 'SHA_1' }, ciphertext)).toString()).toBe('secret');
      });

      it('an RSA ciphertext must be modulus-length and below the modulus.', async () => {
        const { id, publicKey } = decrypters.get('RSA_2048')!;
        const ciphertext = encrypt(publicKey, 'SHA_1', Buffer.from('secret'));
        const modulus = Buffer.from(publicKey.export({ format: 'jwk' }).n!, 'base64url');
        for (const padding of [{ oaep: 'SHA_1' }, 'RAW'] as const) {
          for (const bad of [ciphertext.subarray(1), Buffer.concat([Buffer.from([0]), ciphertext]), Buffer.alloc(0), modulus, Buffer.alloc(256, 0xff)]) {
            expect((await rejection(token.keyPairs.rsaDecrypt(id, padding, bad))).code).toBe('InvalidCiphertextException');
          }
        }
      });

      it('OAEP runs natively only with a hash the token profile lists.', async () => {
        const { id, publicKey } = decrypters.get('RSA_2048')!;
        const all: HashAlgorithm[] = ['SHA_1', 'SHA_224', 'SHA_256', 'SHA_384', 'SHA_512'];
        for (const hash of all.filter((h) => !nativeOaepHashes.includes(h))) {
          const error = await rejection(token.keyPairs.rsaDecrypt(id, { oaep: hash }, encrypt(publicKey, 'SHA_256', Buffer.from('x'))));
          expect(error.code).not.toBe('InvalidCiphertextException');
        }
      });

      it('refuses to sign with a decryption key', async () => {
        await rejection(token.keyPairs.signDigest(decrypters.get('RSA_2048')!.id, { kind: 'RSA_PSS', hash: 'SHA_256' }, Buffer.alloc(32, 1)));
      });
    });

    it("a key pair's purpose must fit its algorithm: RSA signs or decrypts, EC signs or agrees keys, Ed25519 only signs.", async () => {
      const id = newObjectId();
      await rejection(token.keyPairs.generateKeyPair(id, 'kms:bad', 'ECC_NIST_P256', 'ENCRYPT_DECRYPT'));
      await rejection(token.keyPairs.generateKeyPair(id, 'kms:bad', 'RSA_2048', 'KEY_AGREEMENT'));
      await rejection(token.keyPairs.generateKeyPair(id, 'kms:bad', 'ECC_NIST_EDWARDS25519', 'KEY_AGREEMENT'));
      await rejection(token.keyPairs.generateKeyPair(id, 'kms:bad', 'ECC_NIST_EDWARDS25519', 'ENCRYPT_DECRYPT'));
      expect(await token.keyObjects.hasKey(id)).toBe(false);
    });

    describe('Ed25519 keys (where the token runs EdDSA)', () => {
      const runsEd25519 = () => token.keyPairs.ed25519Schemes.includes('ED25519');
      let id: string;
      let publicKey: KeyObject;
      beforeAll(async () => {
        if (!runsEd25519()) return;
        id = newObjectId();
        const spki = await token.keyPairs.generateKeyPair(id, 'kms:ed25519', 'ECC_NIST_EDWARDS25519', 'SIGN_VERIFY');
        // DER SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING of the 32-byte key }.
        expect(spki).toHaveLength(44);
        expect(spki.subarray(0, 12).toString('hex')).toBe('302a300506032b6570032100');
        publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
      });
      afterAll(async () => {
        if (id) await token.keyObjects.destroyKey(id);
      });

      it('pure Ed25519 over the message: node:crypto verifies the signature; verifyMessage accepts it and refuses tampering', async () => {
        if (!runsEd25519()) return;
        expect(publicKey.asymmetricKeyType).toBe('ed25519');
        expect(await token.keyPairs.publicKey(id)).toEqual(publicKey.export({ type: 'spki', format: 'der' }));
        for (const message of [Buffer.from('m'), Buffer.from('an Ed25519 message'), randomBytes(4096)]) {
          const signature = await token.keyPairs.signMessage(id, 'ED25519', message);
          expect(signature).toHaveLength(64);
          expect(nodeVerify(null, message, publicKey, signature)).toBe(true);
          // Ed25519 is deterministic.
          expect((await token.keyPairs.signMessage(id, 'ED25519', message)).equals(signature)).toBe(true);
          expect(await token.keyPairs.verifyMessage(id, 'ED25519', message, signature)).toBe(true);
          expect(await token.keyPairs.verifyMessage(id, 'ED25519', flip(message, 0), signature)).toBe(false);
          expect(await token.keyPairs.verifyMessage(id, 'ED25519', message, flip(signature, 63, 0x10))).toBe(false);
          expect(await token.keyPairs.verifyMessage(id, 'ED25519', message, flip(signature, 0))).toBe(false);
          expect(await token.keyPairs.verifyMessage(id, 'ED25519', message, signature.subarray(1))).toBe(false);
          expect(await token.keyPairs.verifyMessage(id, 'ED25519', message, Buffer.concat([signature, Buffer.alloc(1)]))).toBe(false);
        }
        const stranger = generateKeyPairSync('ed25519');
        const message = Buffer.from('signed elsewhere');
        expect(await token.keyPairs.verifyMessage(id, 'ED25519', message, nodeSign(null, message, stranger.privateKey))).toBe(false);
      });

      it('an Ed25519 key signs nothing but messages with EdDSA, and EdDSA needs an Ed25519 key', async () => {
        if (!runsEd25519()) return;
        await rejection(token.keyPairs.signDigest(id, { kind: 'ECDSA', hash: 'SHA_512' }, Buffer.alloc(64, 1)));
        const ec = newObjectId();
        await token.keyPairs.generateKeyPair(ec, 'kms:ec', 'ECC_NIST_P256', 'SIGN_VERIFY');
        await rejection(token.keyPairs.signMessage(ec, 'ED25519', Buffer.from('m')));
        await token.keyObjects.destroyKey(ec);
        expect((await rejection(token.keyPairs.signMessage(newObjectId(), 'ED25519', Buffer.from('m')))).code).toBe('KeyUnavailableException');
      });

      it('a message to sign or verify with EdDSA must not be empty.', async () => {
        if (!runsEd25519()) return;
        expect((await rejection(token.keyPairs.signMessage(id, 'ED25519', Buffer.alloc(0)))).code).toBe('ValidationException');
        expect((await rejection(token.keyPairs.verifyMessage(id, 'ED25519', Buffer.alloc(0), Buffer.alloc(64)))).code).toBe('ValidationException');
        // The key still serves afterwards.
        expect(await token.keyPairs.signMessage(id, 'ED25519', Buffer.from('m'))).toHaveLength(64);
      });

      it('a data key pair: a PKCS#8 private key node:crypto signs with, and the SPKI of its public key', async () => {
        if (!runsEd25519()) return;
        const pair = await token.keyPairs.generateDataKeyPair('ECC_NIST_EDWARDS25519');
        const privateKey = createPrivateKey({ key: pair.privateKeyPkcs8, format: 'der', type: 'pkcs8' });
        const pairPublic = createPublicKey({ key: pair.publicKeySpki, format: 'der', type: 'spki' });
        expect([privateKey.asymmetricKeyType, pairPublic.asymmetricKeyType]).toEqual(['ed25519', 'ed25519']);
        expect(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).equals(pair.publicKeySpki)).toBe(true);
        const message = Buffer.from('data key pair');
        expect(nodeVerify(null, message, pairPublic, nodeSign(null, message, privateKey))).toBe(true);
        expect((await token.keyPairs.generateDataKeyPair('ECC_NIST_EDWARDS25519')).publicKeySpki.equals(pair.publicKeySpki)).toBe(false);
      });
    });

    it('destroyKey removes both halves of a key pair', async () => {
      const id = newObjectId();
      await token.keyPairs.generateKeyPair(id, 'kms:destroy', 'ECC_NIST_P256', 'SIGN_VERIFY');
      const scheme: SignatureScheme = { kind: 'ECDSA', hash: 'SHA_256' };
      const digest = Buffer.alloc(32, 5);
      const signature = await token.keyPairs.signDigest(id, scheme, digest);
      expect(await token.keyPairs.verifyDigest(id, scheme, digest, signature)).toBe(true);
      expect(await token.keyObjects.hasKey(id)).toBe(true);
      expect(await token.keyObjects.destroyKey(id)).toBe(true);
      expect(await token.keyObjects.hasKey(id)).toBe(false);
      expect((await rejection(token.keyPairs.signDigest(id, scheme, digest))).code).toBe('KeyUnavailableException');
      expect((await rejection(token.keyPairs.verifyDigest(id, scheme, digest, signature))).code).toBe('KeyUnavailableException');
      expect(await token.keyObjects.destroyKey(id)).toBe(false);
    });

    describe('HMAC keys', () => {
      const specs: Array<[HashAlgorithm, number]> = [['SHA_224', 28], ['SHA_256', 32], ['SHA_384', 48], ['SHA_512', 64]];
      for (const [hash, length] of specs) {
        it(`HMAC ${hash} with a ${length}-byte key: deterministic, ${hashBytes[hash]} bytes, key-bound, and verifyHmac agrees`, async () => {
          const id = newObjectId();
          const other = newObjectId();
          await token.hmacKeys.generateHmacKey(id, 'kms:hmac', length);
          await token.hmacKeys.generateHmacKey(other, 'kms:hmac', length);
          expect(await token.keyObjects.hasKey(id)).toBe(true);
          const message = Buffer.from('the message');
          const mac = await token.hmacKeys.hmac(id, hash, message);
          expect(mac).toHaveLength(hashBytes[hash]);
          expect((await token.hmacKeys.hmac(id, hash, message)).equals(mac)).toBe(true);
          expect((await token.hmacKeys.hmac(id, hash, Buffer.from('the messagE'))).equals(mac)).toBe(false);
          expect((await token.hmacKeys.hmac(other, hash, message)).equals(mac)).toBe(false);
          expect(await token.hmacKeys.verifyHmac(id, hash, message, mac)).toBe(true);
          expect(await token.hmacKeys.verifyHmac(id, hash, Buffer.from('other'), mac)).toBe(false);
          expect(await token.hmacKeys.verifyHmac(id, hash, message, flip(mac, mac.length - 1))).toBe(false);
          expect(await token.hmacKeys.verifyHmac(id, hash, message, mac.subarray(1))).toBe(false);
          expect(await token.hmacKeys.verifyHmac(id, hash, message, Buffer.concat([mac, Buffer.from([0])]))).toBe(false);
          expect(await token.hmacKeys.verifyHmac(id, hash, message, Buffer.alloc(0))).toBe(false);
          expect(await token.hmacKeys.verifyHmac(other, hash, message, mac)).toBe(false);
          const big = randomBytes(4096);
          expect(await token.hmacKeys.verifyHmac(id, hash, big, await token.hmacKeys.hmac(id, hash, big))).toBe(true);
          expect(await token.keyObjects.destroyKey(id)).toBe(true);
          await token.keyObjects.destroyKey(other);
          expect((await rejection(token.hmacKeys.hmac(id, hash, message))).code).toBe('KeyUnavailableException');
        });
      }

      it('a MAC message must not be empty.', async () => {
        const id = newObjectId();
        await token.hmacKeys.generateHmacKey(id, 'kms:hmac', 32);
        expect((await rejection(token.hmacKeys.hmac(id, 'SHA_256', Buffer.alloc(0)))).code).toBe('ValidationException');
        expect((await rejection(token.hmacKeys.verifyHmac(id, 'SHA_256', Buffer.alloc(0), Buffer.alloc(32)))).code).toBe('ValidationException');
        // The key still serves afterwards.
        expect(await token.hmacKeys.hmac(id, 'SHA_256', Buffer.from('m'))).toHaveLength(32);
        await token.keyObjects.destroyKey(id);
      });
    });

    describe('key agreement', () => {
      for (const spec of ecSpecs) {
        it(`${spec}: the ECDH secret equals node:crypto's, computed from a local key pair and the returned public key`, async () => {
          const id = newObjectId();
          const spki = await token.keyPairs.generateKeyPair(id, 'kms:ecdh', spec, 'KEY_AGREEMENT');
          const tokenPublic = createPublicKey({ key: spki, format: 'der', type: 'spki' });
          expect(tokenPublic.asymmetricKeyDetails!.namedCurve).toBe(curveOf[spec].name);
          for (let i = 0; i < 2; i++) {
            const local = generateKeyPairSync('ec', { namedCurve: curveOf[spec].name });
            const expected = diffieHellman({ privateKey: local.privateKey, publicKey: tokenPublic });
            const secret = await token.keyPairs.deriveSharedSecret(id, uncompressedPoint(local.publicKey));
            expect(secret).toHaveLength(curveOf[spec].fieldBytes);
            expect(secret.equals(expected)).toBe(true);
          }
          await rejection(token.keyPairs.signDigest(id, { kind: 'ECDSA', hash: curveOf[spec].hash }, Buffer.alloc(hashBytes[curveOf[spec].hash], 1)));
          await token.keyObjects.destroyKey(id);
        });
      }

      it('the peer public key must be an uncompressed point on the curve of the key.', async () => {
        const id = newObjectId();
        await token.keyPairs.generateKeyPair(id, 'kms:ecdh', 'ECC_NIST_P256', 'KEY_AGREEMENT');
        const good = uncompressedPoint(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey);
        const offCurve = Buffer.from(good);
        offCurve[64]! ^= 1;
        const otherCurve = uncompressedPoint(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey);
        const compressed = Buffer.concat([Buffer.from([2 + (good[64]! & 1)]), good.subarray(1, 33)]);
        for (const bad of [offCurve, otherCurve, compressed, good.subarray(1), Buffer.alloc(0), Buffer.concat([Buffer.from([4]), Buffer.alloc(64)])]) {
          expect((await rejection(token.keyPairs.deriveSharedSecret(id, bad))).code).toBe('ValidationException');
        }
        expect(await token.keyPairs.deriveSharedSecret(id, good)).toHaveLength(32);
        await token.keyObjects.destroyKey(id);
      });
    });

    describe('data key pairs', () => {
      for (const spec of [...rsaSpecs, ...ecSpecs]) {
        it(`${spec}: a PKCS#8 private key and the SPKI of its public key; node:crypto signs with one and verifies with the other`, async () => {
          const pair = await token.keyPairs.generateDataKeyPair(spec);
          const privateKey = createPrivateKey({ key: pair.privateKeyPkcs8, format: 'der', type: 'pkcs8' });
          const publicKey = createPublicKey({ key: pair.publicKeySpki, format: 'der', type: 'spki' });
          if (spec.startsWith('RSA')) {
            expect(privateKey.asymmetricKeyType).toBe('rsa');
            expect(publicKey.asymmetricKeyDetails!.modulusLength).toBe(bitsOf(spec as (typeof rsaSpecs)[number]));
            expect(publicKey.asymmetricKeyDetails!.publicExponent).toBe(65537n);
          } else {
            expect(privateKey.asymmetricKeyDetails!.namedCurve).toBe(curveOf[spec as (typeof ecSpecs)[number]].name);
          }
          expect(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).equals(pair.publicKeySpki)).toBe(true);
          const message = Buffer.from('data key pair');
          expect(nodeVerify('sha256', message, publicKey, nodeSign('sha256', message, privateKey))).toBe(true);
          if (spec.startsWith('RSA')) {
            const ciphertext = publicEncrypt({ key: publicKey, oaepHash: 'sha256' }, message);
            expect(ciphertext).toHaveLength(bitsOf(spec as (typeof rsaSpecs)[number]) / 8);
          }
          const again = await token.keyPairs.generateDataKeyPair(spec);
          expect(again.privateKeyPkcs8.equals(pair.privateKeyPkcs8)).toBe(false);
        });
      }
    });
    describe('key import', () => {
      const wrappingId = newObjectId();
      let wrappingPublicKey: KeyObject;
      beforeAll(async () => {
        const spki = await token.keyImport.generateWrappingKeyPair(wrappingId, 'kms-import:contract', 'RSA_2048');
        wrappingPublicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
      });
      afterAll(async () => token.keyObjects.destroyKey(wrappingId));

      const aes: ImportedMaterialSpec = { kind: 'AES', bytes: 32 };
      const hmacSpec = (bytes: number, hash: HashAlgorithm): ImportedMaterialSpec => ({ kind: 'HMAC', bytes, hash });
      const wrap = (algorithm: WrappingAlgorithmName, material: Buffer) => wrapKeyMaterial(wrappingPublicKey, algorithm, material);
      const sha256 = (b: Buffer) => createHash('sha256').update(b).digest().subarray(0, 16).toString('hex');
      const aesCheckValue = (key: Buffer) => {
        const cipher = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
        return sha256(Buffer.concat([cipher.update(CHECK_VALUE_BLOCK), cipher.final()]));
      };
      const hmacCheckValue = (key: Buffer, hash: HashAlgorithm) => sha256(createHmac(nodeHash[hash], key).update(CHECK_VALUE_BLOCK).digest());
      const importInto = (algorithm: WrappingAlgorithmName, encryptedMaterial: Buffer, material: ImportedMaterialSpec, objectId?: string) =>
        token.keyImport.importKeyMaterial({ wrappingKeyId: wrappingId, algorithm, encryptedMaterial, material, ...(objectId ? { target: { objectId, label: 'kms:imported' } } : {}) });

      it('the wrapping key pair is RSA of the spec asked for', () => {
        expect(wrappingPublicKey.asymmetricKeyType).toBe('rsa');
        expect(wrappingPublicKey.asymmetricKeyDetails!.modulusLength).toBe(2048);
      });

      for (const algorithm of wrappingAlgorithmNames) {
        it(`${algorithm}: AES-256 material imports; the token encrypts what node:crypto decrypts with the same bytes; the check value is the documented one`, async () => {
          const material = randomBytes(32);
          const id = newObjectId();
          const imported = await importInto(algorithm, wrap(algorithm, material), aes, id);
          expect(imported.checkValue).toBe(aesCheckValue(material));
          expect(imported.publicKeySpki).toBeUndefined();
          const sealed = await token.encrypt(id, Buffer.from('aad'), Buffer.from('imported'), call);
          const decipher = createDecipheriv('aes-256-gcm', material, sealed.iv).setAAD(Buffer.from('aad')).setAuthTag(sealed.tag);
          expect(Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString()).toBe('imported');
          expect((await token.decrypt(id, Buffer.from('aad'), sealed, call)).toString()).toBe('imported');
          // The same material again, for its check value only: equal, and nothing new stays in the token.
          const again = newObjectId();
          expect((await importInto(algorithm, wrap(algorithm, material), aes)).checkValue).toBe(imported.checkValue);
          expect(await token.keyObjects.hasKey(again)).toBe(false);
          expect((await importInto(algorithm, wrap(algorithm, randomBytes(32)), aes)).checkValue).not.toBe(imported.checkValue);
          await token.keyObjects.destroyKey(id);
        });

        it(`${algorithm}: HMAC material imports for each spec; the token MACs as node:crypto does with the same bytes`, async () => {
          for (const [bytes, hash] of [[28, 'SHA_224'], [32, 'SHA_256'], [48, 'SHA_384'], [64, 'SHA_512']] as const) {
            const material = randomBytes(bytes);
            const id = newObjectId();
            const imported = await importInto(algorithm, wrap(algorithm, material), hmacSpec(bytes, hash), id);
            expect(imported.checkValue).toBe(hmacCheckValue(material, hash));
            expect((await token.hmacKeys.hmac(id, hash, Buffer.from('m'))).equals(createHmac(nodeHash[hash], material).update('m').digest())).toBe(true);
            await token.keyObjects.destroyKey(id);
          }
        });
      }

      it('imported secret material must be exactly as long as the key spec requires.', async () => {
        const cases: [WrappingAlgorithmName, number, ImportedMaterialSpec][] = [
          ['RSAES_OAEP_SHA_1', 16, aes], ['RSAES_OAEP_SHA_256', 24, aes], ['RSAES_OAEP_SHA_1', 33, aes],
          ['RSA_AES_KEY_WRAP_SHA_1', 16, aes], ['RSA_AES_KEY_WRAP_SHA_1', 28, aes], ['RSA_AES_KEY_WRAP_SHA_256', 31, aes], ['RSA_AES_KEY_WRAP_SHA_1', 48, aes],
          ['RSAES_OAEP_SHA_1', 32, hmacSpec(28, 'SHA_224')], ['RSA_AES_KEY_WRAP_SHA_1', 30, hmacSpec(32, 'SHA_256')], ['RSAES_OAEP_SHA_256', 63, hmacSpec(64, 'SHA_512')],
        ];
        for (const [algorithm, length, material] of cases) {
          const id = newObjectId();
          const error = await rejection(importInto(algorithm, wrap(algorithm, randomBytes(length)), material, id));
          expect({ algorithm, length, code: error.code }).toEqual({ algorithm, length, code: 'IncorrectKeyMaterialException' });
          expect(await token.keyObjects.hasKey(id)).toBe(false);
        }
      });

      it('material that does not unwrap is InvalidCiphertextException, and nothing is left in the token', async () => {
        const material = randomBytes(32);
        const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
        for (const algorithm of wrappingAlgorithmNames) {
          const good = wrap(algorithm, material);
          const otherHash = algorithm.endsWith('SHA_1') ? algorithm.replace('SHA_1', 'SHA_256') as WrappingAlgorithmName : algorithm.replace('SHA_256', 'SHA_1') as WrappingAlgorithmName;
          const bad = [
            flip(good, 100), flip(good, 255), wrapKeyMaterial(otherKey, algorithm, material), wrapKeyMaterial(wrappingPublicKey, otherHash, material),
            good.subarray(1), Buffer.concat([good, Buffer.alloc(8)]), Buffer.alloc(256, 0xff),
          ];
          if (algorithm.startsWith('RSA_AES')) bad.push(flip(good, 260), flip(good, good.length - 1), good.subarray(0, 256 + 8));
          for (const encrypted of bad) {
            const id = newObjectId();
            const error = await rejection(importInto(algorithm, encrypted, aes, id));
            expect({ algorithm, code: error.code, message: error.message }).toEqual({ algorithm, code: 'InvalidCiphertextException', message: '' });
            expect(await token.keyObjects.hasKey(id)).toBe(false);
          }
        }
        // The wrapping key still serves afterwards.
        expect((await importInto('RSAES_OAEP_SHA_1', wrap('RSAES_OAEP_SHA_1', material), aes)).checkValue).toBe(aesCheckValue(material));
      });

      it('an unknown wrapping key is KeyUnavailableException', async () => {
        const error = await rejection(token.keyImport.importKeyMaterial({ wrappingKeyId: newObjectId(), algorithm: 'RSAES_OAEP_SHA_1', encryptedMaterial: Buffer.alloc(256, 1), material: aes }));
        expect(error.code).toBe('KeyUnavailableException');
      });

      describe('private keys', () => {
        let wrapping4096: { id: string; publicKey: KeyObject };
        beforeAll(async () => {
          const id = newObjectId();
          const spki = await token.keyImport.generateWrappingKeyPair(id, 'kms-import:contract-4096', 'RSA_3072');
          wrapping4096 = { id, publicKey: createPublicKey({ key: spki, format: 'der', type: 'spki' }) };
        }, 60_000);
        afterAll(async () => token.keyObjects.destroyKey(wrapping4096.id));
        const importPair = (algorithm: WrappingAlgorithmName, pkcs8: Buffer, spec: AsymmetricKeySpec, purpose: 'SIGN_VERIFY' | 'ENCRYPT_DECRYPT' | 'KEY_AGREEMENT', objectId?: string) =>
          token.keyImport.importKeyMaterial({
            wrappingKeyId: wrapping4096.id, algorithm, encryptedMaterial: wrapKeyMaterial(wrapping4096.publicKey, algorithm, pkcs8),
            material: { kind: 'PRIVATE_KEY', spec, purpose }, ...(objectId ? { target: { objectId, label: 'kms:imported-pair' } } : {}),
          });

        it('RSA and EC private keys import through RSA-AES key wrap (and EC through OAEP) and sign what node:crypto verifies with the original public key', async () => {
          const cases: [AsymmetricKeySpec, WrappingAlgorithmName, KeyObject][] = [
            ['RSA_2048', 'RSA_AES_KEY_WRAP_SHA_256', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey],
            ['RSA_3072', 'RSA_AES_KEY_WRAP_SHA_1', generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey],
            ['ECC_NIST_P256', 'RSAES_OAEP_SHA_256', generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey],
            ['ECC_NIST_P384', 'RSA_AES_KEY_WRAP_SHA_1', generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey],
            ['ECC_NIST_P521', 'RSA_AES_KEY_WRAP_SHA_256', generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).privateKey],
            ['ECC_SECG_P256K1', 'RSAES_OAEP_SHA_1', generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey],
          ];
          for (const [spec, algorithm, privateKey] of cases) {
            const id = newObjectId();
            const publicKey = createPublicKey(privateKey);
            const spki = publicKey.export({ type: 'spki', format: 'der' });
            const imported = await importPair(algorithm, privateKey.export({ type: 'pkcs8', format: 'der' }), spec, 'SIGN_VERIFY', id);
            expect(imported.publicKeySpki!.equals(spki)).toBe(true);
            expect(imported.checkValue).toBe(sha256(spki));
            const hash: HashAlgorithm = spec.startsWith('ECC') ? curveOf[spec as (typeof ecSpecs)[number]].hash : 'SHA_256';
            const scheme: SignatureScheme = spec.startsWith('ECC') ? { kind: 'ECDSA', hash } : { kind: 'RSA_PSS', hash };
            const digest = digestOf(hash, Buffer.from('imported pair'));
            const signature = await token.keyPairs.signDigest(id, scheme, digest);
            const verifyKey = spec.startsWith('ECC') ? { key: publicKey, dsaEncoding: 'der' as const } : { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
            expect({ spec, ok: nodeVerify(nodeHash[hash], Buffer.from('imported pair'), verifyKey, signature) }).toEqual({ spec, ok: true });
            expect(await token.keyPairs.verifyDigest(id, scheme, digest, signature)).toBe(true);
            // Again for the check value only: the same, and no object.
            expect((await importPair(algorithm, privateKey.export({ type: 'pkcs8', format: 'der' }), spec, 'SIGN_VERIFY')).checkValue).toBe(imported.checkValue);
            await token.keyObjects.destroyKey(id);
          }
        });

        it('imported RSA decryption and EC key agreement keys work with their original counterparts', async () => {
          const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
          const rsaId = newObjectId();
          await importPair('RSA_AES_KEY_WRAP_SHA_256', rsa.privateKey.export({ type: 'pkcs8', format: 'der' }), 'RSA_2048', 'ENCRYPT_DECRYPT', rsaId);
          const ciphertext = publicEncrypt({ key: rsa.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from('to the token'));
          expect((await token.keyPairs.rsaDecrypt(rsaId, { oaep: 'SHA_1' }, ciphertext)).toString()).toBe('to the token');
          const ec = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
          const ecId = newObjectId();
          await importPair('RSA_AES_KEY_WRAP_SHA_1', ec.privateKey.export({ type: 'pkcs8', format: 'der' }), 'ECC_NIST_P384', 'KEY_AGREEMENT', ecId);
          const peer = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
          const expected = diffieHellman({ privateKey: peer.privateKey, publicKey: ec.publicKey });
          expect((await token.keyPairs.deriveSharedSecret(ecId, uncompressedPoint(peer.publicKey))).equals(expected)).toBe(true);
          await token.keyObjects.destroyKey(rsaId);
          await token.keyObjects.destroyKey(ecId);
        });

        it('a private key of another spec, type or encoding is IncorrectKeyMaterialException', async () => {
          const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'der' });
          const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'der' });
          const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' });
          const cases: [Buffer, AsymmetricKeySpec][] = [
            [p256, 'ECC_NIST_P384'], [p256, 'ECC_SECG_P256K1'], [p256, 'RSA_2048'], [rsa2048, 'RSA_3072'], [rsa2048, 'ECC_NIST_P256'],
            [ed, 'ECC_NIST_P256'], [randomBytes(200), 'ECC_NIST_P256'], [Buffer.from(explicitCurveP256Pkcs8, 'base64'), 'ECC_NIST_P256'],
          ];
          for (const [pkcs8, spec] of cases) {
            const id = newObjectId();
            const error = await rejection(importPair('RSA_AES_KEY_WRAP_SHA_256', pkcs8, spec, 'SIGN_VERIFY', id));
            expect({ spec, code: error.code }).toEqual({ spec, code: 'IncorrectKeyMaterialException' });
            expect(await token.keyObjects.hasKey(id)).toBe(false);
          }
        });
      });
    });
  });
}

/** A P-256 private key in PKCS#8 with the curve spelled out as explicit parameters (openssl ecparam -param_enc explicit): AWS refuses such keys. Test-only. */
const explicitCurveP256Pkcs8 = 'MIIBeQIBADCCAQMGByqGSM49AgEwgfcCAQEwLAYHKoZIzj0BAQIhAP////8AAAABAAAAAAAAAAAAAAAA////////////////MFsEIP////8AAAABAAAAAAAAAAAAAAAA///////////////8BCBaxjXYqjqT57PrvVV2mIa8ZR0GsMxTsPY7zjw+J9JgSwMVAMSdNgiG5wSTamZ44ROdJreBn36QBEEEaxfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpZP40Li/hp/m47n60p8D54WK84zV2sxXs7LtkBoN79R9QIhAP////8AAAAA//////////+85vqtpxeehPO5ysL8YyVRAgEBBG0wawIBAQQg6h7DeX9jScMSzkSb0CKr2bsgjKOSXIYFOsH6wWLr4TahRANCAASKPulTpRF99J2Xh4sdmuttTX/5yWPDdmUlSBwGUAOkEQ1Nrp/UWjA7fCJ2rB2/rF8A7Yza4mkmFidvjcxrhjnL';
