// FakeToken: a key store with every token capability, on node:crypto, for core unit tests.
// Keys live in a Map and never leave it, like a token's objects. It mirrors the PKCS#11
// adapter's preconditions, and like SoftHSM its own RSA decryption does OAEP natively with
// SHA-1 only (or the raw primitive). The contract suite runs against it as well.
import {
  constants, createCipheriv, createDecipheriv, createECDH, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman,
  generateKeyPairSync, privateDecrypt, privateEncrypt, publicDecrypt, randomBytes, sign as nodeSign, timingSafeEqual, verify as nodeVerify,
  type JsonWebKey, type KeyObject,
} from 'node:crypto';
import { KmsError, messages } from '../../src/core/errors';
import {
  assertSecretLength, CHECK_VALUE_BLOCK, checkValueOf, readPrivateKeyMaterial, splitRsaAesKeyWrap, unwrapKwpOnHost,
} from '../../src/pkcs11/import-material';
import { hashLength, mgf1 } from '../../src/pkcs11/oaep';
import type {
  AesGcmSealed, AsymmetricKeySpec, Ed25519Scheme, ExternalKeyCapability, ExternalKeyPermissions, HashAlgorithm, KeyManagerDescription, HmacCapability, ImportedKeyMaterial, KeyImportCapability, KeyImportRequest, KeyObjectCapability,
  KeyPairCapability, KeyPairPurpose, KeyStore, RsaWrappingKeySpec, SignatureScheme,
} from '../../src/core/key-stores/port';
import { KeyStoreRegistry } from '../../src/core/key-stores/registry';
import { digestInfo, ecdsaDerToRaw, ecdsaRawToDer } from '../../src/pkcs11/asn1';

interface FakeCurve {
  jwk: string;
  /** OpenSSL's name, for createECDH and generateKeyPair. */
  name: string;
  fieldBytes: number;
  /** The group order. */
  n: bigint;
}

const curves: Record<string, FakeCurve> = {
  ECC_NIST_P256: { jwk: 'P-256', name: 'prime256v1', fieldBytes: 32, n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n },
  ECC_NIST_P384: { jwk: 'P-384', name: 'secp384r1', fieldBytes: 48, n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n },
  ECC_NIST_P521: { jwk: 'P-521', name: 'secp521r1', fieldBytes: 66, n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n },
  ECC_SECG_P256K1: { jwk: 'secp256k1', name: 'secp256k1', fieldBytes: 32, n: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n },
};

const nodeHash: Record<HashAlgorithm, string> = { SHA_1: 'sha1', SHA_224: 'sha224', SHA_256: 'sha256', SHA_384: 'sha384', SHA_512: 'sha512' };

type FakeKey =
  /** `permissions`: an external key's CKA_ENCRYPT and CKA_DECRYPT; absent for KMS keys (both). */
  | { kind: 'aes'; key: Buffer; permissions?: ExternalKeyPermissions }
  | { kind: 'hmac'; key: Buffer }
  /** A wrapping key pair for key import: it only unwraps. */
  | { kind: 'wrapping'; privateKey: KeyObject; modulusBytes: number; modulus: Buffer }
  | { kind: 'pair'; purpose: KeyPairPurpose; privateKey: KeyObject; publicKey: KeyObject; curve?: FakeCurve; modulusBytes?: number; modulus?: Buffer; edwards?: boolean };

const unavailable = () => new KmsError('KeyUnavailableException', 'The request was rejected because the specified KMS key was not available.');
/** What the PKCS#11 adapter answers when the token refuses a key for a mechanism (CKR_KEY_FUNCTION_NOT_PERMITTED etc.). */
const refused = (detail: string) => new KmsError('KMSInternalException', messages.internal, detail);
const invalidCiphertext = () => new KmsError('InvalidCiphertextException', '');
/** What the PKCS#11 adapter answers for CKR_KEY_FUNCTION_NOT_PERMITTED. */
const notPermitted = () => new KmsError('InvalidKeyUsageException', 'The key does not permit this operation.');

// ---- bigint helpers for ECDSA over a digest (node:crypto only signs messages it hashes itself)

const toBig = (b: Buffer): bigint => (b.length === 0 ? 0n : BigInt(`0x${b.toString('hex')}`));
const toBuf = (x: bigint, length: number): Buffer => Buffer.from(x.toString(16).padStart(length * 2, '0'), 'hex');
const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;
function modPow(base: bigint, exponent: bigint, m: bigint): bigint {
  let result = 1n;
  let b = mod(base, m);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
  }
  return result;
}
const bitLength = (x: bigint) => x.toString(2).length;

