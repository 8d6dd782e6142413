// Rotation of a key's material. Every rotation makes a new token object (a new key version,
// sensitive and non-extractable like every key the token makes) and makes it current for
// Encrypt and GenerateDataKey; older versions stay for Decrypt and ReEncrypt, which find them
// by the version named in the ciphertext.
//
// A rotation is three steps, so that a crash anywhere leaves the key usable with either the
// old or the new version current and no token object that no record names:
//   1. changeKey: append a PENDING version and an inProgress entry (the old version stays current);
//   2. the token makes the object;
//   3. changeKey: the version becomes ACTIVE and current, the rotation goes into the history.
// A rotation that fails midway is abandoned (abandonVersion). One that dies with the process
// is abandoned by recovery (recoverInterruptedRotations) after a grace period.
import type { CoreDeps } from '../deps';
import { KmsError, isKmsError } from '../errors';
import { assertStateAllows } from '../keys/key-state';
import { newKeyMaterialId } from '../keys/key-id';
import { arnOf, changeKey, type ResolvedKey } from '../keys/resolve';
import type { KeyRecord, KeyRotation, KeyScope, KeyVersion, RotationType } from '../model';
import type { KeyStore } from '../key-stores/port';
import { requireCapability } from '../key-stores/registry';
import { END_OF_TIME, INCOMPLETE_GRACE_MS } from '../jobs/recovery';
import { assertNotReplica, dropVersionFromOtherMembers, synchronizeReplicas } from '../multi-region/set';
import { finishSynchronization } from '../multi-region/update-primary';

export const DEFAULT_ROTATION_PERIOD_DAYS = 365;
export const MIN_ROTATION_PERIOD_DAYS = 90;
export const MAX_ROTATION_PERIOD_DAYS = 2560;
export const ON_DEMAND_ROTATION_LIMIT = 10;
/** Long enough that a rotation still in flight on another instance is never touched. */
export const PENDING_VERSION_GRACE_MS = INCOMPLETE_GRACE_MS;

const DAY_MS = 24 * 60 * 60 * 1000;

export const rotationMessages = {
  onDemandLimit: (arn: string) =>
    `The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: ${arn}`,
  origin: (arn: string, origin: string) => `${arn} origin is ${origin} which is not valid for this operation.`,
} as const;

export function addDays(date: Date, days: number): Date {
  return new Date(date.getTime() + days * DAY_MS);
}

/** A key's rotation state; a key that never had a rotation call has the defaults. */
export function rotationOf(key: KeyRecord): KeyRotation {
  return key.rotation ?? { enabled: false, onDemandCount: 0, history: [], inProgress: [] };
}

export function isSymmetricEncryptionKey(key: KeyRecord): boolean {
  return key.keySpec === 'SYMMETRIC_DEFAULT' && key.keyUsage === 'ENCRYPT_DECRYPT';
}

/** The refusal for a key outside the origin rule (EXTERNAL, custom key stores), if it is. */
export function originRefusal(key: KeyRecord, arn: string): KmsError | undefined {
  if (key.origin === 'AWS_KMS') return undefined;
  return new KmsError('UnsupportedOperationException', rotationMessages.origin(arn, key.origin));
}

// Precondition: only symmetric encryption keys whose material the service generated are rotated.
export function assertRotatable(key: KeyRecord, arn: string): void {
  const refusal = originRefusal(key, arn);
  if (refusal) throw refusal;
  // AWS answers asymmetric and HMAC keys with an empty message (recorded for RotateKeyOnDemand).
  if (!isSymmetricEncryptionKey(key)) throw new KmsError('UnsupportedOperationException', '', `key spec ${key.keySpec} / ${key.keyUsage} cannot rotate`);
}

/** The key store new versions of this key go to: the one holding its current version, else its custom key store's or the default. */
function storeForNewVersion(deps: CoreDeps, key: KeyRecord): KeyStore {
  const current = key.versions.find((v) => v.id === key.currentVersionId) ?? key.versions[0];
  return current ? deps.keyStores.resolve(current.backing).store : deps.keyStores.storeFor(key.customKeyStoreId);
}

/** Thrown inside step 1 of an automatic rotation that is no longer due; the scheduler skips the key. */
export class RotationNotDueError extends Error {
  constructor(keyId: string) {
    super(`automatic rotation of ${keyId} is not due`);
    this.name = 'RotationNotDueError';
  }
}

