// The plumbing every mechanism of a PKCS#11 token shares: sessions from the connection, the
// cache of object handles (valid for one connection generation), finding objects by CKA_ID,
// reading public keys, and making key pairs. The capability classes beside it use this.
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { endianness } from 'node:os';
import * as pkcs11js from 'pkcs11js';
import { KmsError, messages } from '../core/errors';
import type { KeyObjectCapability } from '../core/key-stores/port';
import { ecPointFromAttribute } from './asn1';
import { ckrName, toKmsError } from './errors';
import { aesKeyGen, curveByParams, keyPairGen, type Curve, type KeyPairAlgorithm } from './mechanisms';
import type { TokenProfile } from './profile';
import type { TokenConnection } from './sessions';
import { findByIdTemplate, secretKeyTemplate, type KeyPairTemplates, type ObjectClass } from './templates';

/** A cached object handle and the public facts about its key that shape requests. */
export interface TokenKey {
  handle: pkcs11js.Handle;
  /** RSA keys: the modulus, without leading zero bytes. */
  modulus?: Buffer;
  /** EC keys: the curve. */
  curve?: Curve;
}

export const keyUnavailable = (detail: string) => new KmsError('KeyUnavailableException', messages.keyUnavailable, detail);
export const internal = (detail: string) => new KmsError('KMSInternalException', messages.internal, detail);
export const invalidCiphertext = (detail: string) => new KmsError('InvalidCiphertextException', '', detail);

export const b64u = (b: Buffer) => b.toString('base64url');

/** A CK_ULONG attribute value, in the platform's byte order. */
export function ulong(value: Buffer): number {
  const le = endianness() === 'LE';
  if (value.length === 8) return Number(le ? value.readBigUInt64LE() : value.readBigUInt64BE());
  return le ? value.readUInt32LE() : value.readUInt32BE();
}

export function stripLeadingZeros(value: Buffer): Buffer {
  let i = 0;
  while (i < value.length - 1 && value[i] === 0) i++;
  return value.subarray(i);
}

export function ecJwk(curve: Curve, point: Buffer): JsonWebKey {
  const f = curve.fieldBytes;
  return { kty: 'EC', crv: curve.jwk, x: b64u(point.subarray(1, 1 + f)), y: b64u(point.subarray(1 + f)) };
}

export class TokenObjects {
  /** `${class}:${objectId}` → handle and key facts, valid for one connection generation. */
  private handles = new Map<string, TokenKey>();
  private handlesGeneration = -1;

  constructor(readonly connection: TokenConnection, readonly profile: TokenProfile) {}

  get lib(): pkcs11js.PKCS11 {
    return this.connection.lib;
  }

  async generatePair(operation: string, objectId: string, algorithm: KeyPairAlgorithm, templates: KeyPairTemplates): Promise<Buffer> {
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

  /**
   * Runs `fn` with a session and the object of `objectClass` under `objectId`. Safe to repeat,
   * so retried once after a reconnect. Every failure leaves as a KmsError.
   */
  async withKey<T>(operation: string, objectId: string, objectClass: ObjectClass, fn: (session: pkcs11js.Handle, key: TokenKey) => Promise<T>): Promise<T> {
    try {
      return await this.connection.withSession(async (session) => fn(session, this.keyFor(session, objectId, objectClass)), true);
    } catch (e) {
      this.forgetStaleHandle(e, objectId);
      throw toKmsError(e, operation);
    }
  }

  /** The public key as DER SubjectPublicKeyInfo, built by node:crypto from the token's components. */
  readPublicKey(session: pkcs11js.Handle, handle: pkcs11js.Handle, algorithm: KeyPairAlgorithm): { spki: Buffer; modulus?: Buffer } {
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

  readEcPoint(session: pkcs11js.Handle, handle: pkcs11js.Handle, curve: Curve): Buffer {
    const [point] = this.lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_EC_POINT }]);
    return ecPointFromAttribute(point!.value as Buffer, curve.fieldBytes);
  }

  destroyQuietly(session: pkcs11js.Handle, handle: pkcs11js.Handle): void {
    try {
      this.lib.C_DestroyObject(session, handle);
    } catch {
      // A session object dies with its session at the latest.
    }
  }

  /** Another process may have destroyed the object; look it up afresh next time. */
  forgetStaleHandle(error: unknown, objectId: string): void {
    const name = ckrName(error);
    if (name === 'CKR_OBJECT_HANDLE_INVALID' || name === 'CKR_KEY_HANDLE_INVALID') this.forget(objectId);
  }

  forget(objectId: string): void {
    for (const objectClass of ['secret', 'private', 'public'] as const) this.handles.delete(`${objectClass}:${objectId}`);
  }

  remember(objectId: string, objectClass: ObjectClass, key: TokenKey): void {
    this.syncGeneration();
    this.handles.set(`${objectClass}:${objectId}`, key);
  }

  private syncGeneration(): void {
    if (this.handlesGeneration !== this.connection.generation) {
      this.handles.clear();
      this.handlesGeneration = this.connection.generation;
    }
  }

  keyFor(session: pkcs11js.Handle, objectId: string, objectClass: ObjectClass): TokenKey {
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

  findAll(session: pkcs11js.Handle, objectId: string, objectClass?: ObjectClass): pkcs11js.Handle[] {
    this.lib.C_FindObjectsInit(session, findByIdTemplate(objectId, objectClass));
    try {
      return this.lib.C_FindObjects(session, 16);
    } finally {
      this.lib.C_FindObjectsFinal(session);
    }
  }
}

/** What each mechanism's class works with: the shared objects, and through them the token. */
export abstract class TokenMechanism {
  constructor(protected readonly objects: TokenObjects) {}

  protected get lib(): pkcs11js.PKCS11 {
    return this.objects.lib;
  }

  protected get connection(): TokenConnection {
    return this.objects.connection;
  }

  protected get profile(): TokenProfile {
    return this.objects.profile;
  }
}

/** Objects by CKA_ID: AES keys made, any key found or destroyed. */
export class TokenKeyObjects extends TokenMechanism implements KeyObjectCapability {
  async generateAesKey(objectId: string, label: string): Promise<void> {
    await this.generateSecretKey('generateAesKey', objectId, secretKeyTemplate({ objectId, label, keyType: 'AES', valueLength: 32, usage: { encrypt: true, decrypt: true } }));
  }

  /** An AES key from `template`, its handle remembered. Not retried after a reconnect: a second attempt could leave two keys under one CKA_ID. */
  async generateSecretKey(operation: string, objectId: string, template: pkcs11js.Template): Promise<void> {
    try {
      await this.connection.withSession(async (session) => {
        const handle = await this.lib.C_GenerateKeyAsync(session, aesKeyGen, template);
        this.objects.remember(objectId, 'secret', { handle });
      });
    } catch (e) {
      throw toKmsError(e, operation);
    }
  }

  async destroyKey(objectId: string): Promise<boolean> {
    try {
      return await this.connection.withSession(async (session) => {
        // Every object under the CKA_ID: a secret key, or both halves of a pair.
        const found = this.objects.findAll(session, objectId);
        for (const handle of found) this.lib.C_DestroyObject(session, handle);
        this.objects.forget(objectId);
        return found.length > 0;
      }, true);
    } catch (e) {
      throw toKmsError(e, 'destroyKey');
    }
  }

  async hasKey(objectId: string): Promise<boolean> {
    try {
      return await this.connection.withSession(async (session) => this.objects.findAll(session, objectId).length > 0, true);
    } catch (e) {
      throw toKmsError(e, 'hasKey');
    }
  }
}