/** The x-coordinate of k·G, from node:crypto's ECDH (k·G is the public key of private key k). */
function baseMultiplyX(curve: FakeCurve, k: bigint): bigint {
  const ecdh = createECDH(curve.name);
  ecdh.setPrivateKey(toBuf(k, curve.fieldBytes));
  return toBig(ecdh.getPublicKey().subarray(1, 1 + curve.fieldBytes));
}

/** FIPS 186-4 §6.4: the leftmost bits of the digest, as many as the order has. */
function digestInteger(curve: FakeCurve, digest: Buffer): bigint {
  const excess = digest.length * 8 - bitLength(curve.n);
  return excess > 0 ? toBig(digest) >> BigInt(excess) : toBig(digest);
}

function privateScalar(key: KeyObject): bigint {
  return toBig(Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url'));
}

function ecdsaSign(curve: FakeCurve, d: bigint, digest: Buffer): Buffer {
  const { n } = curve;
  const z = digestInteger(curve, digest);
  for (;;) {
    const k = mod(toBig(randomBytes(curve.fieldBytes + 8)), n - 1n) + 1n;
    const r = mod(baseMultiplyX(curve, k), n);
    if (r === 0n) continue;
    const s = mod(modPow(k, n - 2n, n) * (z + r * d), n);
    if (s === 0n) continue;
    return Buffer.concat([toBuf(r, curve.fieldBytes), toBuf(s, curve.fieldBytes)]);
  }
}

/** Verification with the private scalar: u1·G + u2·Q = (u1 + u2·d)·G. */
function ecdsaVerify(curve: FakeCurve, d: bigint, digest: Buffer, raw: Buffer): boolean {
  const { n } = curve;
  const r = toBig(raw.subarray(0, curve.fieldBytes));
  const s = toBig(raw.subarray(curve.fieldBytes));
  if (r < 1n || r >= n || s < 1n || s >= n) return false;
  const w = modPow(s, n - 2n, n);
  const t = mod(digestInteger(curve, digest) * w + r * w * d, n);
  if (t === 0n) return false;
  return mod(baseMultiplyX(curve, t), n) === r;
}

// ---- EMSA-PSS (RFC 8017 §9.1) with MGF1 of the same hash and salt length = hash length

function pssEncode(hash: HashAlgorithm, mHash: Buffer, emBits: number): Buffer {
  const hLen = hashLength(hash);
  const emLen = Math.ceil(emBits / 8);
  const salt = randomBytes(hLen);
  const h = createHash(nodeHash[hash]).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - 2 * hLen - 2), Buffer.from([1]), salt]);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >> (8 * emLen - emBits);
  return Buffer.concat([db, h, Buffer.from([0xbc])]);
}

function pssVerify(hash: HashAlgorithm, mHash: Buffer, em: Buffer, emBits: number): boolean {
  const hLen = hashLength(hash);
  const emLen = Math.ceil(emBits / 8);
  if (em.length !== emLen || em[emLen - 1] !== 0xbc || emLen < 2 * hLen + 2) return false;
  const db = Buffer.from(em.subarray(0, emLen - hLen - 1));
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const topBits = 0xff >> (8 * emLen - emBits);
  if ((db[0]! & ~topBits) !== 0) return false;
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= topBits;
  const psLength = emLen - 2 * hLen - 2;
  if (db.subarray(0, psLength).some((b) => b !== 0) || db[psLength] !== 1) return false;
  const salt = db.subarray(db.length - hLen);
  return createHash(nodeHash[hash]).update(Buffer.alloc(8)).update(mHash).update(salt).digest().equals(h);
}

function pointToJwk(curve: FakeCurve, point: Buffer): JsonWebKey {
  const f = curve.fieldBytes;
  return { kty: 'EC', crv: curve.jwk, x: point.subarray(1, 1 + f).toString('base64url'), y: point.subarray(1 + f).toString('base64url') };
}

function generatePair(spec: AsymmetricKeySpec): { privateKey: KeyObject; publicKey: KeyObject; curve?: FakeCurve; modulusBytes?: number; edwards?: boolean } {
  if (spec === 'ECC_NIST_EDWARDS25519') return { ...generateKeyPairSync('ed25519'), edwards: true };
  const curve = curves[spec];
  if (curve) return { ...generateKeyPairSync('ec', { namedCurve: curve.name }), curve };
  const bits = Number(spec.slice('RSA_'.length));
  return { ...generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 65537 }), modulusBytes: bits / 8 };
}

