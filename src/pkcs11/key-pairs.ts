// Key pairs in the token: RSA, EC and Ed25519 keys generated there, signatures over digests
// (RSA, ECDSA) and over messages (EdDSA, where the profile says the token runs it), RSA-OAEP
// decryption (native where the profile lists the hash, otherwise the raw primitive in the
// token and constant-time decoding on the host), ECDH, and data key pairs handed out.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import * as pkcs11js from 'pkcs11js';
import { KmsError } from '../core/errors';
import type { AsymmetricKeySpec, Ed25519Scheme, HashAlgorithm, KeyPairCapability, KeyPairPurpose, SignatureScheme } from '../core/key-stores/port';
import { digestInfo, ecdsaDerToRaw, ecdsaRawToDer, leftPad } from './asn1';
import { ckrName, toKmsError } from './errors';
import { ecdh1, eddsa, hashes, keyPairAlgorithms, keyPairGen, rsaOaep, rsaX509, signatureMechanism, type Curve, type KeyPairAlgorithm } from './mechanisms';
import { decodeOaep } from './oaep';
import { dataKeyPairTemplates, kmsKeyPairTemplates, sharedSecretTemplate } from './templates';
import { b64u, ecJwk, edwardsJwk, internal, invalidCiphertext, stripLeadingZeros, type TokenKey, TokenMechanism } from './token-objects';

/** Ed25519 signatures are R‖S, 64 bytes. */
const ED25519_SIGNATURE_BYTES = 64;

export class TokenKeyPairs extends TokenMechanism implements KeyPairCapability {
  get ed25519Schemes(): readonly Ed25519Scheme[] {
    if (!this.profile.eddsa) return [];
    return this.profile.eddsaPrehash ? ['ED25519', 'ED25519_PH'] : ['ED25519'];
  }

  async generateKeyPair(objectId: string, label: string, spec: AsymmetricKeySpec, purpose: KeyPairPurpose): Promise<Buffer> {
    const algorithm = keyPairAlgorithms[spec];
    // Precondition: a key pair's purpose must fit its algorithm: RSA signs or decrypts, EC signs or agrees keys, Ed25519 only signs.
    if ((purpose === 'ENCRYPT_DECRYPT' && algorithm.kind !== 'RSA') || (purpose === 'KEY_AGREEMENT' && algorithm.kind !== 'EC') || (purpose !== 'SIGN_VERIFY' && algorithm.kind === 'EDWARDS')) {
      throw internal(`generateKeyPair: ${spec} cannot be used for ${purpose}`);
    }
    if (algorithm.kind === 'EDWARDS') this.assertRunsEd25519('ED25519', 'generateKeyPair');
    return this.objects.generatePair('generateKeyPair', objectId, algorithm, kmsKeyPairTemplates(objectId, label, algorithm, purpose));
  }

  /** The token's EdDSA, as its capability profile allows: never a host-side substitute. */
  private assertRunsEd25519(scheme: Ed25519Scheme, operation: string): void {
    // Precondition: the token runs an Ed25519 scheme only where its capability profile says it can.
    if (!this.ed25519Schemes.includes(scheme)) throw internal(`${operation}: profile '${this.profile.vendor}' does not run ${scheme} in the token`);
  }

  async publicKey(objectId: string): Promise<Buffer | undefined> {
    try {
      return await this.objects.withKey('publicKey', objectId, 'public', async (session, key) =>
        this.objects.readPublicKey(session, key.handle, publicKeyAlgorithm(key)).spki);
    } catch (e) {
      // withKey has already told a missing object from a token outage: only the former is an answer.
      if (e instanceof KmsError && e.code === 'KeyUnavailableException' && /no public key object/.test(e.detail ?? '')) return undefined;
      throw e;
    }
  }

  async signDigest(objectId: string, scheme: SignatureScheme, digest: Buffer): Promise<Buffer> {
    checkDigest(scheme, digest);
    return this.objects.withKey('signDigest', objectId, 'private', async (session, key) => {
      const { input, signatureBytes, curve } = signatureInput(scheme, key, digest);
      this.lib.C_SignInit(session, signatureMechanism(scheme), key.handle);
      const output = Buffer.alloc(signatureBytes);
      const out = curve && this.synchronous('ECDSA') ? this.lib.C_Sign(session, input, output) : await this.lib.C_SignAsync(session, input, output);
      // AWS returns ECDSA signatures DER-encoded; PKCS#11 gives r‖s.
      return curve ? ecdsaRawToDer(out, curve.fieldBytes) : Buffer.from(out);
    });
  }

