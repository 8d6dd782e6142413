// The ports core depends on. Adapters (src/pkcs11, src/store, src/log) implement them;
// tests implement them with fakes.
import type { AliasRecord, ConnectionState, CustomKeyStoreRecord, GrantRecord, KeyRecord, KeyScope, KeySpec, KeyState } from './model';
import type { AuditDigest, AuditDraft, AuditLookup, AuditRecord } from './audit/record';
import type { ExternalKeyRecord } from './xks-proxy/external-key';

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
  /**
   * Every record of the account with this key id, in any region, complete or not, ordered by
   * region: the members of a set of multi-Region keys (mrk- key ids).
   */
  listRelated(accountId: string, keyId: string): Promise<KeyRecord[]>;
  /** Complete keys in any scope whose multiRegionWork started before `before` (multi-Region work a crash interrupted). */
  listWithMultiRegionWork(before: Date): Promise<KeyRecord[]>;
  /**
   * Keys in `scope` (complete or not, any state) whose customKeyStoreId is `customKeyStoreId`,
   * ordered by key id, at most `limit` (DeleteCustomKeyStore asks for one; XksKeyId reuse scans the store).
   */
  listInCustomKeyStore(scope: KeyScope, customKeyStoreId: string, limit: number): Promise<KeyRecord[]>;
  /**
   * Keys of every scope, complete or not, ordered by account id, region and key id, those after
   * `after` only (exclusive), at most `limit` (the test-suite reset, which deletes them all).
   */
  listEvery(after: (KeyScope & { keyId: string }) | undefined, limit: number): Promise<KeyRecord[]>;
  /**
   * Complete keys in every scope, counted by state and key spec, in one query the store answers
   * itself (metrics). Optional: a store without it simply has no such gauge.
   */
  countByStateAndSpec?(): Promise<KeyCount[]>;
}

/** How many complete keys are in one state with one key spec. */
export interface KeyCount {
  state: KeyState;
  keySpec: KeySpec;
  count: number;
}

export interface AliasRepository {
  /** Throws DuplicateRecordError if the alias name exists in the scope. No per-key limit: for set-up and tests. */
  insert(alias: AliasRecord): Promise<void>;
  /**
   * Inserts the alias unless its target key already has `perKeyLimit` aliases (then false, and
   * nothing is inserted). The count and the insert are one atomic step, never count-then-insert,
   * so concurrent inserts from any number of instances cannot pass the limit together.
   * Throws DuplicateRecordError if the alias name exists in the scope.
   */
  insertWithinLimit(alias: AliasRecord, perKeyLimit: number): Promise<boolean>;
  get(scope: KeyScope, aliasName: string): Promise<AliasRecord | undefined>;
  /** Ordered by aliasName; optionally only aliases of one key. */
  list(scope: KeyScope, filter: { keyId?: string }, page: PageRequest): Promise<Page<AliasRecord>>;
  /** Points an existing alias at another key. Returns false if the alias does not exist. No per-key limit: for set-up and tests. */
  update(scope: KeyScope, aliasName: string, targetKeyId: string, now: Date): Promise<boolean>;
  /**
   * Points an existing alias at another key unless that key already has `perKeyLimit` other
   * aliases, atomically with the count (as insertWithinLimit).
   */
  moveWithinLimit(scope: KeyScope, aliasName: string, targetKeyId: string, now: Date, perKeyLimit: number): Promise<'moved' | 'notFound' | 'limitExceeded'>;
  /** Returns false if the alias did not exist. */
  delete(scope: KeyScope, aliasName: string): Promise<boolean>;
  countForKey(scope: KeyScope, keyId: string): Promise<number>;
}

