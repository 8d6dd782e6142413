// Key import into the token (BYOK): wrapping key pairs, and imported material unwrapped into
// the token where it can prove what it unwrapped, otherwise opened on the host (every copy
// zeroed) and created with C_CreateObject. Which path is a function of the profile alone.
import type { JsonWebKey } from 'node:crypto';
import * as pkcs11js from 'pkcs11js';
import { KmsError } from '../core/errors';
import type { HashAlgorithm, ImportedKeyMaterial, ImportedMaterialSpec, ImportWrappingAlgorithm, KeyImportCapability, KeyImportRequest, RsaWrappingKeySpec } from '../core/key-stores/port';
import { derOctetString, leftPad } from './asn1';
import { ckrName, toKmsError } from './errors';
import { assertSecretLength, CHECK_VALUE_BLOCK, checkValueOf, importMessages, IMPORT_KEK_BYTES, kwpPlaintextRange, readPrivateKeyMaterial, splitRsaAesKeyWrap, unwrapKwpOnHost } from './import-material';
import { aesEcb, aesKeyWrapPad, hashes, hmac, keyPairAlgorithms, rsaOaep, rsaOaepUnwrap, rsaX509, type KeyPairAlgorithm } from './mechanisms';
import { decodeOaep } from './oaep';
import type { TokenProfile } from './profile';
import { importedKeyPairTemplates, importedSecretTemplate, importKekTemplate, importStagingTemplate, persistTemplate, wrappingKeyPairTemplates, type KeyPairTemplates } from './templates';
import { internal, invalidCiphertext, stripLeadingZeros, ulong, type TokenKey, TokenMechanism } from './token-objects';

export class TokenKeyImport extends TokenMechanism implements KeyImportCapability {
  async generateWrappingKeyPair(objectId: string, label: string, spec: RsaWrappingKeySpec): Promise<Buffer> {
    const algorithm = keyPairAlgorithms[spec];
    return this.objects.generatePair('generateWrappingKeyPair', objectId, algorithm, wrappingKeyPairTemplates(objectId, label, algorithm));
  }

  async importKeyMaterial(request: KeyImportRequest): Promise<ImportedKeyMaterial> {
    const hash = oaepHashOf(request.algorithm);
    try {
      // Not retried after a reconnect: a second attempt could leave two objects under one CKA_ID.
      return await this.connection.withSession(async (session) => {
        const wrappingKey = this.objects.keyFor(session, request.wrappingKeyId, 'private');
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
      this.objects.forgetStaleHandle(e, request.wrappingKeyId);
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
      if (target) this.objects.remember(target.objectId, 'secret', { handle: this.lib.C_CopyObject(session, handle, persistTemplate(target.objectId, target.label)) });
      return { checkValue };
    } finally {
      for (const handle of staged) this.objects.destroyQuietly(session, handle);
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
        if (target) this.objects.remember(target.objectId, 'secret', { handle });
        return { checkValue };
      } finally {
        if (!keep) this.objects.destroyQuietly(session, handle);
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
        this.objects.destroyQuietly(session, privateKey);
        throw e;
      }
      const facts = algorithm.kind === 'RSA' ? { modulus: stripLeadingZeros(Buffer.from(read.jwk.n!, 'base64url')) }
        : algorithm.kind === 'EC' ? { curve: algorithm.curve } : { edwardsCurve: algorithm.curve };
      this.objects.remember(target.objectId, 'private', { handle: privateKey, ...facts });
      this.objects.remember(target.objectId, 'public', { handle: publicKey, ...facts });
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
  // CreateKey refuses Origin EXTERNAL for Ed25519: no Edwards material reaches an import.
  if (algorithm.kind === 'EDWARDS') throw internal('importing Edwards key material is not supported');
  const { curve } = algorithm;
  const point = Buffer.concat([Buffer.from([0x04]), leftPad(bytes(jwk.x, false), curve.fieldBytes), leftPad(bytes(jwk.y, false), curve.fieldBytes)]);
  return {
    publicKey: [{ type: pkcs11js.CKA_EC_PARAMS, value: curve.params }, { type: pkcs11js.CKA_EC_POINT, value: derOctetString(point) }],
    privateKey: [{ type: pkcs11js.CKA_EC_PARAMS, value: curve.params }, { type: pkcs11js.CKA_VALUE, value: leftPad(bytes(jwk.d, true), curve.fieldBytes) }],
  };
}
