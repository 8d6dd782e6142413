// The domain model: what a KMS key is, independent of wire formats, tokens and databases.

export const keySpecs = [
  'SYMMETRIC_DEFAULT',
  'RSA_2048', 'RSA_3072', 'RSA_4096',
  'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1',
  'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512',
  'SM2', 'ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87', 'ECC_NIST_EDWARDS25519',
  'ML_KEM_512', 'ML_KEM_768', 'ML_KEM_1024',
] as const;
export type KeySpec = (typeof keySpecs)[number];

export const keyUsages = ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT', 'ENCAPSULATE_DECAPSULATE'] as const;
export type KeyUsage = (typeof keyUsages)[number];

export const origins = ['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'] as const;
export type Origin = (typeof origins)[number];

export const keyStates = [
  'Creating', 'Enabled', 'Disabled', 'PendingDeletion', 'PendingImport',
  'PendingReplicaDeletion', 'Unavailable', 'Updating',
] as const;
export type KeyState = (typeof keyStates)[number];

export const dataKeySpecs = ['AES_256', 'AES_128'] as const;
export type DataKeySpec = (typeof dataKeySpecs)[number];

export const encryptionAlgorithms = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] as const;
export type EncryptionAlgorithm = (typeof encryptionAlgorithms)[number];

export const signingAlgorithms = [
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256', 'ECDSA_SHA_384', 'ECDSA_SHA_512',
  'SM2DSA', 'ML_DSA_SHAKE_256', 'ED25519_SHA_512', 'ED25519_PH_SHA_512',
] as const;
export type SigningAlgorithm = (typeof signingAlgorithms)[number];

export const messageTypes = ['RAW', 'DIGEST', 'EXTERNAL_MU'] as const;
export type MessageType = (typeof messageTypes)[number];

export const macAlgorithms = ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'] as const;
export type MacAlgorithm = (typeof macAlgorithms)[number];

export const keyAgreementAlgorithms = ['ECDH'] as const;
export type KeyAgreementAlgorithm = (typeof keyAgreementAlgorithms)[number];

export const dataKeyPairSpecs = [
  'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1',
  'SM2', 'ECC_NIST_EDWARDS25519', 'ML_KEM_512', 'ML_KEM_768', 'ML_KEM_1024',
] as const;
export type DataKeyPairSpec = (typeof dataKeyPairSpecs)[number];

export type KeyManager = 'CUSTOMER' | 'AWS';

export const multiRegionKeyTypes = ['PRIMARY', 'REPLICA'] as const;
export type MultiRegionKeyType = (typeof multiRegionKeyTypes)[number];

/**
 * Work on a set of multi-Region keys that spans its members and is under way, recorded on the
 * member that started it, so that recovery (listWithMultiRegionWork) finishes it after a crash.
 */
export type MultiRegionWork =
  /** UpdatePrimaryRegion: the primary in `fromRegion` becomes a replica, the replica in `toRegion` the primary. Both are Updating meanwhile. */
  | { operation: 'UpdatePrimaryRegion'; fromRegion: string; toRegion: string; startedAt: Date }
  /** Shared properties (versions, current version, rotation settings) being copied from this primary to its replicas. */
  | { operation: 'SynchronizeMultiRegionKey'; startedAt: Date };

