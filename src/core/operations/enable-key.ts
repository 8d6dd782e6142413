// EnableKey: Disabled → Enabled. Enabling an enabled key is allowed and changes nothing.
import { keyIdField } from '../api/fields';
import { assertStateAllows } from '../keys/key-state';
import { changeKey, keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const enableKey = defineOperation({
  name: 'EnableKey',
  input: schema({ KeyId: s.required(keyIdField()) }),
  async run(deps, ctx, input) {
    const resolved = await keyForOperation(deps, ctx, 'EnableKey', input.KeyId, { aliases: false });
    await changeKey(deps, resolved, (key, arn) => {
      assertStateAllows('EnableKey', key.state, arn);
      // An unavailable key keeps its state until its key store reconnects (AWS footnote 12).
      return key.state === 'Unavailable' ? key : { ...key, state: 'Enabled' };
    });
    return {};
  },
});
