// ListKeyPolicies: always ["default"], the one policy every key has.
import { keyIdField, limitField, markerField } from '../fields';
import { POLICY_NAME } from '../key-policy';
import { keyForOperation } from '../keys';
import { defineOperation } from '../operation';
import { s, schema } from '../schema';

export const listKeyPolicies = defineOperation({
  name: 'ListKeyPolicies',
  input: schema({ KeyId: s.required(keyIdField()), Limit: limitField(), Marker: markerField() }),
  async run(deps, ctx, input) {
    await keyForOperation(deps, ctx, 'ListKeyPolicies', input.KeyId, { aliases: false });
    return { PolicyNames: [POLICY_NAME], Truncated: false };
  },
});