export class FakeToken implements KeyStore, KeyObjectCapability, KeyPairCapability, HmacCapability, KeyImportCapability {
  /** As SoftHSM 2.6: OAEP natively with SHA-1 only. */
  readonly nativeOaepHashes: readonly HashAlgorithm[] = ['SHA_1'];
  /** As SoftHSM 2.6's profile: pure Ed25519, no Ed25519ph. A test may take EdDSA away. */
  ed25519Schemes: readonly Ed25519Scheme[] = ['ED25519'];
  // Every capability, on this one object.
  readonly keyObjects: KeyObjectCapability = this;
  readonly keyPairs: FakeToken = this;
  readonly hmacKeys: HmacCapability = this;
  readonly keyImport: KeyImportCapability = this;
  readonly externalKeys: FakeExternalKeys = new FakeExternalKeys(this);
  /** @internal shared with FakeExternalKeys */
  readonly keys = new Map<string, FakeKey>();
  constructor(readonly id = 'default') {}

  async generateAesKey(objectId: string, _label = ''): Promise<void> {
    this.keys.set(objectId, { kind: 'aes', key: randomBytes(32) });
  }
  async generateHmacKey(objectId: string, _label: string, lengthBytes: number): Promise<void> {
    this.keys.set(objectId, { kind: 'hmac', key: randomBytes(lengthBytes) });
  }
  async generateKeyPair(objectId: string, _label: string, spec: AsymmetricKeySpec, purpose: KeyPairPurpose): Promise<Buffer> {
    const isEc = spec in curves;
    const isEdwards = spec === 'ECC_NIST_EDWARDS25519';
    if ((purpose === 'ENCRYPT_DECRYPT' && (isEc || isEdwards)) || (purpose === 'KEY_AGREEMENT' && !isEc)) throw refused(`${spec} cannot be used for ${purpose}`);
    if (isEdwards) this.assertRunsEd25519('ED25519');
    const pair = generatePair(spec);
    const modulus = pair.modulusBytes ? Buffer.from(pair.publicKey.export({ format: 'jwk' }).n!, 'base64url') : undefined;
    this.keys.set(objectId, { kind: 'pair', purpose, ...pair, modulus });
    return pair.publicKey.export({ type: 'spki', format: 'der' });
  }
  async publicKey(objectId: string): Promise<Buffer | undefined> {
    const key = this.keys.get(objectId);
    return key?.kind === 'pair' ? key.publicKey.export({ type: 'spki', format: 'der' }) : undefined;
  }
  async destroyKey(objectId: string): Promise<boolean> {
    return this.keys.delete(objectId);
  }
  /** Nothing here is ever half-made. */
  async destroyUnnamed(): Promise<number> {
    return 0;
  }
  async hasKey(objectId: string): Promise<boolean> {
    return this.keys.has(objectId);
  }

  private key<K extends FakeKey['kind']>(objectId: string, kind: K): Extract<FakeKey, { kind: K }> {
    const key = this.keys.get(objectId);
    if (!key) throw unavailable();
    if (key.kind !== kind) throw refused(`a ${key.kind} key used as ${kind}`);
    return key as Extract<FakeKey, { kind: K }>;
  }
  private pair(objectId: string, purpose: KeyPairPurpose) {
    const key = this.key(objectId, 'pair');
    if (key.purpose !== purpose) throw refused(`a ${key.purpose} key used for ${purpose}`);
    return key;
  }

  async encrypt(objectId: string, aad: Buffer, plaintext: Buffer): Promise<AesGcmSealed> {
    const iv = randomBytes(12);
    const key = this.key(objectId, 'aes');
    if (key.permissions && !key.permissions.encrypt) throw notPermitted();
    const cipher = createCipheriv('aes-256-gcm', key.key, iv).setAAD(aad);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { iv, ciphertext, tag: cipher.getAuthTag() };
  }
  async decrypt(objectId: string, aad: Buffer, sealed: AesGcmSealed): Promise<Buffer> {
    const key = this.key(objectId, 'aes');
    if (key.permissions && !key.permissions.decrypt) throw notPermitted();
    const decipher = createDecipheriv('aes-256-gcm', key.key, sealed.iv).setAAD(aad).setAuthTag(sealed.tag);
    try {
      return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
    } catch {
      throw invalidCiphertext();
    }
  }

