// The ports core depends on. Adapters (src/pkcs11, src/store, src/log) implement them;
// tests implement them with fakes.
import type { AliasRecord, GrantRecord, KeyRecord, KeyScope } from './model';

export interface Page<T> {
  items: T[];
  /** Opaque continuation marker; absent on the last page. */
  nextMarker?: string;
}

export interface PageRequest {
  limit: number;
  marker?: string;
}

/** Keys, each with its versions, tags, policy, rotation and import state: one record per key. */
export interface KeyRepository {
  /** Throws DuplicateRecordError if the key id exists in the scope. */
  insert(key: KeyRecord): Promise<void>;
  get(scope: KeyScope, keyId: string): Promise<KeyRecord | undefined>;
  /** Complete keys in the scope, ordered by keyId. Throws InvalidMarker KmsError on a bad marker. */
  list(scope: KeyScope, page: PageRequest): Promise<Page<KeyRecord>>;
  /**
   * Replaces the stored key if its revision still equals `key.revision`, and returns the
   * stored copy with the revision bumped. Throws RevisionConflictError otherwise.
   */
  replace(key: KeyRecord): Promise<KeyRecord>;
  /**
   * Deletes the key, every alias pointing at it and every grant on it (atomically where the
   * store can). No error if absent. The one write that crosses aggregates: an alias or grant
   * must never outlive its key, and a retried delete finishes an interrupted one.
   */
  delete(scope: KeyScope, keyId: string): Promise<void>;
  /** Keys in any scope still marked incomplete and last updated before `before` (crash recovery). */
  listIncomplete(before: Date): Promise<KeyRecord[]>;
  /** Complete keys in any scope, PendingDeletion with a deletionDate at or before `dueBy` (the deletion worker). */
  listDueForDeletion(dueBy: Date): Promise<KeyRecord[]>;
  /**
   * Complete, Enabled keys in any scope with automatic rotation on and a nextRotationDate at or
   * before `dueBy`, soonest first (the rotation scheduler).
   */
  listDueForRotation(dueBy: Date): Promise<KeyRecord[]>;
  /** Complete keys in any scope holding a PENDING version created before `before` (an interrupted rotation). */
  listWithPendingVersions(before: Date): Promise<KeyRecord[]>;
  /**
   * Complete keys in any scope whose imported.upkeepAt is at or before `dueBy`, soonest first
   * (import upkeep: material expiry, spent import parameters, token objects awaiting destruction).
   */
  listDueForImportUpkeep(dueBy: Date): Promise<KeyRecord[]>;
}

export interface AliasRepository {
  /** Throws DuplicateRecordError if the alias name exists in the scope. */
  insert(alias: AliasRecord): Promise<void>;
  get(scope: KeyScope, aliasName: string): Promise<AliasRecord | undefined>;
  /** Ordered by aliasName; optionally only aliases of one key. */
  list(scope: KeyScope, filter: { keyId?: string }, page: PageRequest): Promise<Page<AliasRecord>>;
  /** Points an existing alias at another key. Returns false if the alias does not exist. */
  update(scope: KeyScope, aliasName: string, targetKeyId: string, now: Date): Promise<boolean>;
  /** Returns false if the alias did not exist. */
  delete(scope: KeyScope, aliasName: string): Promise<boolean>;
  countForKey(scope: KeyScope, keyId: string): Promise<number>;
}

export interface GrantRepository {
  /** Throws DuplicateRecordError if the grant id (unique in every scope) or the grant token exists. */
  insert(grant: GrantRecord): Promise<void>;
  /** The grant with this id on this key; undefined if it is on another key or absent. */
  get(scope: KeyScope, keyId: string, grantId: string): Promise<GrantRecord | undefined>;
  /** The grant a token was issued for, in any scope. */
  findByToken(grantToken: string): Promise<GrantRecord | undefined>;
  /** The key's grants ordered by grantId, optionally only one grant id or one grantee principal. */
  list(
    scope: KeyScope, keyId: string, filter: { grantId?: string; granteePrincipal?: string }, page: PageRequest,
  ): Promise<Page<GrantRecord>>;
  /** Grants on keys of any account in `region` whose retiring principal is exactly `retiringPrincipal`, ordered by grantId. */
  listRetirable(region: string, retiringPrincipal: string, page: PageRequest): Promise<Page<GrantRecord>>;
  /** Returns false if the key had no such grant. */
  delete(scope: KeyScope, keyId: string, grantId: string): Promise<boolean>;
  countForKey(scope: KeyScope, keyId: string): Promise<number>;
}

