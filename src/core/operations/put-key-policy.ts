// PutKeyPolicy: replaces the key's policy after validating it and the lockout safety check.
import { keyIdField } from '../api/fields';
import { assertNoLockout, assertPolicyName, validateKeyPolicy } from '../access/key-policy';
import { assertStateAllows } from '../keys/key-state';
import { changeKey, keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const putKeyPolicy = defineOperation({
  name: 'PutKeyPolicy',
  input: schema({
    KeyId: s.required(keyIdField()),
    PolicyName: s.string({ min: 1, max: 128, pattern: /^[\w]+$/ }),
    Policy: s.required(s.string({ min: 1, max: 131072 })),
    BypassPolicyLockoutSafetyCheck: s.boolean(),
  }),
  async run(deps, ctx, input) {
    const resolved = await keyForOperation(deps, ctx, 'PutKeyPolicy', input.KeyId, {
      aliases: false,
      authorization: { conditions: { 'kms:BypassPolicyLockoutSafetyCheck': input.BypassPolicyLockoutSafetyCheck ?? false } },
    });
    assertPolicyName(input.PolicyName);
    validateKeyPolicy(input.Policy);
    assertNoLockout(input.Policy, ctx.principal, { arn: resolved.arn, accountId: resolved.key.accountId }, input.BypassPolicyLockoutSafetyCheck);
    await changeKey(deps, resolved, (key, arn) => {
      assertStateAllows('PutKeyPolicy', key.state, arn);
      return { ...key, policy: input.Policy };
    });
    return {};
  },
});
