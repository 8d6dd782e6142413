// DescribeCustomKeyStores: one store by id or by name, or all of the caller's, paginated.
import { authorize } from '../access/authorize';
import { callerScope } from '../api/context';
import { limitField, markerField } from '../api/fields';
import { defineOperation } from '../api/operation';
import { schema } from '../api/schema';
import { customKeyStoreView, existingCustomKeyStore, messages } from '../custom-key-stores/custom-key-store';
import { customKeyStoreIdField, customKeyStoreNameField } from '../custom-key-stores/settings';
import { KmsError } from '../errors';

/** As ListKeys: 100 when Limit is absent. */
const DEFAULT_LIMIT = 100;

export const describeCustomKeyStores = defineOperation({
  name: 'DescribeCustomKeyStores',
  input: schema({
    CustomKeyStoreId: customKeyStoreIdField(),
    CustomKeyStoreName: customKeyStoreNameField(),
    Limit: limitField(),
    Marker: markerField(),
  }),
  async run(deps, ctx, input) {
    await authorize(deps, ctx, { action: 'DescribeCustomKeyStores' });
    // Precondition: a store is named by its id or by its name, not both.
    if (input.CustomKeyStoreId !== undefined && input.CustomKeyStoreName !== undefined) {
      throw new KmsError('ValidationException', 'You cannot specify both CustomKeyStoreId and CustomKeyStoreName.');
    }
    if (input.CustomKeyStoreId !== undefined) {
      return { CustomKeyStores: [customKeyStoreView(await existingCustomKeyStore(deps, ctx, input.CustomKeyStoreId))], Truncated: false };
    }
    if (input.CustomKeyStoreName !== undefined) {
      const record = await deps.store.customKeyStores.getByName(callerScope(ctx), input.CustomKeyStoreName);
      if (!record) throw new KmsError('CustomKeyStoreNotFoundException', messages.notFoundByName(input.CustomKeyStoreName));
      return { CustomKeyStores: [customKeyStoreView(record)], Truncated: false };
    }
    const page = await deps.store.customKeyStores.list(callerScope(ctx), { limit: input.Limit ?? DEFAULT_LIMIT, marker: input.Marker });
    return {
      CustomKeyStores: page.items.map(customKeyStoreView),
      ...(page.nextMarker ? { NextMarker: page.nextMarker } : {}),
      Truncated: page.nextMarker !== undefined,
    };
  },
});
