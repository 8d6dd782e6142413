// Imported key material on the host, for the steps a token cannot take itself: the rules the
// material must meet (AWS's), its check value, AES key wrap with padding (RFC 5649) undone with
// node:crypto, and a PKCS#8 private key read into the components C_CreateObject takes. The
// PKCS#11 adapter and the fake token share these, so both answer alike.
import { createDecipheriv, createHash, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { KmsError } from '../core/errors';
import type { AsymmetricKeySpec, ImportedMaterialSpec } from '../core/key-stores/port';

/**
 * The block whose AES encryption (or HMAC) under imported material, hashed, is its check value.
 * Not the all-zero block: E_K(0^128) is GCM's hash subkey, and even hashed it has no business
 * being stored.
 */
export const CHECK_VALUE_BLOCK = Buffer.from('hsm-kms:kcv:v1\x00\x00', 'latin1');

/** The stored check value: the first 16 bytes of SHA-256 over a one-way function of the key computed in the token. */
export function checkValueOf(oneWay: Buffer): string {
  return createHash('sha256').update(oneWay).digest().subarray(0, 16).toString('hex');
}

/** The check value of a private key: from its public key, which reveals nothing secret. */
export function publicKeyCheckValue(spki: Buffer): string {
  return checkValueOf(spki);
}

const invalidCiphertext = (detail: string) => new KmsError('InvalidCiphertextException', '', detail);
const incorrectMaterial = (message: string, detail?: string) => new KmsError('IncorrectKeyMaterialException', message, detail);

/** The AES key of an RSA_AES_KEY_WRAP_* upload: AES-256, as AWS specifies. */
export const IMPORT_KEK_BYTES = 32;

/**
 * RSA_AES_KEY_WRAP_*: the upload is one RSA-OAEP block of the wrapping key's modulus length
 * (the AES key), then AES-KWP of the material: a multiple of 8 bytes, at least 16.
 */
export function splitRsaAesKeyWrap(encrypted: Buffer, modulusBytes: number): { rsaBlock: Buffer; kwp: Buffer } {
  const kwp = encrypted.subarray(modulusBytes);
  if (encrypted.length < modulusBytes + 16 || kwp.length % 8 !== 0) {
    throw invalidCiphertext(`RSA-AES upload of ${encrypted.length} bytes for a ${modulusBytes}-byte modulus`);
  }
  return { rsaBlock: encrypted.subarray(0, modulusBytes), kwp };
}

/** How long material can be, given its AES-KWP length: a KWP blob of n bytes holds n - 15 to n - 8 bytes. */
export function kwpPlaintextRange(kwpLength: number): { min: number; max: number } {
  return { min: kwpLength - 15, max: kwpLength - 8 };
}

// Precondition: AES-KWP material unwrapped on the host must authenticate under the AES key of the import.
export function unwrapKwpOnHost(kek: Buffer, wrapped: Buffer): Buffer {
  if (kek.length !== IMPORT_KEK_BYTES) throw invalidCiphertext(`RSA-AES key of ${kek.length} bytes`);
  try {
    const decipher = createDecipheriv('id-aes256-wrap-pad', kek, Buffer.from('a65959a6', 'hex'));
    const head = decipher.update(wrapped);
    const tail = decipher.final();
    const material = Buffer.concat([head, tail]);
    head.fill(0);
    tail.fill(0);
    return material;
  } catch (e) {
    throw invalidCiphertext(`AES-KWP unwrap failed: ${(e as Error).message}`);
  }
}

/** The AWS key spec imported material is for, for messages. */
export function materialKeySpec(material: ImportedMaterialSpec): string {
  switch (material.kind) {
    case 'AES': return 'SYMMETRIC_DEFAULT';
    case 'HMAC': return `HMAC_${material.bytes * 8}`;
    case 'PRIVATE_KEY': return material.spec;
  }
}

export const importMessages = {
  wrongLength: (material: Extract<ImportedMaterialSpec, { bytes: number }>) =>
    `Imported key material for key spec ${materialKeySpec(material)} must be ${material.bytes} bytes (${material.bytes * 8} bits) long.`,
  notPrivateKey: (spec: AsymmetricKeySpec) =>
    `Imported key material for key spec ${spec} must be a ${spec.startsWith('RSA') ? 'two-prime RSA' : 'named-curve EC'} private key of that spec in PKCS #8 (DER) encoding.`,
} as const;

// Precondition: imported secret material must be exactly as long as the key spec requires.
export function assertSecretLength(material: ImportedMaterialSpec, length: number): void {
  if (material.kind === 'PRIVATE_KEY') return;
  if (length !== material.bytes) throw incorrectMaterial(importMessages.wrongLength(material), `material of ${length} bytes`);
}

// ---- PKCS#8 private keys

/** OpenSSL's curve names for the EC key specs. */
const curveNames: Partial<Record<AsymmetricKeySpec, string>> = {
  ECC_NIST_P256: 'prime256v1', ECC_NIST_P384: 'secp384r1', ECC_NIST_P521: 'secp521r1', ECC_SECG_P256K1: 'secp256k1',
};
const rsaBits: Partial<Record<AsymmetricKeySpec, number>> = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 };

