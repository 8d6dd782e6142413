// An in-memory MetadataStore for core unit tests. It passes the same contract suite as the real
// stores, so tests written against it hold for them too. Records are cloned on the way in and out,
// as a database would, so a test cannot pass by mutating stored state through a shared reference.
import { DuplicateRecordError, RevisionConflictError } from '../../src/core/errors';
import type { AliasRecord, GrantRecord, KeyRecord, KeyScope } from '../../src/core/model';
import type { MetadataStore, Page, PageRequest } from '../../src/core/ports';
import { decodeMarker, encodeMarker } from '../../src/core/page-marker';

export class MemoryStore implements MetadataStore {
  /** Keyed by scopedId(accountId, region, keyId / aliasName). */
  private readonly keys = new Map<string, KeyRecord>();
  private readonly aliases = new Map<string, AliasRecord>();
  /** Keyed by grantId alone: grant ids are unique in every scope. */
  private readonly grants = new Map<string, GrantRecord>();
  private readonly grantIdsByToken = new Map<string, string>();

  async init(): Promise<void> {}

  async close(): Promise<void> {}

  async ping(): Promise<void> {}

  async insertKey(key: KeyRecord): Promise<void> {
    const id = scopedId(key, key.keyId);
    if (this.keys.has(id)) throw new DuplicateRecordError(`key ${key.keyId}`);
    this.keys.set(id, deepClone(key));
  }

  async getKey(scope: KeyScope, keyId: string): Promise<KeyRecord | undefined> {
    const key = this.keys.get(scopedId(scope, keyId));
    return key && deepClone(key);
  }

  async listKeys(scope: KeyScope, page: PageRequest): Promise<Page<KeyRecord>> {
    const after = page.marker === undefined ? undefined : decodeMarker('key', page.marker);
    const keys = [...this.keys.values()]
      .filter((key) => inScope(key, scope) && !key.incomplete && (after === undefined || key.keyId > after))
      .sort((a, b) => compareCodeUnits(a.keyId, b.keyId));
    return paginate(keys, page.limit, (key) => encodeMarker('key', key.keyId));
  }

  async replaceKey(key: KeyRecord): Promise<KeyRecord> {
    const id = scopedId(key, key.keyId);
    if (this.keys.get(id)?.revision !== key.revision) throw new RevisionConflictError(`key ${key.keyId}`);
    const stored = deepClone({ ...key, revision: key.revision + 1 });
    this.keys.set(id, stored);
    return deepClone(stored);
  }

  async deleteKey(scope: KeyScope, keyId: string): Promise<void> {
    for (const [id, grant] of this.grants) {
      if (inScope(grant, scope) && grant.keyId === keyId) this.removeGrant(id);
    }
    for (const [id, alias] of this.aliases) {
      if (inScope(alias, scope) && alias.targetKeyId === keyId) this.aliases.delete(id);
    }
    this.keys.delete(scopedId(scope, keyId));
  }

  async listIncompleteKeys(before: Date): Promise<KeyRecord[]> {
    return [...this.keys.values()]
      .filter((key) => key.incomplete && key.updatedAt.getTime() < before.getTime())
      .sort((a, b) => a.updatedAt.getTime() - b.updatedAt.getTime())
      .map((key) => deepClone(key));
  }

  async listKeysDueForDeletion(dueBy: Date): Promise<KeyRecord[]> {
    return [...this.keys.values()]
      .filter((key) => !key.incomplete && key.state === 'PendingDeletion' && key.deletionDate !== undefined && key.deletionDate.getTime() <= dueBy.getTime())
      .sort((a, b) => a.deletionDate!.getTime() - b.deletionDate!.getTime())
      .map((key) => deepClone(key));
  }

  async listKeysDueForRotation(dueBy: Date): Promise<KeyRecord[]> {
    const due = (key: KeyRecord) => key.rotation?.enabled === true && key.rotation.nextRotationDate !== undefined
      && key.rotation.nextRotationDate.getTime() <= dueBy.getTime();
    return [...this.keys.values()]
      .filter((key) => !key.incomplete && key.state === 'Enabled' && due(key))
      .sort((a, b) => a.rotation!.nextRotationDate!.getTime() - b.rotation!.nextRotationDate!.getTime())
      .map((key) => deepClone(key));
  }

  async listKeysDueForImportUpkeep(dueBy: Date): Promise<KeyRecord[]> {
    return [...this.keys.values()]
      .filter((key) => !key.incomplete && key.imported?.upkeepAt !== undefined && key.imported.upkeepAt.getTime() <= dueBy.getTime())
      .sort((a, b) => a.imported!.upkeepAt!.getTime() - b.imported!.upkeepAt!.getTime())
      .map((key) => deepClone(key));
  }

  async listKeysWithPendingVersions(before: Date): Promise<KeyRecord[]> {
    return [...this.keys.values()]
      .filter((key) => !key.incomplete && key.versions.some((v) => v.status === 'PENDING' && v.createdAt.getTime() < before.getTime()))
      .map((key) => deepClone(key));
  }

  async insertAlias(alias: AliasRecord): Promise<void> {
    const id = scopedId(alias, alias.aliasName);
    if (this.aliases.has(id)) throw new DuplicateRecordError(`alias ${alias.aliasName}`);
    this.aliases.set(id, deepClone(alias));
  }