  async signDigest(objectId: string, scheme: SignatureScheme, digest: Buffer): Promise<Buffer> {
    checkDigest(scheme, digest);
    const key = this.pair(objectId, 'SIGN_VERIFY');
    if (scheme.kind === 'ECDSA') {
      if (!key.curve) throw refused('ECDSA with an RSA key');
      return ecdsaRawToDer(ecdsaSign(key.curve, privateScalar(key.privateKey), digest), key.curve.fieldBytes);
    }
    if (!key.modulusBytes) throw refused(`${scheme.kind} with an EC key`);
    if (scheme.kind === 'RSA_PKCS1_V1_5') return privateEncrypt({ key: key.privateKey, padding: constants.RSA_PKCS1_PADDING }, digestInfo(scheme.hash, digest));
    const em = pssEncode(scheme.hash, digest, key.modulusBytes * 8 - 1);
    return privateEncrypt({ key: key.privateKey, padding: constants.RSA_NO_PADDING }, Buffer.concat([Buffer.alloc(key.modulusBytes - em.length), em]));
  }

  async verifyDigest(objectId: string, scheme: SignatureScheme, digest: Buffer, signature: Buffer): Promise<boolean> {
    checkDigest(scheme, digest);
    const key = this.pair(objectId, 'SIGN_VERIFY');
    if (scheme.kind === 'ECDSA') {
      if (!key.curve) throw refused('ECDSA with an RSA key');
      const raw = ecdsaDerToRaw(signature, key.curve.fieldBytes);
      return raw !== undefined && ecdsaVerify(key.curve, privateScalar(key.privateKey), digest, raw);
    }
    if (!key.modulusBytes) throw refused(`${scheme.kind} with an EC key`);
    if (signature.length !== key.modulusBytes || Buffer.compare(signature, key.modulus!) >= 0) return false;
    try {
      if (scheme.kind === 'RSA_PKCS1_V1_5') {
        return publicDecrypt({ key: key.publicKey, padding: constants.RSA_PKCS1_PADDING }, signature).equals(digestInfo(scheme.hash, digest));
      }
      const block = publicDecrypt({ key: key.publicKey, padding: constants.RSA_NO_PADDING }, signature);
      const emBits = key.modulusBytes * 8 - 1;
      const em = Buffer.concat([Buffer.alloc(key.modulusBytes - block.length), block]).subarray(key.modulusBytes - Math.ceil(emBits / 8));
      return pssVerify(scheme.hash, digest, em, emBits);
    } catch {
      return false;
    }
  }

  private assertRunsEd25519(scheme: Ed25519Scheme): void {
    if (!this.ed25519Schemes.includes(scheme)) throw refused(`${scheme} is not among this token's Ed25519 schemes`);
  }

  /** Pure Ed25519 on node:crypto, which has no Ed25519ph: the fake refuses that even when a test lists it. */
  async signMessage(objectId: string, scheme: Ed25519Scheme, message: Buffer): Promise<Buffer> {
    this.assertRunsEd25519(scheme);
    checkMessage(message);
    const key = this.pair(objectId, 'SIGN_VERIFY');
    if (!key.edwards) throw refused('EdDSA with a key that is not Ed25519');
    if (scheme !== 'ED25519') throw refused('the fake has no Ed25519ph');
    return nodeSign(null, message, key.privateKey);
  }

  async verifyMessage(objectId: string, scheme: Ed25519Scheme, message: Buffer, signature: Buffer): Promise<boolean> {
    this.assertRunsEd25519(scheme);
    checkMessage(message);
    const key = this.pair(objectId, 'SIGN_VERIFY');
    if (!key.edwards) throw refused('EdDSA with a key that is not Ed25519');
    if (scheme !== 'ED25519') throw refused('the fake has no Ed25519ph');
    return signature.length === 64 && nodeVerify(null, message, key.publicKey, signature);
  }

  /** node:crypto decodes OAEP with any hash; how a real token does it is the adapter's business (pkcs11-oaep-choice.test.ts). */
  async rsaOaepDecrypt(objectId: string, hash: HashAlgorithm, ciphertext: Buffer): Promise<Buffer> {
    const key = this.pair(objectId, 'ENCRYPT_DECRYPT');
    if (ciphertext.length !== key.modulusBytes || Buffer.compare(ciphertext, key.modulus!) >= 0) throw invalidCiphertext();
    try {
      return privateDecrypt({ key: key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: nodeHash[hash] }, ciphertext);
    } catch {
      throw invalidCiphertext();
    }
  }

