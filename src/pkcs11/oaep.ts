// EME-OAEP decoding (RFC 8017 §7.1.2 step 3) on the host, for tokens whose native OAEP lacks
// a hash (SoftHSM 2.6: SHA-1 only). The token runs the bare RSA primitive; this undoes the
// padding in constant time with respect to the secret block: every byte is visited whatever
// it holds, failures are folded into one flag, and there is a single failure exit with one
// error, so a caller cannot tell which check failed, or where (Manger's attack).
import { createHash } from 'node:crypto';
import { KmsError } from '../core/errors';
import type { HashAlgorithm } from '../core/key-stores/port';

const nodeHash: Record<HashAlgorithm, { name: string; bytes: number }> = {
  SHA_1: { name: 'sha1', bytes: 20 },
  SHA_224: { name: 'sha224', bytes: 28 },
  SHA_256: { name: 'sha256', bytes: 32 },
  SHA_384: { name: 'sha384', bytes: 48 },
  SHA_512: { name: 'sha512', bytes: 64 },
};

export function hashLength(hash: HashAlgorithm): number {
  return nodeHash[hash].bytes;
}

/** MGF1 (RFC 8017 B.2.1) with `hash`. */
export function mgf1(hash: HashAlgorithm, seed: Buffer, length: number): Buffer {
  const { name, bytes } = nodeHash[hash];
  const out = Buffer.alloc(Math.ceil(length / bytes) * bytes);
  const counter = Buffer.alloc(4);
  for (let i = 0, offset = 0; offset < length; i++, offset += bytes) {
    counter.writeUInt32BE(i);
    createHash(name).update(seed).update(counter).digest().copy(out, offset);
  }
  const result = Buffer.from(out.subarray(0, length));
  out.fill(0);
  return result;
}

/** 1 when a === b, else 0; bytes only. No branches. */
function eqByte(a: number, b: number): number {
  return (((a ^ b) - 1) >>> 31) & 1;
}

/** x when bit is 1, y when bit is 0. No branches. */
function select(bit: number, x: number, y: number): number {
  const mask = -bit | 0;
  return (x & mask) | (y & ~mask);
}

/**
 * Decodes an EME-OAEP block (the output of the raw RSA primitive, I2OSP'd to the modulus
 * length) with MGF1 of the same hash and an empty label, and returns the message. Throws one
 * InvalidCiphertextException, whatever the defect.
 */
export function decodeOaep(block: Buffer, hash: HashAlgorithm, modulusBytes: number): Buffer {
  const hLen = hashLength(hash);
  // Public facts only (the modulus length and the block's length), so these may branch.
  if (modulusBytes < 2 * hLen + 2 || block.length > modulusBytes) {
    throw new KmsError('InvalidCiphertextException', '', 'OAEP: block or modulus length out of range');
  }
  // I2OSP: a token that drops leading zero bytes still yields the same integer.
  const em = Buffer.alloc(modulusBytes);
  block.copy(em, modulusBytes - block.length);
  const lHash = createHash(nodeHash[hash].name).digest();
  const dbLength = modulusBytes - hLen - 1;
  const maskedSeed = em.subarray(1, 1 + hLen);
  const maskedDb = em.subarray(1 + hLen);
  let seedMask: Buffer | undefined;
  let dbMask: Buffer | undefined;
  const seed = Buffer.alloc(hLen);
  const db = Buffer.alloc(dbLength);
  try {
    seedMask = mgf1(hash, maskedDb, hLen);
    for (let i = 0; i < hLen; i++) seed[i] = maskedSeed[i]! ^ seedMask[i]!;
    dbMask = mgf1(hash, seed, dbLength);
    for (let i = 0; i < dbLength; i++) db[i] = maskedDb[i]! ^ dbMask[i]!;

    // bad: 1 once any check failed. Y must be zero.
    let bad = 1 - eqByte(em[0]!, 0);
    // lHash' must equal lHash.
    let hashDiff = 0;
    for (let i = 0; i < hLen; i++) hashDiff |= db[i]! ^ lHash[i]!;
    bad |= 1 - eqByte(hashDiff, 0);
    // PS (zero bytes), then 0x01, then M. Scan all of DB whatever is found.
    let looking = 1;
    let separator = 0;
    for (let i = hLen; i < dbLength; i++) {
      const isOne = eqByte(db[i]!, 1);
      const isZero = eqByte(db[i]!, 0);
      separator = select(looking & isOne, i, separator);
      bad |= looking & (1 - isOne) & (1 - isZero);
      looking &= 1 - isOne;
    }
    bad |= looking;
    // Precondition: any defect in an OAEP block fails with one InvalidCiphertextException.
    if (bad !== 0) throw new KmsError('InvalidCiphertextException', '', 'OAEP decoding failed');
    return Buffer.from(db.subarray(separator + 1));
  } finally {
    em.fill(0);
    seed.fill(0);
    db.fill(0);
    seedMask?.fill(0);
    dbMask?.fill(0);
  }
}
