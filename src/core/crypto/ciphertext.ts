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
//
// Scheme 0x02 (a key in an external key store: double encryption) keeps the header and
// replaces what follows it with the XKS proxy's answer:
//
//   51      1     m = length of the proxy's ciphertextMetadata (0-20)
//   52      m     ciphertextMetadata
//   52+m    1     v = length of the proxy's IV (12 or 16)
//   53+m    v     proxy IV
//   53+m+v  n     proxy ciphertext of (inner IV 12 || inner ciphertext || inner tag 16), the
//                 inner layer being AES-256-GCM in our token under the KMS key's own key
//   end-16  16    proxy tag
//
// Both layers use the same AAD, so the proxy's layer is bound to the header and the context too.
import { canonicalEncryptionContext, type EncryptionContext } from './encryption-context';
import { KmsError } from '../errors';
import { keyIdFromBytes, keyIdToBytes } from '../keys/key-id';

export const FORMAT_VERSION = 0x01;
export const SCHEME_TOKEN_AES_GCM = 0x01;
export const SCHEME_EXTERNAL_DOUBLE = 0x02;
export const HEADER_LENGTH = 51;
export const IV_LENGTH = 12;
export const TAG_LENGTH = 16;

export interface CiphertextHeader {
  keyId: string;
  keyMaterialId: string;
  /** SCHEME_TOKEN_AES_GCM unless given. */
  scheme?: number;
}

export interface ParsedCiphertext extends CiphertextHeader {
  scheme: number;
  header: Buffer;
  iv: Buffer;
  payload: Buffer;
  tag: Buffer;
  /** Scheme 0x02: the proxy's ciphertextMetadata, if it returned any. */
  metadata?: Buffer;
}

export function encodeHeader(header: CiphertextHeader): Buffer {
  const { form, bytes } = keyIdToBytes(header.keyId);
  const material = Buffer.from(header.keyMaterialId, 'hex');
  if (material.length !== 32) throw new Error('key material id must be 32 bytes');
  return Buffer.concat([Buffer.from([FORMAT_VERSION, header.scheme ?? SCHEME_TOKEN_AES_GCM, form]), bytes, material]);
}

export function additionalData(header: Buffer, context: EncryptionContext | undefined): Buffer {
  return Buffer.concat([header, canonicalEncryptionContext(context)]);
}

export function assemble(header: Buffer, iv: Buffer, payload: Buffer, tag: Buffer): Buffer {
  return Buffer.concat([header, iv, payload, tag]);
}

/** Scheme 0x02: the header, then the proxy's metadata and IV, each after its length, its ciphertext and its tag. */
export function assembleDouble(header: Buffer, outer: { metadata?: Buffer; iv: Buffer; ciphertext: Buffer; tag: Buffer }): Buffer {
  const metadata = outer.metadata ?? Buffer.alloc(0);
  return Buffer.concat([header, Buffer.from([metadata.length]), metadata, Buffer.from([outer.iv.length]), outer.iv, outer.ciphertext, outer.tag]);
}

// Precondition: a blob that is not a well-formed v1 ciphertext is rejected before any key lookup.
export function parseCiphertext(blob: Buffer): ParsedCiphertext {
  const invalid = () => new KmsError('InvalidCiphertextException', '');
  if (blob.length < HEADER_LENGTH + IV_LENGTH + TAG_LENGTH) throw invalid();
  if (blob[0] !== FORMAT_VERSION || (blob[1] !== SCHEME_TOKEN_AES_GCM && blob[1] !== SCHEME_EXTERNAL_DOUBLE)) throw invalid();
  const keyId = keyIdFromBytes(blob[2] as number, blob.subarray(3, 19));
  if (!keyId) throw invalid();
  const payloadEnd = blob.length - TAG_LENGTH;
  const keyMaterialId = blob.subarray(19, HEADER_LENGTH).toString('hex');
  const header = blob.subarray(0, HEADER_LENGTH);
  if (blob[1] === SCHEME_EXTERNAL_DOUBLE) {
    const metadataLength = blob[HEADER_LENGTH] as number;
    const ivAt = HEADER_LENGTH + 1 + metadataLength;
    const ivLength = blob[ivAt];
    if (metadataLength > 20 || (ivLength !== 12 && ivLength !== 16) || ivAt + 1 + ivLength > payloadEnd) throw invalid();
    return {
      keyId, keyMaterialId, header, scheme: SCHEME_EXTERNAL_DOUBLE,
      metadata: metadataLength > 0 ? blob.subarray(HEADER_LENGTH + 1, ivAt) : undefined,
      iv: blob.subarray(ivAt + 1, ivAt + 1 + ivLength),
      payload: blob.subarray(ivAt + 1 + ivLength, payloadEnd),
      tag: blob.subarray(payloadEnd),
    };
  }
  return {
    keyId,
    scheme: SCHEME_TOKEN_AES_GCM,
    keyMaterialId,
    header,
    iv: blob.subarray(HEADER_LENGTH, HEADER_LENGTH + IV_LENGTH),
    payload: blob.subarray(HEADER_LENGTH + IV_LENGTH, payloadEnd),
    tag: blob.subarray(payloadEnd),
  };
}
