// The plumbing every mechanism of a PKCS#11 token shares: sessions from the connection, the
// cache of object handles (valid for one connection generation), finding objects by CKA_ID,
// reading public keys, and making key pairs. The capability classes beside it use this.
import { createHash, createPublicKey, type JsonWebKey } from 'node:crypto';
import { endianness } from 'node:os';
import { performance } from 'node:perf_hooks';
import * as pkcs11js from 'pkcs11js';
import { KmsError, messages } from '../core/errors';
import type { KeyObjectCapability } from '../core/key-stores/port';
import { ecPointFromAttribute, edwardsPointFromAttribute } from './asn1';
import { ckrName, ObjectNotFound, toKmsError } from './errors';
import {
  aesGcm, aesKeyGen, CKK_EC_EDWARDS, curveByParams, edwardsCurveByParams, GCM_IV_BYTES, GCM_TAG_BYTES, keyPairGen, type Curve, type EdwardsCurve, type KeyPairAlgorithm,
} from './mechanisms';
import type { SynchronousMechanism, TokenProfile } from './profile';
import type { TokenConnection } from './sessions';
import { findByIdTemplate, secretKeyTemplate, type KeyPairTemplates, type ObjectClass } from './templates';

/** A cached object handle and the public facts about its key that shape requests. */
export interface TokenKey {
  handle: pkcs11js.Handle;
  /** RSA keys: the modulus, without leading zero bytes. */
  modulus?: Buffer;
  /** EC keys: the curve. */
  curve?: Curve;
  /** Edwards (EdDSA) keys: the curve. */
  edwardsCurve?: EdwardsCurve;
}

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

/** An Edwards public key as a JWK (RFC 8037): `publicKey` is the encoded point, e.g. Ed25519's 32 bytes. */
export function edwardsJwk(curve: EdwardsCurve, publicKey: Buffer): JsonWebKey {
  return { kty: 'OKP', crv: curve.jwk, x: b64u(publicKey) };
}

/** The facts about a key that keyFor learns from the token, known at generation from its algorithm. */
function keyFacts(algorithm: KeyPairAlgorithm, modulus: Buffer | undefined): Omit<TokenKey, 'handle'> {
  switch (algorithm.kind) {
    case 'RSA': return { modulus };
    case 'EC': return { curve: algorithm.curve };
    case 'EDWARDS': return { edwardsCurve: algorithm.curve };
  }
}

/** The CKA_ID of each token's health key: an AES key no KMS key names, used only to prove the token works. */
/** How often a missing object may make this process re-read the token. */
const VIEW_REFRESH_MS = 2000;

/** How many objects one sweep for unnamed objects looks at. */
const MAX_OBJECTS_SCANNED = 100_000;

export const HEALTH_KEY_ID = createHash('sha256').update('hsm-kms:health-key:v1').digest('hex');
const HEALTH_KEY_LABEL = 'hsm-kms:health';

/** Thrown inside a session when a GCM failure code may mean a bad tag or a failing device; decided outside it. */
export class AmbiguousGcmFailure extends Error {
  constructor(readonly code: string) {
    super(`GCM decryption failed with ${code}`);
  }
}

/** Codes that can mean "this object is gone" as well as "the token is gone". */
const outageSuspects = new Set(['CKR_OBJECT_HANDLE_INVALID', 'CKR_KEY_HANDLE_INVALID', 'CKR_GENERAL_ERROR']);

const tokenUnavailable = (detail: string) => new KmsError('KMSInternalException', 'The token is not available. Retry the request.', detail);

export class TokenObjects {
  /** `${class}:${objectId}` → handle and key facts, valid for one connection generation. */
  private handles = new Map<string, TokenKey>();
  private handlesGeneration = -1;

  constructor(readonly connection: TokenConnection, readonly profile: TokenProfile) {}

  get lib(): pkcs11js.PKCS11 {
    return this.connection.lib;
  }

  async generatePair(operation: string, objectId: string, algorithm: KeyPairAlgorithm, templates: KeyPairTemplates): Promise<Buffer> {
    const started = performance.now();
    let ok = false;
    try {
      const spki = await this.generatePairUntimed(operation, objectId, algorithm, templates);
      ok = true;
      return spki;
    } finally {
      this.connection.observeOperation?.(operation, (performance.now() - started) / 1000, ok);
    }
  }

  private async generatePairUntimed(operation: string, objectId: string, algorithm: KeyPairAlgorithm, templates: KeyPairTemplates): Promise<Buffer> {
    try {
      // Not retried after a reconnect: a second attempt could leave two pairs under one CKA_ID.
      return await this.creating(objectId, () => this.connection.withSession(async (session) => {
        const pair = await this.lib.C_GenerateKeyPairAsync(session, keyPairGen(algorithm), templates.publicKey, templates.privateKey);
        try {
          const { spki, modulus } = this.readPublicKey(session, pair.publicKey, algorithm);
          const facts = keyFacts(algorithm, modulus);
          this.remember(objectId, 'private', { handle: pair.privateKey, ...facts });
          this.remember(objectId, 'public', { handle: pair.publicKey, ...facts });
          return spki;
        } catch (e) {
          this.destroyQuietly(session, pair.privateKey);
          this.destroyQuietly(session, pair.publicKey);
          this.forget(objectId);
          throw e;
        }
      }));
    } catch (e) {
      throw toKmsError(e, operation);
    }
  }

