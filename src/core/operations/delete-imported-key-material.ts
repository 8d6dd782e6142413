// DeleteImportedKeyMaterial: destroys the token object of a key's imported material; the key
// becomes PendingImport until the same material is imported again. Its ciphertexts stay
// undecryptable until then, and decrypt again afterwards.
import { KmsError } from '../errors';
import { keyIdField } from '../api/fields';
import { assertExternalOrigin } from '../import/import-state';
import { deleteImportedMaterial } from '../import/upkeep';
import { assertStateAllows } from '../keys/key-state';
import { keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const deleteImportedKeyMaterial = defineOperation({
  name: 'DeleteImportedKeyMaterial',
  input: schema({
    KeyId: s.required(keyIdField()),
    KeyMaterialId: s.string({ min: 64, max: 64, pattern: /^[a-f0-9]+$/ }),
  }),
  async run(deps, ctx, input) {
    // The origin is checked before the state (KMS-SPEC §3, footnote 9).
    const resolved = await keyForOperation(deps, ctx, 'ResolveForImport', input.KeyId, { aliases: false, action: 'DeleteImportedKeyMaterial' });
    assertExternalOrigin(resolved.key, resolved.arn);
    assertStateAllows('DeleteImportedKeyMaterial', resolved.key.state, resolved.arn);
    const keyMaterialId = resolved.key.imported?.keyMaterialId;
    // Precondition: a KeyMaterialId given to DeleteImportedKeyMaterial must be the key material of the key.
    if (input.KeyMaterialId !== undefined && input.KeyMaterialId !== keyMaterialId) {
      throw new KmsError('NotFoundException', `Key material ${input.KeyMaterialId} is not associated with ${resolved.arn}.`);
    }
    // A key pending import has no material: nothing to delete, and no error (KMS-SPEC §3).
    await deleteImportedMaterial(deps, resolved);
    return { KeyId: resolved.arn, ...(keyMaterialId ? { KeyMaterialId: keyMaterialId } : {}) };
  },
});
