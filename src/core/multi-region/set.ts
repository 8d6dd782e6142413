// Sets of multi-Region keys: one record per region with the same mrk- key id in one account,
// exactly one of them the primary. The set is what the store's listRelated returns; nothing
// else lists the members, so no list can disagree with the records.
//
// Shared properties (key material and every material version, key spec, usage, origin,
// automatic rotation, the primary/replica designation) are the primary's and are copied to the
// replicas (synchronizeReplicas); independent ones (description, policy, grants, enabled state,
// aliases, tags) belong to each member. With one token for every region, the members name the
// same token objects: an object is destroyed only once no other member names it
// (objectsNamedByNoOtherMember).
import { randomUUID } from 'node:crypto';
import type { CoreDeps } from '../deps';
import { isKmsError, KmsError } from '../errors';
import { arnOf, changeKey } from '../keys/resolve';
import { tokenObjectsOf, type KeyRecord, type KeyVersion } from '../model';

/** What DescribeKey reports as MultiRegionConfiguration. */
export interface MultiRegionConfiguration {
  MultiRegionKeyType: 'PRIMARY' | 'REPLICA';
  PrimaryKey?: { Arn: string; Region: string };
  ReplicaKeys: { Arn: string; Region: string }[];
}

/** Members that count: complete records, and a replica under creation (incomplete, Creating) when `withCreating`. */
function counts(member: KeyRecord, withCreating: boolean): boolean {
  return !member.incomplete || (withCreating && member.state === 'Creating');
}

/** The other members of `key`'s set, complete ones only unless `withCreating`. Empty for a single-Region key. */
export async function otherMembers(deps: CoreDeps, key: KeyRecord, options: { withCreating?: boolean } = {}): Promise<KeyRecord[]> {
  if (!key.multiRegion) return [];
  const related = await deps.store.keys.listRelated(key.accountId, key.keyId);
  return related.filter((m) => m.region !== key.region && m.multiRegion && counts(m, options.withCreating ?? false));
}

/** The set's MultiRegionConfiguration as `key` sees it; `others` are the other members (otherMembers with withCreating). */
export function multiRegionConfiguration(key: KeyRecord, others: readonly KeyRecord[]): MultiRegionConfiguration {
  const all = [key, ...others];
  const primary = all.find((m) => m.multiRegionKeyType === 'PRIMARY');
  const replicas = all.filter((m) => m.multiRegionKeyType !== 'PRIMARY').sort((a, b) => (a.region < b.region ? -1 : a.region > b.region ? 1 : 0));
  return {
    MultiRegionKeyType: key.multiRegionKeyType === 'PRIMARY' ? 'PRIMARY' : 'REPLICA',
    ...(primary ? { PrimaryKey: { Arn: arnOf(primary), Region: primary.region } } : {}),
    ReplicaKeys: replicas.map((m) => ({ Arn: arnOf(m), Region: m.region })),
  };
}

/** The key's MultiRegionConfiguration, read from the store; undefined for a single-Region key. */
export async function configurationOf(deps: CoreDeps, key: KeyRecord): Promise<MultiRegionConfiguration | undefined> {
  if (!key.multiRegion) return undefined;
  return multiRegionConfiguration(key, await otherMembers(deps, key, { withCreating: true }));
}

/**
 * The token objects of `key` that no other member of its set names: those its deletion may
 * destroy. A member under creation counts (it is about to use them); a member claimed for
 * deletion does not (it is going too, and whichever goes last destroys them).
 */
export async function objectsNamedByNoOtherMember(deps: CoreDeps, key: KeyRecord): Promise<{ tokenId: string; objectId: string }[]> {
  const objects = tokenObjectsOf(key);
  if (!key.multiRegion) return objects;
  const named = new Set((await otherMembers(deps, key, { withCreating: true })).flatMap((m) => tokenObjectsOf(m).map((o) => `${o.tokenId}\u0000${o.objectId}`)));
  return objects.filter((o) => !named.has(`${o.tokenId}\u0000${o.objectId}`));
}

/** Material is copied between members only when the service made it; imported material is imported into each member. */
export function sharesMaterial(key: KeyRecord): boolean {
  return key.multiRegion && key.origin === 'AWS_KMS';
}

/**
 * The versions a replica holds given its primary's: every ACTIVE version, the version `adding`
 * (a rotation's new material, made but not yet current anywhere), and a PENDING version the
 * replica already holds unless its rotation was abandoned. All ACTIVE on the replica: it may
 * decrypt with them, and it encrypts only with the current one, which is the primary's.
 */
export function replicaVersions(primary: KeyRecord, replica: KeyRecord, adding?: string): KeyVersion[] {
  const abandoned = new Set((primary.rotation?.inProgress ?? []).filter((e) => e.abandoned).map((e) => e.versionId));
  const held = new Set(replica.versions.map((v) => v.id));
  return primary.versions
    .filter((v) => v.status === 'ACTIVE' || v.id === adding || (held.has(v.id) && !abandoned.has(v.id)))
    .map((v) => ({ ...v, status: 'ACTIVE' as const }));
}