  /** The token's own RSA decryption, as the PKCS#11 adapter has it: native OAEP with SHA-1, or the bare primitive. */
  async rsaDecrypt(objectId: string, padding: { oaep: HashAlgorithm } | 'RAW', ciphertext: Buffer): Promise<Buffer> {
    if (padding !== 'RAW' && !this.nativeOaepHashes.includes(padding.oaep)) throw refused(`OAEP with ${padding.oaep} is not native`);
    const key = this.pair(objectId, 'ENCRYPT_DECRYPT');
    if (ciphertext.length !== key.modulusBytes || Buffer.compare(ciphertext, key.modulus!) >= 0) throw invalidCiphertext();
    if (padding === 'RAW') {
      const block = privateDecrypt({ key: key.privateKey, padding: constants.RSA_NO_PADDING }, ciphertext);
      return Buffer.concat([Buffer.alloc(key.modulusBytes - block.length), block]);
    }
    try {
      return privateDecrypt({ key: key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: nodeHash[padding.oaep] }, ciphertext);
    } catch {
      throw invalidCiphertext();
    }
  }

  async hmac(objectId: string, hash: HashAlgorithm, message: Buffer): Promise<Buffer> {
    checkMessage(message);
    return createHmac(nodeHash[hash], this.key(objectId, 'hmac').key).update(message).digest();
  }
  async verifyHmac(objectId: string, hash: HashAlgorithm, message: Buffer, mac: Buffer): Promise<boolean> {
    checkMessage(message);
    const expected = createHmac(nodeHash[hash], this.key(objectId, 'hmac').key).update(message).digest();
    return mac.length === expected.length && timingSafeEqual(mac, expected);
  }

