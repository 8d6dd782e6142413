// The ciphertext data integrity value (spec, Appendix C): base64 of SHA-256 over the decoded
// additionalAuthenticatedData ‖ ciphertextMetadata ‖ initializationVector ‖ ciphertext ‖
// authenticationTag, an absent field counting as empty. No lengths: it guards against bit
// flips, not forgery.
import { createHash } from 'node:crypto';
import type { AesGcmSealed } from '../key-stores/port';

export function ciphertextDataIntegrityValue(additionalAuthenticatedData: Buffer | undefined, ciphertextMetadata: Buffer | undefined, sealed: AesGcmSealed): Buffer {
  const hash = createHash('sha256');
  for (const part of [additionalAuthenticatedData, ciphertextMetadata, sealed.iv, sealed.ciphertext, sealed.tag]) {
    if (part) hash.update(part);
  }
  return hash.digest();
}
