// Deleting members of a set of multi-Region keys. A replica deletes like any key. A primary
// that still has replicas waits in PendingReplicaDeletion, with no deletion date, and its own
// waiting period (the PendingWindowInDays it was scheduled with) starts when its last replica
// is gone. The members share token objects, so a member's deletion destroys only the objects
// no other member names.
import type { CoreDeps } from '../deps';
import { isKmsError } from '../errors';
import { arnOf, changeKey } from '../keys/resolve';
import type { KeyRecord } from '../model';
import { otherMembers } from './set';

export { objectsNamedByNoOtherMember } from './set';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Whether `key` has replicas (complete, or under creation) that its deletion must wait for. */
export async function hasReplicas(deps: CoreDeps, key: KeyRecord): Promise<boolean> {
  if (!key.multiRegion || key.multiRegionKeyType !== 'PRIMARY') return false;
  return (await otherMembers(deps, key, { withCreating: true })).some((m) => m.multiRegionKeyType === 'REPLICA');
}

/** A primary waiting in PendingReplicaDeletion becomes PendingDeletion, its window starting now, if it has no replica left. */
export async function startWindowIfNoReplicas(deps: CoreDeps, primary: KeyRecord): Promise<KeyRecord> {
  if (primary.state !== 'PendingReplicaDeletion' || await hasReplicas(deps, primary)) return primary;
  try {
    return await changeKey(deps, { key: primary, arn: arnOf(primary) }, (key) => {
      if (key.state !== 'PendingReplicaDeletion') return key;
      const days = key.pendingWindowInDays ?? 30;
      return { ...key, state: 'PendingDeletion', deletionDate: new Date(deps.clock.now().getTime() + days * DAY_MS), pendingWindowInDays: days };
    });
  } catch (e) {
    if (isKmsError(e) && e.code === 'NotFoundException') return primary;
    throw e;
  }
}

/**
 * Called while a replica (`gone`, already claimed: invisible to every API) is being deleted:
 * its set's primary, if it waits for its replicas, starts its window once none is left.
 */
export async function startPrimaryWindowIfLastReplica(deps: CoreDeps, gone: KeyRecord): Promise<void> {
  if (!gone.multiRegion || gone.multiRegionKeyType !== 'REPLICA') return;
  const primary = (await otherMembers(deps, gone)).find((m) => m.multiRegionKeyType === 'PRIMARY');
  if (primary) await startWindowIfNoReplicas(deps, primary);
}