class RotationAbandonedError extends Error {
  constructor(versionId: string) {
    super(`rotation to version ${versionId} was abandoned before it completed`);
    this.name = 'RotationAbandonedError';
  }
}

/** Step 1's checks, made on every attempt of the compare-and-set. */
function assertMayStart(key: KeyRecord, arn: string, type: RotationType, now: Date): void {
  const rotation = rotationOf(key);
  const underWay = (t: RotationType) => rotation.inProgress.filter((e) => e.type === t && !e.abandoned).length;
  // A multi-Region key rotates on its primary, which copies the new material to its replicas,
  // and not while the primary region is being handed over.
  const handingOver = key.multiRegionWork?.operation === 'UpdatePrimaryRegion';
  if (type === 'ON_DEMAND') {
    assertStateAllows('RotateKeyOnDemand', key.state, arn);
    assertRotatable(key, arn);
    assertNotReplica(key, arn, 'RotateKeyOnDemand');
    if (handingOver) throw new KmsError('KMSInvalidStateException', `${arn} is updating.`);
    // Precondition: a key is rotated on demand at most 10 times.
    if (rotation.onDemandCount + underWay('ON_DEMAND') >= ON_DEMAND_ROTATION_LIMIT) {
      throw new KmsError('LimitExceededException', rotationMessages.onDemandLimit(arn));
    }
    return;
  }
  // Precondition: a key is rotated on schedule only while it is Enabled.
  const due = key.state === 'Enabled' && rotation.enabled && rotation.nextRotationDate !== undefined
    && rotation.nextRotationDate.getTime() <= now.getTime();
  // One automatic rotation at a time, even with several instances running the scheduler.
  const replica = key.multiRegion && key.multiRegionKeyType !== 'PRIMARY';
  if (!due || underWay('AUTOMATIC') > 0 || originRefusal(key, arn) || !isSymmetricEncryptionKey(key) || replica || handingOver) throw new RotationNotDueError(key.keyId);
}

/**
 * Rotates the key: a new version in the token becomes current. Returns the key as stored after
 * the rotation. On-demand rotations leave the automatic schedule alone; an automatic one sets
 * the next date one period after itself, so a key overdue for several periods rotates once.
 */
export async function rotateKey(deps: CoreDeps, resolved: ResolvedKey, type: RotationType): Promise<KeyRecord> {
  const startedAt = deps.clock.now();
  // Checked here too, so a key that cannot rotate is refused before its key store is looked for.
  assertMayStart(resolved.key, resolved.arn, type, startedAt);
  const store = storeForNewVersion(deps, resolved.key);
  const keyObjects = requireCapability(store, 'keyObjects');
  const versionId = newKeyMaterialId();
  const version: KeyVersion = { id: versionId, backing: { kind: 'pkcs11', tokenId: store.id, objectId: versionId }, createdAt: startedAt, status: 'PENDING' };

  // Step 1: the PENDING version is recorded before the object exists, so no object is ever unnamed.
  const started = await changeKey(deps, resolved, (key, arn) => {
    assertMayStart(key, arn, type, startedAt);
    const rotation = rotationOf(key);
    return {
      ...key,
      versions: [...key.versions, version],
      rotation: { ...rotation, inProgress: [...rotation.inProgress, { versionId, type, startedAt }] },
      // A multi-Region primary records that its replicas are to be synchronised, for recovery.
      ...(key.multiRegion ? { multiRegionWork: key.multiRegionWork ?? { operation: 'SynchronizeMultiRegionKey' as const, startedAt } } : {}),
    };
  });

  // Step 2; for a multi-Region primary, every replica then holds the new material before the
  // primary makes it current, so a ciphertext made under it decrypts in every region.
  try {
    await keyObjects.generateAesKey(versionId, `kms:${started.keyId}`);
    if (started.multiRegion) await synchronizeReplicas(deps, started, { adding: versionId });
  } catch (e) {
    await abandonVersion(deps, started, version).catch(() => undefined);
    throw e;
  }

  // Step 3: ACTIVE and current in one write, unless the rotation was abandoned meanwhile.
  let completed: KeyRecord;
  try {
    completed = await changeKey(deps, { key: started, arn: resolved.arn }, (key) => {
      const rotation = rotationOf(key);
      const entry = rotation.inProgress.find((e) => e.versionId === versionId);
      const pending = key.versions.find((v) => v.id === versionId);
      if (!entry || entry.abandoned || pending?.status !== 'PENDING') throw new RotationAbandonedError(versionId);
      const now = deps.clock.now();
      return {
        ...key,
        versions: key.versions.map((v) => (v.id === versionId ? { ...v, status: 'ACTIVE' as const } : v)),
        currentVersionId: versionId,
        rotation: {
          ...rotation,
          inProgress: rotation.inProgress.filter((e) => e.versionId !== versionId),
          history: [...rotation.history, { keyMaterialId: versionId, date: now, type }],
          onDemandCount: rotation.onDemandCount + (type === 'ON_DEMAND' ? 1 : 0),
          ...(type === 'AUTOMATIC' && rotation.enabled
            ? { nextRotationDate: addDays(now, rotation.periodInDays ?? DEFAULT_ROTATION_PERIOD_DAYS) }
            : {}),
        },
      };
    });
  } catch (e) {
    // The write may have landed before the error (a lost reply): abandoning finds out.
    const outcome = await abandonVersion(deps, started, version).catch(() => undefined);
    if (!outcome?.completed) throw e;
    completed = outcome.completed;
  }
  // The replicas make the new material current too. The rotation has happened: if this fails,
  // the primary's multiRegionWork stays and recovery repeats it.
  if (completed.multiRegion) completed = await finishSynchronization(deps, completed).catch(() => completed);
  return completed;
}

