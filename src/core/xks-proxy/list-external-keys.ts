// ListExternalKeys (admin command): every external key, or one key store's.
import { defineOperation } from '../api/operation';
import { schema } from '../api/schema';
import { keyStorePrefixField } from './admin-fields';
import { externalKeyView } from './external-key';

export const listExternalKeys = defineOperation({
  name: 'ListExternalKeys',
  input: schema({ keyStorePrefix: keyStorePrefixField() }),
  async run(deps, _ctx, input) {
    const keys = await deps.store.externalKeys.list({ keyStorePrefix: input.keyStorePrefix });
    return { externalKeys: keys.map(externalKeyView) };
  },
});