/** `replica` with the shared properties of `primary`. */
export function withSharedProperties(primary: KeyRecord, replica: KeyRecord, adding?: string): KeyRecord {
  const shared: KeyRecord = {
    ...replica,
    keySpec: primary.keySpec,
    keyUsage: primary.keyUsage,
    origin: primary.origin,
    ...(primary.rotation
      ? { rotation: { ...primary.rotation, inProgress: [] } }
      : {}),
  };
  if (!sharesMaterial(primary)) return shared;
  const versions = replicaVersions(primary, replica, adding);
  const current = versions.some((v) => v.id === primary.currentVersionId) ? primary.currentVersionId : replica.currentVersionId;
  return { ...shared, versions, ...(current ? { currentVersionId: current } : {}) };
}

function sameShared(a: KeyRecord, b: KeyRecord): boolean {
  return JSON.stringify([a.versions, a.currentVersionId, a.rotation, a.keySpec, a.keyUsage, a.origin])
    === JSON.stringify([b.versions, b.currentVersionId, b.rotation, b.keySpec, b.keyUsage, b.origin]);
}

/**
 * An internal event on one member, in its region, as CloudTrail records it: SynchronizeMultiRegionKey
 * when the primary's shared properties reach a replica, and CreateKey when ReplicateKey made one
 * (AWS logs a ReplicateKey request as both operations).
 */
export async function memberEvent(deps: CoreDeps, operation: 'SynchronizeMultiRegionKey' | 'CreateKey', member: KeyRecord): Promise<void> {
  const arn = arnOf(member);
  await deps.internalEvents?.({
    source: 'internal', operation, requestId: randomUUID(), keyReference: member.keyId,
    resources: [arn], startedAt: deps.clock.now(), latencyMs: 0, outcome: 'success', region: member.region, accountId: member.accountId,
  });
}

/**
 * Copies the shared properties of `primary` to each of its replicas, one compare-and-set each,
 * and records SynchronizeMultiRegionKey for every replica that changed. `adding` names a
 * version that the replicas must hold before the primary makes it current. Replicas being
 * created or deleted are skipped (ReplicateKey copies after its own fence). Returns the
 * replicas as stored.
 */
export async function synchronizeReplicas(deps: CoreDeps, primary: KeyRecord, options: { adding?: string } = {}): Promise<KeyRecord[]> {
  if (!primary.multiRegion || primary.multiRegionKeyType !== 'PRIMARY') return [];
  const synced: KeyRecord[] = [];
  for (const replica of await otherMembers(deps, primary)) {
    if (replica.multiRegionKeyType !== 'REPLICA') continue;
    let changed = false;
    try {
      const stored = await changeKey(deps, { key: replica, arn: arnOf(replica) }, (current) => {
        const next = withSharedProperties(primary, current, options.adding);
        changed = !sameShared(current, next);
        return next;
      });
      synced.push(stored);
      if (changed) await memberEvent(deps, 'SynchronizeMultiRegionKey', stored);
    } catch (e) {
      // Deleted (or claimed for deletion) meanwhile: nothing to copy to.
      if (isKmsError(e) && e.code === 'NotFoundException') continue;
      throw e;
    }
  }
  return synced;
}

/** Refuses to change a shared property on a replica: it is set on the primary only. */
// Precondition: a shared property of a multi-Region key is changed on its primary only.
export function assertNotReplica(key: KeyRecord, arn: string, operation: string): void {
  if (key.multiRegion && key.multiRegionKeyType === 'REPLICA') {
    throw new KmsError('UnsupportedOperationException', `${arn} is a multi-Region replica key. ${operation} can be called on its primary key only.`);
  }
}

/** Removes an abandoned version from every other member of `key`'s set (before its object is destroyed); keeps it where it is current. */
export async function dropVersionFromOtherMembers(deps: CoreDeps, key: KeyRecord, versionId: string): Promise<void> {
  if (!sharesMaterial(key)) return;
  for (const member of await otherMembers(deps, key, { withCreating: true })) {
    if (!member.versions.some((v) => v.id === versionId)) continue;
    try {
      await changeKey(deps, { key: member, arn: arnOf(member) }, (current) => (current.currentVersionId === versionId
        ? current
        : { ...current, versions: current.versions.filter((v) => v.id !== versionId) }));
    } catch (e) {
      if (isKmsError(e) && e.code === 'NotFoundException') continue;
      throw e;
    }
  }
}

/** `key` marked as having shared properties to copy to its replicas (a multi-Region primary), for recovery. */
export function markedForSynchronization(key: KeyRecord, startedAt: Date): KeyRecord {
  if (!key.multiRegion || key.multiRegionKeyType !== 'PRIMARY') return key;
  return { ...key, multiRegionWork: key.multiRegionWork ?? { operation: 'SynchronizeMultiRegionKey', startedAt } };
}