export interface GrantRepository {
  /** Throws DuplicateRecordError if the grant id (unique in every scope) or the grant token exists. No per-key limit: for set-up and tests. */
  insert(grant: GrantRecord): Promise<void>;
  /** As insert, unless the key already has `perKeyLimit` grants: then false, atomically with the count (see AliasRepository.insertWithinLimit). */
  insertWithinLimit(grant: GrantRecord, perKeyLimit: number): Promise<boolean>;
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
 * The XKS proxy's external keys, by key store (URI path prefix) and external key id. The proxy
 * reads a key on every call, so a status change made through any instance holds at once.
 */
export interface ExternalKeyRepository {
  /** Throws DuplicateRecordError if the key store already has a key with this id. */
  insert(key: ExternalKeyRecord): Promise<void>;
  get(keyStorePrefix: string, externalKeyId: string): Promise<ExternalKeyRecord | undefined>;
  /** Ordered by key store prefix, then external key id (code units); all key stores, or one. */
  list(filter: { keyStorePrefix?: string }): Promise<ExternalKeyRecord[]>;
  /**
   * Replaces the stored key if its revision still equals `key.revision`, and returns the stored
   * copy with the revision bumped. Throws RevisionConflictError otherwise, also when it is gone.
   */
  replace(key: ExternalKeyRecord): Promise<ExternalKeyRecord>;
  /** Returns false if there was no such key. */
  delete(keyStorePrefix: string, externalKeyId: string): Promise<boolean>;
}

/** Custom key stores: one record per store, with its connection state and sealed secrets. */
export interface CustomKeyStoreRepository {
  /**
   * Throws DuplicateRecordError if the id exists, or if another store in the same scope has
   * the name (names are unique per account and region, exactly, case-sensitive).
   */
  insert(store: CustomKeyStoreRecord): Promise<void>;
  get(scope: KeyScope, customKeyStoreId: string): Promise<CustomKeyStoreRecord | undefined>;
  getByName(scope: KeyScope, name: string): Promise<CustomKeyStoreRecord | undefined>;
  /** Ordered by creation date, then id. */
  list(scope: KeyScope, page: PageRequest): Promise<Page<CustomKeyStoreRecord>>;
  count(scope: KeyScope): Promise<number>;
  /**
   * Compare-and-set on `revision`: RevisionConflictError when the stored revision differs or the
   * store is gone; DuplicateRecordError when a rename takes another store's name. Returns the
   * record as stored, with revision + 1.
   */
  replace(store: CustomKeyStoreRecord): Promise<CustomKeyStoreRecord>;
  delete(scope: KeyScope, customKeyStoreId: string): Promise<boolean>;
  /** Stores in any scope whose CloudHSM cluster id is `clusterId` (a cluster serves one store). */
  findByClusterId(clusterId: string): Promise<CustomKeyStoreRecord[]>;
  /** Stores in any scope in one of `states`, for recovery of connections a crash left half-way. */
  listInStates(states: readonly ConnectionState[]): Promise<CustomKeyStoreRecord[]>;
}

/**
 * The audit trail: one chain of records shared by every instance, and the signed digests of its
 * head. Appends are serialised by the store (a transaction), never by the process.
 */
export interface AuditRepository {
  /**
   * Appends `drafts`, in order, after the current head in one atomic step: each gets the next
   * sequence and its chainValue over the previous record's. Returns the stored records. Two
   * instances appending at once both succeed and form one chain (the store retries or serialises).
   */
  append(drafts: readonly AuditDraft[]): Promise<AuditRecord[]>;
  /** The last record, or undefined for an empty trail (or one pruned to nothing). */
  head(): Promise<AuditRecord | undefined>;
  /** Records with sequence >= `fromSequence`, ascending, at most `limit`. */
  range(fromSequence: number, limit: number): Promise<AuditRecord[]>;
  /** LookupEvents: matching records newest first (descending sequence); the marker holds the last sequence returned. */
  lookup(filter: AuditLookup, page: PageRequest): Promise<Page<AuditRecord>>;
  /** The newest succeeded record naming `resourceName` whose eventName is one of `eventNames`. */
  lastOf(resourceName: string, eventNames: readonly string[]): Promise<AuditRecord | undefined>;
  insertDigest(digest: AuditDigest): Promise<void>;
  /** Digests ascending by sequence, then signedAt. */
  listDigests(): Promise<AuditDigest[]>;
  /** Deletes records with sequence < `beforeSequence` and eventTime < `olderThan`; returns how many. */
  prune(beforeSequence: number, olderThan: Date): Promise<number>;
  /**
   * Deletes every record and every digest, and moves the head back to genesis, in one atomic
   * step where the store can: the next append is record 1 of a new chain (the test-suite reset).
   */
  clear(): Promise<void>;
}

/**
 * Metadata only, one repository per aggregate. Never key bytes. Each repository has its own
 * contract suite, run against every store.
 */
/** A named, time-limited claim: one owner at a time, so work several instances could do runs once. */
export interface Lease {
  name: string;
  owner: string;
  expiresAt: Date;
}

export interface LeaseRepository {
  /**
   * Takes or renews `name` for `owner` until `now` + `ttlMs`, atomically, when it is free,
   * expired or already `owner`'s; resolves whether `owner` holds it afterwards.
   */
  acquire(name: string, owner: string, now: Date, ttlMs: number): Promise<boolean>;
  /** Gives `name` up, if `owner` holds it. */
  release(name: string, owner: string): Promise<void>;
  /** Leases named with `prefix` that have not expired at `now`, ordered by name. */
  listLive(prefix: string, now: Date): Promise<Lease[]>;
}

export interface MetadataStore {
  readonly keys: KeyRepository;
  readonly aliases: AliasRepository;
  readonly grants: GrantRepository;
  readonly leases: LeaseRepository;
  readonly externalKeys: ExternalKeyRepository;
  readonly customKeyStores: CustomKeyStoreRepository;
  readonly audit: AuditRepository;

  init(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when the store can serve requests; rejects otherwise. */
  ping(): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
