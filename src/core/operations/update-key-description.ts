// UpdateKeyDescription: replaces the description (an empty string clears it).
import { keyIdField } from '../api/fields';
import { assertStateAllows } from '../keys/key-state';
import { changeKey, keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const updateKeyDescription = defineOperation({
  name: 'UpdateKeyDescription',
  input: schema({ KeyId: s.required(keyIdField()), Description: s.required(s.string({ min: 0, max: 8192 })) }),
  async run(deps, ctx, input) {
    const resolved = await keyForOperation(deps, ctx, 'UpdateKeyDescription', input.KeyId, { aliases: false });
    await changeKey(deps, resolved, (key, arn) => {
      assertStateAllows('UpdateKeyDescription', key.state, arn);
      return { ...key, description: input.Description };
    });
    return {};
  },
});
