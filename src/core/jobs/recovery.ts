// Crash recovery for CreateKey: a record still marked incomplete after the grace period
// belongs to a creation that died between the token and the store. Its token objects
// (if any were made) are destroyed, then the record, so neither half outlives the other.
import type { CoreDeps } from '../deps';
import { reachCustomKeyStore } from '../custom-key-stores/connections';
import { objectsNamedByNoOtherMember, startPrimaryWindowIfLastReplica } from '../multi-region/deletion';

/** Long enough that a creation still in flight on another instance is never touched. */
export const INCOMPLETE_GRACE_MS = 5 * 60 * 1000;

/**
 * The cutoff of a recovery without grace period: later than any record's time, and ISO-8601 with
 * a four-digit year, so that it still orders as text (the embedded store compares the dates in
 * its documents as strings; the latest Date, 8.64e15 ms, writes as +275760-… and sorts first).
 */
export const END_OF_TIME = new Date('9999-12-31T23:59:59.999Z');

/** `graceMs: 'none'` takes every incomplete record: right at start-up, when nothing of ours is in flight. */
export async function recoverIncompleteKeys(deps: CoreDeps, graceMs: number | 'none' = INCOMPLETE_GRACE_MS): Promise<number> {
  const before = graceMs === 'none' ? END_OF_TIME : new Date(deps.clock.now().getTime() - graceMs);
  const leftovers = await deps.store.keys.listIncomplete(before);
  for (const key of leftovers) {
    await reachCustomKeyStore(deps, key);
    // An interrupted ReplicateKey (or a replica's deletion) leaves a replica whose objects its
    // set's other members still name: only objects no other member names are destroyed.
    await startPrimaryWindowIfLastReplica(deps, key);
    const objects = await objectsNamedByNoOtherMember(deps, key);
    for (const object of objects) {
      // A key store that is not connected now keeps the record, to be retried when it is.
      await deps.keyStores.keyObjectsIn(object.tokenId)?.destroyKey(object.objectId);
    }
    if (objects.every((o) => deps.keyStores.keyObjectsIn(o.tokenId))) {
      await deps.store.keys.delete(key, key.keyId);
    }
  }
  return leftovers.length;
}

/**
 * Objects a creation killed half-way left without an id or label, in every connected key store
 * that has objects. Only when nothing else can be creating objects (start-up, alone).
 */
export async function destroyUnnamedObjects(deps: CoreDeps): Promise<number> {
  let destroyed = 0;
  for (const store of deps.keyStores.all()) destroyed += (await store.keyObjects?.destroyUnnamed()) ?? 0;
  return destroyed;
}
