// ListKeyPolicies: always ["default"], the one policy every key has.
import { KmsError } from '../errors';
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
    // No answer is ever truncated (one name fits any Limit), so no marker was ever issued.
    // Precondition: a marker the service did not issue is refused with InvalidMarkerException.
    if (input.Marker !== undefined) throw new KmsError('InvalidMarkerException', 'Marker is invalid');
    return { PolicyNames: [POLICY_NAME].slice(0, input.Limit), Truncated: false };
  },
});
