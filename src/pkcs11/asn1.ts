// The little DER the adapter writes and reads itself: PKCS#1 DigestInfo, ECDSA signatures
// (PKCS#11's r‖s against the DER SEQUENCE AWS returns) and CKA_EC_POINT of EC and Edwards keys.
// Keys themselves (SPKI, PKCS#8) are encoded by node:crypto from JWKs, never here.
import type { HashAlgorithm } from '../core/key-stores/port';

/** DER of DigestInfo up to the digest bytes (RFC 8017 §9.2 note 1). */
const digestInfoPrefix: Record<HashAlgorithm, Buffer> = {
  SHA_1: Buffer.from('3021300906052b0e03021a05000414', 'hex'),
  SHA_224: Buffer.from('302d300d06096086480165030402040500041c', 'hex'),
  SHA_256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  SHA_384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  SHA_512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

export function digestInfo(hash: HashAlgorithm, digest: Buffer): Buffer {
  return Buffer.concat([digestInfoPrefix[hash], digest]);
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  if (length < 0x100) return Buffer.from([0x81, length]);
  return Buffer.from([0x82, length >> 8, length & 0xff]);
}

function derUnsignedInteger(value: Buffer): Buffer {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  const body = value.subarray(start);
  const content = body[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), body]) : body;
  return Buffer.concat([Buffer.from([0x02]), derLength(content.length), content]);
}

/** PKCS#11 ECDSA output (r‖s, each `fieldBytes` long) → DER SEQUENCE { INTEGER r, INTEGER s }. */
export function ecdsaRawToDer(raw: Buffer, fieldBytes: number): Buffer {
  if (raw.length !== 2 * fieldBytes) throw new Error(`ECDSA signature of ${raw.length} bytes, expected ${2 * fieldBytes}`);
  const body = Buffer.concat([derUnsignedInteger(raw.subarray(0, fieldBytes)), derUnsignedInteger(raw.subarray(fieldBytes))]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

/** Reads a DER length at `offset`: minimal encodings only. */
function readLength(der: Buffer, offset: number): { length: number; next: number } | undefined {
  const first = der[offset];
  if (first === undefined) return undefined;
  if (first < 0x80) return { length: first, next: offset + 1 };
  const count = first & 0x7f;
  if (count === 0 || count > 2 || offset + 1 + count > der.length) return undefined;
  let length = 0;
  for (let i = 0; i < count; i++) length = (length << 8) | der[offset + 1 + i]!;
  // Minimal: the long form only for 128 and up, and no leading zero byte.
  if (length < 0x80 || der[offset + 1] === 0) return undefined;
  return { length, next: offset + 1 + count };
}

/**
 * DER SEQUENCE { INTEGER r, INTEGER s } → r‖s, each left-padded to `fieldBytes`. Undefined
 * for anything but strict DER with positive integers that fit the field: such a signature
 * cannot verify, and the caller answers false.
 */
export function ecdsaDerToRaw(der: Buffer, fieldBytes: number): Buffer | undefined {
  if (der[0] !== 0x30) return undefined;
  const seq = readLength(der, 1);
  if (!seq || seq.next + seq.length !== der.length) return undefined;
  const out = Buffer.alloc(2 * fieldBytes);
  let offset = seq.next;
  for (let i = 0; i < 2; i++) {
    if (der[offset] !== 0x02) return undefined;
    const int = readLength(der, offset + 1);
    if (!int || int.length === 0 || int.next + int.length > der.length) return undefined;
    let value = der.subarray(int.next, int.next + int.length);
    if (value[0]! & 0x80) return undefined; // negative
    if (value[0] === 0 && value.length > 1) {
      if (!(value[1]! & 0x80)) return undefined; // non-minimal
      value = value.subarray(1);
    }
    if (value.length > fieldBytes) return undefined;
    value.copy(out, (i + 1) * fieldBytes - value.length);
    offset = int.next + int.length;
  }
  return offset === der.length ? out : undefined;
}

/**
 * CKA_EC_POINT → the uncompressed point 04‖x‖y. PKCS#11 says the attribute is a DER OCTET
 * STRING wrapping the point (SoftHSM does so); some tokens return the bare point.
 */
export function ecPointFromAttribute(value: Buffer, fieldBytes: number): Buffer {
  const pointLength = 1 + 2 * fieldBytes;
  let point = value;
  if (!(value.length === pointLength && value[0] === 0x04)) {
    const len = value[0] === 0x04 ? readLength(value, 1) : undefined;
    if (!len || len.next + len.length !== value.length) throw new Error('CKA_EC_POINT is neither a point nor a DER OCTET STRING');
    point = value.subarray(len.next);
  }
  if (point.length !== pointLength || point[0] !== 0x04) throw new Error('CKA_EC_POINT is not an uncompressed point on the key\'s curve');
  return point;
}

/**
 * CKA_EC_POINT of an Edwards key → its encoded public key (32 bytes for Ed25519). PKCS#11 3.0
 * says a DER OCTET STRING around it (SoftHSM 2.6 does so: 04 20 ‖ key); some tokens give it bare.
 */
export function edwardsPointFromAttribute(value: Buffer, keyBytes: number): Buffer {
  if (value.length === keyBytes) return value;
  const len = value[0] === 0x04 ? readLength(value, 1) : undefined;
  if (!len || len.length !== keyBytes || len.next + len.length !== value.length) throw new Error('CKA_EC_POINT of an Edwards key is neither its public key nor a DER OCTET STRING around it');
  return value.subarray(len.next);
}

/** DER OCTET STRING around `value`: CKA_EC_POINT as PKCS#11 defines it. */
export function derOctetString(value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x04]), derLength(value.length), value]);
}

/** Left-pads a big-endian unsigned integer to `length` bytes (tokens drop leading zeros). */
export function leftPad(value: Buffer, length: number): Buffer {
  if (value.length === length) return value;
  if (value.length > length) throw new Error(`integer of ${value.length} bytes does not fit ${length}`);
  const out = Buffer.alloc(length);
  value.copy(out, length - value.length);
  return out;
}
