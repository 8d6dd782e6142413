// What `hsm-kms doctor` asks of a token: the mechanisms the service uses, and those its capability
// profile says the token has, against the token's own mechanism list.
import * as pkcs11js from 'pkcs11js';
import { CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA } from './mechanisms';
import type { Pkcs11Token } from './token';

interface Requirement {
  mechanism: string;
  why: string;
  /** Only informational in the profile: nothing the service offers needs it yet. */
  informational?: boolean;
}

/** Used whatever the profile says. */
const always: Requirement[] = [
  { mechanism: 'CKM_AES_KEY_GEN', why: 'symmetric KMS keys' },
  { mechanism: 'CKM_AES_GCM', why: 'Encrypt and Decrypt' },
  { mechanism: 'CKM_RSA_PKCS_KEY_PAIR_GEN', why: 'RSA KMS keys' },
  { mechanism: 'CKM_RSA_X_509', why: 'RSA decryption with host-side unpadding' },
  { mechanism: 'CKM_RSA_PKCS', why: 'RSA PKCS#1 v1.5 signatures' },
  { mechanism: 'CKM_EC_KEY_PAIR_GEN', why: 'ECC KMS keys and the audit signing key' },
  { mechanism: 'CKM_ECDSA', why: 'ECDSA signatures and signed audit digests' },
  { mechanism: 'CKM_ECDH1_DERIVE', why: 'DeriveSharedSecret' },
  { mechanism: 'CKM_GENERIC_SECRET_KEY_GEN', why: 'HMAC KMS keys' },
  { mechanism: 'CKM_SHA256_HMAC', why: 'GenerateMac with HMAC_SHA_256' },
];

function profileRequirements(token: Pkcs11Token): Requirement[] {
  const { profile } = token;
  return [
    ...(profile.rsaOaepHashes.length > 0 ? [{ mechanism: 'CKM_RSA_PKCS_OAEP', why: `profile '${profile.vendor}' lists native OAEP (rsaOaepHashes)` }] : []),
    ...(profile.keyImport.aesKeyWrapPadUnwrap ? [{ mechanism: 'CKM_AES_KEY_WRAP_PAD', why: `profile '${profile.vendor}' sets keyImport.aesKeyWrapPadUnwrap` }] : []),
    ...(profile.eddsa ? [
      { mechanism: 'CKM_EC_EDWARDS_KEY_PAIR_GEN', why: `Ed25519 KMS keys and data key pairs (profile '${profile.vendor}' sets eddsa)` },
      { mechanism: 'CKM_EDDSA', why: `Ed25519 signatures (profile '${profile.vendor}' sets eddsa)` },
    ] : []),
  ];
}

export interface MissingMechanisms {
  /** Mechanisms operations need: those operations will fail. */
  needed: string[];
  /** Mechanisms the profile claims for information only: the profile is inaccurate, nothing fails. */
  informational: string[];
}

/** The mechanisms the service or the profile expects and the token does not list, each with why. */
export function missingMechanisms(token: Pkcs11Token): MissingMechanisms {
  const listed = new Set(token.connection.mechanismList());
  // pkcs11js has the v2.40 constants; the PKCS#11 3.0 ones the service uses come from mechanisms.ts.
  const constants: Record<string, number> = { ...(pkcs11js as unknown as Record<string, number>), CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA };
  const missing = [...always, ...profileRequirements(token)].filter((r) => constants[r.mechanism] === undefined || !listed.has(constants[r.mechanism]!));
  const describe = (r: Requirement) => `${r.mechanism} (${r.why})`;
  return { needed: missing.filter((r) => !r.informational).map(describe), informational: missing.filter((r) => r.informational).map(describe) };
}
