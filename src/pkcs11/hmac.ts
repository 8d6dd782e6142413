// HMAC keys in the token: generic secrets that sign and verify with HMAC-SHA-*.
import { KmsError } from '../core/errors';
import type { HashAlgorithm, HmacCapability } from '../core/key-stores/port';
import { ckrName, toKmsError } from './errors';
import { genericSecretKeyGen, hashes, hmac } from './mechanisms';
import { secretKeyTemplate } from './templates';
import { internal, TokenMechanism } from './token-objects';

export class TokenHmac extends TokenMechanism implements HmacCapability {
  async generateHmacKey(objectId: string, label: string, lengthBytes: number): Promise<void> {
    if (!Number.isInteger(lengthBytes) || lengthBytes < 1) throw internal(`generateHmacKey: length ${lengthBytes}`);
    const template = secretKeyTemplate({ objectId, label, keyType: 'GENERIC_SECRET', valueLength: lengthBytes, usage: { sign: true, verify: true } });
    try {
      await this.objects.creating(objectId, () => this.connection.withSession(async (session) => {
        const handle = await this.lib.C_GenerateKeyAsync(session, genericSecretKeyGen, template);
        this.objects.remember(objectId, 'secret', { handle });
      }));
    } catch (e) {
      throw toKmsError(e, 'generateHmacKey');
    }
  }

  async hmac(objectId: string, hash: HashAlgorithm, message: Buffer): Promise<Buffer> {
    checkMessage(message);
    return this.objects.withKey('hmac', objectId, 'secret', async (session, key) => {
      this.lib.C_SignInit(session, hmac(hash), key.handle);
      const output = Buffer.alloc(hashes[hash].bytes);
      return Buffer.from(this.synchronous('HMAC') ? this.lib.C_Sign(session, message, output) : await this.lib.C_SignAsync(session, message, output));
    });
  }

  async verifyHmac(objectId: string, hash: HashAlgorithm, message: Buffer, mac: Buffer): Promise<boolean> {
    checkMessage(message);
    return this.objects.withKey('verifyHmac', objectId, 'secret', async (session, key) => {
      if (mac.length !== hashes[hash].bytes) return false;
      this.lib.C_VerifyInit(session, hmac(hash), key.handle);
      try {
        return this.synchronous('HMAC') ? this.lib.C_Verify(session, message, mac) : await this.lib.C_VerifyAsync(session, message, mac);
      } catch (e) {
        const name = ckrName(e);
        if (name === 'CKR_SIGNATURE_INVALID' || name === 'CKR_SIGNATURE_LEN_RANGE') return false;
        throw e;
      }
    });
  }
}

function checkMessage(message: Buffer): void {
  // Precondition: a MAC message must not be empty.
  // (SoftHSM fails empty input with CKR_ARGUMENTS_BAD and leaves the operation active.)
  if (message.length === 0) throw new KmsError('ValidationException', 'The message must not be empty.', 'empty MAC message');
}
