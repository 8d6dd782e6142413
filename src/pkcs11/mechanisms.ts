// Mechanisms and their parameters, built from the token profile; the tables that name hashes,
// curves and key specs in PKCS#11 terms.
import * as pkcs11js from 'pkcs11js';
import type { AsymmetricKeySpec, Ed25519Scheme, HashAlgorithm, SignatureScheme } from '../core/key-stores/port';
import type { TokenProfile } from './profile';

// PKCS#11 3.0 values that pkcs11js (built on the v2.40 headers) does not define.
export const CKK_EC_EDWARDS = 0x40;
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;

export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;

export function aesGcm(profile: TokenProfile, iv: Buffer, aad: Buffer): pkcs11js.Mechanism {
  return {
    mechanism: pkcs11js.CKM_AES_GCM,
    parameter: {
      type: profile.gcmParams === 'v240' ? pkcs11js.CK_PARAMS_AES_GCM_v240 : pkcs11js.CK_PARAMS_AES_GCM,
      iv,
      aad,
      ivBits: GCM_IV_BYTES * 8,
      tagBits: GCM_TAG_BYTES * 8,
    } as pkcs11js.IParams,
  };
}

export const aesKeyGen: pkcs11js.Mechanism = { mechanism: pkcs11js.CKM_AES_KEY_GEN };
export const genericSecretKeyGen: pkcs11js.Mechanism = { mechanism: pkcs11js.CKM_GENERIC_SECRET_KEY_GEN };
export const rsaKeyPairGen: pkcs11js.Mechanism = { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN };
export const ecKeyPairGen: pkcs11js.Mechanism = { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN };
export const edwardsKeyPairGen: pkcs11js.Mechanism = { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN };
/** The bare RSA primitive: input and output are modulus-length blocks. */
export const rsaX509: pkcs11js.Mechanism = { mechanism: pkcs11js.CKM_RSA_X_509 };

interface HashInfo {
  bytes: number;
  ckm: number;
  mgf: number;
  hmac: number;
}

export const hashes: Record<HashAlgorithm, HashInfo> = {
  SHA_1: { bytes: 20, ckm: pkcs11js.CKM_SHA_1, mgf: pkcs11js.CKG_MGF1_SHA1, hmac: pkcs11js.CKM_SHA_1_HMAC },
  SHA_224: { bytes: 28, ckm: pkcs11js.CKM_SHA224, mgf: pkcs11js.CKG_MGF1_SHA224, hmac: pkcs11js.CKM_SHA224_HMAC },
  SHA_256: { bytes: 32, ckm: pkcs11js.CKM_SHA256, mgf: pkcs11js.CKG_MGF1_SHA256, hmac: pkcs11js.CKM_SHA256_HMAC },
  SHA_384: { bytes: 48, ckm: pkcs11js.CKM_SHA384, mgf: pkcs11js.CKG_MGF1_SHA384, hmac: pkcs11js.CKM_SHA384_HMAC },
  SHA_512: { bytes: 64, ckm: pkcs11js.CKM_SHA512, mgf: pkcs11js.CKG_MGF1_SHA512, hmac: pkcs11js.CKM_SHA512_HMAC },
};

export interface Curve {
  /** The JWK "crv" node:crypto understands. */
  jwk: 'P-256' | 'P-384' | 'P-521' | 'secp256k1';
  /** CKA_EC_PARAMS: the DER OBJECT IDENTIFIER of the named curve. */
  params: Buffer;
  fieldBytes: number;
}

export const curves: Curve[] = [
  { jwk: 'P-256', params: Buffer.from('06082a8648ce3d030107', 'hex'), fieldBytes: 32 },
  { jwk: 'P-384', params: Buffer.from('06052b81040022', 'hex'), fieldBytes: 48 },
  { jwk: 'P-521', params: Buffer.from('06052b81040023', 'hex'), fieldBytes: 66 },
  { jwk: 'secp256k1', params: Buffer.from('06052b8104000a', 'hex'), fieldBytes: 32 },
];

export function curveByParams(params: Buffer): Curve | undefined {
  return curves.find((c) => c.params.equals(params));
}

/** A twisted Edwards curve for EdDSA (RFC 8032). */
export interface EdwardsCurve {
  /** The JWK "crv" (RFC 8037) node:crypto understands. */
  jwk: 'Ed25519';
  /** CKA_EC_PARAMS as the service writes it: the DER OBJECT IDENTIFIER id-Ed25519 (RFC 8410). */
  params: Buffer;
  /**
   * The other form PKCS#11 3.0 allows, a DER PrintableString of the curve's name: what SoftHSM
   * 2.6 reports on the private half it generates.
   */
  nameParams: Buffer;
  /** Public keys and private seeds are this long; signatures twice as long. */
  keyBytes: number;
}

export const ed25519: EdwardsCurve = {
  jwk: 'Ed25519',
  params: Buffer.from('06032b6570', 'hex'),
  nameParams: Buffer.concat([Buffer.from([0x13, 'edwards25519'.length]), Buffer.from('edwards25519', 'ascii')]),
  keyBytes: 32,
};

export function edwardsCurveByParams(params: Buffer): EdwardsCurve | undefined {
  return params.equals(ed25519.params) || params.equals(ed25519.nameParams) ? ed25519 : undefined;
}

export type KeyPairAlgorithm = { kind: 'RSA'; bits: number } | { kind: 'EC'; curve: Curve } | { kind: 'EDWARDS'; curve: EdwardsCurve };

