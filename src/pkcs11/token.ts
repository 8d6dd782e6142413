// KeyToken over PKCS#11: the core's view of one token. All crypto runs in the token through
// pkcs11js *Async calls, so HSM work happens on libuv threads, off the event loop. The host
// only shapes data around the token's primitives: DigestInfo, ECDSA r‖s ↔ DER, and public
// keys (SPKI) and handed-out private keys (PKCS#8) encoded by node:crypto from JWKs.
import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { endianness } from 'node:os';
import * as pkcs11js from 'pkcs11js';
import { KmsError, messages } from '../core/errors';
import type {
  AesGcmSealed, AsymmetricKeySpec, HashAlgorithm, KeyPairPurpose, KeyToken, SignatureScheme, TokenCapabilities,
} from '../core/ports';
import { digestInfo, ecdsaDerToRaw, ecdsaRawToDer, ecPointFromAttribute, leftPad } from './asn1';
import { ckrName, toKmsError } from './errors';
import {
  aesGcm, aesKeyGen, curveByParams, ecdh1, GCM_IV_BYTES, GCM_TAG_BYTES, genericSecretKeyGen, hashes, hmac,
  keyPairAlgorithms, keyPairGen, rsaOaep, rsaX509, signatureMechanism, type Curve, type KeyPairAlgorithm,
} from './mechanisms';
import { loadProfiles, selectProfile, type TokenProfile } from './profile';
import { TokenConnection, type ConnectionOptions } from './sessions';
import {
  dataKeyPairTemplates, findByIdTemplate, kmsKeyPairTemplates, secretKeyTemplate, sharedSecretTemplate, type ObjectClass,
} from './templates';

export interface Pkcs11TokenOptions extends ConnectionOptions {
  /** The id stored in BackingKeyRef.tokenId: "default" or a custom key store id. */
  tokenId: string;
  /** Force a profile by vendor name instead of matching the token's manufacturer. */
  profileVendor?: string;
  profileDir?: string;
}

/** A cached object handle and the public facts about its key that shape requests. */
interface TokenKey {
  handle: pkcs11js.Handle;
  /** RSA keys: the modulus, without leading zero bytes. */
  modulus?: Buffer;
  /** EC keys: the curve. */
  curve?: Curve;
}

const keyUnavailable = (detail: string) =>
  new KmsError('KeyUnavailableException', 'The request was rejected because the specified KMS key was not available.', detail);
const internal = (detail: string) => new KmsError('KMSInternalException', messages.internal, detail);
const invalidCiphertext = (detail: string) => new KmsError('InvalidCiphertextException', '', detail);

const b64u = (b: Buffer) => b.toString('base64url');

/** A CK_ULONG attribute value, in the platform's byte order. */
function ulong(value: Buffer): number {
  const le = endianness() === 'LE';
  if (value.length === 8) return Number(le ? value.readBigUInt64LE() : value.readBigUInt64BE());
  return le ? value.readUInt32LE() : value.readUInt32BE();
}

function stripLeadingZeros(value: Buffer): Buffer {
  let i = 0;
  while (i < value.length - 1 && value[i] === 0) i++;
  return value.subarray(i);
}

export class Pkcs11Token implements KeyToken {
  readonly capabilities: TokenCapabilities;
  /** `${class}:${objectId}` → handle and key facts, valid for one connection generation. */
  private handles = new Map<string, TokenKey>();
  private handlesGeneration = -1;

  private constructor(readonly id: string, readonly connection: TokenConnection, readonly profile: TokenProfile) {
    this.capabilities = Object.freeze({ vendor: profile.vendor, rsaOaepHashes: Object.freeze([...profile.rsaOaepHashes]) as HashAlgorithm[] });
  }

  static open(options: Pkcs11TokenOptions): Pkcs11Token {
    const connection = TokenConnection.open(options);
    const profile = selectProfile(loadProfiles(options.profileDir), connection.info, options.profileVendor);
    return new Pkcs11Token(options.tokenId, connection, profile);
  }

  private get lib(): pkcs11js.PKCS11 {
    return this.connection.lib;
  }

