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

/**
 * Metadata only: keys (with versions, tags, policy and state), aliases and grants. Never key
 * bytes. Custom key stores and audit records join this port in later issues.
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
  /** Deletes the key, every alias pointing at it and every grant on it. No error if absent. */
  deleteKey(scope: KeyScope, keyId: string): Promise<void>;
  /** Keys in any scope still marked incomplete and last updated before `before` (crash recovery). */
  listIncompleteKeys(before: Date): Promise<KeyRecord[]>;
  /** Complete keys in any scope, PendingDeletion with a deletionDate at or before `dueBy` (the deletion worker). */
  listKeysDueForDeletion(dueBy: Date): Promise<KeyRecord[]>;
  /**
   * Complete, Enabled keys in any scope with automatic rotation on and a nextRotationDate at or
   * before `dueBy`, soonest first (the rotation scheduler).
   */
  listKeysDueForRotation(dueBy: Date): Promise<KeyRecord[]>;
  /** Complete keys in any scope holding a PENDING version created before `before` (an interrupted rotation). */
  listKeysWithPendingVersions(before: Date): Promise<KeyRecord[]>;
  /**
   * Complete keys in any scope whose imported.upkeepAt is at or before `dueBy`, soonest first
   * (import upkeep: material expiry, spent import parameters, token objects awaiting destruction).
   */
  listKeysDueForImportUpkeep(dueBy: Date): Promise<KeyRecord[]>;

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

  /** Throws DuplicateRecordError if the grant id (unique in every scope) or the grant token exists. */
  insertGrant(grant: GrantRecord): Promise<void>;
  /** The grant with this id on this key; undefined if it is on another key or absent. */
  getGrant(scope: KeyScope, keyId: string, grantId: string): Promise<GrantRecord | undefined>;
  /** The grant a token was issued for, in any scope. */
  findGrantByToken(grantToken: string): Promise<GrantRecord | undefined>;
  /** The key's grants ordered by grantId, optionally only one grant id or one grantee principal. */
  listGrants(
    scope: KeyScope, keyId: string, filter: { grantId?: string; granteePrincipal?: string }, page: PageRequest,
  ): Promise<Page<GrantRecord>>;
  /** Grants on keys of any account in `region` whose retiring principal is exactly `retiringPrincipal`, ordered by grantId. */
  listRetirableGrants(region: string, retiringPrincipal: string, page: PageRequest): Promise<Page<GrantRecord>>;
  /** Returns false if the key had no such grant. */
  deleteGrant(scope: KeyScope, keyId: string, grantId: string): Promise<boolean>;
  countGrantsForKey(scope: KeyScope, keyId: string): Promise<number>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
