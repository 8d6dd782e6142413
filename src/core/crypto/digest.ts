// What a Sign or Verify request gives the token. RSA and ECDSA sign a digest: hashed here for
// MessageType RAW, taken as given (after a length check) for DIGEST. Ed25519 signs the message
// itself, which AWS ties to one message type per algorithm.
import { createHash } from 'node:crypto';
import { KmsError } from '../errors';
import { hashLength, nodeHashName } from '../keys/key-specs';
import type { KeySpec, MessageType, SigningAlgorithm } from '../model';
import type { HashAlgorithm } from '../key-stores/port';

export function hash(algorithm: HashAlgorithm, data: Buffer): Buffer {
  return createHash(nodeHashName[algorithm]).update(data).digest();
}

const invalidDigestLength = (signingAlgorithm: SigningAlgorithm) => new KmsError('ValidationException', `Digest is invalid length for algorithm ${signingAlgorithm}.`);

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
      if (message.length !== hashLength[hashAlgorithm]) throw invalidDigestLength(signingAlgorithm);
      return message;
    case 'EXTERNAL_MU':
      // Only ML-DSA keys take a precomputed mu, and no token here holds ML-DSA keys.
      throw new KmsError('ValidationException', `Message type ${messageType} is incompatible with key spec ${keySpec}.`);
  }
}

// Precondition: an Ed25519 signing algorithm takes only its own message type: RAW for ED25519_SHA_512, a SHA-512 DIGEST for ED25519_PH_SHA_512.
export function ed25519MessageOf(message: Buffer, messageType: MessageType, required: 'RAW' | 'DIGEST', signingAlgorithm: SigningAlgorithm): Buffer {
  // AWS's wording; the two algorithms are different signatures, so neither type stands in for the other.
  if (messageType !== required) throw new KmsError('ValidationException', `Message type ${messageType} is incompatible with algorithm ${signingAlgorithm}.`);
  if (required === 'DIGEST' && message.length !== hashLength.SHA_512) throw invalidDigestLength(signingAlgorithm);
  return message;
}
