// The additional authenticated data the token's AES-GCM gets for an XKS Encrypt or Decrypt, as
// the spec's Encrypt section prescribes: the caller's AAD and the ciphertext metadata, each
// preceded by its length, so neither can stand in for the other.
//
//   2-byte big-endian length of additionalAuthenticatedData ‖ additionalAuthenticatedData ‖
//   1-byte length of ciphertextMetadata ‖ ciphertextMetadata
//
// An absent field has length zero.

/** The largest AAD a 2-byte length can state. */
export const MAX_AAD_BYTES = 0xffff;
/** The spec's limit on ciphertextMetadata. */
export const MAX_CIPHERTEXT_METADATA_BYTES = 20;

export function xksGcmAad(additionalAuthenticatedData?: Buffer, ciphertextMetadata?: Buffer): Buffer {
  const aad = additionalAuthenticatedData ?? Buffer.alloc(0);
  const metadata = ciphertextMetadata ?? Buffer.alloc(0);
  if (aad.length > MAX_AAD_BYTES || metadata.length > MAX_CIPHERTEXT_METADATA_BYTES) throw new RangeError('AAD or ciphertext metadata too long for its length prefix');
  const aadLength = Buffer.alloc(2);
  aadLength.writeUInt16BE(aad.length);
  return Buffer.concat([aadLength, aad, Buffer.from([metadata.length]), metadata]);
}
