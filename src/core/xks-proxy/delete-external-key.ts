// DeleteExternalKey (admin command): destroys the token object, then the metadata. Everything
// encrypted under the key becomes undecryptable, so only a disabled key may be deleted. A
// delete interrupted between the two steps is finished by running it again.
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { KmsError } from '../errors';
import { existingExternalKey, externalKeyIdField, keyStorePrefixField } from './admin-fields';
import { tokenOf } from './keys';

export const deleteExternalKey = defineOperation({
  name: 'DeleteExternalKey',
  input: schema({ keyStorePrefix: s.required(keyStorePrefixField()), externalKeyId: s.required(externalKeyIdField()) }),
  async run(deps, _ctx, input) {
    const key = await existingExternalKey(deps, input.keyStorePrefix, input.externalKeyId);
    // Precondition: only a disabled external key may be deleted.
    if (key.status !== 'DISABLED') throw new KmsError('KMSInvalidStateException', `External key ${key.externalKeyId} is enabled: disable it first, then delete it.`);
    await tokenOf(deps, key).destroyExternalKey(key.backing.objectId);
    await deps.store.externalKeys.delete(key.keyStorePrefix, key.externalKeyId);
    return { keyStorePrefix: key.keyStorePrefix, externalKeyId: key.externalKeyId, deleted: true };
  },
});
