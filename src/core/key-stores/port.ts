// The key store port: anything that holds the backing keys of KMS keys. The default PKCS#11
// token, a further token (a custom key store) and an external key store reached over XKS all
// implement the small required core; what only a token can do (make keys, key pairs, HMAC,
// key agreement, import) comes as optional capabilities, absent where a store cannot.
// Modelled on go-kms-wrapping's provider/key split: optional parts and a "not implemented" answer.

export type HashAlgorithm = 'SHA_1' | 'SHA_224' | 'SHA_256' | 'SHA_384' | 'SHA_512';

export type AsymmetricKeySpec =
  | 'RSA_2048' | 'RSA_3072' | 'RSA_4096' | 'ECC_NIST_P256' | 'ECC_NIST_P384' | 'ECC_NIST_P521' | 'ECC_SECG_P256K1' | 'ECC_NIST_EDWARDS25519';

/** What a key pair in the token may do; decides CKA_SIGN/CKA_DECRYPT/CKA_DERIVE. */
export type KeyPairPurpose = 'SIGN_VERIFY' | 'ENCRYPT_DECRYPT' | 'KEY_AGREEMENT';

/** Signature schemes over a digest the caller computed. PSS uses MGF1 with the same hash and salt length = hash length. */
export type SignatureScheme =
  | { kind: 'RSA_PKCS1_V1_5'; hash: HashAlgorithm }
  | { kind: 'RSA_PSS'; hash: HashAlgorithm }
  | { kind: 'ECDSA'; hash: HashAlgorithm };

/**
 * Ed25519 signatures (RFC 8032), over the message itself: the scheme's hashing runs inside the
 * store. 'ED25519' is pure Ed25519. 'ED25519_PH' is Ed25519ph: the store hashes its input with
 * SHA-512 and signs that prehash (AWS's ED25519_PH_SHA_512, whose input is the caller's
 * SHA-512 digest, so the message is hashed twice).
 */
export type Ed25519Scheme = 'ED25519' | 'ED25519_PH';

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
   * of it: hex of the first 16 bytes of SHA-256 over AES-256-ECB of a fixed block (AES), over
   * HMAC of that block with the key's hash (HMAC), or over the public key's DER SPKI
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

/** Who asked for a use of a backing key: an external key store forwards it (XKS requestMetadata). */
export interface KeyStoreCall {
  /** The KMS API operation, e.g. "Encrypt". */
  operation: string;
  requestId: string;
  principalArn: string;
  /** The KMS key whose backing key is used. */
  keyArn: string;
}

/** Token objects named by `objectId` (the CKA_ID, hex). Every key made is sensitive and non-extractable. */
export interface KeyObjectCapability {
  generateAesKey(objectId: string, label: string): Promise<void>;
  /** Idempotent: returns false if there was no such object. */
  destroyKey(objectId: string): Promise<boolean>;
  hasKey(objectId: string): Promise<boolean>;
  /**
   * Destroys token objects that carry neither an id nor a label: what a creation killed half-way
   * leaves, which nothing can name. Returns how many went. Only safe while no other instance
   * is creating objects in the token.
   */
  destroyUnnamed(): Promise<number>;
}

export interface KeyPairCapability {
  /**
   * The Ed25519 schemes the store runs inside itself, as the token's capability profile says;
   * empty where it runs none. The store makes Ed25519 key pairs (KMS keys and data key pairs)
   * only where 'ED25519' is listed.
   */
  readonly ed25519Schemes: readonly Ed25519Scheme[];
  /**
   * A key pair whose private and public objects share `objectId`; the private half is
   * sensitive and non-extractable. Returns the public key as DER SubjectPublicKeyInfo.
   */
  generateKeyPair(objectId: string, label: string, spec: AsymmetricKeySpec, purpose: KeyPairPurpose): Promise<Buffer>;
  /**
   * The public key of the pair under `objectId` as DER SubjectPublicKeyInfo, or undefined when the
   * token holds no such pair (also when another process made it moments ago and this one cannot see it yet).
   */
  publicKey(objectId: string): Promise<Buffer | undefined>;
  /** Signs a digest with the private key. ECDSA signatures are returned DER-encoded, as AWS returns them. */
  signDigest(objectId: string, scheme: SignatureScheme, digest: Buffer): Promise<Buffer>;
  /** Verifies in the token; false (not an error) for a signature that does not verify, including a malformed one. */
  verifyDigest(objectId: string, scheme: SignatureScheme, digest: Buffer, signature: Buffer): Promise<boolean>;
  /**
   * Signs the message itself with an Ed25519 private key (one single-part operation: EdDSA
   * hashes the whole message twice, so tokens offer no multi-part form). The 64-byte R‖S.
   * Refused with KMSInternalException for a scheme not in ed25519Schemes.
   */
  signMessage(objectId: string, scheme: Ed25519Scheme, message: Buffer): Promise<Buffer>;
  /** Verifies an Ed25519 signature of the message in the token; false (not an error) for one that does not verify, including a malformed one. */
  verifyMessage(objectId: string, scheme: Ed25519Scheme, message: Buffer, signature: Buffer): Promise<boolean>;
  /**
   * RSA-OAEP decryption (MGF1 with the same hash, empty label) with the private key, which
   * never leaves the token; how (native OAEP, or the raw primitive and decoding on the host)
   * is the store's business. Throws InvalidCiphertextException for any ciphertext that does
   * not decrypt, with one answer whatever the defect.
   */
  rsaOaepDecrypt(objectId: string, hash: HashAlgorithm, ciphertext: Buffer): Promise<Buffer>;
  /** ECDH (no KDF) with the peer's uncompressed public point; the raw shared secret. */
  deriveSharedSecret(objectId: string, peerPublicPoint: Buffer): Promise<Buffer>;
  /**
   * A key pair generated in the token and handed out: the data-key-pair API gives the
   * private key to the caller by design.
   */
  generateDataKeyPair(spec: AsymmetricKeySpec): Promise<{ privateKeyPkcs8: Buffer; publicKeySpki: Buffer }>;
}