const curveOf = (jwk: Curve['jwk']): Curve => curves.find((c) => c.jwk === jwk)!;

export const keyPairAlgorithms: Record<AsymmetricKeySpec, KeyPairAlgorithm> = {
  RSA_2048: { kind: 'RSA', bits: 2048 },
  RSA_3072: { kind: 'RSA', bits: 3072 },
  RSA_4096: { kind: 'RSA', bits: 4096 },
  ECC_NIST_P256: { kind: 'EC', curve: curveOf('P-256') },
  ECC_NIST_P384: { kind: 'EC', curve: curveOf('P-384') },
  ECC_NIST_P521: { kind: 'EC', curve: curveOf('P-521') },
  ECC_SECG_P256K1: { kind: 'EC', curve: curveOf('secp256k1') },
  ECC_NIST_EDWARDS25519: { kind: 'EDWARDS', curve: ed25519 },
};

export function keyPairGen(algorithm: KeyPairAlgorithm): pkcs11js.Mechanism {
  return { RSA: rsaKeyPairGen, EC: ecKeyPairGen, EDWARDS: edwardsKeyPairGen }[algorithm.kind];
}

/** The mechanism for a signature over a host-computed digest (DigestInfo for PKCS#1 v1.5 is added by the caller). */
export function signatureMechanism(scheme: SignatureScheme): pkcs11js.Mechanism {
  switch (scheme.kind) {
    case 'RSA_PKCS1_V1_5':
      return { mechanism: pkcs11js.CKM_RSA_PKCS };
    case 'RSA_PSS': {
      const h = hashes[scheme.hash];
      return {
        mechanism: pkcs11js.CKM_RSA_PKCS_PSS,
        parameter: { type: pkcs11js.CK_PARAMS_RSA_PSS, hashAlg: h.ckm, mgf: h.mgf, saltLen: h.bytes } as pkcs11js.RsaPSS,
      };
    }
    case 'ECDSA':
      return { mechanism: pkcs11js.CKM_ECDSA };
  }
}

const sixtyFourBit = new Set(['x64', 'arm64', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el']);

/**
 * CKM_EDDSA over the message. Pure Ed25519 takes no parameter. Ed25519ph takes CK_EDDSA_PARAMS
 * { CK_BBOOL phFlag = TRUE; CK_ULONG ulContextDataLen = 0; CK_BYTE_PTR pContextData = NULL },
 * which pkcs11js cannot build, so it goes as the struct's bytes: all zero but phFlag, laid out
 * as the C compiler does (natural alignment; packed to 1 byte on Windows, as PKCS#11 demands there).
 */
export function eddsa(scheme: Ed25519Scheme): pkcs11js.Mechanism {
  if (scheme === 'ED25519') return { mechanism: CKM_EDDSA };
  const pointer = sixtyFourBit.has(process.arch) ? 8 : 4;
  // CK_ULONG is a long: as wide as a pointer on Unix, 4 bytes on Windows.
  const ulong = process.platform === 'win32' ? 4 : pointer;
  // { bool, padding to a CK_ULONG, CK_ULONG, pointer }, or packed on Windows.
  const params = Buffer.alloc(process.platform === 'win32' ? 1 + ulong + pointer : ulong + ulong + pointer);
  params[0] = 1;
  return { mechanism: CKM_EDDSA, parameter: params };
}

/** OAEP with MGF1 of the same hash and an empty label (no source data). */
export function rsaOaep(hash: HashAlgorithm): pkcs11js.Mechanism {
  const h = hashes[hash];
  return {
    mechanism: pkcs11js.CKM_RSA_PKCS_OAEP,
    parameter: { type: pkcs11js.CK_PARAMS_RSA_OAEP, hashAlg: h.ckm, mgf: h.mgf, source: 0 } as pkcs11js.RsaOAEP,
  };
}

/** CKZ_DATA_SPECIFIED, the only OAEP label source PKCS#11 defines. */
const CKZ_DATA_SPECIFIED = 1;

/**
 * OAEP for C_UnwrapKey: an empty label given as CKZ_DATA_SPECIFIED with no data, as PKCS#11
 * requires (SoftHSM's C_UnwrapKey checks it; its C_Decrypt does not).
 */
export function rsaOaepUnwrap(hash: HashAlgorithm): pkcs11js.Mechanism {
  const h = hashes[hash];
  return {
    mechanism: pkcs11js.CKM_RSA_PKCS_OAEP,
    parameter: { type: pkcs11js.CK_PARAMS_RSA_OAEP, hashAlg: h.ckm, mgf: h.mgf, source: CKZ_DATA_SPECIFIED } as pkcs11js.RsaOAEP,
  };
}

/** AES key wrap with padding (RFC 5649, default IV A65959A6). */
export const aesKeyWrapPad: pkcs11js.Mechanism = { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD };
/** One block, for the check value of an imported AES key. */
export const aesEcb: pkcs11js.Mechanism = { mechanism: pkcs11js.CKM_AES_ECB };

export function hmac(hash: HashAlgorithm): pkcs11js.Mechanism {
  return { mechanism: hashes[hash].hmac };
}

/** ECDH without a KDF: the derived secret is the x-coordinate of the shared point. */
export function ecdh1(peerPoint: Buffer): pkcs11js.Mechanism {
  return {
    mechanism: pkcs11js.CKM_ECDH1_DERIVE,
    parameter: { type: pkcs11js.CK_PARAMS_EC_DH, kdf: pkcs11js.CKD_NULL, publicData: peerPoint } as pkcs11js.ECDH1,
  };
}