/** The version became ACTIVE after all; carries the key as stored. */
class VersionCompleted extends Error {
  constructor(readonly key: KeyRecord) {
    super('version completed');
  }
}

/** The record no longer names the version (removed already, or the key is gone). */
class VersionGone extends Error {
  constructor() {
    super('version gone');
  }
}

/**
 * Undoes the rotation that made `version`, unless it completed: claims it (marks it abandoned,
 * so it can never become ACTIVE), destroys its token object, then removes the version. The
 * object is destroyed only once nothing can make the version current, and the version is
 * removed only after its object is gone, so a crash between the steps leaves work the next
 * recovery finishes. Resolves `completed` with the key if the version is ACTIVE.
 */
export async function abandonVersion(deps: CoreDeps, scope: KeyScope & { keyId: string }, version: KeyVersion): Promise<{ completed?: KeyRecord; kept?: boolean }> {
  if (version.backing.kind !== 'pkcs11') return { kept: true };
  const keyObjects = deps.keyStores.keyObjectsIn(version.backing.tokenId);
  const objectId = version.backing.objectId;
  const fresh = await deps.store.keys.get(scope, scope.keyId);
  let claimed: KeyRecord | undefined;
  try {
    if (!fresh || fresh.incomplete) throw new VersionGone();
    claimed = await changeKey(deps, { key: fresh, arn: arnOf(fresh) }, (key) => {
      const current = key.versions.find((v) => v.id === version.id);
      if (current?.status === 'ACTIVE') throw new VersionCompleted(key);
      if (!current) throw new VersionGone();
      const rotation = rotationOf(key);
      return { ...key, rotation: { ...rotation, inProgress: rotation.inProgress.map((e) => (e.versionId === version.id ? { ...e, abandoned: true } : e)) } };
    });
  } catch (e) {
    if (e instanceof VersionCompleted) return { completed: e.key };
    // Removed already, or the key was deleted meanwhile (the deletion worker destroys the
    // versions it knew of): nothing names the object any more, so it goes below.
    if (!(e instanceof VersionGone) && !(isKmsError(e) && e.code === 'NotFoundException')) throw e;
  }
  // A key store that is not connected now keeps the version recorded, to be retried when it is.
  if (!keyObjects) return { kept: true };
  // A multi-Region primary's replicas may hold the version already: they let go of it first.
  if (fresh?.multiRegion) await dropVersionFromOtherMembers(deps, fresh, version.id);
  await keyObjects.destroyKey(objectId);
  if (claimed) {
    try {
      await changeKey(deps, { key: claimed, arn: arnOf(claimed) }, (key) => {
        const rotation = rotationOf(key);
        return {
          ...key,
          versions: key.versions.filter((v) => !(v.id === version.id && v.status === 'PENDING')),
          rotation: { ...rotation, inProgress: rotation.inProgress.filter((e) => e.versionId !== version.id) },
        };
      });
    } catch (e) {
      if (!(isKmsError(e) && e.code === 'NotFoundException')) throw e;
    }
  }
  return {};
}

/**
 * Crash recovery for rotations: PENDING versions of complete keys older than the grace period
 * belong to rotations that died midway. `graceMs: 'none'` takes every one: right at start-up,
 * when nothing of ours is in flight. Returns how many versions were abandoned.
 */
