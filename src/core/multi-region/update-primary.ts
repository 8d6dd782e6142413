// UpdatePrimaryRegion's steps, and the recovery of multi-Region work a crash interrupted.
//
// The primary (region A) hands over to its replica in region B in five compare-and-sets:
//   1. A: Updating, multiRegionWork { UpdatePrimaryRegion, A → B } (the record recovery finds);
//   2. B: Updating;
//   3. A: becomes a REPLICA (first, so that there are never two primaries);
//   4. B: becomes the PRIMARY, Enabled again;
//   5. A: Enabled again, multiRegionWork cleared.
// Once step 2 is written, recovery only takes the handover forward: it repeats steps 3–5 (each
// is idempotent) unless B is gone, in which case A is made the primary again. With only step 1
// written, recovery undoes it, as a caller still alive when step 2 fails does itself: nothing
// has changed hands yet, and B may have been disabled or scheduled for deletion since. Meanwhile
// there may be no primary for a moment (AWS's DescribeKey may show both as replicas), never two.
import type { CoreDeps } from '../deps';
import { isKmsError, KmsError } from '../errors';
import { END_OF_TIME, INCOMPLETE_GRACE_MS } from '../jobs/recovery';
import { PARTITION } from '../keys/key-id';
import { assertStateAllows } from '../keys/key-state';
import { arnOf, changeKey, type ResolvedKey } from '../keys/resolve';
import { keyArn, type KeyRecord, type KeyState } from '../model';
import { synchronizeReplicas } from './set';

const afterUpdate = (state: KeyState): KeyState => (state === 'Updating' ? 'Enabled' : state);

// Precondition: UpdatePrimaryRegion starts from a multi-Region primary key.
export function assertPrimary(key: KeyRecord, arn: string): void {
  if (!key.multiRegion) throw new KmsError('UnsupportedOperationException', `${arn} is not a multi-Region key.`);
  if (key.multiRegionKeyType !== 'PRIMARY') throw new KmsError('UnsupportedOperationException', `${arn} is not a multi-Region primary key. Call UpdatePrimaryRegion on the current primary key.`);
}

/** The replica in `region` that UpdatePrimaryRegion names, or NotFoundException. */
export async function replicaIn(deps: CoreDeps, primary: KeyRecord, region: string): Promise<KeyRecord> {
  const scope = { accountId: primary.accountId, region };
  const replica = await deps.store.keys.get(scope, primary.keyId);
  // Precondition: the new primary region holds a replica of the key.
  if (!replica || replica.incomplete || !replica.multiRegion) {
    throw new KmsError('NotFoundException', `Key '${keyArn(PARTITION, scope, primary.keyId)}' does not exist`);
  }
  return replica;
}

/** Steps 1 and 2, then finishes. `replica` has been authorised and checked by the caller. */
export async function updatePrimaryRegion(deps: CoreDeps, resolved: ResolvedKey, replica: KeyRecord): Promise<void> {
  const work = { operation: 'UpdatePrimaryRegion' as const, fromRegion: resolved.key.region, toRegion: replica.region, startedAt: deps.clock.now() };
  const started = await changeKey(deps, resolved, (key, arn) => {
    assertStateAllows('UpdatePrimaryRegion', key.state, arn);
    assertPrimary(key, arn);
    // One multi-Region change of the set at a time (another handover, or a rotation being copied).
    if (key.multiRegionWork) throw new KmsError('KMSInvalidStateException', `${arn} is updating.`);
    return { ...key, state: 'Updating', multiRegionWork: work };
  });
  try {
    await changeKey(deps, { key: replica, arn: arnOf(replica) }, (key, arn) => {
      assertStateAllows('UpdatePrimaryRegion', key.state, arn);
      if (key.multiRegionKeyType !== 'REPLICA') throw new KmsError('UnsupportedOperationException', `${arn} is not a multi-Region replica key.`);
      return { ...key, state: 'Updating' };
    });
  } catch (e) {
    // Nothing has changed hands yet: undo step 2 if it landed all the same (its reply was lost),
    // then step 1. Step 1 goes last: should an undo fail, its work record stays and recovery
    // finishes the handover instead, so that no key is left Updating with nothing to end it.
    await undoReplicaUpdating(deps, replica)
      .then(() => changeKey(deps, { key: started, arn: resolved.arn }, (key) => (key.multiRegionWork?.operation === 'UpdatePrimaryRegion'
        ? { ...key, state: afterUpdate(key.state), multiRegionWork: undefined }
        : key)))
      .catch(() => undefined);
    throw e;
  }
  await finishPrimaryUpdate(deps, started);
}

