// KeyToken over PKCS#11: the core's view of one token. All crypto runs in the token through
// pkcs11js *Async calls, so HSM work happens on libuv threads, off the event loop. The host
// only shapes data around the token's primitives: DigestInfo, ECDSA r‖s ↔ DER, and public
// keys (SPKI) and handed-out private keys (PKCS#8) encoded by node:crypto from JWKs.
import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { endianness } from 'node:os';
import * as pkcs11js from 'pkcs11js';
import { KmsError, messages } from '../core/errors';
import {
  assertSecretLength, CHECK_VALUE_BLOCK, checkValueOf, importMessages, IMPORT_KEK_BYTES, kwpPlaintextRange, readPrivateKeyMaterial,
  splitRsaAesKeyWrap, unwrapKwpOnHost,
} from '../core/import-material';
import { decodeOaep } from '../core/oaep';
import type {
  AesGcmSealed, AsymmetricKeySpec, HashAlgorithm, ImportedKeyMaterial, ImportedMaterialSpec, ImportWrappingAlgorithm, KeyImportRequest,
  KeyPairPurpose, KeyToken, RsaWrappingKeySpec, SignatureScheme, TokenCapabilities,
} from '../core/ports';
import { derOctetString, digestInfo, ecdsaDerToRaw, ecdsaRawToDer, ecPointFromAttribute, leftPad } from './asn1';
import { ckrName, toKmsError } from './errors';
import {
  aesEcb, aesGcm, aesKeyGen, aesKeyWrapPad, curveByParams, ecdh1, GCM_IV_BYTES, GCM_TAG_BYTES, genericSecretKeyGen, hashes, hmac,
  keyPairAlgorithms, keyPairGen, rsaOaep, rsaOaepUnwrap, rsaX509, signatureMechanism, type Curve, type KeyPairAlgorithm,
} from './mechanisms';
import { loadProfiles, selectProfile, type TokenProfile } from './profile';
import { TokenConnection, type ConnectionOptions } from './sessions';
import {
  dataKeyPairTemplates, findByIdTemplate, importedKeyPairTemplates, importedSecretTemplate, importKekTemplate, importStagingTemplate,
  kmsKeyPairTemplates, persistTemplate, secretKeyTemplate, sharedSecretTemplate, wrappingKeyPairTemplates, type KeyPairTemplates, type ObjectClass,
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
    return this.generatePair('generateKeyPair', objectId, algorithm, kmsKeyPairTemplates(objectId, label, algorithm, purpose));
  }

  async generateWrappingKeyPair(objectId: string, label: string, spec: RsaWrappingKeySpec): Promise<Buffer> {
    const algorithm = keyPairAlgorithms[spec];
    return this.generatePair('generateWrappingKeyPair', objectId, algorithm, wrappingKeyPairTemplates(objectId, label, algorithm));
  }

  private async generatePair(operation: string, objectId: string, algorithm: KeyPairAlgorithm, templates: KeyPairTemplates): Promise<Buffer> {
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
      throw toKmsError(e, operation);
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

  async importKeyMaterial(request: KeyImportRequest): Promise<ImportedKeyMaterial> {
    const hash = oaepHashOf(request.algorithm);
    try {
      // Not retried after a reconnect: a second attempt could leave two objects under one CKA_ID.
      return await this.connection.withSession(async (session) => {
        const wrappingKey = this.keyFor(session, request.wrappingKeyId, 'private');
        const modulus = wrappingKey.modulus;
        if (!modulus) throw internal('importKeyMaterial: the wrapping key is not RSA');
        const parts = request.algorithm.startsWith('RSA_AES_KEY_WRAP')
          ? splitRsaAesKeyWrap(request.encryptedMaterial, modulus.length)
          : { rsaBlock: request.encryptedMaterial, kwp: undefined };
        // Precondition: the RSA block of wrapped key material must be modulus-length and below the modulus.
        // (Public facts only, checked before the token sees the block, as for RSA decryption.)
        if (parts.rsaBlock.length !== modulus.length || Buffer.compare(parts.rsaBlock, modulus) >= 0) {
          throw invalidCiphertext('wrapped key material: RSA block length or range');
        }
        const plan = importPlan(this.profile, request.algorithm, request.material, parts.kwp?.length);
        const opened: Opened = { session, wrappingKey, hash, rsa: plan.rsa, rsaBlock: parts.rsaBlock };
        if (plan.material === 'token' && request.material.kind !== 'PRIVATE_KEY') {
          return await this.importInToken(opened, request.material, parts.kwp, request.target);
        }
        return await this.importOnHost(opened, request.material, parts.kwp, request.target);
      });
    } catch (e) {
      this.forgetStaleHandle(e, request.wrappingKeyId);
      throw toKmsError(e, 'importKeyMaterial');
    }
  }

  /**
   * Material that never leaves the token: unwrapped (with the AES key, for RSA-AES) into a
   * staging session object, checked there, then copied into the KMS key version.
   */
  private async importInToken(
    opened: Opened, material: Exclude<ImportedMaterialSpec, { kind: 'PRIVATE_KEY' }>, kwp: Buffer | undefined, target: KeyImportRequest['target'],
  ): Promise<ImportedKeyMaterial> {
    const { session } = opened;
    const keyType = material.kind === 'AES' ? 'AES' : 'GENERIC_SECRET';
    const staged: pkcs11js.Handle[] = [];
    try {
      let handle: pkcs11js.Handle;
      if (kwp) {
        const kek = await this.stageImportKek(opened);
        staged.push(kek);
        handle = await this.unwrapping(() => this.lib.C_UnwrapKeyAsync(session, aesKeyWrapPad, kek, kwp, importStagingTemplate(keyType)));
      } else {
        handle = await this.unwrapping(() => this.lib.C_UnwrapKeyAsync(session, rsaOaepUnwrap(opened.hash), opened.wrappingKey.handle, opened.rsaBlock, importStagingTemplate(keyType)));
      }
      staged.push(handle);
      if (this.profile.keyImport.unwrapReportsValueLen) {
        const [length] = this.lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_VALUE_LEN }]);
        assertSecretLength(material, ulong(length!.value as Buffer));
      }
      // Otherwise importPlan admitted only AES material whose KWP length leaves one AES key size,
      // the right one; the AES-ECB block of the check value fails for any other length.
      const checkValue = await this.secretCheckValue(session, handle, material);
      if (target) this.remember(target.objectId, 'secret', { handle: this.lib.C_CopyObject(session, handle, persistTemplate(target.objectId, target.label)) });
      return { checkValue };
    } finally {
      for (const handle of staged) this.destroyQuietly(session, handle);
    }
  }

  /** The AES key of an RSA-AES import as a staging object that only unwraps: unwrapped in the token, or opened on the host and created. */
  private async stageImportKek(opened: Opened): Promise<pkcs11js.Handle> {
    if (opened.rsa === 'unwrap') {
      return this.unwrapping(() => this.lib.C_UnwrapKeyAsync(opened.session, rsaOaepUnwrap(opened.hash), opened.wrappingKey.handle, opened.rsaBlock, importKekTemplate()));
    }
    const kek = await this.openRsaBlock(opened);
    try {
      if (kek.length !== IMPORT_KEK_BYTES) throw invalidCiphertext(`RSA-AES key of ${kek.length} bytes`);
      return this.lib.C_CreateObject(opened.session, importKekTemplate(kek));
    } finally {
      kek.fill(0);
    }
  }

  /** Material unpadded (and, for RSA-AES, unwrapped) on the host, then created in the token; every host copy is zeroed. */
  private async importOnHost(opened: Opened, material: ImportedMaterialSpec, kwp: Buffer | undefined, target: KeyImportRequest['target']): Promise<ImportedKeyMaterial> {
    const { session } = opened;
    let secret: Buffer;
    if (kwp) {
      const kek = await this.openRsaBlock(opened);
      try {
        secret = unwrapKwpOnHost(kek, kwp);
      } finally {
        kek.fill(0);
      }
    } else {
      secret = await this.openRsaBlock(opened);
    }
    try {
      if (material.kind === 'PRIVATE_KEY') return this.createImportedKeyPair(session, secret, material, target);
      assertSecretLength(material, secret.length);
      const handle = this.lib.C_CreateObject(session, importedSecretTemplate(material.kind === 'AES' ? 'AES' : 'GENERIC_SECRET', secret, target));
      let keep = false;
      try {
        const checkValue = await this.secretCheckValue(session, handle, material);
        keep = target !== undefined;
        if (target) this.remember(target.objectId, 'secret', { handle });
        return { checkValue };
      } finally {
        if (!keep) this.destroyQuietly(session, handle);
      }
    } finally {
      secret.fill(0);
    }
  }

  /** The content of the RSA block on the host: native OAEP where the profile lists the hash, else the raw primitive and constant-time decoding. */
  private async openRsaBlock(opened: Opened): Promise<Buffer> {
    const { session, wrappingKey, hash, rsaBlock } = opened;
    const modulusBytes = wrappingKey.modulus!.length;
    // The output buffers are zeroed once their content is copied out or decoded.
    const out = Buffer.alloc(modulusBytes);
    try {
      if (opened.rsa === 'decrypt') {
        this.lib.C_DecryptInit(session, rsaOaep(hash), wrappingKey.handle);
        try {
          return Buffer.from(await this.lib.C_DecryptAsync(session, rsaBlock, out));
        } catch (e) {
          if (this.profile.rsaOaepFailureCodes.includes(ckrName(e) ?? '')) throw invalidCiphertext(`wrapped key material: OAEP decoding failed (${ckrName(e)})`);
          throw e;
        }
      }
      this.lib.C_DecryptInit(session, rsaX509, wrappingKey.handle);
      const block = leftPad(await this.lib.C_DecryptAsync(session, rsaBlock, out), modulusBytes);
      try {
        return decodeOaep(block, hash, modulusBytes);
      } finally {
        block.fill(0);
      }
    } finally {
      out.fill(0);
    }
  }

  /** An imported private key and its public half as a KMS key pair; only the check value and public key without `target`. */
  private createImportedKeyPair(
    session: pkcs11js.Handle, pkcs8: Buffer, material: Extract<ImportedMaterialSpec, { kind: 'PRIVATE_KEY' }>, target: KeyImportRequest['target'],
  ): ImportedKeyMaterial {
    const read = readPrivateKeyMaterial(pkcs8, material.spec);
    const result = { checkValue: read.checkValue, publicKeySpki: read.publicKeySpki };
    if (!target) return result;
    const algorithm = keyPairAlgorithms[material.spec];
    const secrets: Buffer[] = [];
    try {
      const components = keyPairComponents(algorithm, read.jwk, secrets);
      const templates = importedKeyPairTemplates(target.objectId, target.label, algorithm, material.purpose, components);
      const privateKey = this.lib.C_CreateObject(session, templates.privateKey);
      let publicKey: pkcs11js.Handle;
      try {
        publicKey = this.lib.C_CreateObject(session, templates.publicKey);
      } catch (e) {
        this.destroyQuietly(session, privateKey);
        throw e;
      }
      const facts = algorithm.kind === 'RSA' ? { modulus: stripLeadingZeros(Buffer.from(read.jwk.n!, 'base64url')) } : { curve: algorithm.curve };
      this.remember(target.objectId, 'private', { handle: privateKey, ...facts });
      this.remember(target.objectId, 'public', { handle: publicKey, ...facts });
      return result;
    } finally {
      for (const b of secrets) b.fill(0);
    }
  }

  /** The check value of a secret key, from one AES-ECB block or HMAC computed with it in the token. */
  private async secretCheckValue(session: pkcs11js.Handle, handle: pkcs11js.Handle, material: Exclude<ImportedMaterialSpec, { kind: 'PRIVATE_KEY' }>): Promise<string> {
    const out = Buffer.alloc(material.kind === 'AES' ? 16 : hashes[material.hash].bytes);
    try {
      if (material.kind === 'AES') {
        this.lib.C_EncryptInit(session, aesEcb, handle);
        return checkValueOf(await this.lib.C_EncryptAsync(session, CHECK_VALUE_BLOCK, out));
      }
      this.lib.C_SignInit(session, hmac(material.hash), handle);
      return checkValueOf(await this.lib.C_SignAsync(session, CHECK_VALUE_BLOCK, out));
    } catch (e) {
      // Precondition: material unwrapped in the token must fit its mechanism, as only a key of the right length does.
      if (keyMisfitCodes.includes(ckrName(e) ?? '')) throw new KmsError('IncorrectKeyMaterialException', importMessages.wrongLength(material), `check value: ${ckrName(e)}`);
      throw e;
    } finally {
      out.fill(0);
    }
  }

  /** Runs a C_UnwrapKey; the profile's unwrap failure codes mean the material did not unwrap. */
  private async unwrapping(unwrap: () => Promise<pkcs11js.Handle>): Promise<pkcs11js.Handle> {
    try {
      return await unwrap();
    } catch (e) {
      if (this.profile.keyImport.unwrapFailureCodes.includes(ckrName(e) ?? '')) throw invalidCiphertext(`wrapped key material did not unwrap (${ckrName(e)})`);
      throw e;
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

/** What importKeyMaterial works with once the wrapping key is found. */
interface Opened {
  session: pkcs11js.Handle;
  wrappingKey: TokenKey;
  hash: HashAlgorithm;
  rsa: ImportPlan['rsa'];
  rsaBlock: Buffer;
}

/** CKR names meaning a key does not fit a mechanism: for imported AES material, a length AES does not take. */
const keyMisfitCodes = ['CKR_KEY_SIZE_RANGE', 'CKR_MECHANISM_INVALID', 'CKR_KEY_TYPE_INCONSISTENT', 'CKR_KEY_FUNCTION_NOT_PERMITTED'];

function oaepHashOf(algorithm: ImportWrappingAlgorithm): HashAlgorithm {
  return algorithm.endsWith('SHA_256') ? 'SHA_256' : 'SHA_1';
}

export interface ImportPlan {
  /**
   * How the RSA block is opened: 'unwrap' (C_UnwrapKey, its content stays in the token),
   * 'decrypt' (native OAEP in the token, content to the host) or 'raw' (CKM_RSA_X_509 in the
   * token, OAEP decoded on the host in constant time).
   */
  rsa: 'unwrap' | 'decrypt' | 'raw';
  /** Where the material is unwrapped: in the token, or on the host and then created with C_CreateObject. */
  material: 'token' | 'host';
}

const aesKeySizes = [16, 24, 32];

/**
 * The import path for a token profile, from its capabilities only. Material stays in the token
 * where the token can unwrap it and show its length (CKA_VALUE_LEN), or where AES-KWP's length
 * leaves a single AES key size. Private keys always pass the host: their public half is derived
 * and their PKCS #8 checked there.
 */
export function importPlan(profile: TokenProfile, algorithm: ImportWrappingAlgorithm, material: ImportedMaterialSpec, kwpLength?: number): ImportPlan {
  const hash = oaepHashOf(algorithm);
  const onHost: ImportPlan = { rsa: profile.rsaOaepHashes.includes(hash) ? 'decrypt' : 'raw', material: 'host' };
  if (material.kind === 'PRIVATE_KEY') return onHost;
  const { rsaOaepUnwrapHashes, aesKeyWrapPadUnwrap, unwrapReportsValueLen } = profile.keyImport;
  const unwrapsRsa = rsaOaepUnwrapHashes.includes(hash);
  if (kwpLength === undefined) return unwrapsRsa && unwrapReportsValueLen ? { rsa: 'unwrap', material: 'token' } : onHost;
  const range = kwpPlaintextRange(kwpLength);
  const sizes = aesKeySizes.filter((size) => size >= range.min && size <= range.max);
  const lengthShown = unwrapReportsValueLen || (material.kind === 'AES' && sizes.length === 1 && sizes[0] === material.bytes);
  return aesKeyWrapPadUnwrap && lengthShown ? { rsa: unwrapsRsa ? 'unwrap' : onHost.rsa, material: 'token' } : onHost;
}

/** C_CreateObject attributes of an imported key pair from its JWK; secret values are pushed onto `secrets` for zeroing. */
function keyPairComponents(algorithm: KeyPairAlgorithm, jwk: JsonWebKey, secrets: Buffer[]): KeyPairTemplates {
  const bytes = (value: string | undefined, secret: boolean) => {
    const b = Buffer.from(value ?? '', 'base64url');
    if (secret) secrets.push(b);
    return b;
  };
  if (algorithm.kind === 'RSA') {
    const n = bytes(jwk.n, false);
    const e = bytes(jwk.e, false);
    return {
      publicKey: [{ type: pkcs11js.CKA_MODULUS, value: n }, { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: e }],
      privateKey: [
        { type: pkcs11js.CKA_MODULUS, value: n }, { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: e },
        { type: pkcs11js.CKA_PRIVATE_EXPONENT, value: bytes(jwk.d, true) },
        { type: pkcs11js.CKA_PRIME_1, value: bytes(jwk.p, true) }, { type: pkcs11js.CKA_PRIME_2, value: bytes(jwk.q, true) },
        { type: pkcs11js.CKA_EXPONENT_1, value: bytes(jwk.dp, true) }, { type: pkcs11js.CKA_EXPONENT_2, value: bytes(jwk.dq, true) },
        { type: pkcs11js.CKA_COEFFICIENT, value: bytes(jwk.qi, true) },
      ],
    };
  }
  const { curve } = algorithm;
  const point = Buffer.concat([Buffer.from([0x04]), leftPad(bytes(jwk.x, false), curve.fieldBytes), leftPad(bytes(jwk.y, false), curve.fieldBytes)]);
  return {
    publicKey: [{ type: pkcs11js.CKA_EC_PARAMS, value: curve.params }, { type: pkcs11js.CKA_EC_POINT, value: derOctetString(point) }],
    privateKey: [{ type: pkcs11js.CKA_EC_PARAMS, value: curve.params }, { type: pkcs11js.CKA_VALUE, value: leftPad(bytes(jwk.d, true), curve.fieldBytes) }],
  };
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
