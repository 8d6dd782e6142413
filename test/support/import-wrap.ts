// Wrapping key material offline for ImportKeyMaterial, as a customer would with OpenSSL:
// node:crypto only, never the service's code.
import { constants, createCipheriv, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';

export type WrappingAlgorithmName = 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256' | 'RSA_AES_KEY_WRAP_SHA_1' | 'RSA_AES_KEY_WRAP_SHA_256';

export const wrappingAlgorithmNames: WrappingAlgorithmName[] = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256'];

/** RSA-OAEP (MGF1 with the same hash, no label) of `data` under the wrapping public key. */
export function oaepWrap(publicKey: Buffer | KeyObject, hash: 'sha1' | 'sha256', data: Buffer): Buffer {
  const key = Buffer.isBuffer(publicKey) ? { key: publicKey, format: 'der' as const, type: 'spki' as const } : { key: publicKey };
  return publicEncrypt({ ...key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, data);
}

/** AES key wrap with padding (RFC 5649), as `openssl enc -id-aes256-wrap-pad` makes it. */
export function kwpWrap(kek: Buffer, data: Buffer): Buffer {
  const cipher = createCipheriv('id-aes256-wrap-pad', kek, Buffer.from('a65959a6', 'hex'));
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

/** EncryptedKeyMaterial for `algorithm`: one OAEP block, or OAEP of a fresh AES-256 key followed by AES-KWP of the material. */
export function wrapKeyMaterial(publicKey: Buffer | KeyObject, algorithm: WrappingAlgorithmName, material: Buffer): Buffer {
  const hash = algorithm.endsWith('SHA_256') ? 'sha256' : 'sha1';
  if (algorithm.startsWith('RSAES_OAEP')) return oaepWrap(publicKey, hash, material);
  const kek = randomBytes(32);
  return Buffer.concat([oaepWrap(publicKey, hash, kek), kwpWrap(kek, material)]);
}
