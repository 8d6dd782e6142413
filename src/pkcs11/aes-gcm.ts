// AES-256-GCM with a key in the token: the symmetric core every key store offers.
import type { AesGcmSealed } from '../core/key-stores/port';
import { ckrName } from './errors';
import { aesGcm, GCM_IV_BYTES, GCM_TAG_BYTES } from './mechanisms';
import { AmbiguousGcmFailure, invalidCiphertext, TokenMechanism } from './token-objects';

/** IVs drawn from the token's RNG this many at a time: one C_GenerateRandom serves many encryptions. */
const IVS_PER_DRAW = 256;

export class TokenAesGcm extends TokenMechanism {
  private ivs = Buffer.alloc(0);
  private ivOffset = 0;

  /**
   * A fresh IV from the token's RNG: SoftHSM 2.6 (profile generatesGcmIv=false) cannot make
   * them, and a random 96-bit IV per message is safe for any token. Drawn in blocks; each
   * 12 bytes are handed out once.
   */
  private nextIv(session: Parameters<TokenAesGcm['lib']['C_GenerateRandom']>[0]): Buffer {
    if (this.ivOffset + GCM_IV_BYTES > this.ivs.length) {
      this.ivs = Buffer.from(this.lib.C_GenerateRandom(session, Buffer.alloc(GCM_IV_BYTES * IVS_PER_DRAW)));
      this.ivOffset = 0;
    }
    const iv = Buffer.from(this.ivs.subarray(this.ivOffset, this.ivOffset + GCM_IV_BYTES));
    this.ivs.fill(0, this.ivOffset, this.ivOffset + GCM_IV_BYTES);
    this.ivOffset += GCM_IV_BYTES;
    return iv;
  }

  async aesGcmEncrypt(objectId: string, aad: Buffer, plaintext: Buffer): Promise<AesGcmSealed> {
    return this.objects.withKey('aesGcmEncrypt', objectId, 'secret', async (session, key) => {
      const iv = this.nextIv(session);
      this.lib.C_EncryptInit(session, aesGcm(this.profile, iv, aad), key.handle);
      const output = Buffer.alloc(plaintext.length + GCM_TAG_BYTES);
      const out = this.synchronous('AES_GCM') ? this.lib.C_Encrypt(session, plaintext, output) : await this.lib.C_EncryptAsync(session, plaintext, output);
      return {
        iv,
        ciphertext: Buffer.from(out.subarray(0, out.length - GCM_TAG_BYTES)),
        tag: Buffer.from(out.subarray(out.length - GCM_TAG_BYTES)),
      };
    });
  }

  async aesGcmDecrypt(objectId: string, aad: Buffer, sealed: AesGcmSealed): Promise<Buffer> {
    return this.objects.withKey('aesGcmDecrypt', objectId, 'secret', async (session, key) => {
      this.lib.C_DecryptInit(session, aesGcm(this.profile, sealed.iv, aad), key.handle);
      const input = Buffer.concat([sealed.ciphertext, sealed.tag]);
      try {
        const output = Buffer.alloc(input.length);
        return Buffer.from(this.synchronous('AES_GCM') ? this.lib.C_Decrypt(session, input, output) : await this.lib.C_DecryptAsync(session, input, output));
      } catch (e) {
        const name = ckrName(e) ?? '';
        // Precondition: a GCM tag that does not verify is reported as InvalidCiphertextException.
        // (A code a failing device also gives, such as SoftHSM's CKR_GENERAL_ERROR, is decided by a health probe outside this session.)
        if (this.profile.gcmAuthFailureCodes.includes(name)) throw name === 'CKR_GENERAL_ERROR' ? new AmbiguousGcmFailure(name) : invalidCiphertext(`GCM authentication failed (${name})`);
        throw e;
      }
    });
  }
}
