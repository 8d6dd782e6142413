// An in-memory MetadataStore for core unit tests. It passes the same contract suites as the real
// stores, so tests written against it hold for them too. Records are cloned on the way in and out,
// as a database would, so a test cannot pass by mutating stored state through a shared reference.
import { DuplicateRecordError, RevisionConflictError } from '../../src/core/errors';
import type { AliasRecord, ConnectionState, CustomKeyStoreRecord, GrantRecord, KeyRecord, KeyScope } from '../../src/core/model';
import type {
  AliasRepository, AuditRepository, CustomKeyStoreRepository, ExternalKeyRepository, GrantRepository, KeyCount, KeyRepository, Lease, LeaseRepository, MetadataStore,
  Page, PageRequest,
} from '../../src/core/ports';
import type { ExternalKeyRecord } from '../../src/core/xks-proxy/external-key';
import { chainValue, GENESIS_CHAIN_VALUE, type AuditDigest, type AuditDraft, type AuditLookup, type AuditRecord } from '../../src/core/audit/record';
import { decodeAuditMarker, decodeCustomKeyStoreMarker, decodeMarker, encodeAuditMarker, encodeCustomKeyStoreMarker, encodeMarker } from '../../src/core/api/page-marker';
import { pageOf } from '../../src/store/page';

/** Every record, shared by the repositories so that deleting a key can take its aliases and grants. */
class Tables {
  /** Keyed by scopedId(accountId, region, keyId / aliasName). */
  readonly keys = new Map<string, KeyRecord>();
  readonly aliases = new Map<string, AliasRecord>();
  /** Keyed by grantId alone: grant ids are unique in every scope. */
  readonly grants = new Map<string, GrantRecord>();
  readonly grantIdsByToken = new Map<string, string>();

  removeGrant(grantId: string): void {
    const grant = this.grants.get(grantId);
    if (grant) this.grantIdsByToken.delete(grant.grantToken);
    this.grants.delete(grantId);
  }
}

class MemoryKeyRepository implements KeyRepository {
  constructor(private readonly tables: Tables) {}

  async insert(key: KeyRecord): Promise<void> {
    const id = scopedId(key, key.keyId);
    if (this.tables.keys.has(id)) throw new DuplicateRecordError(`key ${key.keyId}`);
    this.tables.keys.set(id, deepClone(key));
  }

  async get(scope: KeyScope, keyId: string): Promise<KeyRecord | undefined> {
    const key = this.tables.keys.get(scopedId(scope, keyId));
    return key && deepClone(key);
  }

  async list(scope: KeyScope, page: PageRequest): Promise<Page<KeyRecord>> {
    const after = page.marker === undefined ? undefined : decodeMarker('key', page.marker);
    const keys = [...this.tables.keys.values()]
      .filter((key) => inScope(key, scope) && !key.incomplete && (after === undefined || key.keyId > after))
      .sort((a, b) => compareCodeUnits(a.keyId, b.keyId));
    return pageOf(keys, page.limit, deepClone, (key) => encodeMarker('key', key.keyId));
  }

  async replace(key: KeyRecord): Promise<KeyRecord> {
    const id = scopedId(key, key.keyId);
    if (this.tables.keys.get(id)?.revision !== key.revision) throw new RevisionConflictError(`key ${key.keyId}`);
    const stored = deepClone({ ...key, revision: key.revision + 1 });
    this.tables.keys.set(id, stored);
    return deepClone(stored);
  }

  async delete(scope: KeyScope, keyId: string): Promise<void> {
    for (const [id, grant] of this.tables.grants) {
      if (inScope(grant, scope) && grant.keyId === keyId) this.tables.removeGrant(id);
    }
    for (const [id, alias] of this.tables.aliases) {
      if (inScope(alias, scope) && alias.targetKeyId === keyId) this.tables.aliases.delete(id);
    }
    this.tables.keys.delete(scopedId(scope, keyId));
  }

  async listIncomplete(before: Date): Promise<KeyRecord[]> {
    return this.select((key) => key.incomplete === true && key.updatedAt.getTime() < before.getTime(), (key) => key.updatedAt);
  }

  async listDueForDeletion(dueBy: Date): Promise<KeyRecord[]> {
    return this.select(
      (key) => !key.incomplete && key.state === 'PendingDeletion' && key.deletionDate !== undefined && key.deletionDate.getTime() <= dueBy.getTime(),
      (key) => key.deletionDate!,
    );
  }