/**
 * Metadata only, one repository per aggregate. Never key bytes. Each repository has its own
 * contract suite, run against every store.
 */
export interface MetadataStore {
  readonly keys: KeyRepository;
  readonly aliases: AliasRepository;
  readonly grants: GrantRepository;
  // Later issues add repositories here: custom key stores, audit records, and leases for
  // background jobs.

  init(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when the store can serve requests; rejects otherwise. */
  ping(): Promise<void>;
}

/** What a token can do natively; the adapter fills this from hsm/profiles/<vendor>.json. */
export interface TokenCapabilities {
  vendor: string;
  /** OAEP hashes the token decrypts with natively; others use the raw RSA primitive plus host-side OAEP decoding. */
  rsaOaepHashes: HashAlgorithm[];
}

export type HashAlgorithm = 'SHA_1' | 'SHA_224' | 'SHA_256' | 'SHA_384' | 'SHA_512';

export type AsymmetricKeySpec = 'RSA_2048' | 'RSA_3072' | 'RSA_4096' | 'ECC_NIST_P256' | 'ECC_NIST_P384' | 'ECC_NIST_P521' | 'ECC_SECG_P256K1';

/** What a key pair in the token may do; decides CKA_SIGN/CKA_DECRYPT/CKA_DERIVE. */
export type KeyPairPurpose = 'SIGN_VERIFY' | 'ENCRYPT_DECRYPT' | 'KEY_AGREEMENT';

/** Signature schemes over a digest the caller computed. PSS uses MGF1 with the same hash and salt length = hash length. */
export type SignatureScheme =
  | { kind: 'RSA_PKCS1_V1_5'; hash: HashAlgorithm }
  | { kind: 'RSA_PSS'; hash: HashAlgorithm }
  | { kind: 'ECDSA'; hash: HashAlgorithm };

/** The wrapping algorithms ImportKeyMaterial unwraps (AWS no longer accepts RSAES_PKCS1_V1_5; SM2PKE is China-only). */
export type ImportWrappingAlgorithm = 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256' | 'RSA_AES_KEY_WRAP_SHA_1' | 'RSA_AES_KEY_WRAP_SHA_256';
export type RsaWrappingKeySpec = 'RSA_2048' | 'RSA_3072' | 'RSA_4096';

/** What imported key material must be, from the KMS key's spec and usage. */
export type ImportedMaterialSpec =
  /** SYMMETRIC_DEFAULT: a 256-bit AES key. */
  | { kind: 'AES'; bytes: 32 }
  /** HMAC_*: a generic secret of exactly `bytes`, used with `hash`. */
  | { kind: 'HMAC'; bytes: number; hash: HashAlgorithm }
  /** RSA and ECC: a PKCS#8 private key of `spec`; the public key is derived from it. */
  | { kind: 'PRIVATE_KEY'; spec: AsymmetricKeySpec; purpose: KeyPairPurpose };

export interface KeyImportRequest {
  /** The objectId of a pair from generateWrappingKeyPair. */
  wrappingKeyId: string;
  algorithm: ImportWrappingAlgorithm;
  /** RSAES_OAEP_*: one RSA-OAEP block. RSA_AES_KEY_WRAP_*: RSA-OAEP of an AES key, then AES-KWP (RFC 5649) of the material under it. */
  encryptedMaterial: Buffer;
  material: ImportedMaterialSpec;
  /** A token object (both halves, for a private key) under `objectId`; absent when only the check value is wanted. */
  target?: { objectId: string; label: string };
}

export interface ImportedKeyMaterial {
  /**
   * Equal for the same material, different (but for 2^-128) otherwise, and revealing nothing
   * of it: hex of the first 16 bytes of SHA-256 over AES-256-ECB of CHECK_VALUE_BLOCK (AES), over
   * HMAC of CHECK_VALUE_BLOCK with the key's hash (HMAC), or over the public key's DER SPKI
   * (private keys). Computed with the key in the token.
   */
  checkValue: string;
  /** Private keys: the public key, DER SubjectPublicKeyInfo. */
  publicKeySpki?: Buffer;
}

export interface AesGcmSealed {
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

/**
 * One PKCS#11 token (the default token, or a custom key store's). Objects are named by
 * `objectId` (the CKA_ID, hex). Every key it creates is sensitive and non-extractable.
 */
export interface KeyToken {
  readonly id: string;
  readonly capabilities: TokenCapabilities;
  generateAesKey(objectId: string, label: string): Promise<void>;
  /** Idempotent: returns false if there was no such object. */
  destroyKey(objectId: string): Promise<boolean>;
  hasKey(objectId: string): Promise<boolean>;
  aesGcmEncrypt(objectId: string, aad: Buffer, plaintext: Buffer): Promise<AesGcmSealed>;
  /** Throws KmsError InvalidCiphertextException when authentication fails. */
  aesGcmDecrypt(objectId: string, aad: Buffer, sealed: AesGcmSealed): Promise<Buffer>;
  randomBytes(length: number): Promise<Buffer>;
  /** Resolves true when the token answers; never throws. */
  isHealthy(): Promise<boolean>;

