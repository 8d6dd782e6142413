// What each key spec is, what it may be used for and with which algorithms: the tables
// every asymmetric, HMAC and key-agreement operation consults, in AWS's terms.
import { KmsError, messages } from '../errors';
import type {
  DataKeyPairSpec, EncryptionAlgorithm, KeyAgreementAlgorithm, KeySpec, KeyUsage, MacAlgorithm, SigningAlgorithm,
} from '../model';
import type { AsymmetricKeySpec, Ed25519Scheme, HashAlgorithm, KeyStore, SignatureScheme } from '../key-stores/port';

/** The key usages CreateKey accepts for each key spec (one usage per key). */
export const usagesBySpec: Record<KeySpec, readonly KeyUsage[]> = {
  SYMMETRIC_DEFAULT: ['ENCRYPT_DECRYPT'],
  RSA_2048: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  RSA_3072: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  RSA_4096: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  ECC_NIST_P256: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  ECC_NIST_P384: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  ECC_NIST_P521: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  ECC_SECG_P256K1: ['SIGN_VERIFY'],
  HMAC_224: ['GENERATE_VERIFY_MAC'],
  HMAC_256: ['GENERATE_VERIFY_MAC'],
  HMAC_384: ['GENERATE_VERIFY_MAC'],
  HMAC_512: ['GENERATE_VERIFY_MAC'],
  SM2: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'KEY_AGREEMENT'],
  ML_DSA_44: ['SIGN_VERIFY'],
  ML_DSA_65: ['SIGN_VERIFY'],
  ML_DSA_87: ['SIGN_VERIFY'],
  ECC_NIST_EDWARDS25519: ['SIGN_VERIFY'],
  ML_KEM_512: ['ENCAPSULATE_DECAPSULATE'],
  ML_KEM_768: ['ENCAPSULATE_DECAPSULATE'],
  ML_KEM_1024: ['ENCAPSULATE_DECAPSULATE'],
};

/**
 * Specs AWS offers that a standard PKCS#11 token (PKCS#11 v2.40/3.0, SoftHSM 2.6) cannot
 * hold: there is no standard mechanism for them, so the service refuses them rather than
 * keep their key material outside a token. Documented in the README.
 */
const specsNoTokenHolds: Partial<Record<KeySpec | DataKeyPairSpec, string>> = {
  SM2: 'SM2 (China Regions only) has no standard PKCS#11 mechanism',
  ML_DSA_44: 'ML-DSA has no mechanism in PKCS#11 v2.40/3.0 tokens such as SoftHSM',
  ML_DSA_65: 'ML-DSA has no mechanism in PKCS#11 v2.40/3.0 tokens such as SoftHSM',
  ML_DSA_87: 'ML-DSA has no mechanism in PKCS#11 v2.40/3.0 tokens such as SoftHSM',
  ML_KEM_512: 'ML-KEM has no mechanism in PKCS#11 v2.40/3.0 tokens such as SoftHSM',
  ML_KEM_768: 'ML-KEM has no mechanism in PKCS#11 v2.40/3.0 tokens such as SoftHSM',
  ML_KEM_1024: 'ML-KEM has no mechanism in PKCS#11 v2.40/3.0 tokens such as SoftHSM',
};

/** The EncapsulationAlgorithmSpec values of the API. */
export const encapsulationAlgorithms = ['ML_KEM'] as const;

/**
 * Encapsulate and Decapsulate need an ML-KEM key (key usage ENCAPSULATE_DECAPSULATE), which no
 * token here can hold: every request that reaches a key is refused, saying why.
 */
export function refuseKeyEncapsulation(arn: string, keyUsage: KeyUsage, operation: 'Encapsulate' | 'Decapsulate'): never {
  throw new KmsError(
    'UnsupportedOperationException',
    `${operation} is not supported by this service: it needs an ML-KEM key (key usage ENCAPSULATE_DECAPSULATE), and ${specsNoTokenHolds.ML_KEM_768}; ${arn} has key usage ${keyUsage}.`,
  );
}