  async listDueForRotation(dueBy: Date): Promise<KeyRecord[]> {
    const due = (key: KeyRecord) => key.rotation?.enabled === true && key.rotation.nextRotationDate !== undefined
      && key.rotation.nextRotationDate.getTime() <= dueBy.getTime();
    return this.select((key) => !key.incomplete && key.state === 'Enabled' && due(key), (key) => key.rotation!.nextRotationDate!);
  }

  async listDueForImportUpkeep(dueBy: Date): Promise<KeyRecord[]> {
    return this.select(
      (key) => !key.incomplete && key.imported?.upkeepAt !== undefined && key.imported.upkeepAt.getTime() <= dueBy.getTime(),
      (key) => key.imported!.upkeepAt!,
    );
  }

  async listWithPendingVersions(before: Date): Promise<KeyRecord[]> {
    return this.select((key) => !key.incomplete && key.versions.some((v) => v.status === 'PENDING' && v.createdAt.getTime() < before.getTime()));
  }

  async listRelated(accountId: string, keyId: string): Promise<KeyRecord[]> {
    return [...this.tables.keys.values()]
      .filter((key) => key.accountId === accountId && key.keyId === keyId)
      .sort((a, b) => compareCodeUnits(a.region, b.region))
      .map((key) => deepClone(key));
  }

  async listWithMultiRegionWork(before: Date): Promise<KeyRecord[]> {
    return this.select((key) => !key.incomplete && key.multiRegionWork !== undefined && key.multiRegionWork.startedAt.getTime() < before.getTime());
  }

  async listInCustomKeyStore(scope: KeyScope, customKeyStoreId: string, limit: number): Promise<KeyRecord[]> {
    return [...this.tables.keys.values()]
      .filter((key) => inScope(key, scope) && key.customKeyStoreId === customKeyStoreId)
      .sort((a, b) => compareCodeUnits(a.keyId, b.keyId))
      .slice(0, Math.max(limit, 0))
      .map((key) => deepClone(key));
  }

  async listEvery(after: (KeyScope & { keyId: string }) | undefined, limit: number): Promise<KeyRecord[]> {
    const compare = (a: KeyScope & { keyId: string }, b: KeyScope & { keyId: string }) =>
      compareCodeUnits(a.accountId, b.accountId) || compareCodeUnits(a.region, b.region) || compareCodeUnits(a.keyId, b.keyId);
    return [...this.tables.keys.values()]
      .filter((key) => after === undefined || compare(key, after) > 0)
      .sort(compare)
      .slice(0, Math.max(limit, 0))
      .map((key) => deepClone(key));
  }

  async countByStateAndSpec(): Promise<KeyCount[]> {
    const counts = new Map<string, KeyCount>();
    for (const key of this.tables.keys.values()) {
      if (key.incomplete) continue;
      const name = `${key.state}/${key.keySpec}`;
      const entry = counts.get(name) ?? { state: key.state, keySpec: key.keySpec, count: 0 };
      entry.count += 1;
      counts.set(name, entry);
    }
    return [...counts.values()].sort((a, b) => compareCodeUnits(a.state, b.state) || compareCodeUnits(a.keySpec, b.keySpec));
  }

  /** Copies of the keys of every scope that `selected` picks, soonest `dateOf` first if given. */
  private select(selected: (key: KeyRecord) => boolean, dateOf?: (key: KeyRecord) => Date): KeyRecord[] {
    const keys = [...this.tables.keys.values()].filter(selected);
    if (dateOf) keys.sort((a, b) => dateOf(a).getTime() - dateOf(b).getTime());
    return keys.map((key) => deepClone(key));
  }
}

class MemoryAliasRepository implements AliasRepository {
  constructor(private readonly tables: Tables) {}

  async insert(alias: AliasRecord): Promise<void> {
    this.insertSync(alias);
  }

  private insertSync(alias: AliasRecord): void {
    const id = scopedId(alias, alias.aliasName);
    if (this.tables.aliases.has(id)) throw new DuplicateRecordError(`alias ${alias.aliasName}`);
    this.tables.aliases.set(id, deepClone(alias));
  }

