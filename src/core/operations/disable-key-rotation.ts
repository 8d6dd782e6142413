// DisableKeyRotation: no more automatic rotations. The current material stays current, and
// on-demand rotations (including one under way) are unaffected.
import { keyIdField } from '../api/fields';
import { assertStateAllows } from '../keys/key-state';
import { changeKey, keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { assertRotatable, rotationOf } from '../rotation/rotation';
import { s, schema } from '../api/schema';
import { assertNotReplica, markedForSynchronization } from '../multi-region/set';
import { finishSynchronization } from '../multi-region/update-primary';

export const disableKeyRotation = defineOperation({
  name: 'DisableKeyRotation',
  input: schema({ KeyId: s.required(keyIdField()) }),
  async run(deps, ctx, input) {
    const resolved = await keyForOperation(deps, ctx, 'DisableKeyRotation', input.KeyId, { aliases: false });
    assertRotatable(resolved.key, resolved.arn);
    assertNotReplica(resolved.key, resolved.arn, 'DisableKeyRotation');
    const stored = await changeKey(deps, resolved, (key, arn) => {
      assertStateAllows('DisableKeyRotation', key.state, arn);
      const { periodInDays: _period, nextRotationDate: _next, ...rotation } = rotationOf(key);
      return markedForSynchronization({ ...key, rotation: { ...rotation, enabled: false } }, deps.clock.now());
    });
    // A multi-Region primary's replicas take the same setting (recovery repeats this after a crash).
    if (stored.multiRegion) await finishSynchronization(deps, stored);
    return {};
  },
});