/** UnsupportedOperationException for a spec whose key material no standard token can hold. */
export function assertTokenCanHold(spec: KeySpec | DataKeyPairSpec, parameter: 'KeySpec' | 'KeyPairSpec'): void {
  const reason = specsNoTokenHolds[spec];
  if (reason) {
    throw new KmsError('UnsupportedOperationException', `${parameter} ${spec} is not supported by this service: ${reason}, and every key lives in a PKCS#11 token.`);
  }
}

/**
 * Ed25519 is a PKCS#11 3.0 mechanism some tokens lack: the key's token must run EdDSA, as its
 * capability profile says, or the spec is refused (never generated or used on the host).
 */
// Precondition: an Ed25519 key or data key pair is made only in a token whose capability profile says it runs EdDSA.
export function assertStoreMakesEd25519(store: KeyStore, parameter: 'KeySpec' | 'KeyPairSpec'): void {
  if (!(store.keyPairs?.ed25519Schemes ?? []).includes('ED25519')) {
    throw new KmsError(
      'UnsupportedOperationException',
      `${parameter} ECC_NIST_EDWARDS25519 is not supported by this service: the PKCS#11 token cannot generate Ed25519 keys or sign with EdDSA (its capability profile does not set eddsa), and no key is made or used outside the token.`,
    );
  }
}

export function isAsymmetricSpec(spec: KeySpec): spec is AsymmetricKeySpec {
  return spec in curves || spec in rsaModulusBits || spec in edwardsCurves;
}

export function isHmacSpec(spec: KeySpec): spec is HmacKeySpec {
  return spec in hmacSpecs;
}

// ---------------------------------------------------------------------------------------
// RSA

export type RsaKeySpec = 'RSA_2048' | 'RSA_3072' | 'RSA_4096';
export const rsaModulusBits: Record<RsaKeySpec, number> = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 };

export function isRsaSpec(spec: string): spec is RsaKeySpec {
  return spec in rsaModulusBits;
}

export type RsaEncryptionAlgorithm = 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256';
export const oaepHashOf: Record<RsaEncryptionAlgorithm, HashAlgorithm> = { RSAES_OAEP_SHA_1: 'SHA_1', RSAES_OAEP_SHA_256: 'SHA_256' };

/** Largest OAEP plaintext: k − 2·hLen − 2 (214/190, 342/318, 470/446 bytes). */
export function maxOaepPlaintext(spec: RsaKeySpec, algorithm: RsaEncryptionAlgorithm): number {
  return rsaModulusBits[spec] / 8 - 2 * hashLength[oaepHashOf[algorithm]] - 2;
}

// ---------------------------------------------------------------------------------------
// Elliptic curves

export type EccKeySpec = 'ECC_NIST_P256' | 'ECC_NIST_P384' | 'ECC_NIST_P521' | 'ECC_SECG_P256K1';

export interface Curve {
  /** OpenSSL's name, as node:crypto reports asymmetricKeyDetails.namedCurve. */
  nodeName: string;
  /** JOSE names (RFC 7518, RFC 8812). */
  jwkCrv: string;
  jwsAlg: string;
  /** The one ECDSA algorithm AWS allows on the curve. */
  signingAlgorithm: SigningAlgorithm;
}

export const curves: Record<EccKeySpec, Curve> = {
  ECC_NIST_P256: { nodeName: 'prime256v1', jwkCrv: 'P-256', jwsAlg: 'ES256', signingAlgorithm: 'ECDSA_SHA_256' },
  ECC_NIST_P384: { nodeName: 'secp384r1', jwkCrv: 'P-384', jwsAlg: 'ES384', signingAlgorithm: 'ECDSA_SHA_384' },
  ECC_NIST_P521: { nodeName: 'secp521r1', jwkCrv: 'P-521', jwsAlg: 'ES512', signingAlgorithm: 'ECDSA_SHA_512' },
  ECC_SECG_P256K1: { nodeName: 'secp256k1', jwkCrv: 'secp256k1', jwsAlg: 'ES256K', signingAlgorithm: 'ECDSA_SHA_256' },
};