export async function recoverInterruptedRotations(deps: CoreDeps, graceMs: number | 'none' = PENDING_VERSION_GRACE_MS): Promise<number> {
  const before = graceMs === 'none' ? END_OF_TIME : new Date(deps.clock.now().getTime() - graceMs);
  let abandoned = 0;
  for (const key of await deps.store.keys.listWithPendingVersions(before)) {
    for (const version of key.versions) {
      if (version.status !== 'PENDING' || version.createdAt.getTime() >= before.getTime()) continue;
      const outcome = await abandonVersion(deps, key, version);
      if (!outcome.completed && !outcome.kept) abandoned++;
    }
  }
  return abandoned;
}

export interface ScheduledRotations {
  rotated: string[];
  /** Keys whose rotation failed; they stay due, so the next run tries again. */
  failed: { keyId: string; detail: string }[];
}

/**
 * The scheduler's step: every Enabled key whose automatic rotation is due rotates once. Run at
 * start-up and periodically, it catches up after downtime with one rotation per key.
 */
/** `keyArns`, when given, learns the ARN of every key rotated or failing (for its internal event). */
export async function rotateDueKeys(deps: CoreDeps, keyArns?: Map<string, string>): Promise<ScheduledRotations> {
  const result: ScheduledRotations = { rotated: [], failed: [] };
  for (const key of await deps.store.keys.listDueForRotation(deps.clock.now())) {
    keyArns?.set(key.keyId, arnOf(key));
    try {
      await rotateKey(deps, { key, arn: arnOf(key), state: key.state }, 'AUTOMATIC');
      result.rotated.push(key.keyId);
    } catch (e) {
      if (e instanceof RotationNotDueError || (isKmsError(e) && e.code === 'NotFoundException')) continue;
      result.failed.push({ keyId: key.keyId, detail: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  }
  return result;
}

/** A key's key materials as ListKeyRotations lists them, oldest first. */
export interface RotationsListEntry {
  KeyId: string;
  KeyMaterialId: string;
  KeyMaterialState: 'CURRENT' | 'NON_CURRENT';
  RotationDate?: Date;
  RotationType?: RotationType;
}

export function rotationsList(key: KeyRecord, includeFirstMaterial: boolean): RotationsListEntry[] {
  const state = (id: string) => (id === key.currentVersionId ? 'CURRENT' as const : 'NON_CURRENT' as const);
  const rotations = rotationOf(key).history.map((entry) => ({
    KeyId: key.keyId, KeyMaterialId: entry.keyMaterialId, KeyMaterialState: state(entry.keyMaterialId), RotationDate: entry.date, RotationType: entry.type,
  }));
  const rotated = new Set(rotations.map((r) => r.KeyMaterialId));
  const first = key.versions.find((v) => v.status === 'ACTIVE' && !rotated.has(v.id));
  return includeFirstMaterial && first ? [{ KeyId: key.keyId, KeyMaterialId: first.id, KeyMaterialState: state(first.id) }, ...rotations] : rotations;
}

// ListKeyRotations markers: the position after the last entry returned and that entry's key
// material id, which the next page checks, so a marker from another key or list is refused.
function encodeRotationMarker(position: number, keyMaterialId: string): string {
  return Buffer.from(`rotation:${position}:${keyMaterialId}`, 'utf8').toString('base64url');
}

// Precondition: a marker the service did not issue is refused with InvalidMarkerException.
function resumeIndex(entries: RotationsListEntry[], marker: string): number {
  const text = Buffer.from(marker, 'base64url').toString('utf8');
  const match = /^rotation:([1-9]\d{0,5}):([0-9a-f]{64})$/.exec(text);
  const position = match ? Number(match[1]) : 0;
  if (!match || encodeRotationMarker(position, match[2]!) !== marker || entries[position - 1]?.KeyMaterialId !== match[2]) {
    throw new KmsError('InvalidMarkerException', 'Marker is invalid');
  }
  return position;
}

export function pageOfRotations(entries: RotationsListEntry[], limit: number, marker?: string): { items: RotationsListEntry[]; nextMarker?: string } {
  const start = marker === undefined ? 0 : resumeIndex(entries, marker);
  const end = Math.min(start + limit, entries.length);
  const items = entries.slice(start, end);
  const last = items[items.length - 1];
  return end < entries.length && last ? { items, nextMarker: encodeRotationMarker(end, last.KeyMaterialId) } : { items };
}
