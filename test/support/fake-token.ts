// FakeToken: the KeyToken port on node:crypto, for core unit tests. Keys live in a Map and
// never leave it, like a token's objects.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { KmsError } from '../../src/core/errors';
import type { AesGcmSealed, KeyToken, TokenDirectory } from '../../src/core/ports';

export class FakeToken implements KeyToken {
  readonly capabilities = { vendor: 'fake' };
  private readonly keys = new Map<string, Buffer>();
  constructor(readonly id = 'default') {}

  async generateAesKey(objectId: string): Promise<void> {
    this.keys.set(objectId, randomBytes(32));
  }
  async destroyKey(objectId: string): Promise<boolean> {
    return this.keys.delete(objectId);
  }
  async hasKey(objectId: string): Promise<boolean> {
    return this.keys.has(objectId);
  }
  private key(objectId: string): Buffer {
    const key = this.keys.get(objectId);
    if (!key) throw new KmsError('KeyUnavailableException', 'The request was rejected because the specified KMS key was not available.');
    return key;
  }
  async aesGcmEncrypt(objectId: string, aad: Buffer, plaintext: Buffer): Promise<AesGcmSealed> {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key(objectId), iv).setAAD(aad);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { iv, ciphertext, tag: cipher.getAuthTag() };
  }
  async aesGcmDecrypt(objectId: string, aad: Buffer, sealed: AesGcmSealed): Promise<Buffer> {
    const decipher = createDecipheriv('aes-256-gcm', this.key(objectId), sealed.iv).setAAD(aad).setAuthTag(sealed.tag);
    try {
      return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
    } catch {
      throw new KmsError('InvalidCiphertextException', '');
    }
  }
  async randomBytes(length: number): Promise<Buffer> {
    return randomBytes(length);
  }
  async isHealthy(): Promise<boolean> {
    return true;
  }
}

export function fakeTokens(token = new FakeToken()): TokenDirectory {
  return { defaultToken: token, get: (id) => (id === token.id ? token : undefined) };
}
