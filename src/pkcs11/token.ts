// KeyToken over PKCS#11: the core's view of one token. All crypto runs in the token through
// pkcs11js *Async calls, so HSM work happens on libuv threads, off the event loop.
import * as pkcs11js from 'pkcs11js';
import { KmsError } from '../core/errors';
import type { AesGcmSealed, KeyToken, TokenCapabilities } from '../core/ports';
import { ckrName, toKmsError } from './errors';
import { aesGcm, aesKeyGen, GCM_IV_BYTES, GCM_TAG_BYTES } from './mechanisms';
import { loadProfiles, selectProfile, type TokenProfile } from './profile';
import { TokenConnection, type ConnectionOptions } from './sessions';
import { findByIdTemplate, secretKeyTemplate } from './templates';

export interface Pkcs11TokenOptions extends ConnectionOptions {
  /** The id stored in BackingKeyRef.tokenId: "default" or a custom key store id. */
  tokenId: string;
  /** Force a profile by vendor name instead of matching the token's manufacturer. */
  profileVendor?: string;
  profileDir?: string;
}

export class Pkcs11Token implements KeyToken {
  readonly capabilities: TokenCapabilities;
  /** objectId → handle, valid for one connection generation. */
  private handles = new Map<string, pkcs11js.Handle>();
  private handlesGeneration = -1;

  private constructor(readonly id: string, readonly connection: TokenConnection, readonly profile: TokenProfile) {
    this.capabilities = { vendor: profile.vendor };
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
        this.rememberHandle(objectId, handle);
      });
    } catch (e) {
      throw toKmsError(e, 'generateAesKey');
    }
  }

  async destroyKey(objectId: string): Promise<boolean> {
    try {
      return await this.connection.withSession(async (session) => {
        const found = this.findAll(session, objectId);
        for (const handle of found) this.lib.C_DestroyObject(session, handle);
        this.handles.delete(objectId);
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
    try {
      return await this.connection.withSession(async (session) => {
        const key = this.handleFor(session, objectId);
        // IVs come from the token's RNG: SoftHSM 2.6 (profile generatesGcmIv=false) cannot make
        // them, and a random 96-bit IV per message is safe for any token.
        const iv = Buffer.from(this.lib.C_GenerateRandom(session, Buffer.alloc(GCM_IV_BYTES)));
        this.lib.C_EncryptInit(session, aesGcm(this.profile, iv, aad), key);
        const out = await this.lib.C_EncryptAsync(session, plaintext, Buffer.alloc(plaintext.length + GCM_TAG_BYTES));
        return {
          iv,
          ciphertext: Buffer.from(out.subarray(0, out.length - GCM_TAG_BYTES)),
          tag: Buffer.from(out.subarray(out.length - GCM_TAG_BYTES)),
        };
      }, true);
    } catch (e) {
      this.forgetStaleHandle(e, objectId);
      throw toKmsError(e, 'aesGcmEncrypt');
    }
  }

  async aesGcmDecrypt(objectId: string, aad: Buffer, sealed: AesGcmSealed): Promise<Buffer> {
    try {
      return await this.connection.withSession(async (session) => {
        const key = this.handleFor(session, objectId);
        this.lib.C_DecryptInit(session, aesGcm(this.profile, sealed.iv, aad), key);
        const input = Buffer.concat([sealed.ciphertext, sealed.tag]);
        try {
          return Buffer.from(await this.lib.C_DecryptAsync(session, input, Buffer.alloc(input.length)));
        } catch (e) {
          // Precondition: a GCM tag that does not verify is reported as InvalidCiphertextException.
          if (this.profile.gcmAuthFailureCodes.includes(ckrName(e) ?? '')) throw new KmsError('InvalidCiphertextException', '', `GCM authentication failed (${ckrName(e)})`);
          throw e;
        }
      }, true);
    } catch (e) {
      this.forgetStaleHandle(e, objectId);
      throw toKmsError(e, 'aesGcmDecrypt');
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

  /** Another process may have destroyed the object; look it up afresh next time. */
  private forgetStaleHandle(error: unknown, objectId: string): void {
    const name = ckrName(error);
    if (name === 'CKR_OBJECT_HANDLE_INVALID' || name === 'CKR_KEY_HANDLE_INVALID') this.handles.delete(objectId);
  }

  private rememberHandle(objectId: string, handle: pkcs11js.Handle): void {
    this.syncGeneration();
    this.handles.set(objectId, handle);
  }

  private syncGeneration(): void {
    if (this.handlesGeneration !== this.connection.generation) {
      this.handles.clear();
      this.handlesGeneration = this.connection.generation;
    }
  }

  private handleFor(session: pkcs11js.Handle, objectId: string): pkcs11js.Handle {
    this.syncGeneration();
    const cached = this.handles.get(objectId);
    if (cached) return cached;
    const [handle] = this.findAll(session, objectId);
    if (!handle) throw new KmsError('KeyUnavailableException', 'The request was rejected because the specified KMS key was not available.', `no token object with CKA_ID ${objectId}`);
    this.handles.set(objectId, handle);
    return handle;
  }

  private findAll(session: pkcs11js.Handle, objectId: string): pkcs11js.Handle[] {
    this.lib.C_FindObjectsInit(session, findByIdTemplate(objectId));
    try {
      return this.lib.C_FindObjects(session, 16);
    } finally {
      this.lib.C_FindObjectsFinal(session);
    }
  }
}
