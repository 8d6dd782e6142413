// Token quirks are data (hsm/profiles/<vendor>.json), chosen by the token's manufacturer
// and model, so supporting a new HSM means writing a profile rather than branching code.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { HashAlgorithm } from '../core/key-stores/port';

export interface TokenProfile {
  vendor: string;
  match: { manufacturerId?: string; model?: string };
  /** The token fills in GCM IVs itself. Informational: IVs always come from the token RNG. */
  generatesGcmIv: boolean;
  /** Which CK_GCM_PARAMS layout the module expects. */
  gcmParams: 'v240' | 'legacy';
  /** CKR names that mean "GCM tag did not verify" for this token. */
  gcmAuthFailureCodes: string[];
  /** OAEP hashes (MGF1 with the same hash, empty label) the token decrypts natively; others run CKM_RSA_X_509 and decode on the host. */
  rsaOaepHashes: HashAlgorithm[];
  /** CKR names that mean "OAEP padding did not check" for this token. */
  rsaOaepFailureCodes: string[];
  /**
   * CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA work with Ed25519 (pure Ed25519, single-part):
   * the service then offers ECC_NIST_EDWARDS25519 keys and data key pairs. Without it they are
   * refused; EdDSA never runs on the host.
   */
  eddsa: boolean;
  /**
   * CKM_EDDSA with CK_EDDSA_PARAMS phFlag = TRUE computes Ed25519ph (RFC 8032 HashEdDSA: the token
   * hashes its input with SHA-512 and signs the prehash), as ED25519_PH_SHA_512 needs. Absent
   * means false: set it only once a signature has been checked against an independent Ed25519ph.
   */
  eddsaPrehash?: boolean;
  /**
   * Mechanisms the token answers in microseconds on the calling thread (an in-process software
   * token): they run synchronously, because handing them to libuv's thread pool costs more than
   * the work. Everything else, and everything on a network HSM, stays asynchronous.
   */
  synchronousMechanisms: SynchronousMechanism[];
  /**
   * What C_UnwrapKey can do for ImportKeyMaterial. The adapter unwraps in the token where these
   * allow it and the token can prove the material's length; elsewhere the token runs the RSA
   * step alone and the host unpads and unwraps (see token.ts importPlan).
   */
  keyImport: KeyImportProfile;
  notes?: string[];
}

export interface KeyImportProfile {
  /** Hashes C_UnwrapKey accepts with CKM_RSA_PKCS_OAEP (MGF1 of the same hash, empty label). */
  rsaOaepUnwrapHashes: HashAlgorithm[];
  /** C_UnwrapKey accepts CKM_AES_KEY_WRAP_PAD (RFC 5649) with an AES key in the token. */
  aesKeyWrapPadUnwrap: boolean;
  /** C_UnwrapKey records CKA_VALUE_LEN on the secret keys it makes, so the token can show the material's length. */
  unwrapReportsValueLen: boolean;
  /** CKR names that mean "the wrapped material did not unwrap" for this token. */
  unwrapFailureCodes: string[];
}

export const synchronousMechanismNames = ['AES_GCM', 'HMAC', 'ECDSA'] as const;
export type SynchronousMechanism = (typeof synchronousMechanismNames)[number];

const hashNames: readonly HashAlgorithm[] = ['SHA_1', 'SHA_224', 'SHA_256', 'SHA_384', 'SHA_512'];

/** Fails loudly at start-up on a profile that lacks a field, rather than on the first request. */
function checkProfile(file: string, p: TokenProfile): TokenProfile {
  const problems: string[] = [];
  if (typeof p.vendor !== 'string') problems.push('vendor');
  if (typeof p.match !== 'object' || p.match === null) problems.push('match');
  if (typeof p.generatesGcmIv !== 'boolean') problems.push('generatesGcmIv');
  if (p.gcmParams !== 'v240' && p.gcmParams !== 'legacy') problems.push('gcmParams');
  if (!Array.isArray(p.gcmAuthFailureCodes)) problems.push('gcmAuthFailureCodes');
  if (!Array.isArray(p.rsaOaepHashes) || !p.rsaOaepHashes.every((h) => hashNames.includes(h))) problems.push('rsaOaepHashes');
  if (!Array.isArray(p.rsaOaepFailureCodes)) problems.push('rsaOaepFailureCodes');
  if (typeof p.eddsa !== 'boolean') problems.push('eddsa');
  if (p.eddsaPrehash !== undefined && (typeof p.eddsaPrehash !== 'boolean' || (p.eddsaPrehash && !p.eddsa))) problems.push('eddsaPrehash (a boolean, true only with eddsa)');
  if (!Array.isArray(p.synchronousMechanisms) || !p.synchronousMechanisms.every((m) => (synchronousMechanismNames as readonly string[]).includes(m))) problems.push('synchronousMechanisms');
  const k = p.keyImport as Partial<KeyImportProfile> | undefined;
  if (typeof k !== 'object' || k === null) problems.push('keyImport');
  else {
    if (!Array.isArray(k.rsaOaepUnwrapHashes) || !k.rsaOaepUnwrapHashes.every((h) => hashNames.includes(h))) problems.push('keyImport.rsaOaepUnwrapHashes');
    if (typeof k.aesKeyWrapPadUnwrap !== 'boolean') problems.push('keyImport.aesKeyWrapPadUnwrap');
    if (typeof k.unwrapReportsValueLen !== 'boolean') problems.push('keyImport.unwrapReportsValueLen');
    if (!Array.isArray(k.unwrapFailureCodes)) problems.push('keyImport.unwrapFailureCodes');
  }
  if (problems.length > 0) throw new Error(`token profile ${file}: missing or invalid ${problems.join(', ')}`);
  return p;
}

export const defaultProfileDir = path.resolve(__dirname, '..', '..', 'hsm', 'profiles');

export function loadProfiles(dir = defaultProfileDir): TokenProfile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => checkProfile(f, JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as TokenProfile));
}

/** The most specific profile whose match fields all equal the token's; `generic` otherwise. */
export function selectProfile(
  profiles: TokenProfile[],
  token: { manufacturerId: string; model: string },
  forcedVendor?: string,
): TokenProfile {
  if (forcedVendor) {
    const forced = profiles.find((p) => p.vendor === forcedVendor);
    if (!forced) throw new Error(`no token profile named '${forcedVendor}'`);
    return forced;
  }
  const matching = profiles.filter(
    (p) =>
      (p.match.manufacturerId === undefined || p.match.manufacturerId === token.manufacturerId) &&
      (p.match.model === undefined || p.match.model === token.model),
  );
  matching.sort((a, b) => Object.keys(b.match).length - Object.keys(a.match).length);
  const chosen = matching[0];
  if (!chosen) throw new Error('no token profile matches and there is no generic profile');
  return chosen;
}
