// GetKeyPolicy: the key's policy document; the only policy name is "default".
import { keyIdField } from '../api/fields';
import { assertPolicyName } from '../access/key-policy';
import { keyForOperation } from '../keys/resolve';
import { defaultKeyPolicy } from '../access/policy';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const getKeyPolicy = defineOperation({
  name: 'GetKeyPolicy',
  input: schema({
    KeyId: s.required(keyIdField()),
    PolicyName: s.string({ min: 1, max: 128, pattern: /^[\w]+$/ }),
  }),
  async run(deps, ctx, input) {
    const { key } = await keyForOperation(deps, ctx, 'GetKeyPolicy', input.KeyId, { aliases: false });
    assertPolicyName(input.PolicyName);
    return { Policy: key.policy ?? defaultKeyPolicy(key.accountId), PolicyName: 'default' };
  },
});
