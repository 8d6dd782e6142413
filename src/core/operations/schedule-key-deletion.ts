// ScheduleKeyDeletion: PendingDeletion for 7–30 days, after which the deletion worker
// destroys the key's token objects and metadata.
import { keyIdField } from '../api/fields';
import { assertStateAllows } from '../keys/key-state';
import { changeKey, keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { hasReplicas, startWindowIfNoReplicas } from '../multi-region/deletion';

const DAY_MS = 24 * 60 * 60 * 1000;

export const scheduleKeyDeletion = defineOperation({
  name: 'ScheduleKeyDeletion',
  input: schema({ KeyId: s.required(keyIdField()), PendingWindowInDays: s.integer({ min: 7, max: 30 }) }),
  async run(deps, ctx, input) {
    const days = input.PendingWindowInDays ?? 30;
    const resolved = await keyForOperation(deps, ctx, 'ScheduleKeyDeletion', input.KeyId, {
      aliases: false,
      authorization: { conditions: { 'kms:ScheduleKeyDeletionPendingWindowInDays': days } },
    });
    const deletionDate = new Date(deps.clock.now().getTime() + days * DAY_MS);
    // A multi-Region primary with replicas waits for their deletion; its window starts after.
    const waitsForReplicas = await hasReplicas(deps, resolved.key);
    let key = await changeKey(deps, resolved, (current, arn) => {
      assertStateAllows('ScheduleKeyDeletion', current.state, arn);
      return waitsForReplicas
        ? { ...current, state: 'PendingReplicaDeletion', deletionDate: undefined, pendingWindowInDays: days }
        : { ...current, state: 'PendingDeletion', deletionDate, pendingWindowInDays: days };
    });
    // The last replica may have gone between the look and the write: then the window starts now.
    if (waitsForReplicas) key = await startWindowIfNoReplicas(deps, key);
    // Or a replica may have been added meanwhile (ReplicateKey fences on the primary, so it sees one or the other).
    else if (await hasReplicas(deps, key)) {
      key = await changeKey(deps, { key, arn: resolved.arn }, (current) => (current.state === 'PendingDeletion'
        ? { ...current, state: 'PendingReplicaDeletion', deletionDate: undefined }
        : current));
    }
    if (key.state === 'PendingReplicaDeletion') return { KeyId: resolved.arn, KeyState: key.state, PendingWindowInDays: days };
    return { KeyId: resolved.arn, DeletionDate: key.deletionDate, KeyState: key.state, PendingWindowInDays: days };
  },
});
