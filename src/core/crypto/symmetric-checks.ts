// Checks shared by operations that use an encryption key: which algorithm a request may
// use with the key, and which keys may seal data keys.
import { KmsError, messages } from '../errors';
import { isRsaSpec, type RsaEncryptionAlgorithm, type RsaKeySpec } from '../keys/key-specs';
import { assertUsage, type ResolvedKey } from '../keys/resolve';
import type { EncryptionAlgorithm, KeyRecord } from '../model';

export type EncryptionScheme =
  | { kind: 'symmetric' }
  | { kind: 'rsa'; algorithm: RsaEncryptionAlgorithm; key: KeyRecord & { keySpec: RsaKeySpec } };

/**
 * The scheme an Encrypt, Decrypt or ReEncrypt request runs with this key. AWS takes an
 * absent EncryptionAlgorithm as SYMMETRIC_DEFAULT, which an RSA key refuses: RSA keys need
 * RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256 on every call.
 */
export function encryptionSchemeFor(resolved: ResolvedKey, operation: string, algorithm: EncryptionAlgorithm | undefined): EncryptionScheme {
  assertUsage(resolved, 'ENCRYPT_DECRYPT', operation);
  const { key } = resolved;
  const requested = algorithm ?? 'SYMMETRIC_DEFAULT';
  // Precondition: a symmetric key only takes the SYMMETRIC_DEFAULT algorithm.
  if (key.keySpec === 'SYMMETRIC_DEFAULT') {
    if (requested !== 'SYMMETRIC_DEFAULT') throw new KmsError('InvalidKeyUsageException', messages.incompatibleAlgorithm(requested, key.keySpec));
    return { kind: 'symmetric' };
  }
  // Precondition: an RSA encryption key only takes RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256.
  if (isRsaSpec(key.keySpec) && (requested === 'RSAES_OAEP_SHA_1' || requested === 'RSAES_OAEP_SHA_256')) {
    return { kind: 'rsa', algorithm: requested, key: key as KeyRecord & { keySpec: RsaKeySpec } };
  }
  throw new KmsError('InvalidKeyUsageException', messages.incompatibleAlgorithm(requested, key.keySpec));
}

/** Symmetric encryption only (data keys, data key pairs, the v1 ciphertext format). */
export function assertSymmetricEncryptionKey(resolved: ResolvedKey, operation: string, algorithm: EncryptionAlgorithm | undefined): void {
  assertUsage(resolved, 'ENCRYPT_DECRYPT', operation);
  // Precondition: data keys and data key pairs are sealed only under a symmetric encryption key.
  if (resolved.key.keySpec !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError('InvalidKeyUsageException', `${resolved.arn} key KeySpec is ${resolved.key.keySpec} which is not valid for ${operation}.`);
  }
  encryptionSchemeFor(resolved, operation, algorithm);
}
