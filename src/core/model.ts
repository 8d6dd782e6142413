// The domain model: what a KMS key is, independent of wire formats, tokens and databases.

export const keySpecs = [
  'SYMMETRIC_DEFAULT',
  'RSA_2048', 'RSA_3072', 'RSA_4096',
  'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1',
  'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512',
  'SM2', 'ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87', 'ECC_NIST_EDWARDS25519',
] as const;
export type KeySpec = (typeof keySpecs)[number];

export const keyUsages = ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] as const;
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

export type KeyManager = 'CUSTOMER' | 'AWS';

/** Where one version of a key's material lives. The store keeps only this reference. */
export type BackingKeyRef =
  /** An object in a PKCS#11 token; `tokenId` is "default" or a custom key store id. */
  | { kind: 'pkcs11'; tokenId: string; objectId: string }
  /** A key held by an external key store proxy. */
  | { kind: 'xks'; keyStoreId: string; xksKeyId: string };

export interface KeyVersion {
  /** KeyMaterialId: 64 lowercase hex characters, named in every ciphertext. */
  id: string;
  backing: BackingKeyRef;
  createdAt: Date;
  /** PENDING while the token object is being created: never used, cleaned up by recovery. */
  status: 'PENDING' | 'ACTIVE';
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
  state: KeyState;
  deletionDate?: Date;
  pendingWindowInDays?: number;
  customKeyStoreId?: string;
  versions: KeyVersion[];
  currentVersionId?: string;
  tags: Tag[];
  policy?: string;
  /** True until CreateKey has both the token object and the record; hidden from every API. */
  incomplete?: boolean;
  /** Optimistic-concurrency counter, bumped by the store on every replace. */
  revision: number;
  updatedAt: Date;
}

export interface AliasRecord {
  accountId: string;
  region: string;
  aliasName: string;
  targetKeyId: string;
  createdAt: Date;
  updatedAt: Date;
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

export function encryptionAlgorithmsFor(spec: KeySpec, usage: KeyUsage): EncryptionAlgorithm[] | undefined {
  if (usage !== 'ENCRYPT_DECRYPT') return undefined;
  if (spec === 'SYMMETRIC_DEFAULT') return ['SYMMETRIC_DEFAULT'];
  if (spec.startsWith('RSA_')) return ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];
  return undefined;
}