/** GetParametersForImport and ImportKeyMaterial enums, as AWS declares them. */
export const wrappingAlgorithms = ['RSAES_PKCS1_V1_5', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256', 'SM2PKE'] as const;
export type WrappingAlgorithm = (typeof wrappingAlgorithms)[number];
export const wrappingKeySpecs = ['RSA_2048', 'RSA_3072', 'RSA_4096', 'SM2'] as const;
export type WrappingKeySpec = (typeof wrappingKeySpecs)[number];
export const expirationModels = ['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'] as const;
export type ExpirationModel = (typeof expirationModels)[number];
export const importTypes = ['NEW_KEY_MATERIAL', 'EXISTING_KEY_MATERIAL'] as const;
export type ImportType = (typeof importTypes)[number];

/** Where one version of a key's material lives. The store keeps only this reference. */
export type BackingKeyRef =
  /** An object in a PKCS#11 token; `tokenId` is "default" or a custom key store id. */
  | { kind: 'pkcs11'; tokenId: string; objectId: string }
  /**
   * A key in an external key store: double encryption, first under `localObjectId` (an AES key
   * of our own in the default token, unique to the KMS key), then by the XKS proxy under its
   * external key `xksKeyId`.
   */
  | { kind: 'xks'; keyStoreId: string; xksKeyId: string; localObjectId: string };

export interface KeyVersion {
  /** KeyMaterialId: 64 lowercase hex characters, named in every ciphertext. */
  id: string;
  backing: BackingKeyRef;
  createdAt: Date;
  /** PENDING while the token object is being created: never used, cleaned up by recovery. */
  status: 'PENDING' | 'ACTIVE';
  /** Asymmetric keys: the public key (DER SubjectPublicKeyInfo, base64). Public, so it may be stored. */
  publicKeySpki?: string;
}

export interface Tag {
  TagKey: string;
  TagValue: string;
}

export interface KeyRecord {
  accountId: string;
  region: string;
  keyId: string;
  createdAt: Date;
  description: string;
  keySpec: KeySpec;
  keyUsage: KeyUsage;
  origin: Origin;
  keyManager: KeyManager;
  multiRegion: boolean;
  /**
   * Multi-Region keys: whether this member is its set's primary. The set is every record of the
   * account with the same (mrk-) key id, one per region (KeyRepository.listRelated).
   */
  multiRegionKeyType?: MultiRegionKeyType;
  /** Multi-Region work under way that this member started; cleared when it is done. */
  multiRegionWork?: MultiRegionWork;
  state: KeyState;
  deletionDate?: Date;
  pendingWindowInDays?: number;
  customKeyStoreId?: string;
  /** Origin EXTERNAL_KEY_STORE: the external key's id at the proxy (XksKeyConfiguration.Id), immutable. */
  xksKeyId?: string;
  versions: KeyVersion[];
  currentVersionId?: string;
  tags: Tag[];
  policy?: string;
  /** Key material rotation (automatic and on demand); absent until the first rotation call. */
  rotation?: KeyRotation;
  /** Origin EXTERNAL: imported key material, import parameters and token objects awaiting destruction. */
  imported?: ImportState;
  /**
   * A seeded key with fixed material (origin EXTERNAL) that DescribeKey reports as AWS_KMS, for
   * test suites that assert it. Every rule still follows `origin`.
   */
  reportedOrigin?: 'AWS_KMS';
  /** True until CreateKey has both the token object and the record; hidden from every API. */
  incomplete?: boolean;
  /** Optimistic-concurrency counter, bumped by the store on every replace. */
  revision: number;
  updatedAt: Date;
}

export type RotationType = 'AUTOMATIC' | 'ON_DEMAND';

export interface KeyRotation {
  /** Automatic rotation is on (EnableKeyRotation). */
  enabled: boolean;
  /** While enabled: days between automatic rotations, 90–2560. */
  periodInDays?: number;
  /** While enabled: when the scheduler rotates next (enable date + period, then rotation date + period). */
  nextRotationDate?: Date;
  /** Completed on-demand rotations; AWS allows 10 per key. */
  onDemandCount: number;
  /** Completed rotations, oldest first: the version each made current. */
  history: { keyMaterialId: string; date: Date; type: RotationType }[];
  /**
   * Rotations under way, each naming its PENDING version. `abandoned` marks one that recovery
   * or a failed rotation has claimed for removal: it never becomes ACTIVE after that.
   */
  inProgress: { versionId: string; type: RotationType; startedAt: Date; abandoned?: boolean }[];
}

/** One GetParametersForImport answer: a wrapping key pair in a token and the import token that names it. */
export interface ImportParameters {
  /** Random, 64 hex characters: named in the import token, and the CKA_ID of the wrapping key pair. */
  id: string;
  /** The token holding the wrapping key pair. */
  tokenId: string;
  wrappingAlgorithm: WrappingAlgorithm;
  wrappingKeySpec: WrappingKeySpec;
  /** SHA-256 (hex) of the import token's secret part; the import token itself is never stored. */
  secretDigest: string;
  createdAt: Date;
  /** ParametersValidTo: the import token and public key expire then. */
  validTo: Date;
  /** Set when an ImportKeyMaterial call claims these parameters: they serve that one call only. */
  usedAt?: Date;
}

/** A token object no version names any more, kept on record until it is destroyed. */
export interface RetiredObject {
  tokenId: string;
  objectId: string;
  retiredAt: Date;
}

/** What an EXTERNAL key knows about its imported material. Never the material itself. */
export interface ImportState {
  /** KeyMaterialId of the material, fixed at the first import; every re-import of the same material keeps it, so old ciphertexts still name it. */
  keyMaterialId?: string;
  /** Check value (hex) of the material, computed in the token at the first import: only material with the same value imports after. */
  checkValue?: string;
  /** The current import's expiration; absent while the key has no material. */
  expirationModel?: ExpirationModel;
  /** KEY_MATERIAL_EXPIRES: when the material is deleted. */
  validTo?: Date;
  /** ImportKeyMaterial's KeyMaterialDescription; an import that gives none keeps the last one. */
  keyMaterialDescription?: string;
  /** Outstanding GetParametersForImport answers, oldest first. */
  parameters: ImportParameters[];
  /** Deleted material and spent wrapping key pairs, destroyed in the token and then struck off. */
  retiredObjects: RetiredObject[];
  /** The earliest time upkeep has work on this key (expiry, spent parameters, retired objects); absent when none. */
  upkeepAt?: Date;
}

export interface AliasRecord {
  accountId: string;
  region: string;
  aliasName: string;
  targetKeyId: string;
  createdAt: Date;
  updatedAt: Date;
}

/** The operations a grant can allow, in the order of AWS's GrantOperation enum. */
export const grantOperations = [
  'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo',
  'Sign', 'Verify', 'GetPublicKey', 'CreateGrant', 'RetireGrant', 'DescribeKey',
  'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext', 'GenerateMac', 'VerifyMac', 'DeriveSharedSecret',
] as const;
export type GrantOperation = (typeof grantOperations)[number];

/** Encryption-context constraints of a grant (AWS GrantConstraints). */
export interface GrantConstraints {
  encryptionContextSubset?: Record<string, string>;
  encryptionContextEquals?: Record<string, string>;
}

export interface GrantRecord {
  /** The scope of the key the grant is on (which may differ from the issuing account). */
  accountId: string;
  region: string;
  keyId: string;
  /** 64 lowercase hex characters, unique in every scope. */
  grantId: string;
  /** Opaque, unforgeable, unique; returned by CreateGrant and accepted in GrantTokens. */
  grantToken: string;
  name?: string;
  granteePrincipal: string;
  retiringPrincipal?: string;
  /** The account id that created the grant. */
  issuingAccount: string;
  operations: GrantOperation[];
  constraints?: GrantConstraints;
  createdAt: Date;
}

export interface KeyScope {
  accountId: string;
  region: string;
}

export function keyArn(partition: string, scope: KeyScope, keyId: string): string {
  return `arn:${partition}:kms:${scope.region}:${scope.accountId}:key/${keyId}`;
}

export function aliasArn(partition: string, scope: KeyScope, aliasName: string): string {
  return `arn:${partition}:kms:${scope.region}:${scope.accountId}:${aliasName}`;
}

export function currentVersion(key: KeyRecord): KeyVersion | undefined {
  return key.versions.find((v) => v.id === key.currentVersionId && v.status === 'ACTIVE');
}

/** Every token object a key's record names: its versions' objects and, for imports, its wrapping key pairs and objects awaiting destruction. */
export function tokenObjectsOf(key: KeyRecord): { tokenId: string; objectId: string }[] {
  return [
    // An external key store's key has its inner layer in the default token; the external key itself is never ours to destroy.
    ...key.versions.map((v) => (v.backing.kind === 'pkcs11' ? { tokenId: v.backing.tokenId, objectId: v.backing.objectId } : { tokenId: 'default', objectId: v.backing.localObjectId })),
    ...(key.imported?.parameters ?? []).map((p) => ({ tokenId: p.tokenId, objectId: p.id })),
    ...(key.imported?.retiredObjects ?? []).map(({ tokenId, objectId }) => ({ tokenId, objectId })),
  ];
}

export function encryptionAlgorithmsFor(spec: KeySpec, usage: KeyUsage): EncryptionAlgorithm[] | undefined {
  if (usage !== 'ENCRYPT_DECRYPT') return undefined;
  if (spec === 'SYMMETRIC_DEFAULT') return ['SYMMETRIC_DEFAULT'];
  if (spec.startsWith('RSA_')) return ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];
  return undefined;
}