  async getAlias(scope: KeyScope, aliasName: string): Promise<AliasRecord | undefined> {
    const alias = this.aliases.get(scopedId(scope, aliasName));
    return alias && deepClone(alias);
  }

  async listAliases(scope: KeyScope, filter: { keyId?: string }, page: PageRequest): Promise<Page<AliasRecord>> {
    const after = page.marker === undefined ? undefined : decodeMarker('alias', page.marker);
    const aliases = [...this.aliases.values()]
      .filter((alias) => inScope(alias, scope)
        && (filter.keyId === undefined || alias.targetKeyId === filter.keyId)
        && (after === undefined || alias.aliasName > after))
      .sort((a, b) => compareCodeUnits(a.aliasName, b.aliasName));
    return paginate(aliases, page.limit, (alias) => encodeMarker('alias', alias.aliasName));
  }

  async updateAlias(scope: KeyScope, aliasName: string, targetKeyId: string, now: Date): Promise<boolean> {
    const alias = this.aliases.get(scopedId(scope, aliasName));
    if (!alias) return false;
    alias.targetKeyId = targetKeyId;
    alias.updatedAt = new Date(now);
    return true;
  }

  async deleteAlias(scope: KeyScope, aliasName: string): Promise<boolean> {
    return this.aliases.delete(scopedId(scope, aliasName));
  }

  async countAliasesForKey(scope: KeyScope, keyId: string): Promise<number> {
    return [...this.aliases.values()].filter((alias) => inScope(alias, scope) && alias.targetKeyId === keyId).length;
  }

  async insertGrant(grant: GrantRecord): Promise<void> {
    if (this.grants.has(grant.grantId)) throw new DuplicateRecordError(`grant ${grant.grantId}`);
    if (this.grantIdsByToken.has(grant.grantToken)) throw new DuplicateRecordError('grant token');
    this.grants.set(grant.grantId, deepClone(grant));
    this.grantIdsByToken.set(grant.grantToken, grant.grantId);
  }

  async getGrant(scope: KeyScope, keyId: string, grantId: string): Promise<GrantRecord | undefined> {
    const grant = this.grants.get(grantId);
    return grant && inScope(grant, scope) && grant.keyId === keyId ? deepClone(grant) : undefined;
  }

  async findGrantByToken(grantToken: string): Promise<GrantRecord | undefined> {
    const grantId = this.grantIdsByToken.get(grantToken);
    const grant = grantId === undefined ? undefined : this.grants.get(grantId);
    return grant && deepClone(grant);
  }

  async listGrants(
    scope: KeyScope, keyId: string, filter: { grantId?: string; granteePrincipal?: string }, page: PageRequest,
  ): Promise<Page<GrantRecord>> {
    const after = page.marker === undefined ? undefined : decodeMarker('grant', page.marker);
    const grants = [...this.grants.values()]
      .filter((grant) => inScope(grant, scope) && grant.keyId === keyId
        && (filter.grantId === undefined || grant.grantId === filter.grantId)
        && (filter.granteePrincipal === undefined || grant.granteePrincipal === filter.granteePrincipal)
        && (after === undefined || grant.grantId > after))
      .sort((a, b) => compareCodeUnits(a.grantId, b.grantId));
    return paginate(grants, page.limit, (grant) => encodeMarker('grant', grant.grantId));
  }

  async listRetirableGrants(region: string, retiringPrincipal: string, page: PageRequest): Promise<Page<GrantRecord>> {
    const after = page.marker === undefined ? undefined : decodeMarker('grant', page.marker);
    const grants = [...this.grants.values()]
      .filter((grant) => grant.region === region && grant.retiringPrincipal === retiringPrincipal
        && (after === undefined || grant.grantId > after))
      .sort((a, b) => compareCodeUnits(a.grantId, b.grantId));
    return paginate(grants, page.limit, (grant) => encodeMarker('grant', grant.grantId));
  }

  async deleteGrant(scope: KeyScope, keyId: string, grantId: string): Promise<boolean> {
    const grant = this.grants.get(grantId);
    if (!grant || !inScope(grant, scope) || grant.keyId !== keyId) return false;
    this.removeGrant(grantId);
    return true;
  }

  async countGrantsForKey(scope: KeyScope, keyId: string): Promise<number> {
    return [...this.grants.values()].filter((grant) => inScope(grant, scope) && grant.keyId === keyId).length;
  }

  private removeGrant(grantId: string): void {
    const grant = this.grants.get(grantId);
    if (grant) this.grantIdsByToken.delete(grant.grantToken);
    this.grants.delete(grantId);
  }
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

function inScope(record: KeyScope, scope: KeyScope): boolean {
  return record.accountId === scope.accountId && record.region === scope.region;
}

/** Binary order, as SQLite and MongoDB sort strings by default (not localeCompare). */
function compareCodeUnits(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

function paginate<T>(sorted: T[], limit: number, markerAfter: (last: T) => string): Page<T> {
  const items = sorted.slice(0, limit).map((item) => deepClone(item));
  const last = items[items.length - 1];
  return sorted.length > limit && last ? { items, nextMarker: markerAfter(last) } : { items };
}
