// DisableKey: Enabled → Disabled; the key can no longer be used cryptographically.
import { keyIdField } from '../fields';
import { assertStateAllows } from '../key-state';
import { changeKey, keyForOperation } from '../keys';
import { defineOperation } from '../operation';
import { s, schema } from '../schema';

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
