// ListKeyPolicies: always ["default"], the one policy every key has.
import { keyIdField, limitField, markerField } from '../api/fields';
import { POLICY_NAME } from '../access/key-policy';
import { keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const listKeyPolicies = defineOperation({
  name: 'ListKeyPolicies',
  input: schema({ KeyId: s.required(keyIdField()), Limit: limitField(), Marker: markerField() }),
  async run(deps, ctx, input) {
    await keyForOperation(deps, ctx, 'ListKeyPolicies', input.KeyId, { aliases: false });
    return { PolicyNames: [POLICY_NAME], Truncated: false };
  },
});