  async deriveSharedSecret(objectId: string, peerPublicPoint: Buffer): Promise<Buffer> {
    const key = this.pair(objectId, 'KEY_AGREEMENT');
    const curve = key.curve!;
    const invalid = () => new KmsError('ValidationException', 'The public key is not valid for this key agreement.');
    if (peerPublicPoint.length !== 1 + 2 * curve.fieldBytes || peerPublicPoint[0] !== 0x04) throw invalid();
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: pointToJwk(curve, peerPublicPoint), format: 'jwk' });
    } catch {
      throw invalid();
    }
    return diffieHellman({ privateKey: key.privateKey, publicKey });
  }

  async generateDataKeyPair(spec: AsymmetricKeySpec): Promise<{ privateKeyPkcs8: Buffer; publicKeySpki: Buffer }> {
    if (spec === 'ECC_NIST_EDWARDS25519') this.assertRunsEd25519('ED25519');
    const { privateKey, publicKey } = generatePair(spec);
    return { privateKeyPkcs8: privateKey.export({ type: 'pkcs8', format: 'der' }), publicKeySpki: publicKey.export({ type: 'spki', format: 'der' }) };
  }

  async generateWrappingKeyPair(objectId: string, _label: string, spec: RsaWrappingKeySpec): Promise<Buffer> {
    const bits = Number(spec.slice('RSA_'.length));
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 65537 });
    this.keys.set(objectId, { kind: 'wrapping', privateKey, modulusBytes: bits / 8, modulus: Buffer.from(publicKey.export({ format: 'jwk' }).n!, 'base64url') });
    return publicKey.export({ type: 'spki', format: 'der' });
  }

  /** Everything on node:crypto: the fake has no token to keep the material in while it is checked. */
  async importKeyMaterial(request: KeyImportRequest): Promise<ImportedKeyMaterial> {
    const wrapping = this.key(request.wrappingKeyId, 'wrapping');
    const oaepHash = request.algorithm.endsWith('SHA_256') ? 'sha256' : 'sha1';
    const { rsaBlock, kwp } = request.algorithm.startsWith('RSA_AES_KEY_WRAP')
      ? splitRsaAesKeyWrap(request.encryptedMaterial, wrapping.modulusBytes)
      : { rsaBlock: request.encryptedMaterial, kwp: undefined };
    if (rsaBlock.length !== wrapping.modulusBytes || Buffer.compare(rsaBlock, wrapping.modulus) >= 0) throw invalidCiphertext();
    let opened: Buffer;
    try {
      opened = privateDecrypt({ key: wrapping.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, rsaBlock);
    } catch {
      throw invalidCiphertext();
    }
    let secret = opened;
    if (kwp) {
      try {
        secret = unwrapKwpOnHost(opened, kwp);
      } finally {
        opened.fill(0);
      }
    }
    try {
      const { material, target } = request;
      if (material.kind === 'PRIVATE_KEY') {
        const read = readPrivateKeyMaterial(secret, material.spec);
        if (target) {
          const privateKey = createPrivateKey({ key: read.jwk, format: 'jwk' });
          const publicKey = createPublicKey(privateKey);
          const curve = curves[material.spec];
          const modulusBytes = curve ? undefined : Number(material.spec.slice('RSA_'.length)) / 8;
          const modulus = modulusBytes ? Buffer.from(read.jwk.n!, 'base64url') : undefined;
          this.keys.set(target.objectId, { kind: 'pair', purpose: material.purpose, privateKey, publicKey, curve, modulusBytes, modulus });
        }
        return { checkValue: read.checkValue, publicKeySpki: read.publicKeySpki };
      }
      assertSecretLength(material, secret.length);
      let oneWay: Buffer;
      if (material.kind === 'AES') {
        const cipher = createCipheriv('aes-256-ecb', secret, null).setAutoPadding(false);
        oneWay = Buffer.concat([cipher.update(CHECK_VALUE_BLOCK), cipher.final()]);
      } else {
        oneWay = createHmac(nodeHash[material.hash], secret).update(CHECK_VALUE_BLOCK).digest();
      }
      if (target) this.keys.set(target.objectId, { kind: material.kind === 'AES' ? 'aes' : 'hmac', key: Buffer.from(secret) });
      return { checkValue: checkValueOf(oneWay) };
    } finally {
      secret.fill(0);
    }
  }

  async randomBytes(length: number): Promise<Buffer> {
    return randomBytes(length);
  }
  async isHealthy(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
}

function checkDigest(scheme: SignatureScheme, digest: Buffer): void {
  if (digest.length !== hashLength(scheme.hash)) throw new KmsError('ValidationException', 'Digest is invalid length for the signing algorithm.');
}

function checkMessage(message: Buffer): void {
  if (message.length === 0) throw new KmsError('ValidationException', 'The message must not be empty.');
}

/**
 * External keys on the fake token: the adapter's namespace and permission checks, and a health
 * check tests can make fail (`healthy`) or slow (`healthDelayMs`).
 */
export class FakeExternalKeys implements ExternalKeyCapability {
  healthy = true;
  healthDelayMs = 0;
  healthChecks = 0;
  description: KeyManagerDescription = { id: 'fake-token-1', vendor: 'hsm-kms tests', model: 'FakeToken on node:crypto' };

  constructor(private readonly token: FakeToken) {}

  private inNamespace(objectId: string): string {
    if (!/^78[0-9a-f]{64}$/.test(objectId)) throw new KmsError('KMSInternalException', messages.internal, `'${objectId}' is not an external key object id`);
    return objectId;
  }

  async generateExternalKey(_label: string, permissions: ExternalKeyPermissions): Promise<string> {
    const objectId = `78${randomBytes(32).toString('hex')}`;
    this.token.keys.set(objectId, { kind: 'aes', key: randomBytes(32), permissions: { ...permissions } });
    return objectId;
  }
  async destroyExternalKey(objectId: string): Promise<boolean> {
    return this.token.keys.delete(this.inNamespace(objectId));
  }
  async encrypt(objectId: string, aad: Buffer, plaintext: Buffer): Promise<AesGcmSealed> {
    return this.token.encrypt(this.inNamespace(objectId), aad, plaintext);
  }
  async decrypt(objectId: string, aad: Buffer, sealed: AesGcmSealed): Promise<Buffer> {
    try {
      return await this.token.decrypt(this.inNamespace(objectId), aad, sealed);
    } catch (e) {
      if (e instanceof KmsError && e.code === 'InvalidCiphertextException' && !this.healthy) throw new KmsError('KMSInternalException', messages.internal, 'token failing');
      throw e;
    }
  }
  async checkHealth(): Promise<void> {
    this.healthChecks++;
    if (this.healthDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.healthDelayMs));
    if (!this.healthy) throw new KmsError('KMSInternalException', messages.internal, 'token failing');
  }
  describe(): KeyManagerDescription {
    return this.description;
  }
}

/** A key store registry whose default store is `token`. */
export function fakeKeyStores(token = new FakeToken()): KeyStoreRegistry {
  return new KeyStoreRegistry(token);
}