/** A DER/BER header at `offset` (definite lengths only): tag, where the contents start and how long they are. */
function header(der: Buffer, offset: number): { tag: number; start: number; length: number } | undefined {
  const tag = der[offset];
  const first = der[offset + 1];
  if (tag === undefined || first === undefined) return undefined;
  if (first < 0x80) return { tag, start: offset + 2, length: first };
  const count = first & 0x7f;
  if (count === 0 || count > 3 || offset + 2 + count > der.length) return undefined;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + der[offset + 2 + i]!;
  return { tag, start: offset + 2 + count, length };
}

/** The tag of the AlgorithmIdentifier parameters in a PKCS#8 PrivateKeyInfo: 0x06 for a named curve. */
function algorithmParametersTag(pkcs8: Buffer): number | undefined {
  const info = header(pkcs8, 0);
  if (info?.tag !== 0x30) return undefined;
  const version = header(pkcs8, info.start);
  if (version?.tag !== 0x02) return undefined;
  const algorithm = header(pkcs8, version.start + version.length);
  if (algorithm?.tag !== 0x30) return undefined;
  const oid = header(pkcs8, algorithm.start);
  if (oid?.tag !== 0x06) return undefined;
  return pkcs8[oid.start + oid.length];
}

const big = (b64url: string | undefined): bigint => BigInt(`0x${Buffer.from(b64url ?? '', 'base64url').toString('hex') || '0'}`);

export interface PrivateKeyMaterial {
  /** The private key's JWK: n, e, d, p, q, dp, dq, qi (RSA) or crv, x, y, d (EC). */
  jwk: JsonWebKey;
  publicKeySpki: Buffer;
  checkValue: string;
}

// Precondition: an imported private key must be a two-prime RSA or named-curve EC key of the spec of the KMS key, in PKCS #8.
export function readPrivateKeyMaterial(pkcs8: Buffer, spec: AsymmetricKeySpec): PrivateKeyMaterial {
  const refuse = (detail: string) => incorrectMaterial(importMessages.notPrivateKey(spec), detail);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw refuse(`PKCS#8 does not parse: ${(e as Error).message}`);
  }
  const curve = curveNames[spec];
  if (curve) {
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== curve) {
      throw refuse(`${key.asymmetricKeyType}/${key.asymmetricKeyDetails?.namedCurve ?? '-'} for ${spec}`);
    }
    // OpenSSL maps explicit curve parameters to the named curve they spell; AWS refuses them.
    if (algorithmParametersTag(pkcs8) !== 0x06) throw refuse('EC key with explicit curve parameters');
  } else if (key.asymmetricKeyType !== 'rsa' || key.asymmetricKeyDetails?.modulusLength !== rsaBits[spec]) {
    throw refuse(`${key.asymmetricKeyType}/${key.asymmetricKeyDetails?.modulusLength ?? '-'} bits for ${spec}`);
  }
  const jwk = key.export({ format: 'jwk' });
  // A multi-prime key exports only two of its primes as a JWK: p·q would not be n.
  if (!curve && big(jwk.p) * big(jwk.q) !== big(jwk.n)) throw refuse('RSA key with more than two primes');
  const publicKeySpki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  return { jwk, publicKeySpki, checkValue: publicKeyCheckValue(publicKeySpki) };
}