  /**
   * A key pair whose private and public objects share `objectId`; the private half is
   * sensitive and non-extractable. Returns the public key as DER SubjectPublicKeyInfo.
   */
  generateKeyPair(objectId: string, label: string, spec: AsymmetricKeySpec, purpose: KeyPairPurpose): Promise<Buffer>;
  /** A generic secret of `lengthBytes` for HMAC, sensitive and non-extractable. */
  generateHmacKey(objectId: string, label: string, lengthBytes: number): Promise<void>;
  /** Signs a digest with the private key. ECDSA signatures are returned DER-encoded, as AWS returns them. */
  signDigest(objectId: string, scheme: SignatureScheme, digest: Buffer): Promise<Buffer>;
  /** Verifies in the token; false (not an error) for a signature that does not verify, including a malformed one. */
  verifyDigest(objectId: string, scheme: SignatureScheme, digest: Buffer, signature: Buffer): Promise<boolean>;
  /**
   * RSA decryption with the private key: OAEP (MGF1 with the same hash, empty label) for a
   * hash in capabilities.rsaOaepHashes, or 'RAW' (the bare RSA primitive, for host-side
   * decoding). Throws InvalidCiphertextException when the padding does not check.
   */
  rsaDecrypt(objectId: string, padding: { oaep: HashAlgorithm } | 'RAW', ciphertext: Buffer): Promise<Buffer>;
  /** HMAC of `message` with the key's hash. */
  hmac(objectId: string, hash: HashAlgorithm, message: Buffer): Promise<Buffer>;
  /** Checks a MAC in the token; false when it does not match. */
  verifyHmac(objectId: string, hash: HashAlgorithm, message: Buffer, mac: Buffer): Promise<boolean>;
  /** ECDH (CKM_ECDH1_DERIVE, no KDF) with the peer's uncompressed public point; the raw shared secret. */
  deriveSharedSecret(objectId: string, peerPublicPoint: Buffer): Promise<Buffer>;
  /**
   * A key pair generated in the token as extractable session objects, read out and destroyed:
   * the data-key-pair API hands the private key to the caller by design.
   */
  generateDataKeyPair(spec: AsymmetricKeySpec): Promise<{ privateKeyPkcs8: Buffer; publicKeySpki: Buffer }>;

  /**
   * An RSA key pair for importing key material: the private half only unwraps (and decrypts,
   * for host-side unpadding where the token lacks a mechanism); it is sensitive and
   * non-extractable. Returns the public key as DER SubjectPublicKeyInfo.
   */
  generateWrappingKeyPair(objectId: string, label: string, spec: RsaWrappingKeySpec): Promise<Buffer>;
  /**
   * Unwraps imported key material with a wrapping key pair's private half into the token,
   * sensitive and non-extractable, and returns its check value. Throws
   * InvalidCiphertextException when the material does not unwrap, and
   * IncorrectKeyMaterialException when what unwraps is not material of `request.material`.
   * Without `target` nothing stays in the token. Any host-side copy of the material is zeroed.
   */
  importKeyMaterial(request: KeyImportRequest): Promise<ImportedKeyMaterial>;
}

export interface TokenDirectory {
  readonly defaultToken: KeyToken;
  /** The token behind a tokenId stored in a BackingKeyRef, if it is configured. */
  get(tokenId: string): KeyToken | undefined;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
