// ScheduleKeyDeletion: PendingDeletion for 7–30 days, after which the deletion worker
// destroys the key's token objects and metadata.
import { keyIdField } from '../api/fields';
import { assertStateAllows } from '../keys/key-state';
import { changeKey, keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

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
    const key = await changeKey(deps, resolved, (current, arn) => {
      assertStateAllows('ScheduleKeyDeletion', current.state, arn);
      return { ...current, state: 'PendingDeletion', deletionDate, pendingWindowInDays: days };
    });
    return { KeyId: resolved.arn, DeletionDate: key.deletionDate, KeyState: key.state, PendingWindowInDays: days };
  },
});
