// EnableKey: Disabled → Enabled. Enabling an enabled key is allowed and changes nothing.
import { keyIdField } from '../fields';
import { assertStateAllows } from '../key-state';
import { changeKey, keyForOperation } from '../keys';
import { defineOperation } from '../operation';
import { s, schema } from '../schema';

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