  async insertWithinLimit(alias: AliasRecord, perKeyLimit: number): Promise<boolean> {
    // No await between the count and the insert: atomic on one event loop.
    if (this.countSync(alias, alias.targetKeyId) >= perKeyLimit) return false;
    this.insertSync(alias);
    return true;
  }

  async get(scope: KeyScope, aliasName: string): Promise<AliasRecord | undefined> {
    const alias = this.tables.aliases.get(scopedId(scope, aliasName));
    return alias && deepClone(alias);
  }

  async list(scope: KeyScope, filter: { keyId?: string }, page: PageRequest): Promise<Page<AliasRecord>> {
    const after = page.marker === undefined ? undefined : decodeMarker('alias', page.marker);
    const aliases = [...this.tables.aliases.values()]
      .filter((alias) => inScope(alias, scope)
        && (filter.keyId === undefined || alias.targetKeyId === filter.keyId)
        && (after === undefined || alias.aliasName > after))
      .sort((a, b) => compareCodeUnits(a.aliasName, b.aliasName));
    return pageOf(aliases, page.limit, deepClone, (alias) => encodeMarker('alias', alias.aliasName));
  }

  async update(scope: KeyScope, aliasName: string, targetKeyId: string, now: Date): Promise<boolean> {
    const alias = this.tables.aliases.get(scopedId(scope, aliasName));
    if (!alias) return false;
    alias.targetKeyId = targetKeyId;
    alias.updatedAt = new Date(now);
    return true;
  }

  async moveWithinLimit(scope: KeyScope, aliasName: string, targetKeyId: string, now: Date, perKeyLimit: number): Promise<'moved' | 'notFound' | 'limitExceeded'> {
    const others = [...this.tables.aliases.values()].filter((a) => inScope(a, scope) && a.targetKeyId === targetKeyId && a.aliasName !== aliasName).length;
    if (others >= perKeyLimit) return 'limitExceeded';
    return (await this.update(scope, aliasName, targetKeyId, now)) ? 'moved' : 'notFound';
  }

  async delete(scope: KeyScope, aliasName: string): Promise<boolean> {
    return this.tables.aliases.delete(scopedId(scope, aliasName));
  }

  async countForKey(scope: KeyScope, keyId: string): Promise<number> {
    return this.countSync(scope, keyId);
  }

  private countSync(scope: KeyScope, keyId: string): number {
    return [...this.tables.aliases.values()].filter((alias) => inScope(alias, scope) && alias.targetKeyId === keyId).length;
  }
}

class MemoryGrantRepository implements GrantRepository {
  constructor(private readonly tables: Tables) {}

  async insert(grant: GrantRecord): Promise<void> {
    this.insertSync(grant);
  }

  private insertSync(grant: GrantRecord): void {
    if (this.tables.grants.has(grant.grantId)) throw new DuplicateRecordError(`grant ${grant.grantId}`);
    if (this.tables.grantIdsByToken.has(grant.grantToken)) throw new DuplicateRecordError('grant token');
    this.tables.grants.set(grant.grantId, deepClone(grant));
    this.tables.grantIdsByToken.set(grant.grantToken, grant.grantId);
  }

  async insertWithinLimit(grant: GrantRecord, perKeyLimit: number): Promise<boolean> {
    if ([...this.tables.grants.values()].filter((g) => inScope(g, grant) && g.keyId === grant.keyId).length >= perKeyLimit) return false;
    this.insertSync(grant);
    return true;
  }

  async get(scope: KeyScope, keyId: string, grantId: string): Promise<GrantRecord | undefined> {
    const grant = this.tables.grants.get(grantId);
    return grant && inScope(grant, scope) && grant.keyId === keyId ? deepClone(grant) : undefined;
  }

  async findByToken(grantToken: string): Promise<GrantRecord | undefined> {
    const grantId = this.tables.grantIdsByToken.get(grantToken);
    const grant = grantId === undefined ? undefined : this.tables.grants.get(grantId);
    return grant && deepClone(grant);
  }

  async list(
    scope: KeyScope, keyId: string, filter: { grantId?: string; granteePrincipal?: string }, page: PageRequest,
  ): Promise<Page<GrantRecord>> {
    return this.page(page, (grant) => inScope(grant, scope) && grant.keyId === keyId
      && (filter.grantId === undefined || grant.grantId === filter.grantId)
      && (filter.granteePrincipal === undefined || grant.granteePrincipal === filter.granteePrincipal));
  }

