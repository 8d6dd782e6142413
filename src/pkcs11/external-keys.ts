// The XKS proxy's external keys in a token: AES-256 keys, sensitive and non-extractable, whose
// CKA_ENCRYPT and CKA_DECRYPT follow their usage, so the token itself refuses a use the usage
// does not permit (CKR_KEY_FUNCTION_NOT_PERMITTED, InvalidKeyUsageException).
//
// They share the token with KMS keys but never their objects: their CKA_IDs are 33 bytes, a
// 0x78 ('x') byte and 32 random bytes, where a KMS key version's are 32, and every call here
// refuses an id outside that namespace. A GCM failure is InvalidCiphertextException only once a
// round trip with the health key shows the token is working, since SoftHSM reports a tag
// mismatch with CKR_GENERAL_ERROR, which a failing device gives too.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isKmsError, KmsError, messages } from '../core/errors';
import type { AesGcmSealed, ExternalKeyCapability, ExternalKeyPermissions, KeyManagerDescription } from '../core/key-stores/port';
import type { TokenAesGcm } from './aes-gcm';
import { externalKeyTemplate } from './templates';
import { internal, TokenMechanism, type TokenKeyObjects, type TokenObjects } from './token-objects';

const NAMESPACE = '78';
const objectIdPattern = /^78[0-9a-f]{64}$/;

/** The health key: one per token, in the external keys' namespace, named the same by every instance. */
export const XKS_HEALTH_KEY_ID = NAMESPACE + createHash('sha256').update('hsm-kms:xks-health-key:v1').digest('hex');
const HEALTH_KEY_LABEL = 'xks:health';
const HEALTH_AAD = Buffer.from('hsm-kms xks health check');

export function isExternalKeyObjectId(objectId: string): boolean {
  return objectIdPattern.test(objectId);
}

function inNamespace(objectId: string): string {
  // Precondition: the external keys capability touches only objects in the external keys' CKA_ID namespace.
  if (!isExternalKeyObjectId(objectId)) throw new KmsError('KMSInternalException', messages.internal, `'${objectId}' is not an external key object id`);
  return objectId;
}

export class TokenExternalKeys extends TokenMechanism implements ExternalKeyCapability {
  constructor(objects: TokenObjects, private readonly keyObjects: TokenKeyObjects, private readonly aesGcm: TokenAesGcm) {
    super(objects);
  }

  async generateExternalKey(label: string, permissions: ExternalKeyPermissions): Promise<string> {
    const objectId = NAMESPACE + randomBytes(32).toString('hex');
    await this.keyObjects.generateSecretKey('generateExternalKey', objectId, externalKeyTemplate(objectId, label, permissions));
    return objectId;
  }

  async destroyExternalKey(objectId: string): Promise<boolean> {
    return this.keyObjects.destroyKey(inNamespace(objectId));
  }

  async encrypt(objectId: string, aad: Buffer, plaintext: Buffer): Promise<AesGcmSealed> {
    return this.aesGcm.aesGcmEncrypt(inNamespace(objectId), aad, plaintext);
  }

  async decrypt(objectId: string, aad: Buffer, sealed: AesGcmSealed): Promise<Buffer> {
    try {
      return await this.aesGcm.aesGcmDecrypt(inNamespace(objectId), aad, sealed);
    } catch (e) {
      if (!isKmsError(e) || e.code !== 'InvalidCiphertextException') throw e;
      // Precondition: a failed GCM decryption is InvalidCiphertextException only when the token then passes a health check.
      await this.checkHealth().catch((failure: unknown) => {
        throw internal(`GCM decryption failed and the token then failed its health check: ${failure instanceof Error ? failure.message : String(failure)}`);
      });
      throw e;
    }
  }

  async checkHealth(): Promise<void> {
    const probe = randomBytes(16);
    let sealed: AesGcmSealed;
    try {
      sealed = await this.aesGcm.aesGcmEncrypt(XKS_HEALTH_KEY_ID, HEALTH_AAD, probe);
    } catch (e) {
      if (!isKmsError(e) || e.code !== 'KeyUnavailableException') throw e;
      // The first check on this token makes the health key; another instance may make it too, which is harmless.
      await this.keyObjects.generateSecretKey('generateHealthKey', XKS_HEALTH_KEY_ID, externalKeyTemplate(XKS_HEALTH_KEY_ID, HEALTH_KEY_LABEL, { encrypt: true, decrypt: true }));
      sealed = await this.aesGcm.aesGcmEncrypt(XKS_HEALTH_KEY_ID, HEALTH_AAD, probe);
    }
    const opened = await this.aesGcm.aesGcmDecrypt(XKS_HEALTH_KEY_ID, HEALTH_AAD, sealed);
    if (opened.length !== probe.length || !timingSafeEqual(opened, probe)) throw internal('the health key did not decrypt what it encrypted');
  }

  describe(): KeyManagerDescription {
    const info = this.connection.info;
    return { id: info.serialNumber || info.label, vendor: info.manufacturerId, model: `${info.manufacturerId} ${info.model}`.trim() };
  }
}