export function isEccSpec(spec: string): spec is EccKeySpec {
  return spec in curves;
}

// ---------------------------------------------------------------------------------------
// Edwards curves (EdDSA)

export type EdwardsKeySpec = 'ECC_NIST_EDWARDS25519';

/** Each Edwards spec's JWS alg: Ed25519 is an OKP key (RFC 8037, crv Ed25519) for EdDSA, pure Ed25519 over the signing input, which is ED25519_SHA_512 with RAW. */
export const edwardsCurves: Record<EdwardsKeySpec, { jwsAlg: string }> = {
  ECC_NIST_EDWARDS25519: { jwsAlg: 'EdDSA' },
};

export function isEdwardsSpec(spec: string): spec is EdwardsKeySpec {
  return spec in edwardsCurves;
}

// ---------------------------------------------------------------------------------------
// HMAC

export type HmacKeySpec = 'HMAC_224' | 'HMAC_256' | 'HMAC_384' | 'HMAC_512';

/** Each HMAC spec: its one algorithm, the hash, and the key length generated in the token. */
export const hmacSpecs: Record<HmacKeySpec, { algorithm: MacAlgorithm; hash: HashAlgorithm; keyBytes: number }> = {
  HMAC_224: { algorithm: 'HMAC_SHA_224', hash: 'SHA_224', keyBytes: 28 },
  HMAC_256: { algorithm: 'HMAC_SHA_256', hash: 'SHA_256', keyBytes: 32 },
  HMAC_384: { algorithm: 'HMAC_SHA_384', hash: 'SHA_384', keyBytes: 48 },
  HMAC_512: { algorithm: 'HMAC_SHA_512', hash: 'SHA_512', keyBytes: 64 },
};

// ---------------------------------------------------------------------------------------
// Hashes and signing algorithms

export const hashLength: Record<HashAlgorithm, number> = { SHA_1: 20, SHA_224: 28, SHA_256: 32, SHA_384: 48, SHA_512: 64 };
/** node:crypto's digest names. */
export const nodeHashName: Record<HashAlgorithm, string> = { SHA_1: 'sha1', SHA_224: 'sha224', SHA_256: 'sha256', SHA_384: 'sha384', SHA_512: 'sha512' };

const rsaSigningAlgorithms: SigningAlgorithm[] = [
  'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
];

/** The signature scheme (and its hash) behind each algorithm this service can run in a token. */
const schemes: Partial<Record<SigningAlgorithm, SignatureScheme>> = {
  RSASSA_PSS_SHA_256: { kind: 'RSA_PSS', hash: 'SHA_256' },
  RSASSA_PSS_SHA_384: { kind: 'RSA_PSS', hash: 'SHA_384' },
  RSASSA_PSS_SHA_512: { kind: 'RSA_PSS', hash: 'SHA_512' },
  RSASSA_PKCS1_V1_5_SHA_256: { kind: 'RSA_PKCS1_V1_5', hash: 'SHA_256' },
  RSASSA_PKCS1_V1_5_SHA_384: { kind: 'RSA_PKCS1_V1_5', hash: 'SHA_384' },
  RSASSA_PKCS1_V1_5_SHA_512: { kind: 'RSA_PKCS1_V1_5', hash: 'SHA_512' },
  ECDSA_SHA_256: { kind: 'ECDSA', hash: 'SHA_256' },
  ECDSA_SHA_384: { kind: 'ECDSA', hash: 'SHA_384' },
  ECDSA_SHA_512: { kind: 'ECDSA', hash: 'SHA_512' },
};

/**
 * The Ed25519 algorithms: each signs the message itself with one scheme in the token, and AWS
 * pairs each with exactly one MessageType. ED25519_PH_SHA_512 takes a SHA-512 digest as its
 * message and prehashes it again (Ed25519ph), so the input is hashed twice, as AWS documents.
 */