  async listRetirable(region: string, retiringPrincipal: string, page: PageRequest): Promise<Page<GrantRecord>> {
    return this.page(page, (grant) => grant.region === region && grant.retiringPrincipal === retiringPrincipal);
  }

  async delete(scope: KeyScope, keyId: string, grantId: string): Promise<boolean> {
    const grant = this.tables.grants.get(grantId);
    if (!grant || !inScope(grant, scope) || grant.keyId !== keyId) return false;
    this.tables.removeGrant(grantId);
    return true;
  }

  async countForKey(scope: KeyScope, keyId: string): Promise<number> {
    return [...this.tables.grants.values()].filter((grant) => inScope(grant, scope) && grant.keyId === keyId).length;
  }

  /** The page of grants `selected` picks, ordered by grant id. */
  private page(page: PageRequest, selected: (grant: GrantRecord) => boolean): Page<GrantRecord> {
    const after = page.marker === undefined ? undefined : decodeMarker('grant', page.marker);
    const grants = [...this.tables.grants.values()]
      .filter((grant) => selected(grant) && (after === undefined || grant.grantId > after))
      .sort((a, b) => compareCodeUnits(a.grantId, b.grantId));
    return pageOf(grants, page.limit, deepClone, (grant) => encodeMarker('grant', grant.grantId));
  }
}

class MemoryLeaseRepository implements LeaseRepository {
  private readonly leases = new Map<string, Lease>();

  async acquire(name: string, owner: string, now: Date, ttlMs: number): Promise<boolean> {
    const held = this.leases.get(name);
    if (held && held.owner !== owner && held.expiresAt.getTime() > now.getTime()) return false;
    this.leases.set(name, { name, owner, expiresAt: new Date(now.getTime() + ttlMs) });
    return true;
  }

  async release(name: string, owner: string): Promise<void> {
    if (this.leases.get(name)?.owner === owner) this.leases.delete(name);
  }

  async listLive(prefix: string, now: Date): Promise<Lease[]> {
    return [...this.leases.values()].filter((l) => l.name.startsWith(prefix) && l.expiresAt.getTime() > now.getTime())
      .sort((a, b) => (a.name < b.name ? -1 : 1)).map((l) => deepClone(l));
  }
}

class MemoryExternalKeyRepository implements ExternalKeyRepository {
  private readonly keys = new Map<string, ExternalKeyRecord>();

  async insert(key: ExternalKeyRecord): Promise<void> {
    const id = externalKeyId(key.keyStorePrefix, key.externalKeyId);
    if (this.keys.has(id)) throw new DuplicateRecordError(`external key ${key.externalKeyId}`);
    this.keys.set(id, deepClone(key));
  }

  async get(keyStorePrefix: string, id: string): Promise<ExternalKeyRecord | undefined> {
    const key = this.keys.get(externalKeyId(keyStorePrefix, id));
    return key && deepClone(key);
  }

  async list(filter: { keyStorePrefix?: string }): Promise<ExternalKeyRecord[]> {
    return [...this.keys.values()]
      .filter((key) => filter.keyStorePrefix === undefined || key.keyStorePrefix === filter.keyStorePrefix)
      .sort((a, b) => compareCodeUnits(a.keyStorePrefix, b.keyStorePrefix) || compareCodeUnits(a.externalKeyId, b.externalKeyId))
      .map((key) => deepClone(key));
  }

  async replace(key: ExternalKeyRecord): Promise<ExternalKeyRecord> {
    const id = externalKeyId(key.keyStorePrefix, key.externalKeyId);
    if (this.keys.get(id)?.revision !== key.revision) throw new RevisionConflictError(`external key ${key.externalKeyId}`);
    const stored = deepClone({ ...key, revision: key.revision + 1 });
    this.keys.set(id, stored);
    return deepClone(stored);
  }

  async delete(keyStorePrefix: string, id: string): Promise<boolean> {
    return this.keys.delete(externalKeyId(keyStorePrefix, id));
  }
}

class MemoryCustomKeyStoreRepository implements CustomKeyStoreRepository {
  /** Keyed by customKeyStoreId alone: ids are unique in every scope. */
  private readonly stores = new Map<string, CustomKeyStoreRecord>();

  async insert(store: CustomKeyStoreRecord): Promise<void> {
    if (this.stores.has(store.customKeyStoreId) || this.nameTaken(store)) throw new DuplicateRecordError(duplicate(store));
    this.stores.set(store.customKeyStoreId, deepClone(store));
  }

