// Host-side OAEP decoding (src/core/oaep.ts), checked against node:crypto's OAEP encryption:
// node encrypts, the raw RSA primitive (node, RSA_NO_PADDING) stands in for the token, and
// decodeOaep must give back the plaintext, or fail with one InvalidCiphertextException.
import { constants, createHash, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { KmsError } from '../../src/core/errors';
import { decodeOaep, hashLength, mgf1 } from '../../src/pkcs11/oaep';
import type { HashAlgorithm } from '../../src/core/key-stores/port';

const nodeName: Record<string, string> = { SHA_1: 'sha1', SHA_256: 'sha256' };
const sizes = [2048, 3072, 4096];
const keys = new Map<number, { publicKey: KeyObject; privateKey: KeyObject }>();
beforeAll(() => {
  for (const bits of sizes) keys.set(bits, generateKeyPairSync('rsa', { modulusLength: bits }));
});

const rawDecrypt = (bits: number, ciphertext: Buffer) => privateDecrypt({ key: keys.get(bits)!.privateKey, padding: constants.RSA_NO_PADDING }, ciphertext);
const encrypt = (bits: number, hash: HashAlgorithm, message: Buffer) =>
  publicEncrypt({ key: keys.get(bits)!.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: nodeName[hash] }, message);

function expectInvalid(f: () => unknown): void {
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(KmsError);
  expect((error as KmsError).code).toBe('InvalidCiphertextException');
  expect((error as KmsError).message).toBe('');
}

/** EME-OAEP encoding with a chosen DB (lHash ‖ PS ‖ 01 ‖ M, or a defective one) and Y. */
function encodeWithDb(hash: HashAlgorithm, k: number, db: Buffer, y = 0): Buffer {
  const hLen = hashLength(hash);
  const seed = randomBytes(hLen);
  const dbMask = mgf1(hash, seed, k - hLen - 1);
  const maskedDb = Buffer.from(db.map((b, i) => b ^ dbMask[i]!));
  const seedMask = mgf1(hash, maskedDb, hLen);
  const maskedSeed = Buffer.from(seed.map((b, i) => b ^ seedMask[i]!));
  return Buffer.concat([Buffer.from([y]), maskedSeed, maskedDb]);
}

function validDb(hash: HashAlgorithm, k: number, message: Buffer): Buffer {
  const hLen = hashLength(hash);
  const lHash = createHash(nodeName[hash]!).digest();
  return Buffer.concat([lHash, Buffer.alloc(k - message.length - 2 * hLen - 2), Buffer.from([1]), message]);
}

describe('decodeOaep', () => {
  for (const bits of sizes) {
    for (const hash of ['SHA_1', 'SHA_256'] as const) {
      const k = bits / 8;
      const max = k - 2 * hashLength(hash) - 2;

      it(`decodes node:crypto OAEP-${hash} ciphertexts under RSA ${bits} (empty, short and maximal messages)`, () => {
        for (const length of [0, 1, 32, max]) {
          const message = randomBytes(length);
          const block = rawDecrypt(bits, encrypt(bits, hash, message));
          expect(block).toHaveLength(k);
          expect(decodeOaep(block, hash, k).equals(message)).toBe(true);
        }
      });

      it(`RSA ${bits} OAEP-${hash}: a byte flipped anywhere in the block, or in the ciphertext, fails as InvalidCiphertextException`, () => {
        const message = Buffer.from('attack at dawn');
        const ciphertext = encrypt(bits, hash, message);
        const block = rawDecrypt(bits, ciphertext);
        const hLen = hashLength(hash);
        // Y, seed, lHash, PS, the separator's neighbourhood, and the last byte.
        const positions = [0, 1, hLen, hLen + 1, 2 * hLen, 2 * hLen + 1, 2 * hLen + 2, k - message.length - 2, k - message.length - 1, k - 1];
        for (const position of positions) {
          for (const bit of [0x01, 0x80]) {
            const tampered = Buffer.from(block);
            tampered[position]! ^= bit;
            expectInvalid(() => decodeOaep(tampered, hash, k));
          }
        }
        for (const position of [0, 1, k >> 1, k - 1]) {
          const tampered = Buffer.from(ciphertext);
          tampered[position]! ^= 0x01;
          // The tampered ciphertext may exceed the modulus: then node refuses it before decoding.
          let tamperedBlock: Buffer;
          try {
            tamperedBlock = rawDecrypt(bits, tampered);
          } catch {
            continue;
          }
          expectInvalid(() => decodeOaep(tamperedBlock, hash, k));
        }
      });
    }
  }

  it('any defect in an OAEP block fails with one InvalidCiphertextException.', () => {
    const hash: HashAlgorithm = 'SHA_256';
    const k = 256;
    const message = Buffer.from('message');
    const good = validDb(hash, k, message);
    expect(decodeOaep(encodeWithDb(hash, k, good), hash, k).equals(message)).toBe(true);
    // Y not zero.
    expectInvalid(() => decodeOaep(encodeWithDb(hash, k, good, 1), hash, k));
    // lHash wrong (a label was used).
    const wrongLabel = Buffer.from(good);
    createHash('sha256').update('label').digest().copy(wrongLabel, 0);
    expectInvalid(() => decodeOaep(encodeWithDb(hash, k, wrongLabel), hash, k));
    // A non-zero byte in PS.
    const dirtyPs = Buffer.from(good);
    dirtyPs[40] = 7;
    expectInvalid(() => decodeOaep(encodeWithDb(hash, k, dirtyPs), hash, k));
    // No 0x01 separator at all.
    const noSeparator = Buffer.concat([good.subarray(0, 32), Buffer.alloc(k - 32 - 33)]);
    expectInvalid(() => decodeOaep(encodeWithDb(hash, k, noSeparator), hash, k));
    // The separator as the very last byte: an empty message is valid.
    const emptyMessage = validDb(hash, k, Buffer.alloc(0));
    expect(decodeOaep(encodeWithDb(hash, k, emptyMessage), hash, k)).toHaveLength(0);
    // The wrong hash.
    expectInvalid(() => decodeOaep(encodeWithDb(hash, k, good), 'SHA_1', k));
    // A block longer than the modulus, and a modulus too small for the hash.
    expectInvalid(() => decodeOaep(Buffer.alloc(k + 1), hash, k));
    expectInvalid(() => decodeOaep(Buffer.alloc(65), 'SHA_256', 65));
    // All zeros, all ones.
    expectInvalid(() => decodeOaep(Buffer.alloc(k), hash, k));
    expectInvalid(() => decodeOaep(Buffer.alloc(k, 0xff), hash, k));
  });

  it('accepts a block whose leading zero bytes a token dropped (I2OSP)', () => {
    const message = Buffer.from('short');
    const block = rawDecrypt(2048, encrypt(2048, 'SHA_256', message));
    expect(block[0]).toBe(0);
    expect(decodeOaep(block.subarray(1), 'SHA_256', 256).equals(message)).toBe(true);
  });

  it('never crashes on arbitrary blocks: it decodes or throws InvalidCiphertextException', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.constantFrom<HashAlgorithm>('SHA_1', 'SHA_256', 'SHA_512'), (bytes, hash) => {
      try {
        decodeOaep(Buffer.from(bytes), hash, 256);
      } catch (e) {
        expect(e).toBeInstanceOf(KmsError);
        expect((e as KmsError).code).toBe('InvalidCiphertextException');
      }
    }), { numRuns: 300 });
  });

  it('MGF1 matches the RFC 8017 construction for lengths across hash boundaries', () => {
    const seed = Buffer.from('seed');
    const expected = Buffer.concat([0, 1, 2].map((i) => {
      const counter = Buffer.alloc(4);
      counter.writeUInt32BE(i);
      return createHash('sha256').update(seed).update(counter).digest();
    }));
    for (const length of [0, 1, 31, 32, 33, 96]) expect(mgf1('SHA_256', seed, length).equals(expected.subarray(0, length))).toBe(true);
  });
});
