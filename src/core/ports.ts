// The ports core depends on. Adapters (src/pkcs11, src/store, src/log) implement them;
// tests implement them with fakes.
import type { AliasRecord, KeyRecord, KeyScope } from './model';

export interface Page<T> {
  items: T[];
  /** Opaque continuation marker; absent on the last page. */
  nextMarker?: string;
}

export interface PageRequest {
  limit: number;
  marker?: string;
}

/**
 * Metadata only: keys (with versions, tags, policy and state) and aliases. Never key bytes.
 * Grants, custom key stores and audit records join this port in later issues.
 */
export interface MetadataStore {
  init(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when the store can serve requests; rejects otherwise. */
  ping(): Promise<void>;

  /** Throws DuplicateRecordError if the key id exists in the scope. */
  insertKey(key: KeyRecord): Promise<void>;
  getKey(scope: KeyScope, keyId: string): Promise<KeyRecord | undefined>;
  /** Complete keys in the scope, ordered by keyId. Throws InvalidMarker KmsError on a bad marker. */
  listKeys(scope: KeyScope, page: PageRequest): Promise<Page<KeyRecord>>;
  /**
   * Replaces the stored key if its revision still equals `key.revision`, and returns the
   * stored copy with the revision bumped. Throws RevisionConflictError otherwise.
   */
  replaceKey(key: KeyRecord): Promise<KeyRecord>;
  /** Deletes the key and every alias pointing at it. No error if absent. */
  deleteKey(scope: KeyScope, keyId: string): Promise<void>;
  /** Keys in any scope still marked incomplete and last updated before `before` (crash recovery). */
  listIncompleteKeys(before: Date): Promise<KeyRecord[]>;
  /** Complete keys in any scope, PendingDeletion with a deletionDate at or before `dueBy` (the deletion worker). */
  listKeysDueForDeletion(dueBy: Date): Promise<KeyRecord[]>;

  /** Throws DuplicateRecordError if the alias name exists in the scope. */
  insertAlias(alias: AliasRecord): Promise<void>;
  getAlias(scope: KeyScope, aliasName: string): Promise<AliasRecord | undefined>;
  /** Ordered by aliasName; optionally only aliases of one key. */
  listAliases(scope: KeyScope, filter: { keyId?: string }, page: PageRequest): Promise<Page<AliasRecord>>;
  /** Points an existing alias at another key. Returns false if the alias does not exist. */
  updateAlias(scope: KeyScope, aliasName: string, targetKeyId: string, now: Date): Promise<boolean>;
  /** Returns false if the alias did not exist. */
  deleteAlias(scope: KeyScope, aliasName: string): Promise<boolean>;
  countAliasesForKey(scope: KeyScope, keyId: string): Promise<number>;
}

/** What a token can do natively; the adapter fills this from hsm/profiles/<vendor>.json. */
export interface TokenCapabilities {
  vendor: string;
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
