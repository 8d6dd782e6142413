// ListKeyRotations: a key's completed rotations, oldest first, paginated; with
// IncludeKeyMaterial ALL_KEY_MATERIAL the first key material leads the list.
import { keyIdField, limitField, markerField } from '../api/fields';
import { keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { assertRotatable, pageOfRotations, rotationsList } from '../rotation/rotation';
import { s, schema } from '../api/schema';

const DEFAULT_LIMIT = 100;

export const listKeyRotations = defineOperation({
  name: 'ListKeyRotations',
  input: schema({
    KeyId: s.required(keyIdField()),
    IncludeKeyMaterial: s.enum(['ALL_KEY_MATERIAL', 'ROTATIONS_ONLY'] as const),
    Limit: limitField(),
    Marker: markerField(),
  }),
  async run(deps, ctx, input) {
    const { key, arn } = await keyForOperation(deps, ctx, 'ListKeyRotations', input.KeyId, { aliases: false });
    assertRotatable(key, arn);
    const entries = rotationsList(key, input.IncludeKeyMaterial === 'ALL_KEY_MATERIAL');
    const page = pageOfRotations(entries, input.Limit ?? DEFAULT_LIMIT, input.Marker);
    return {
      Rotations: page.items,
      ...(page.nextMarker ? { NextMarker: page.nextMarker } : {}),
      Truncated: page.nextMarker !== undefined,
    };
  },
});