  async generateAesKey(objectId: string, label: string): Promise<void> {
    const template = secretKeyTemplate({ objectId, label, keyType: 'AES', valueLength: 32, usage: { encrypt: true, decrypt: true } });
    try {
      await this.connection.withSession(async (session) => {
        const handle = await this.lib.C_GenerateKeyAsync(session, aesKeyGen, template);
        this.remember(objectId, 'secret', { handle });
      });
    } catch (e) {
      throw toKmsError(e, 'generateAesKey');
    }
  }

  async generateHmacKey(objectId: string, label: string, lengthBytes: number): Promise<void> {
    if (!Number.isInteger(lengthBytes) || lengthBytes < 1) throw internal(`generateHmacKey: length ${lengthBytes}`);
    const template = secretKeyTemplate({ objectId, label, keyType: 'GENERIC_SECRET', valueLength: lengthBytes, usage: { sign: true, verify: true } });
    try {
      await this.connection.withSession(async (session) => {
        const handle = await this.lib.C_GenerateKeyAsync(session, genericSecretKeyGen, template);
        this.remember(objectId, 'secret', { handle });
      });
    } catch (e) {
      throw toKmsError(e, 'generateHmacKey');
    }
  }

  async generateKeyPair(objectId: string, label: string, spec: AsymmetricKeySpec, purpose: KeyPairPurpose): Promise<Buffer> {
    const algorithm = keyPairAlgorithms[spec];
    // Precondition: a key pair's purpose must fit its algorithm: RSA signs or decrypts, EC signs or agrees keys.
    if ((purpose === 'ENCRYPT_DECRYPT' && algorithm.kind !== 'RSA') || (purpose === 'KEY_AGREEMENT' && algorithm.kind !== 'EC')) {
      throw internal(`generateKeyPair: ${spec} cannot be used for ${purpose}`);
    }
    const templates = kmsKeyPairTemplates(objectId, label, algorithm, purpose);
    try {
      // Not retried after a reconnect: a second attempt could leave two pairs under one CKA_ID.
      return await this.connection.withSession(async (session) => {
        const pair = await this.lib.C_GenerateKeyPairAsync(session, keyPairGen(algorithm), templates.publicKey, templates.privateKey);
        try {
          const { spki, modulus } = this.readPublicKey(session, pair.publicKey, algorithm);
          const facts = algorithm.kind === 'RSA' ? { modulus } : { curve: algorithm.curve };
          this.remember(objectId, 'private', { handle: pair.privateKey, ...facts });
          this.remember(objectId, 'public', { handle: pair.publicKey, ...facts });
          return spki;
        } catch (e) {
          this.destroyQuietly(session, pair.privateKey);
          this.destroyQuietly(session, pair.publicKey);
          this.forget(objectId);
          throw e;
        }
      });
    } catch (e) {
      throw toKmsError(e, 'generateKeyPair');
    }
  }

  async destroyKey(objectId: string): Promise<boolean> {
    try {
      return await this.connection.withSession(async (session) => {
        // Every object under the CKA_ID: a secret key, or both halves of a pair.
        const found = this.findAll(session, objectId);
        for (const handle of found) this.lib.C_DestroyObject(session, handle);
        this.forget(objectId);
        return found.length > 0;
      }, true);
    } catch (e) {
      throw toKmsError(e, 'destroyKey');
    }
  }

  async hasKey(objectId: string): Promise<boolean> {
    try {
      return await this.connection.withSession(async (session) => this.findAll(session, objectId).length > 0, true);
    } catch (e) {
      throw toKmsError(e, 'hasKey');
    }
  }

  async aesGcmEncrypt(objectId: string, aad: Buffer, plaintext: Buffer): Promise<AesGcmSealed> {
    return this.withKey('aesGcmEncrypt', objectId, 'secret', async (session, key) => {
      // IVs come from the token's RNG: SoftHSM 2.6 (profile generatesGcmIv=false) cannot make
      // them, and a random 96-bit IV per message is safe for any token.
      const iv = Buffer.from(this.lib.C_GenerateRandom(session, Buffer.alloc(GCM_IV_BYTES)));
      this.lib.C_EncryptInit(session, aesGcm(this.profile, iv, aad), key.handle);
      const out = await this.lib.C_EncryptAsync(session, plaintext, Buffer.alloc(plaintext.length + GCM_TAG_BYTES));
      return {
        iv,
        ciphertext: Buffer.from(out.subarray(0, out.length - GCM_TAG_BYTES)),
        tag: Buffer.from(out.subarray(out.length - GCM_TAG_BYTES)),
      };
    });
  }

