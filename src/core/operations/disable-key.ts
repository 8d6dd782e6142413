// DisableKey: Enabled → Disabled; the key can no longer be used cryptographically.
import { keyIdField } from '../api/fields';
import { assertStateAllows } from '../keys/key-state';
import { changeKey, keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const disableKey = defineOperation({
  name: 'DisableKey',
  input: schema({ KeyId: s.required(keyIdField()) }),
  async run(deps, ctx, input) {
    const resolved = await keyForOperation(deps, ctx, 'DisableKey', input.KeyId, { aliases: false });
    await changeKey(deps, resolved, (key, arn) => {
      assertStateAllows('DisableKey', key.state, arn);
      return key.state === 'Unavailable' ? key : { ...key, state: 'Disabled' };
    });
    return {};
  },
});
