// EnableKeyRotation: automatic rotation every RotationPeriodInDays (90–2560, default 365). The
// first rotation comes one period after this call; calling it again, for instance to change
// the period, restarts the clock from the new call.
import { keyIdField } from '../api/fields';
import { assertStateAllows } from '../keys/key-state';
import { changeKey, keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { addDays, assertRotatable, DEFAULT_ROTATION_PERIOD_DAYS, MAX_ROTATION_PERIOD_DAYS, MIN_ROTATION_PERIOD_DAYS, rotationOf } from '../rotation/rotation';
import { s, schema } from '../api/schema';
import { assertNotReplica, markedForSynchronization } from '../multi-region/set';
import { finishSynchronization } from '../multi-region/update-primary';

export const enableKeyRotation = defineOperation({
  name: 'EnableKeyRotation',
  input: schema({
    KeyId: s.required(keyIdField()),
    RotationPeriodInDays: s.integer({ min: MIN_ROTATION_PERIOD_DAYS, max: MAX_ROTATION_PERIOD_DAYS }),
  }),
  async run(deps, ctx, input) {
    const periodInDays = input.RotationPeriodInDays ?? DEFAULT_ROTATION_PERIOD_DAYS;
    const resolved = await keyForOperation(deps, ctx, 'EnableKeyRotation', input.KeyId, {
      aliases: false,
      authorization: { conditions: { 'kms:RotationPeriodInDays': periodInDays } },
    });
    assertRotatable(resolved.key, resolved.arn);
    assertNotReplica(resolved.key, resolved.arn, 'EnableKeyRotation');
    const nextRotationDate = addDays(deps.clock.now(), periodInDays);
    const stored = await changeKey(deps, resolved, (key, arn) => {
      assertStateAllows('EnableKeyRotation', key.state, arn);
      return markedForSynchronization({ ...key, rotation: { ...rotationOf(key), enabled: true, periodInDays, nextRotationDate } }, deps.clock.now());
    });
    // A multi-Region primary's replicas take the same setting (recovery repeats this after a crash).
    if (stored.multiRegion) await finishSynchronization(deps, stored);
    return {};
  },
});
