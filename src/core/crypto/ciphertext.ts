// Ciphertext format v1 for symmetric keys. The layout is documented byte by byte in the
// README; changing it breaks every stored ciphertext, so add a new version instead.
//
//   offset  size  field
//   0       1     format version (0x01)
//   1       1     protection scheme (0x01 = AES-256-GCM inside a PKCS#11 token)
//   2       1     key id form (0x00 = UUID key id, 0x01 = mrk- multi-Region key id)
//   3       16    key id
//   19      32    key material id (the key version)
//   51      12    GCM IV
//   63      n     encrypted payload
//   63+n    16    GCM tag
//
// AAD = bytes 0..50 (the header) || canonical(encryption context). The IV is authenticated by
// GCM itself, which lets a token that generates its own IVs fill it in.
import { canonicalEncryptionContext, type EncryptionContext } from './encryption-context';
import { KmsError } from '../errors';
import { keyIdFromBytes, keyIdToBytes } from '../keys/key-id';

export const FORMAT_VERSION = 0x01;
export const SCHEME_TOKEN_AES_GCM = 0x01;
export const HEADER_LENGTH = 51;
export const IV_LENGTH = 12;
export const TAG_LENGTH = 16;

export interface CiphertextHeader {
  keyId: string;
  keyMaterialId: string;
}

export interface ParsedCiphertext extends CiphertextHeader {
  header: Buffer;
  iv: Buffer;
  payload: Buffer;
  tag: Buffer;
}

export function encodeHeader(header: CiphertextHeader): Buffer {
  const { form, bytes } = keyIdToBytes(header.keyId);
  const material = Buffer.from(header.keyMaterialId, 'hex');
  if (material.length !== 32) throw new Error('key material id must be 32 bytes');
  return Buffer.concat([Buffer.from([FORMAT_VERSION, SCHEME_TOKEN_AES_GCM, form]), bytes, material]);
}

export function additionalData(header: Buffer, context: EncryptionContext | undefined): Buffer {
  return Buffer.concat([header, canonicalEncryptionContext(context)]);
}

export function assemble(header: Buffer, iv: Buffer, payload: Buffer, tag: Buffer): Buffer {
  return Buffer.concat([header, iv, payload, tag]);
}

// Precondition: a blob that is not a well-formed v1 ciphertext is rejected before any key lookup.
export function parseCiphertext(blob: Buffer): ParsedCiphertext {
  const invalid = () => new KmsError('InvalidCiphertextException', '');
  if (blob.length < HEADER_LENGTH + IV_LENGTH + TAG_LENGTH) throw invalid();
  if (blob[0] !== FORMAT_VERSION || blob[1] !== SCHEME_TOKEN_AES_GCM) throw invalid();
  const keyId = keyIdFromBytes(blob[2] as number, blob.subarray(3, 19));
  if (!keyId) throw invalid();
  const payloadEnd = blob.length - TAG_LENGTH;
  return {
    keyId,
    keyMaterialId: blob.subarray(19, HEADER_LENGTH).toString('hex'),
    header: blob.subarray(0, HEADER_LENGTH),
    iv: blob.subarray(HEADER_LENGTH, HEADER_LENGTH + IV_LENGTH),
    payload: blob.subarray(HEADER_LENGTH + IV_LENGTH, payloadEnd),
    tag: blob.subarray(payloadEnd),
  };
}