  async verifyDigest(objectId: string, scheme: SignatureScheme, digest: Buffer, signature: Buffer): Promise<boolean> {
    checkDigest(scheme, digest);
    return this.objects.withKey('verifyDigest', objectId, 'public', async (session, key) => {
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

  async signMessage(objectId: string, scheme: Ed25519Scheme, message: Buffer): Promise<Buffer> {
    this.assertRunsEd25519(scheme, 'signMessage');
    checkMessage(message);
    return this.objects.withKey('signMessage', objectId, 'private', async (session, key) => {
      if (!key.edwardsCurve) throw internal('EdDSA with a key that is not an Edwards key');
      this.lib.C_SignInit(session, eddsa(scheme), key.handle);
      // Single-part only: SoftHSM 2.6 has no multi-part EdDSA.
      return Buffer.from(await this.lib.C_SignAsync(session, message, Buffer.alloc(ED25519_SIGNATURE_BYTES)));
    });
  }

  async verifyMessage(objectId: string, scheme: Ed25519Scheme, message: Buffer, signature: Buffer): Promise<boolean> {
    this.assertRunsEd25519(scheme, 'verifyMessage');
    checkMessage(message);
    return this.objects.withKey('verifyMessage', objectId, 'public', async (session, key) => {
      if (!key.edwardsCurve) throw internal('EdDSA with a key that is not an Edwards key');
      // A signature of the wrong length cannot verify: answer false without the token.
      if (signature.length !== ED25519_SIGNATURE_BYTES) return false;
      this.lib.C_VerifyInit(session, eddsa(scheme), key.handle);
      try {
        return await this.lib.C_VerifyAsync(session, message, signature);
      } catch (e) {
        const name = ckrName(e);
        if (name === 'CKR_SIGNATURE_INVALID' || name === 'CKR_SIGNATURE_LEN_RANGE') return false;
        throw e;
      }
    });
  }

  async rsaOaepDecrypt(objectId: string, hash: HashAlgorithm, ciphertext: Buffer): Promise<Buffer> {
    if (this.profile.rsaOaepHashes.includes(hash)) return this.rsaDecrypt(objectId, { oaep: hash }, ciphertext);
    const block = await this.rsaDecrypt(objectId, 'RAW', ciphertext);
    try {
      // RAW output is left-padded to the modulus length, so its length is the modulus's.
      return decodeOaep(block, hash, block.length);
    } finally {
      block.fill(0);
    }
  }

  /** The token's RSA decryption itself: native OAEP with a hash the profile lists, or the bare primitive ('RAW'). */
  async rsaDecrypt(objectId: string, padding: { oaep: HashAlgorithm } | 'RAW', ciphertext: Buffer): Promise<Buffer> {
    // Precondition: OAEP runs natively only with a hash the token profile lists.
    // (The core asks for RAW and decodes on the host otherwise.)
    if (padding !== 'RAW' && !this.profile.rsaOaepHashes.includes(padding.oaep)) {
      throw internal(`rsaDecrypt: OAEP with ${padding.oaep} is not native on ${this.profile.vendor}; use RAW and decode on the host`);
    }
    return this.objects.withKey('rsaDecrypt', objectId, 'private', async (session, key) => {
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

  async deriveSharedSecret(objectId: string, peerPublicPoint: Buffer): Promise<Buffer> {
    return this.objects.withKey('deriveSharedSecret', objectId, 'private', async (session, key) => {
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
        this.objects.destroyQuietly(session, secret);
      }
    });
  }

  async generateDataKeyPair(spec: AsymmetricKeySpec): Promise<{ privateKeyPkcs8: Buffer; publicKeySpki: Buffer }> {
    const algorithm = keyPairAlgorithms[spec];
    if (algorithm.kind === 'EDWARDS') this.assertRunsEd25519('ED25519', 'generateDataKeyPair');
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
          this.objects.destroyQuietly(session, pair.privateKey);
          this.objects.destroyQuietly(session, pair.publicKey);
        }
      }, true);
    } catch (e) {
      throw toKmsError(e, 'generateDataKeyPair');
    }
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
    if (algorithm.kind === 'EDWARDS') {
      // CKA_VALUE of an Edwards private key is the RFC 8032 private key (the 32-byte seed).
      const [value] = this.lib.C_GetAttributeValue(session, pair.privateKey, [{ type: pkcs11js.CKA_VALUE }]);
      const seed = value!.value as Buffer;
      secrets.push(seed);
      if (seed.length !== algorithm.curve.keyBytes) throw internal(`generateDataKeyPair: an Edwards private key of ${seed.length} bytes`);
      const publicKey = this.objects.readEdwardsPoint(session, pair.publicKey, algorithm.curve);
      return createPrivateKey({ key: { ...edwardsJwk(algorithm.curve, publicKey), d: b64u(seed) }, format: 'jwk' });
    }
    const { curve } = algorithm;
    const [value] = this.lib.C_GetAttributeValue(session, pair.privateKey, [{ type: pkcs11js.CKA_VALUE }]);
    const raw = value!.value as Buffer;
    const d = leftPad(raw, curve.fieldBytes);
    secrets.push(raw, d);
    // The private object has no CKA_EC_POINT on every token; the public half does.
    const point = this.objects.readEcPoint(session, pair.publicKey, curve);
    return createPrivateKey({ key: { ...ecJwk(curve, point), d: b64u(d) }, format: 'jwk' });
  }
}

function checkDigest(scheme: SignatureScheme, digest: Buffer): void {
  // Precondition: a digest must be as long as the hash of the signing algorithm.
  if (digest.length !== hashes[scheme.hash].bytes) {
    const algorithm = `${{ RSA_PKCS1_V1_5: 'RSASSA_PKCS1_V1_5', RSA_PSS: 'RSASSA_PSS', ECDSA: 'ECDSA' }[scheme.kind]}_${scheme.hash}`;
    throw new KmsError('ValidationException', `Digest is invalid length for algorithm ${algorithm}.`, `digest of ${digest.length} bytes`);
  }
}

function checkMessage(message: Buffer): void {
  // Precondition: a message to sign or verify with EdDSA must not be empty.
  // (SoftHSM fails empty input with CKR_ARGUMENTS_BAD and leaves the operation active.)
  if (message.length === 0) throw new KmsError('ValidationException', 'The message must not be empty.', 'empty EdDSA message');
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

/** The algorithm readPublicKey needs, from the facts keyFor learnt about the object. */
function publicKeyAlgorithm(key: TokenKey): KeyPairAlgorithm {
  if (key.curve) return { kind: 'EC', curve: key.curve };
  if (key.edwardsCurve) return { kind: 'EDWARDS', curve: key.edwardsCurve };
  if (key.modulus) return { kind: 'RSA', bits: key.modulus.length * 8 };
  throw internal('publicKey: the object is neither an RSA, an EC nor an Edwards key');
}