  async aesGcmDecrypt(objectId: string, aad: Buffer, sealed: AesGcmSealed): Promise<Buffer> {
    return this.withKey('aesGcmDecrypt', objectId, 'secret', async (session, key) => {
      this.lib.C_DecryptInit(session, aesGcm(this.profile, sealed.iv, aad), key.handle);
      const input = Buffer.concat([sealed.ciphertext, sealed.tag]);
      try {
        return Buffer.from(await this.lib.C_DecryptAsync(session, input, Buffer.alloc(input.length)));
      } catch (e) {
        // Precondition: a GCM tag that does not verify is reported as InvalidCiphertextException.
        if (this.profile.gcmAuthFailureCodes.includes(ckrName(e) ?? '')) throw invalidCiphertext(`GCM authentication failed (${ckrName(e)})`);
        throw e;
      }
    });
  }

  async signDigest(objectId: string, scheme: SignatureScheme, digest: Buffer): Promise<Buffer> {
    checkDigest(scheme, digest);
    return this.withKey('signDigest', objectId, 'private', async (session, key) => {
      const { input, signatureBytes, curve } = signatureInput(scheme, key, digest);
      this.lib.C_SignInit(session, signatureMechanism(scheme), key.handle);
      const out = await this.lib.C_SignAsync(session, input, Buffer.alloc(signatureBytes));
      // AWS returns ECDSA signatures DER-encoded; PKCS#11 gives r‖s.
      return curve ? ecdsaRawToDer(out, curve.fieldBytes) : Buffer.from(out);
    });
  }

  async verifyDigest(objectId: string, scheme: SignatureScheme, digest: Buffer, signature: Buffer): Promise<boolean> {
    checkDigest(scheme, digest);
    return this.withKey('verifyDigest', objectId, 'public', async (session, key) => {
      const { input, signatureBytes, curve } = signatureInput(scheme, key, digest);
      // A signature that cannot be well formed cannot verify: answer false without the token.
      const raw = curve ? ecdsaDerToRaw(signature, curve.fieldBytes) : signature;
      if (!raw || raw.length !== signatureBytes) return false;
      this.lib.C_VerifyInit(session, signatureMechanism(scheme), key.handle);
      try {
        return await this.lib.C_VerifyAsync(session, input, raw);
      } catch (e) {
        const name = ckrName(e);
        if (name === 'CKR_SIGNATURE_INVALID' || name === 'CKR_SIGNATURE_LEN_RANGE') return false;
        throw e;
      }
    });
  }

  async rsaDecrypt(objectId: string, padding: { oaep: HashAlgorithm } | 'RAW', ciphertext: Buffer): Promise<Buffer> {
    // Precondition: OAEP runs natively only with a hash the token profile lists.
    // (The core asks for RAW and decodes on the host otherwise.)
    if (padding !== 'RAW' && !this.capabilities.rsaOaepHashes.includes(padding.oaep)) {
      throw internal(`rsaDecrypt: OAEP with ${padding.oaep} is not native on ${this.profile.vendor}; use RAW and decode on the host`);
    }
    return this.withKey('rsaDecrypt', objectId, 'private', async (session, key) => {
      const modulus = key.modulus;
      if (!modulus) throw internal('rsaDecrypt: not an RSA key');
      // Precondition: an RSA ciphertext must be modulus-length and below the modulus.
      // (Public facts only; tokens report these cases ambiguously, SoftHSM as CKR_GENERAL_ERROR.)
      if (ciphertext.length !== modulus.length || Buffer.compare(ciphertext, modulus) >= 0) {
        throw invalidCiphertext('RSA ciphertext length or range');
      }
      this.lib.C_DecryptInit(session, padding === 'RAW' ? rsaX509 : rsaOaep(padding.oaep), key.handle);
      try {
        const out = await this.lib.C_DecryptAsync(session, ciphertext, Buffer.alloc(modulus.length));
        return padding === 'RAW' ? leftPad(out, modulus.length) : out;
      } catch (e) {
        // Precondition: an OAEP padding that does not check is reported as InvalidCiphertextException.
        if (padding !== 'RAW' && this.profile.rsaOaepFailureCodes.includes(ckrName(e) ?? '')) throw invalidCiphertext(`OAEP decoding failed (${ckrName(e)})`);
        throw e;
      }
    });
  }

