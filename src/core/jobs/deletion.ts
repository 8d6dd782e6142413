// The deletion worker's step: keys whose waiting period has ended lose their token objects
// (every version), then their metadata and aliases.
import type { CoreDeps } from '../deps';
import { RevisionConflictError } from '../errors';
import { reachCustomKeyStore } from '../custom-key-stores/connections';
import type { KeyRecord } from '../model';
import { arnOf } from '../keys/resolve';
import { objectsNamedByNoOtherMember, startPrimaryWindowIfLastReplica } from '../multi-region/deletion';

/** `keyArns`, when given, learns the ARN of every key deleted (for its internal event). */
export async function deleteDueKeys(deps: CoreDeps, keyArns?: Map<string, string>): Promise<string[]> {
  const now = deps.clock.now();
  const deleted: string[] = [];
  for (const key of await deps.store.keys.listDueForDeletion(now)) {
    // Precondition: a key is destroyed only once its deletion date has passed.
    if (key.state !== 'PendingDeletion' || !key.deletionDate || key.deletionDate.getTime() > now.getTime()) continue;
    // Claim the key first (compare-and-set): a CancelKeyDeletion that got in between wins,
    // and once claimed the key is invisible to every API. A crash after this point leaves
    // an incomplete record, which recovery finishes deleting.
    try {
      await deps.store.keys.replace({ ...key, incomplete: true, updatedAt: now });
    } catch (e) {
      if (e instanceof RevisionConflictError) continue;
      throw e;
    }
    if (!(await destroyClaimedKey(deps, key))) continue;
    deleted.push(key.keyId);
    keyArns?.set(key.keyId, arnOf(key));
  }
  return deleted;
}

/**
 * Destroys the token objects of a key already claimed (marked incomplete, so no API sees it), then
 * deletes its record with its aliases and grants. False, and the record kept, when an object is on
 * a token this instance has not configured: it stays recorded until it can be destroyed.
 */
export async function destroyClaimedKey(deps: CoreDeps, key: KeyRecord): Promise<boolean> {
  let allDestroyed = true;
  // A key in a CloudHSM key store loses its backing key on a best-effort basis, as in AWS: if
  // the store cannot be reached now, the KMS key is deleted anyway and the object stays in
  // that token, labelled with the key ARN, for its operator to remove.
  const customKeyStoreReachable = await reachCustomKeyStore(deps, key);
  // A multi-Region replica going: a primary waiting for its replicas' deletion starts its own
  // waiting period once none is left. Done before the record goes, so a crash repeats it.
  await startPrimaryWindowIfLastReplica(deps, key);
  // Every version's object, and an imported key's wrapping keys and retired objects; for a
  // multi-Region key, only those no other member of its set names (they share the token's objects).
  for (const object of await objectsNamedByNoOtherMember(deps, key)) {
    const objects = deps.keyStores.keyObjectsIn(object.tokenId);
    if (object.tokenId === key.customKeyStoreId) {
      if (customKeyStoreReachable) await objects?.destroyKey(object.objectId).catch(() => undefined);
      continue;
    }
    if (!objects) {
      allDestroyed = false;
      continue;
    }
    await objects.destroyKey(object.objectId);
  }
  if (!allDestroyed) return false;
  await deps.store.keys.delete(key, key.keyId);
  return true;
}
