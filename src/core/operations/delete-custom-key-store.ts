// DeleteCustomKeyStore: only a DISCONNECTED store that holds no KMS keys. Its record goes,
// then the key that sealed its secrets; the token or proxy behind it is untouched.
import { authorize } from '../access/authorize';
import { callerScope } from '../api/context';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { existingCustomKeyStore } from '../custom-key-stores/custom-key-store';
import { destroySecretKey } from '../custom-key-stores/secrets';
import { customKeyStoreIdField } from '../custom-key-stores/settings';
import { KmsError } from '../errors';

export const deleteCustomKeyStore = defineOperation({
  name: 'DeleteCustomKeyStore',
  input: schema({ CustomKeyStoreId: s.required(customKeyStoreIdField()) }),
  async run(deps, ctx, input) {
    await authorize(deps, ctx, { action: 'DeleteCustomKeyStore' });
    const record = await existingCustomKeyStore(deps, ctx, input.CustomKeyStoreId);
    // Precondition: a custom key store is deleted only while DISCONNECTED.
    if (record.connectionState !== 'DISCONNECTED') {
      throw new KmsError('CustomKeyStoreInvalidStateException', `Custom key store ${record.customKeyStoreId} is ${record.connectionState}. Disconnect it before deleting it.`);
    }
    // Precondition: a custom key store that holds KMS keys (even pending deletion) is not deleted.
    if ((await deps.store.keys.listInCustomKeyStore(callerScope(ctx), record.customKeyStoreId, 1)).length > 0) {
      throw new KmsError('CustomKeyStoreHasCMKsException', `Custom key store ${record.customKeyStoreId} contains KMS keys. Delete them (ScheduleKeyDeletion) and wait for their deletion before deleting the custom key store.`);
    }
    if (await deps.store.customKeyStores.delete(record, record.customKeyStoreId)) {
      await destroySecretKey(deps, record.secretKeyObjectId).catch(() => undefined);
    }
    return {};
  },
});