  async hmac(objectId: string, hash: HashAlgorithm, message: Buffer): Promise<Buffer> {
    checkMessage(message);
    return this.withKey('hmac', objectId, 'secret', async (session, key) => {
      this.lib.C_SignInit(session, hmac(hash), key.handle);
      return Buffer.from(await this.lib.C_SignAsync(session, message, Buffer.alloc(hashes[hash].bytes)));
    });
  }

  async verifyHmac(objectId: string, hash: HashAlgorithm, message: Buffer, mac: Buffer): Promise<boolean> {
    checkMessage(message);
    return this.withKey('verifyHmac', objectId, 'secret', async (session, key) => {
      if (mac.length !== hashes[hash].bytes) return false;
      this.lib.C_VerifyInit(session, hmac(hash), key.handle);
      try {
        return await this.lib.C_VerifyAsync(session, message, mac);
      } catch (e) {
        const name = ckrName(e);
        if (name === 'CKR_SIGNATURE_INVALID' || name === 'CKR_SIGNATURE_LEN_RANGE') return false;
        throw e;
      }
    });
  }

  async deriveSharedSecret(objectId: string, peerPublicPoint: Buffer): Promise<Buffer> {
    return this.withKey('deriveSharedSecret', objectId, 'private', async (session, key) => {
      const curve = key.curve;
      if (!curve) throw internal('deriveSharedSecret: not an EC key');
      // Precondition: the peer public key must be an uncompressed point on the curve of the key.
      // (Checked here too, so no token is ever shown an invalid-curve point.)
      checkPeerPoint(curve, peerPublicPoint);
      const secret = await this.lib.C_DeriveKeyAsync(session, ecdh1(peerPublicPoint), key.handle, sharedSecretTemplate(curve.fieldBytes));
      try {
        const [value] = this.lib.C_GetAttributeValue(session, secret, [{ type: pkcs11js.CKA_VALUE }]);
        const bytes = value!.value as Buffer;
        const result = Buffer.from(leftPad(bytes, curve.fieldBytes));
        bytes.fill(0);
        return result;
      } finally {
        this.destroyQuietly(session, secret);
      }
    });
  }

  async generateDataKeyPair(spec: AsymmetricKeySpec): Promise<{ privateKeyPkcs8: Buffer; publicKeySpki: Buffer }> {
    const algorithm = keyPairAlgorithms[spec];
    const templates = dataKeyPairTemplates(algorithm);
    try {
      // Session objects only, so a retry after a reconnect leaves nothing behind.
      return await this.connection.withSession(async (session) => {
        const pair = await this.lib.C_GenerateKeyPairAsync(session, keyPairGen(algorithm), templates.publicKey, templates.privateKey);
        const secrets: Buffer[] = [];
        try {
          const privateKey = this.readPrivateKey(session, pair, algorithm, secrets);
          return {
            privateKeyPkcs8: privateKey.export({ type: 'pkcs8', format: 'der' }),
            publicKeySpki: createPublicKey(privateKey).export({ type: 'spki', format: 'der' }),
          };
        } finally {
          for (const b of secrets) b.fill(0);
          this.destroyQuietly(session, pair.privateKey);
          this.destroyQuietly(session, pair.publicKey);
        }
      }, true);
    } catch (e) {
      throw toKmsError(e, 'generateDataKeyPair');
    }
  }

  async randomBytes(length: number): Promise<Buffer> {
    try {
      return await this.connection.withSession(async (session) => Buffer.from(this.lib.C_GenerateRandom(session, Buffer.alloc(length))), true);
    } catch (e) {
      throw toKmsError(e, 'randomBytes');
    }
  }

