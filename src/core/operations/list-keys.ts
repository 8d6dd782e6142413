// ListKeys: the caller's keys in the request's region, paginated.
import { authorize } from '../access/authorize';
import { callerScope } from '../api/context';
import { limitField, markerField } from '../api/fields';
import { arnOf } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { schema } from '../api/schema';

export const listKeys = defineOperation({
  name: 'ListKeys',
  input: schema({ Limit: limitField(), Marker: markerField() }),
  async run(deps, ctx, input) {
    await authorize(deps, ctx, { action: 'ListKeys' });
    const page = await deps.store.keys.list(callerScope(ctx), { limit: input.Limit ?? 100, marker: input.Marker });
    return {
      Keys: page.items.map((key) => ({ KeyId: key.keyId, KeyArn: arnOf(key) })),
      ...(page.nextMarker ? { NextMarker: page.nextMarker } : {}),
      Truncated: page.nextMarker !== undefined,
    };
  },
});
