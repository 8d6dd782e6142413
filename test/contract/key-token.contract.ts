// The KeyToken port's contract: every token implementation (SoftHSM here, a real HSM when
// configured) must behave like this.
import { randomBytes } from 'node:crypto';
import { KmsError } from '../../src/core/errors';
import type { KeyToken } from '../../src/core/ports';

const newObjectId = () => randomBytes(32).toString('hex');

export function describeKeyTokenContract(name: string, open: () => Promise<{ token: KeyToken; close: () => Promise<void> }>): void {
  describe(`KeyToken contract: ${name}`, () => {
    let token: KeyToken;
    let close: () => Promise<void>;
    beforeAll(async () => ({ token, close } = await open()));
    afterAll(async () => close());

    it('generates an AES key it then holds, and destroys it idempotently', async () => {
      const id = newObjectId();
      expect(await token.hasKey(id)).toBe(false);
      await token.generateAesKey(id, 'kms:test');
      expect(await token.hasKey(id)).toBe(true);
      expect(await token.destroyKey(id)).toBe(true);
      expect(await token.hasKey(id)).toBe(false);
      expect(await token.destroyKey(id)).toBe(false);
    });

    it('seals and opens with AES-GCM, binding the AAD', async () => {
      const id = newObjectId();
      await token.generateAesKey(id, 'kms:test');
      const aad = Buffer.from('header and context');
      const sealed = await token.aesGcmEncrypt(id, aad, Buffer.from('payload'));
      expect(sealed.iv).toHaveLength(12);
      expect(sealed.tag).toHaveLength(16);
      expect(sealed.ciphertext).toHaveLength(7);
      expect((await token.aesGcmDecrypt(id, aad, sealed)).toString()).toBe('payload');
      await expect(token.aesGcmDecrypt(id, Buffer.from('other aad'), sealed)).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
      const flipped = { ...sealed, tag: Buffer.from(sealed.tag.map((b, i) => (i === 0 ? b ^ 1 : b))) };
      await expect(token.aesGcmDecrypt(id, aad, flipped)).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
      const again = await token.aesGcmEncrypt(id, aad, Buffer.from('payload'));
      expect(again.iv.equals(sealed.iv)).toBe(false);
      await token.destroyKey(id);
    });

    it('reports a missing key as KeyUnavailableException, not an internal error', async () => {
      const error = await token.aesGcmEncrypt(newObjectId(), Buffer.alloc(0), Buffer.from('x')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KmsError);
      expect((error as KmsError).code).toBe('KeyUnavailableException');
    });

    it('draws random bytes', async () => {
      const a = await token.randomBytes(32);
      const b = await token.randomBytes(32);
      expect(a).toHaveLength(32);
      expect(a.equals(b)).toBe(false);
    });

    it('is healthy', async () => {
      expect(await token.isHealthy()).toBe(true);
    });
  });
}