  async isHealthy(): Promise<boolean> {
    try {
      await this.connection.withSession(async (session) => this.lib.C_GetSessionInfo(session), true);
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.connection.close();
  }

  /**
   * Runs `fn` with a session and the object of `objectClass` under `objectId`. Safe to repeat,
   * so retried once after a reconnect. Every failure leaves as a KmsError.
   */
  private async withKey<T>(operation: string, objectId: string, objectClass: ObjectClass, fn: (session: pkcs11js.Handle, key: TokenKey) => Promise<T>): Promise<T> {
    try {
      return await this.connection.withSession(async (session) => fn(session, this.keyFor(session, objectId, objectClass)), true);
    } catch (e) {
      this.forgetStaleHandle(e, objectId);
      throw toKmsError(e, operation);
    }
  }

  /** The public key as DER SubjectPublicKeyInfo, built by node:crypto from the token's components. */
  private readPublicKey(session: pkcs11js.Handle, handle: pkcs11js.Handle, algorithm: KeyPairAlgorithm): { spki: Buffer; modulus?: Buffer } {
    let jwk: JsonWebKey;
    let modulus: Buffer | undefined;
    if (algorithm.kind === 'RSA') {
      const [n, e] = this.lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_MODULUS }, { type: pkcs11js.CKA_PUBLIC_EXPONENT }]).map((a) => a.value as Buffer);
      modulus = Buffer.from(stripLeadingZeros(n!));
      jwk = { kty: 'RSA', n: b64u(modulus), e: b64u(stripLeadingZeros(e!)) };
    } else {
      jwk = ecJwk(algorithm.curve, this.readEcPoint(session, handle, algorithm.curve));
    }
    return { spki: createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'der' }), modulus };
  }

  private readEcPoint(session: pkcs11js.Handle, handle: pkcs11js.Handle, curve: Curve): Buffer {
    const [point] = this.lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_EC_POINT }]);
    return ecPointFromAttribute(point!.value as Buffer, curve.fieldBytes);
  }

  /** A handed-out key pair's private key; every secret component read is pushed onto `secrets` for zeroing. */
  private readPrivateKey(session: pkcs11js.Handle, pair: pkcs11js.KeyPair, algorithm: KeyPairAlgorithm, secrets: Buffer[]): KeyObject {
    if (algorithm.kind === 'RSA') {
      const types = [
        pkcs11js.CKA_MODULUS, pkcs11js.CKA_PUBLIC_EXPONENT, pkcs11js.CKA_PRIVATE_EXPONENT, pkcs11js.CKA_PRIME_1,
        pkcs11js.CKA_PRIME_2, pkcs11js.CKA_EXPONENT_1, pkcs11js.CKA_EXPONENT_2, pkcs11js.CKA_COEFFICIENT,
      ];
      const values = this.lib.C_GetAttributeValue(session, pair.privateKey, types.map((type) => ({ type }))).map((a) => a.value as Buffer);
      secrets.push(...values);
      const [n, e, d, p, q, dp, dq, qi] = values.map((v) => b64u(stripLeadingZeros(v)));
      return createPrivateKey({ key: { kty: 'RSA', n, e, d, p, q, dp, dq, qi }, format: 'jwk' });
    }
    const { curve } = algorithm;
    const [value] = this.lib.C_GetAttributeValue(session, pair.privateKey, [{ type: pkcs11js.CKA_VALUE }]);
    const raw = value!.value as Buffer;
    const d = leftPad(raw, curve.fieldBytes);
    secrets.push(raw, d);
    // The private object has no CKA_EC_POINT on every token; the public half does.
    const point = this.readEcPoint(session, pair.publicKey, curve);
    return createPrivateKey({ key: { ...ecJwk(curve, point), d: b64u(d) }, format: 'jwk' });
  }

  private destroyQuietly(session: pkcs11js.Handle, handle: pkcs11js.Handle): void {
    try {
      this.lib.C_DestroyObject(session, handle);
    } catch {
      // A session object dies with its session at the latest.
    }
  }

  /** Another process may have destroyed the object; look it up afresh next time. */
  private forgetStaleHandle(error: unknown, objectId: string): void {
    const name = ckrName(error);
    if (name === 'CKR_OBJECT_HANDLE_INVALID' || name === 'CKR_KEY_HANDLE_INVALID') this.forget(objectId);
  }

  private forget(objectId: string): void {
    for (const objectClass of ['secret', 'private', 'public'] as const) this.handles.delete(`${objectClass}:${objectId}`);
  }

  private remember(objectId: string, objectClass: ObjectClass, key: TokenKey): void {
    this.syncGeneration();
    this.handles.set(`${objectClass}:${objectId}`, key);
  }

  private syncGeneration(): void {
    if (this.handlesGeneration !== this.connection.generation) {
      this.handles.clear();
      this.handlesGeneration = this.connection.generation;
    }
  }

  private keyFor(session: pkcs11js.Handle, objectId: string, objectClass: ObjectClass): TokenKey {
    this.syncGeneration();
    const cached = this.handles.get(`${objectClass}:${objectId}`);
    if (cached) return cached;
    const [handle] = this.findAll(session, objectId, objectClass);
    if (handle === undefined) throw keyUnavailable(`no ${objectClass} key object with CKA_ID ${objectId}`);
    const key: TokenKey = { handle };
    if (objectClass !== 'secret') {
      const [keyType] = this.lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_KEY_TYPE }]);
      const type = ulong(keyType!.value as Buffer);
      if (type === pkcs11js.CKK_RSA) {
        const [n] = this.lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_MODULUS }]);
        key.modulus = Buffer.from(stripLeadingZeros(n!.value as Buffer));
      } else if (type === pkcs11js.CKK_EC) {
        const [params] = this.lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_EC_PARAMS }]);
        key.curve = curveByParams(params!.value as Buffer);
        if (!key.curve) throw internal(`key ${objectId} is on an unsupported curve`);
      }
    }
    this.handles.set(`${objectClass}:${objectId}`, key);
    return key;
  }

  private findAll(session: pkcs11js.Handle, objectId: string, objectClass?: ObjectClass): pkcs11js.Handle[] {
    this.lib.C_FindObjectsInit(session, findByIdTemplate(objectId, objectClass));
    try {
      return this.lib.C_FindObjects(session, 16);
    } finally {
      this.lib.C_FindObjectsFinal(session);
    }
  }
}

