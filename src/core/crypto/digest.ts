// The digest a Sign or Verify request stands for: hashed here for MessageType RAW, taken as
// given (after a length check) for DIGEST. The token then signs or verifies the digest.
import { createHash } from 'node:crypto';
import { KmsError } from '../errors';
import { hashLength, nodeHashName } from '../keys/key-specs';
import type { KeySpec, MessageType, SigningAlgorithm } from '../model';
import type { HashAlgorithm } from '../key-stores/port';

export function hash(algorithm: HashAlgorithm, data: Buffer): Buffer {
  return createHash(nodeHashName[algorithm]).update(data).digest();
}

// Precondition: a DIGEST message must be exactly as long as the signing algorithm's hash.
export function digestOf(
  message: Buffer,
  messageType: MessageType,
  hashAlgorithm: HashAlgorithm,
  signingAlgorithm: SigningAlgorithm,
  keySpec: KeySpec,
): Buffer {
  switch (messageType) {
    case 'RAW':
      return hash(hashAlgorithm, message);
    case 'DIGEST':
      if (message.length !== hashLength[hashAlgorithm]) throw new KmsError('ValidationException', `Digest is invalid length for algorithm ${signingAlgorithm}.`);
      return message;
    case 'EXTERNAL_MU':
      // Only ML-DSA keys take a precomputed mu, and no token here holds ML-DSA keys.
      throw new KmsError('ValidationException', `Message type ${messageType} is incompatible with key spec ${keySpec}.`);
  }
}
