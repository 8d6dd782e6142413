// AES-256-GCM with a key in the token: the symmetric core every key store offers.
import type { AesGcmSealed } from '../core/key-stores/port';
import { ckrName } from './errors';
import { aesGcm, GCM_IV_BYTES, GCM_TAG_BYTES } from './mechanisms';
import { AmbiguousGcmFailure, invalidCiphertext, TokenMechanism } from './token-objects';

export class TokenAesGcm extends TokenMechanism {
  async aesGcmEncrypt(objectId: string, aad: Buffer, plaintext: Buffer): Promise<AesGcmSealed> {
    return this.objects.withKey('aesGcmEncrypt', objectId, 'secret', async (session, key) => {
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
    return this.objects.withKey('aesGcmDecrypt', objectId, 'secret', async (session, key) => {
      this.lib.C_DecryptInit(session, aesGcm(this.profile, sealed.iv, aad), key.handle);
      const input = Buffer.concat([sealed.ciphertext, sealed.tag]);
      try {
        return Buffer.from(await this.lib.C_DecryptAsync(session, input, Buffer.alloc(input.length)));
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