  async get(scope: KeyScope, customKeyStoreId: string): Promise<CustomKeyStoreRecord | undefined> {
    const store = this.stores.get(customKeyStoreId);
    return store && inScope(store, scope) ? deepClone(store) : undefined;
  }

  async getByName(scope: KeyScope, name: string): Promise<CustomKeyStoreRecord | undefined> {
    const store = [...this.stores.values()].find((s) => inScope(s, scope) && s.name === name);
    return store && deepClone(store);
  }

  async list(scope: KeyScope, page: PageRequest): Promise<Page<CustomKeyStoreRecord>> {
    const after = page.marker === undefined ? undefined : decodeCustomKeyStoreMarker(page.marker);
    const stores = this.select((store) => inScope(store, scope) && (after === undefined
      || store.createdAt.getTime() > after.createdAt
      || (store.createdAt.getTime() === after.createdAt && store.customKeyStoreId > after.customKeyStoreId)));
    return pageOf(stores, page.limit, (store) => store, encodeCustomKeyStoreMarker);
  }

  async count(scope: KeyScope): Promise<number> {
    return [...this.stores.values()].filter((store) => inScope(store, scope)).length;
  }

  async replace(store: CustomKeyStoreRecord): Promise<CustomKeyStoreRecord> {
    const held = this.stores.get(store.customKeyStoreId);
    if (!held || !inScope(held, store) || held.revision !== store.revision) {
      throw new RevisionConflictError(`custom key store ${store.customKeyStoreId}`);
    }
    if (this.nameTaken(store)) throw new DuplicateRecordError(duplicate(store));
    const stored = deepClone({ ...store, revision: store.revision + 1 });
    this.stores.set(store.customKeyStoreId, stored);
    return deepClone(stored);
  }

  async delete(scope: KeyScope, customKeyStoreId: string): Promise<boolean> {
    const store = this.stores.get(customKeyStoreId);
    return store !== undefined && inScope(store, scope) && this.stores.delete(customKeyStoreId);
  }

  async findByClusterId(clusterId: string): Promise<CustomKeyStoreRecord[]> {
    return this.select((store) => store.cloudHsm?.clusterId === clusterId);
  }

  async listInStates(states: readonly ConnectionState[]): Promise<CustomKeyStoreRecord[]> {
    return this.select((store) => states.includes(store.connectionState));
  }

  /** Whether another store in `store`'s scope has its name. */
  private nameTaken(store: CustomKeyStoreRecord): boolean {
    return [...this.stores.values()].some((s) => inScope(s, store) && s.name === store.name && s.customKeyStoreId !== store.customKeyStoreId);
  }

  /** Copies of the stores `selected` picks, by creation date, then id. */
  private select(selected: (store: CustomKeyStoreRecord) => boolean): CustomKeyStoreRecord[] {
    return [...this.stores.values()]
      .filter(selected)
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || compareCodeUnits(a.customKeyStoreId, b.customKeyStoreId))
      .map((store) => deepClone(store));
  }
}

class MemoryAuditRepository implements AuditRepository {
  private readonly records: AuditRecord[] = [];
  private readonly digests: AuditDigest[] = [];
  /** The last record appended, kept when pruning deletes it, so the chain carries on after it. */
  private last: { sequence: number; chainValue: string } = { sequence: 0, chainValue: GENESIS_CHAIN_VALUE };

  async append(drafts: readonly AuditDraft[]): Promise<AuditRecord[]> {
    const ids = new Set(this.records.map((r) => r.eventId));
    drafts.forEach((d) => {
      if (ids.has(d.eventId)) throw new DuplicateRecordError(`audit event ${d.eventId}`);
      ids.add(d.eventId);
    });
    const stored: AuditRecord[] = [];
    for (const draft of drafts) {
      const sequence = this.last.sequence + 1;
      const previousChainValue = this.last.chainValue;
      const record: AuditRecord = { ...deepClone(draft), sequence, previousChainValue, chainValue: chainValue(previousChainValue, sequence, draft.event) };
      this.records.push(record);
      stored.push(deepClone(record));
      this.last = record;
    }
    return stored;
  }

  async head(): Promise<AuditRecord | undefined> {
    const last = this.records[this.records.length - 1];
    return last && deepClone(last);
  }

