// ListResourceTags: a key's tags, sorted by tag key, paginated.
import { keyIdField, limitField, markerField } from '../api/fields';
import { keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { MAX_TAGS_PER_KEY, pageOfTags } from '../keys/tags';

export const listResourceTags = defineOperation({
  name: 'ListResourceTags',
  input: schema({ KeyId: s.required(keyIdField()), Limit: limitField(), Marker: markerField() }),
  async run(deps, ctx, input) {
    // Precondition: tag operations accept a key id or key ARN only, never an alias.
    const { key } = await keyForOperation(deps, ctx, 'ListResourceTags', input.KeyId, { aliases: false });
    // AWS's model allows Limit up to 1000; ListResourceTags returns at most 50 ("might return fewer").
    const page = pageOfTags(key.tags, Math.min(input.Limit ?? MAX_TAGS_PER_KEY, MAX_TAGS_PER_KEY), input.Marker);
    return {
      Tags: page.items,
      ...(page.nextMarker ? { NextMarker: page.nextMarker } : {}),
      Truncated: page.nextMarker !== undefined,
    };
  },
});
