// GetKeyPolicy: the key's policy document; the only policy name is "default".
import { keyIdField } from '../fields';
import { assertPolicyName } from '../key-policy';
import { keyForOperation } from '../keys';
import { defaultKeyPolicy } from '../policy';
import { defineOperation } from '../operation';
import { s, schema } from '../schema';

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