/**
 * The replica back out of Updating, if step 2 put it there. Only a handover of its set makes a
 * replica Updating, and the caller still holds the set's one handover (step 1's work record).
 */
async function undoReplicaUpdating(deps: CoreDeps, replica: KeyRecord): Promise<void> {
  const current = await deps.store.keys.get(replica, replica.keyId);
  if (!current || current.incomplete || current.state !== 'Updating' || current.multiRegionKeyType !== 'REPLICA') return;
  await changeKey(deps, { key: current, arn: arnOf(current) }, (key) => (key.state === 'Updating' && key.multiRegionKeyType === 'REPLICA'
    ? { ...key, state: afterUpdate(key.state) }
    : key));
}

/** Steps 3–5 for an old primary whose record carries the UpdatePrimaryRegion work; idempotent. */
export async function finishPrimaryUpdate(deps: CoreDeps, from: KeyRecord): Promise<void> {
  const work = from.multiRegionWork;
  if (work?.operation !== 'UpdatePrimaryRegion') return;
  const fromArn = arnOf(from);
  const toScope = { accountId: from.accountId, region: work.toRegion };
  const to = await deps.store.keys.get(toScope, from.keyId);
  // Step 2 is where the handover commits: until the replica is Updating, nothing has changed hands
  // and the replica is still open to its own callers (it may since have been disabled or scheduled
  // for deletion), so the old primary stays. Step 3 lands only after step 2.
  const replicaCommitted = from.multiRegionKeyType === 'REPLICA' || to?.state === 'Updating';
  if (!to || to.incomplete || !replicaCommitted) {
    // The new primary is gone, or was never committed to: the old one stays the primary.
    await changeKey(deps, { key: from, arn: fromArn }, (key) => ({ ...key, multiRegionKeyType: 'PRIMARY', state: afterUpdate(key.state), multiRegionWork: undefined }));
    return;
  }
  const demoted = await changeKey(deps, { key: from, arn: fromArn }, (key) => ({ ...key, multiRegionKeyType: 'REPLICA' }));
  const promoted = await changeKey(deps, { key: to, arn: arnOf(to) }, (key) => ({ ...key, multiRegionKeyType: 'PRIMARY', state: afterUpdate(key.state) }));
  await changeKey(deps, { key: demoted, arn: fromArn }, (key) => ({ ...key, state: afterUpdate(key.state), multiRegionWork: undefined }));
  // The other replicas now follow the new primary (their shared properties are the same).
  await synchronizeReplicas(deps, promoted);
}

/** Ends a SynchronizeMultiRegionKey work record: copies the primary's shared properties, then clears it (unless a rotation is still under way). */
export async function finishSynchronization(deps: CoreDeps, primary: KeyRecord): Promise<KeyRecord> {
  if (primary.multiRegionWork?.operation !== 'SynchronizeMultiRegionKey') return primary;
  await synchronizeReplicas(deps, primary);
  return changeKey(deps, { key: primary, arn: arnOf(primary) }, (key) => {
    const underWay = (key.rotation?.inProgress ?? []).some((e) => !e.abandoned);
    return key.multiRegionWork?.operation === 'SynchronizeMultiRegionKey' && !underWay ? { ...key, multiRegionWork: undefined } : key;
  });
}

/**
 * Crash recovery: multi-Region work started longer than `graceMs` ago is finished (handovers go
 * forward, synchronisations are repeated); `'none'` takes all of it, right at start-up, when
 * nothing of ours is in flight. Run after the rotation recovery, which first abandons the
 * PENDING versions of rotations that died. Returns how many records it settled.
 */
export async function recoverMultiRegionWork(deps: CoreDeps, graceMs: number | 'none' = INCOMPLETE_GRACE_MS): Promise<number> {
  const before = graceMs === 'none' ? END_OF_TIME : new Date(deps.clock.now().getTime() - graceMs);
  let settled = 0;
  for (const key of await deps.store.keys.listWithMultiRegionWork(before)) {
    try {
      if (key.multiRegionWork?.operation === 'UpdatePrimaryRegion') await finishPrimaryUpdate(deps, key);
      else if ((key.rotation?.inProgress ?? []).some((e) => !e.abandoned && e.startedAt.getTime() >= before.getTime())) continue;
      else await finishSynchronization(deps, key);
      settled++;
    } catch (e) {
      if (isKmsError(e) && e.code === 'NotFoundException') continue;
      throw e;
    }
  }
  return settled;
}