  async range(fromSequence: number, limit: number): Promise<AuditRecord[]> {
    return this.records.filter((r) => r.sequence >= fromSequence).slice(0, limit).map((r) => deepClone(r));
  }

  async lookup(filter: AuditLookup, page: PageRequest): Promise<Page<AuditRecord>> {
    const before = page.marker === undefined ? Infinity : decodeAuditMarker(page.marker);
    const rows = [...this.records].reverse().filter((r) => r.sequence < before && matchesLookup(r, filter));
    return pageOf(rows, page.limit, deepClone, encodeAuditMarker);
  }

  async lastOf(resourceName: string, eventNames: readonly string[]): Promise<AuditRecord | undefined> {
    const found = [...this.records].reverse().find((r) => r.succeeded && r.resourceNames.includes(resourceName) && eventNames.includes(r.eventName));
    return found && deepClone(found);
  }

  async insertDigest(digest: AuditDigest): Promise<void> {
    this.digests.push(deepClone(digest));
  }

  async listDigests(): Promise<AuditDigest[]> {
    return [...this.digests].sort((a, b) => a.sequence - b.sequence || a.signedAt.getTime() - b.signedAt.getTime()).map((d) => deepClone(d));
  }

  async clear(): Promise<void> {
    this.records.length = 0;
    this.digests.length = 0;
    this.last = { sequence: 0, chainValue: GENESIS_CHAIN_VALUE };
  }

  async prune(beforeSequence: number, olderThan: Date): Promise<number> {
    let pruned = 0;
    while (this.records[0] && this.records[0].sequence < beforeSequence && this.records[0].eventTime.getTime() < olderThan.getTime()) {
      this.records.shift();
      pruned++;
    }
    return pruned;
  }
}

/** The one-attribute and time-range filter of LookupEvents. */
function matchesLookup(record: AuditRecord, filter: AuditLookup): boolean {
  if (filter.startTime && record.eventTime.getTime() < filter.startTime.getTime()) return false;
  if (filter.endTime && record.eventTime.getTime() > filter.endTime.getTime()) return false;
  const attribute = filter.attribute;
  if (!attribute) return true;
  switch (attribute.key) {
    case 'EventId': return record.eventId === attribute.value;
    case 'EventName': return record.eventName === attribute.value;
    case 'ReadOnly': return String(record.readOnly) === attribute.value;
    case 'Username': return record.username === attribute.value;
    case 'AccessKeyId': return record.accessKeyId === attribute.value;
    case 'ResourceName': return record.resourceNames.includes(attribute.value);
  }
}

export class MemoryStore implements MetadataStore {
  private readonly tables = new Tables();
  readonly keys = new MemoryKeyRepository(this.tables);
  readonly aliases = new MemoryAliasRepository(this.tables);
  readonly grants = new MemoryGrantRepository(this.tables);
  readonly leases = new MemoryLeaseRepository();
  readonly externalKeys = new MemoryExternalKeyRepository();
  readonly customKeyStores = new MemoryCustomKeyStoreRepository();
  readonly audit = new MemoryAuditRepository();

  async init(): Promise<void> {}

  async close(): Promise<void> {}

  async ping(): Promise<void> {}
}

/**
 * Copies plain objects, arrays and Dates. Not structuredClone: under jest that builds Dates from
 * another realm, which then fail `instanceof Date` in the code under test.
 */
function deepClone<T>(value: T): T {
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => deepClone(item)) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([field, item]) => [field, deepClone(item)])) as T;
  }
  return value;
}

/** JSON encoding keeps ids unambiguous whatever characters the parts contain. */
function scopedId(scope: KeyScope, id: string): string {
  return JSON.stringify([scope.accountId, scope.region, id]);
}

/** What a DuplicateRecordError names: the id or the name may be the one taken. */
function duplicate(store: CustomKeyStoreRecord): string {
  return `custom key store ${store.customKeyStoreId} or name ${JSON.stringify(store.name)}`;
}

function externalKeyId(keyStorePrefix: string, id: string): string {
  return JSON.stringify([keyStorePrefix, id]);
}

function inScope(record: KeyScope, scope: KeyScope): boolean {
  return record.accountId === scope.accountId && record.region === scope.region;
}

/** Binary order, as SQLite and MongoDB sort strings by default (not localeCompare). */
function compareCodeUnits(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}
