// DisableKeyRotation: no more automatic rotations. The current material stays current, and
// on-demand rotations (including one under way) are unaffected.
import { keyIdField } from '../api/fields';
import { assertStateAllows } from '../keys/key-state';
import { changeKey, keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { assertRotatable, rotationOf } from '../rotation/rotation';
import { s, schema } from '../api/schema';

export const disableKeyRotation = defineOperation({
  name: 'DisableKeyRotation',
  input: schema({ KeyId: s.required(keyIdField()) }),
  async run(deps, ctx, input) {
    const resolved = await keyForOperation(deps, ctx, 'DisableKeyRotation', input.KeyId, { aliases: false });
    assertRotatable(resolved.key, resolved.arn);
    await changeKey(deps, resolved, (key, arn) => {
      assertStateAllows('DisableKeyRotation', key.state, arn);
      const { periodInDays: _period, nextRotationDate: _next, ...rotation } = rotationOf(key);
      return { ...key, rotation: { ...rotation, enabled: false } };
    });
    return {};
  },
});