const ed25519Algorithms: Partial<Record<SigningAlgorithm, { scheme: Ed25519Scheme; messageType: 'RAW' | 'DIGEST' }>> = {
  ED25519_SHA_512: { scheme: 'ED25519', messageType: 'RAW' },
  ED25519_PH_SHA_512: { scheme: 'ED25519_PH', messageType: 'DIGEST' },
};

/** How a signing algorithm is computed in the token. */
export type SigningMethod =
  /** RSA and ECDSA: over a digest, hashed here for MessageType RAW or given for DIGEST. */
  | { over: 'digest'; scheme: SignatureScheme }
  /** Ed25519: over the message itself, which must be of `messageType` (a SHA-512 digest for DIGEST). */
  | { over: 'message'; scheme: Ed25519Scheme; messageType: 'RAW' | 'DIGEST' };

/** The Ed25519 scheme behind an algorithm; undefined for any other algorithm. */
export function ed25519SchemeOf(algorithm: SigningAlgorithm): Ed25519Scheme | undefined {
  return ed25519Algorithms[algorithm]?.scheme;
}

// ---------------------------------------------------------------------------------------
// The algorithm lists KeyMetadata and GetPublicKey carry, exactly as AWS lists them

export function encryptionAlgorithmsOf(spec: KeySpec, usage: KeyUsage): EncryptionAlgorithm[] | undefined {
  if (usage !== 'ENCRYPT_DECRYPT') return undefined;
  if (spec === 'SYMMETRIC_DEFAULT') return ['SYMMETRIC_DEFAULT'];
  if (isRsaSpec(spec)) return ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];
  return undefined;
}

export function signingAlgorithmsOf(spec: KeySpec, usage: KeyUsage): SigningAlgorithm[] | undefined {
  if (usage !== 'SIGN_VERIFY') return undefined;
  if (isRsaSpec(spec)) return [...rsaSigningAlgorithms];
  if (isEccSpec(spec)) return [curves[spec].signingAlgorithm];
  if (isEdwardsSpec(spec)) return ['ED25519_SHA_512', 'ED25519_PH_SHA_512'];
  return undefined;
}

export function keyAgreementAlgorithmsOf(spec: KeySpec, usage: KeyUsage): KeyAgreementAlgorithm[] | undefined {
  return usage === 'KEY_AGREEMENT' && isEccSpec(spec) ? ['ECDH'] : undefined;
}

export function macAlgorithmsOf(spec: KeySpec, usage: KeyUsage): MacAlgorithm[] | undefined {
  return usage === 'GENERATE_VERIFY_MAC' && isHmacSpec(spec) ? [hmacSpecs[spec].algorithm] : undefined;
}

// ---------------------------------------------------------------------------------------
// Checks operations share

// Precondition: a signing algorithm must be one the key's spec allows.
export function signingMethodFor(spec: KeySpec, usage: KeyUsage, algorithm: SigningAlgorithm): SigningMethod {
  const digestScheme = schemes[algorithm];
  const messageScheme = ed25519Algorithms[algorithm];
  if ((!digestScheme && !messageScheme) || !(signingAlgorithmsOf(spec, usage) ?? []).includes(algorithm)) {
    throw new KmsError('InvalidKeyUsageException', messages.incompatibleAlgorithm(algorithm, spec));
  }
  return digestScheme ? { over: 'digest', scheme: digestScheme } : { over: 'message', ...messageScheme! };
}

// Precondition: a MAC algorithm must be the one the HMAC key's spec names.
export function macHashFor(spec: KeySpec, algorithm: MacAlgorithm): HashAlgorithm {
  if (!isHmacSpec(spec) || hmacSpecs[spec].algorithm !== algorithm) {
    throw new KmsError('InvalidKeyUsageException', messages.incompatibleAlgorithm(algorithm, spec));
  }
  return hmacSpecs[spec].hash;
}