export interface HmacCapability {
  /** A generic secret of `lengthBytes` for HMAC, sensitive and non-extractable. */
  generateHmacKey(objectId: string, label: string, lengthBytes: number): Promise<void>;
  /** HMAC of `message` with the key's hash. */
  hmac(objectId: string, hash: HashAlgorithm, message: Buffer): Promise<Buffer>;
  /** Checks a MAC in the token; false when it does not match. */
  verifyHmac(objectId: string, hash: HashAlgorithm, message: Buffer, mac: Buffer): Promise<boolean>;
}

export interface KeyImportCapability {
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

/** What an external key may do in the token: CKA_ENCRYPT and CKA_DECRYPT. */
export interface ExternalKeyPermissions {
  encrypt: boolean;
  decrypt: boolean;
}

/** A key manager behind the XKS proxy, as GetHealthStatus describes it. */
export interface KeyManagerDescription {
  /** Unique among the proxy's key managers, e.g. the token's serial number. */
  id: string;
  vendor: string;
  model: string;
}

/**
 * The XKS proxy's external keys: AES-256 keys, sensitive and non-extractable, whose usage the
 * token enforces. They share the token with KMS keys but never their objects: the store names
 * them in a namespace of its own and refuses any other object id here.
 */
export interface ExternalKeyCapability {
  /** Generates a key with exactly `permissions` and returns its object id. */
  generateExternalKey(label: string, permissions: ExternalKeyPermissions): Promise<string>;
  /** Idempotent: returns false if there was no such object. */
  destroyExternalKey(objectId: string): Promise<boolean>;
  /** AES-256-GCM with a 12-byte IV from the token's RNG; InvalidKeyUsageException when the key may not encrypt. */
  encrypt(objectId: string, aad: Buffer, plaintext: Buffer): Promise<AesGcmSealed>;
  /**
   * InvalidKeyUsageException when the key may not decrypt; InvalidCiphertextException when the
   * tag does not verify and the token is otherwise working.
   */
  decrypt(objectId: string, aad: Buffer, sealed: AesGcmSealed): Promise<Buffer>;
  /** A real encryption and decryption with a health key of the store's own; throws when the token does not answer right. */
  checkHealth(): Promise<void>;
  describe(): KeyManagerDescription;
}

/** The optional capabilities, by name. */
export interface KeyStoreCapabilities {
  keyObjects: KeyObjectCapability;
  keyPairs: KeyPairCapability;
  hmacKeys: HmacCapability;
  keyImport: KeyImportCapability;
  externalKeys: ExternalKeyCapability;
}
export type KeyStoreCapability = keyof KeyStoreCapabilities;

/**
 * One key store. `backingKeyId` is what a BackingKeyRef names inside the store: a token's
 * object id, or an external key store's key id.
 */
export interface KeyStore extends Partial<Readonly<KeyStoreCapabilities>> {
  readonly id: string;
  /** AES-256-GCM under the backing key. */
  encrypt(backingKeyId: string, aad: Buffer, plaintext: Buffer, call: KeyStoreCall): Promise<AesGcmSealed>;
  /** Throws KmsError InvalidCiphertextException when authentication fails. */
  decrypt(backingKeyId: string, aad: Buffer, sealed: AesGcmSealed, call: KeyStoreCall): Promise<Buffer>;
  randomBytes(length: number): Promise<Buffer>;
  /** Resolves true when the store answers; never throws. */
  isHealthy(): Promise<boolean>;
  close(): Promise<void>;
}