export const customKeyStoreTypes = ['AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'] as const;
export type CustomKeyStoreType = (typeof customKeyStoreTypes)[number];

export const connectionStates = ['CONNECTED', 'CONNECTING', 'FAILED', 'DISCONNECTED', 'DISCONNECTING'] as const;
export type ConnectionState = (typeof connectionStates)[number];

/** ConnectionErrorCode values, CloudHSM and XKS together, as AWS's enum lists them. */
export const connectionErrorCodes = [
  'INVALID_CREDENTIALS', 'CLUSTER_NOT_FOUND', 'NETWORK_ERRORS', 'INTERNAL_ERROR', 'INSUFFICIENT_CLOUDHSM_HSMS',
  'USER_LOCKED_OUT', 'USER_NOT_FOUND', 'USER_LOGGED_IN', 'SUBNET_NOT_FOUND', 'INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET',
  'XKS_PROXY_ACCESS_DENIED', 'XKS_PROXY_NOT_REACHABLE', 'XKS_VPC_ENDPOINT_SERVICE_NOT_FOUND', 'XKS_PROXY_INVALID_RESPONSE',
  'XKS_PROXY_INVALID_CONFIGURATION', 'XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION', 'XKS_PROXY_TIMED_OUT',
  'XKS_PROXY_INVALID_TLS_CONFIGURATION',
] as const;
export type ConnectionErrorCode = (typeof connectionErrorCodes)[number];

