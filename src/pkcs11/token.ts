// A PKCS#11 token as a key store: the default token, or a custom key store's. All crypto runs
// in the token through pkcs11js *Async calls, so HSM work happens on libuv threads, off the
// event loop; the host only shapes data around the token's primitives. Each mechanism lives
// in its own file (aes-gcm, key-pairs, hmac, key-import) over the shared TokenObjects.
import type { AesGcmSealed, KeyStore, KeyStoreCall } from '../core/key-stores/port';
import { TokenAesGcm } from './aes-gcm';
import { toKmsError } from './errors';
import { TokenExternalKeys } from './external-keys';
import { TokenHmac } from './hmac';
import { TokenKeyImport } from './key-import';
import { TokenKeyPairs } from './key-pairs';
import { loadProfiles, selectProfile, type TokenProfile } from './profile';
import { TokenConnection, type ConnectionOptions, type SessionPoolStats } from './sessions';
import { TokenKeyObjects, TokenObjects } from './token-objects';

export interface Pkcs11TokenOptions extends ConnectionOptions {
  /** The id stored in BackingKeyRef.tokenId: "default" or a custom key store id. */
  tokenId: string;
  /** Force a profile by vendor name instead of matching the token's manufacturer. */
  profileVendor?: string;
  profileDir?: string;
}

/** How long a health answer stands. */
export const HEALTH_CACHE_MS = 2000;

export class Pkcs11Token implements KeyStore {
  readonly keyObjects: TokenKeyObjects;
  readonly keyPairs: TokenKeyPairs;
  readonly hmacKeys: TokenHmac;
  readonly keyImport: TokenKeyImport;
  readonly externalKeys: TokenExternalKeys;
  private readonly aesGcm: TokenAesGcm;
  private readonly objects: TokenObjects;
  private health?: { at: number; ok: Promise<boolean> };

  private constructor(readonly id: string, readonly connection: TokenConnection, readonly profile: TokenProfile) {
    const objects = new TokenObjects(connection, profile);
    this.objects = objects;
    connection.verifier = (session) => objects.probeSession(session);
    this.keyObjects = new TokenKeyObjects(objects);
    this.keyPairs = new TokenKeyPairs(objects);
    this.hmacKeys = new TokenHmac(objects);
    this.keyImport = new TokenKeyImport(objects);
    this.aesGcm = new TokenAesGcm(objects);
    this.externalKeys = new TokenExternalKeys(objects, this.keyObjects, this.aesGcm);
  }

  static open(options: Pkcs11TokenOptions): Pkcs11Token {
    const connection = TokenConnection.open(options);
    try {
      const profile = selectProfile(loadProfiles(options.profileDir), connection.info, options.profileVendor);
      return new Pkcs11Token(options.tokenId, connection, profile);
    } catch (e) {
      // Not left logged in: a custom key store's next attempt would meet its own login.
      connection.close();
      throw e;
    }
  }

  // The call metadata is for stores that forward it (XKS); a token has no use for it.
  encrypt(objectId: string, aad: Buffer, plaintext: Buffer, _call?: KeyStoreCall): Promise<AesGcmSealed> {
    return this.aesGcm.aesGcmEncrypt(objectId, aad, plaintext);
  }

  decrypt(objectId: string, aad: Buffer, sealed: AesGcmSealed, _call?: KeyStoreCall): Promise<Buffer> {
    return this.aesGcm.aesGcmDecrypt(objectId, aad, sealed);
  }

  async randomBytes(length: number): Promise<Buffer> {
    try {
      return await this.connection.withSession(async (session) => Buffer.from(this.connection.lib.C_GenerateRandom(session, Buffer.alloc(length))), true);
    } catch (e) {
      throw toKmsError(e, 'randomBytes');
    }
  }

  /**
   * A real AES-GCM encryption and decryption with the token's health key, cached for
   * HEALTH_CACHE_MS so health checks cannot load the token. A failure starts recovery.
   */
  async isHealthy(): Promise<boolean> {
    const now = Date.now();
    if (!this.health || now - this.health.at > HEALTH_CACHE_MS) {
      const ok = this.objects.probe().then((healthy) => {
        if (!healthy) void this.connection.reconnect({ deep: true });
        return healthy;
      });
      this.health = { at: now, ok };
    }
    return this.health.ok;
  }

  /** The same probe as isHealthy, uncached, and without starting recovery when it fails. */
  checkHealth(): Promise<boolean> {
    return this.objects.probe();
  }

  /** The session pool's counters, for metrics. */
  poolStats(): SessionPoolStats {
    return this.connection.stats();
  }

  async close(): Promise<void> {
    this.connection.close();
  }
}