function ecJwk(curve: Curve, point: Buffer): JsonWebKey {
  const f = curve.fieldBytes;
  return { kty: 'EC', crv: curve.jwk, x: b64u(point.subarray(1, 1 + f)), y: b64u(point.subarray(1 + f)) };
}

function checkDigest(scheme: SignatureScheme, digest: Buffer): void {
  // Precondition: a digest must be as long as the hash of the signing algorithm.
  if (digest.length !== hashes[scheme.hash].bytes) {
    const algorithm = `${{ RSA_PKCS1_V1_5: 'RSASSA_PKCS1_V1_5', RSA_PSS: 'RSASSA_PSS', ECDSA: 'ECDSA' }[scheme.kind]}_${scheme.hash}`;
    throw new KmsError('ValidationException', `Digest is invalid length for algorithm ${algorithm}.`, `digest of ${digest.length} bytes`);
  }
}

function checkMessage(message: Buffer): void {
  // Precondition: a MAC message must not be empty.
  // (SoftHSM fails empty input with CKR_ARGUMENTS_BAD and leaves the operation active.)
  if (message.length === 0) throw new KmsError('ValidationException', 'The message must not be empty.', 'empty MAC message');
}

function checkPeerPoint(curve: Curve, point: Buffer): void {
  const invalid = () => new KmsError('ValidationException', 'The public key is not valid for this key agreement.', `peer point on ${curve.jwk}`);
  if (point.length !== 1 + 2 * curve.fieldBytes || point[0] !== 0x04) throw invalid();
  try {
    // node:crypto refuses coordinates that are not on the curve.
    createPublicKey({ key: ecJwk(curve, point), format: 'jwk' });
  } catch {
    throw invalid();
  }
}

/** What the token signs or verifies for `scheme`, and how long the signature is. */
function signatureInput(scheme: SignatureScheme, key: TokenKey, digest: Buffer): { input: Buffer; signatureBytes: number; curve?: Curve } {
  if (scheme.kind === 'ECDSA') {
    if (!key.curve) throw internal('ECDSA with a key that is not EC');
    return { input: digest, signatureBytes: 2 * key.curve.fieldBytes, curve: key.curve };
  }
  if (!key.modulus) throw internal(`${scheme.kind} with a key that is not RSA`);
  return { input: scheme.kind === 'RSA_PKCS1_V1_5' ? digestInfo(scheme.hash, digest) : digest, signatureBytes: key.modulus.length };
}
