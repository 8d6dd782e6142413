// Checks shared by operations that use a symmetric encryption key.
import { KmsError } from './errors';
import { assertUsage, type ResolvedKey } from './keys';
import type { EncryptionAlgorithm } from './model';

export function assertSymmetricEncryptionKey(resolved: ResolvedKey, operation: string, algorithm: EncryptionAlgorithm | undefined): void {
  assertUsage(resolved, 'ENCRYPT_DECRYPT', operation);
  // Precondition: a symmetric key only takes the SYMMETRIC_DEFAULT algorithm.
  if (resolved.key.keySpec === 'SYMMETRIC_DEFAULT' && algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError('InvalidKeyUsageException', `Algorithm ${algorithm} is incompatible with key spec ${resolved.key.keySpec}.`);
  }
  if (resolved.key.keySpec !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError('UnsupportedOperationException', `${resolved.arn} key spec ${resolved.key.keySpec} is not supported for ${operation} yet.`);
  }
}