export const xksProxyConnectivities = ['PUBLIC_ENDPOINT', 'VPC_ENDPOINT_SERVICE'] as const;
export type XksProxyConnectivity = (typeof xksProxyConnectivities)[number];

/**
 * A secret (a token PIN, an XKS proxy secret) sealed with AES-256-GCM under an AES key in the
 * default token; the AAD names the key store and the field, so a sealed value cannot be moved
 * to another store or field. Base64 fields.
 */
export interface SealedSecret {
  iv: string;
  ciphertext: string;
  tag: string;
}

export interface CustomKeyStoreRecord {
  accountId: string;
  region: string;
  /** "cks-" and 17 lowercase hex characters. */
  customKeyStoreId: string;
  /** Unique in the account and region. */
  name: string;
  type: CustomKeyStoreType;
  createdAt: Date;
  connectionState: ConnectionState;
  /** Only while FAILED: why the last connection attempt failed. */
  connectionErrorCode?: ConnectionErrorCode;
  /**
   * Bumped by every connect and by every update of the connection settings, so every instance
   * reopens its own connection when it sees a generation it has not opened.
   */
  connectionGeneration: number;
  /** When connectionState last changed: recovery settles a CONNECTING or DISCONNECTING left by a crash. */
  stateChangedAt: Date;
  /** The AES key object in the default token that seals this store's secrets. */
  secretKeyObjectId: string;
  cloudHsm?: {
    clusterId: string;
    trustAnchorCertificate: string;
    /** The crypto user's PIN (AWS's kmsuser password). */
    keyStorePassword: SealedSecret;
  };
  xks?: {
    uriEndpoint: string;
    uriPath: string;
    connectivity: XksProxyConnectivity;
    vpcEndpointServiceName?: string;
    accessKeyId: string;
    rawSecretAccessKey: SealedSecret;
  };
  /** Optimistic-concurrency counter, bumped by the store on every replace. */
  revision: number;
  updatedAt: Date;
}