  /**
   * Runs `fn` with a session and the object of `objectClass` under `objectId`. Safe to repeat,
   * so retried once after a reconnect. Every failure leaves as a KmsError.
   */
  async withKey<T>(operation: string, objectId: string, objectClass: ObjectClass, fn: (session: pkcs11js.Handle, key: TokenKey) => Promise<T>): Promise<T> {
    const observe = this.connection.observeOperation;
    if (!observe) return this.withKeyUntimed(operation, objectId, objectClass, fn);
    const started = performance.now();
    try {
      const result = await this.withKeyUntimed(operation, objectId, objectClass, fn);
      observe(operation, (performance.now() - started) / 1000, true);
      return result;
    } catch (e) {
      observe(operation, (performance.now() - started) / 1000, false);
      throw e;
    }
  }

  private async withKeyUntimed<T>(operation: string, objectId: string, objectClass: ObjectClass, fn: (session: pkcs11js.Handle, key: TokenKey) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.connection.withSession(async (session) => fn(session, this.keyFor(session, objectId, objectClass)), true);
      } catch (e) {
        this.forgetStaleHandle(e, objectId);
        const suspect = e instanceof AmbiguousGcmFailure || outageSuspects.has(ckrName(e) ?? '') || (e instanceof ObjectNotFound);
        if (!suspect) throw toKmsError(e, operation);
        // A missing object, a stale handle or a general error may mean the token itself went
        // away: its health key decides. If the token fails, recovery starts and the caller may retry.
        if (!(await this.probe())) {
          void this.connection.reconnect({ deep: true });
          throw tokenUnavailable(`${operation}: token outage suspected (${e instanceof Error ? e.message : String(e)})`);
        }
        // The token works, so the tag did not verify.
        if (e instanceof AmbiguousGcmFailure) throw new KmsError('InvalidCiphertextException', '', `GCM authentication failed (${e.code})`);
        if (attempt > 0) throw toKmsError(e, operation);
        // The token works. A handle gone stale is looked up once more. An object another process
        // made may not be in this process's view of the token yet (SoftHSM re-reads its object
        // files lazily): the view is rebuilt, at most every VIEW_REFRESH_MS, and the object looked up once more.
        if (e instanceof ObjectNotFound && !(await this.refreshView())) throw toKmsError(e, operation);
      }
    }
  }

  /** Re-initialises the module so it reads the token afresh; false when one was done too recently to help. */
  private async refreshView(): Promise<boolean> {
    const now = Date.now();
    if (now - this.lastViewRefresh < VIEW_REFRESH_MS) return false;
    this.lastViewRefresh = now;
    await this.connection.reconnect({ deep: true });
    return true;
  }
  private lastViewRefresh = 0;

  /** A real AES-GCM encryption and decryption with the health key on `session`; false if anything fails. */
  async probeSession(session: pkcs11js.Handle): Promise<boolean> {
    try {
      return this.sealAndOpenProbe(session, this.healthKeyHandle(session));
    } catch {
      // The cached handle may be stale (another process destroyed the key): look it up afresh once.
      this.forget(HEALTH_KEY_ID);
      try {
        return this.sealAndOpenProbe(session, this.healthKeyHandle(session));
      } catch {
        return false;
      }
    }
  }

  /**
   * The health key's handle, cached like every key's: SoftHSM's file store scans every object
   * file on each C_FindObjects (0.7 s at 20,000 keys), far too slow for every health check.
   */
  private healthKeyHandle(session: pkcs11js.Handle): pkcs11js.Handle {
    try {
      return this.keyFor(session, HEALTH_KEY_ID, 'secret').handle;
    } catch (e) {
      if (!(e instanceof ObjectNotFound)) throw e;
      const handle = this.lib.C_GenerateKey(session, aesKeyGen, secretKeyTemplate({
        objectId: HEALTH_KEY_ID, label: HEALTH_KEY_LABEL, keyType: 'AES', valueLength: 32, usage: { encrypt: true, decrypt: true },
      }));
      this.remember(HEALTH_KEY_ID, 'secret', { handle });
      return handle;
    }
  }

  private sealAndOpenProbe(session: pkcs11js.Handle, handle: pkcs11js.Handle): boolean {
    const iv = Buffer.from(this.lib.C_GenerateRandom(session, Buffer.alloc(GCM_IV_BYTES)));
    const probe = Buffer.from('hsm-kms health probe');
    this.lib.C_EncryptInit(session, aesGcm(this.profile, iv, Buffer.alloc(0)), handle);
    const sealed = Buffer.from(this.lib.C_Encrypt(session, probe, Buffer.alloc(probe.length + GCM_TAG_BYTES)));
    this.lib.C_DecryptInit(session, aesGcm(this.profile, iv, Buffer.alloc(0)), handle);
    return Buffer.from(this.lib.C_Decrypt(session, sealed, Buffer.alloc(sealed.length))).equals(probe);
  }

  /** Does the token work? A real operation on its health key, through the pool. */
  async probe(): Promise<boolean> {
    try {
      return await this.connection.withSession((session) => this.probeSession(session));
    } catch {
      return false;
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
    } else if (algorithm.kind === 'EC') {
      jwk = ecJwk(algorithm.curve, this.readEcPoint(session, handle, algorithm.curve));
    } else {
      jwk = edwardsJwk(algorithm.curve, this.readEdwardsPoint(session, handle, algorithm.curve));
    }
    return { spki: createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'der' }), modulus };
  }

  readEcPoint(session: pkcs11js.Handle, handle: pkcs11js.Handle, curve: Curve): Buffer {
    const [point] = this.lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_EC_POINT }]);
    return ecPointFromAttribute(point!.value as Buffer, curve.fieldBytes);
  }

  readEdwardsPoint(session: pkcs11js.Handle, handle: pkcs11js.Handle, curve: EdwardsCurve): Buffer {
    const [point] = this.lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_EC_POINT }]);
    return edwardsPointFromAttribute(point!.value as Buffer, curve.keyBytes);
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

  /**
   * Runs `create`, which makes token objects under `objectId` off the event loop, so that a
   * destroyKey of the same CKA_ID called meanwhile waits for it. SoftHSM, destroying an object
   * its generation is still writing, fails the generation and leaves a nameless object file that
   * this process no longer sees (only a fresh C_Initialize does): a reset during CreateKey did.
   */
  async creating<T>(objectId: string, create: () => Promise<T>): Promise<T> {
    const run = create();
    const settled = Promise.all([this.creations.get(objectId), run.catch(() => undefined)]).then(() => undefined);
    this.creations.set(objectId, settled);
    try {
      return await run;
    } finally {
      if (this.creations.get(objectId) === settled) this.creations.delete(objectId);
    }
  }
  private creations = new Map<string, Promise<void>>();

  /** Resolves once no creation of `objectId` started in this process is still running. */
  async creationsSettled(objectId: string): Promise<void> {
    for (let pending = this.creations.get(objectId); pending; pending = this.creations.get(objectId)) await pending;
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
    if (handle === undefined) throw new ObjectNotFound(`no ${objectClass} key object with CKA_ID ${objectId}`);
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
      } else if (type === CKK_EC_EDWARDS) {
        const [params] = this.lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_EC_PARAMS }]);
        key.edwardsCurve = edwardsCurveByParams(params!.value as Buffer);
        if (!key.edwardsCurve) throw internal(`key ${objectId} is on an unsupported Edwards curve`);
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

  /** Whether the profile runs `mechanism` on the calling thread rather than libuv's pool. */
  protected synchronous(mechanism: SynchronousMechanism): boolean {
    return this.profile.synchronousMechanisms.includes(mechanism);
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
      await this.objects.creating(objectId, () => this.connection.withSession(async (session) => {
        const handle = await this.lib.C_GenerateKeyAsync(session, aesKeyGen, template);
        this.objects.remember(objectId, 'secret', { handle });
      }));
    } catch (e) {
      throw toKmsError(e, operation);
    }
  }

  async destroyKey(objectId: string): Promise<boolean> {
    try {
      await this.objects.creationsSettled(objectId);
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

  async destroyUnnamed(): Promise<number> {
    try {
      return await this.connection.withSession(async (session) => {
        this.lib.C_FindObjectsInit(session, []);
        let handles: pkcs11js.Handle[];
        try {
          handles = this.lib.C_FindObjects(session, MAX_OBJECTS_SCANNED);
        } finally {
          this.lib.C_FindObjectsFinal(session);
        }
        let destroyed = 0;
        for (const handle of handles) {
          if (this.attribute(session, handle, pkcs11js.CKA_ID).length > 0 || this.attribute(session, handle, pkcs11js.CKA_LABEL).length > 0) continue;
          this.lib.C_DestroyObject(session, handle);
          destroyed += 1;
        }
        return destroyed;
      }, true);
    } catch (e) {
      throw toKmsError(e, 'destroyUnnamed');
    }
  }

  /** An attribute's value, empty when the object lacks it (a half-written object may lack any). */
  private attribute(session: pkcs11js.Handle, handle: pkcs11js.Handle, type: number): Buffer {
    try {
      return (this.lib.C_GetAttributeValue(session, handle, [{ type }])[0]?.value as Buffer | undefined) ?? Buffer.alloc(0);
    } catch {
      return Buffer.alloc(0);
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
