// ImportKeyMaterial: unwraps key material with the wrapping key of an import token into the
// token, sensitive and non-extractable, as the key's one key material; a key pending import
// becomes Enabled. Only the same material can be imported again, which may change its expiry.
import { KmsError } from '../errors';
import { keyIdField } from '../api/fields';
import { assertExternalOrigin, expirationOf } from '../import/import-state';
import { importKeyMaterial } from '../import/key-import';
import { assertStateAllows } from '../keys/key-state';
import { keyForOperation } from '../keys/resolve';
import { expirationModels, importTypes } from '../model';
import { defineOperation } from '../api/operation';
import { s, schema, type Field } from '../api/schema';

/** A timestamp member: epoch seconds (with a fraction) on the wire, as the AWS JSON 1.1 protocol sends them. */
function timestampField(): Field<Date> {
  return {
    kind: 'timestamp',
    decode(value, ctx) {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        const kind = value === null ? 'NULL' : Array.isArray(value) ? 'LIST' : typeof value === 'string' ? 'STRING' : typeof value === 'boolean' ? 'BOOLEAN' : 'MAP';
        throw new KmsError('SerializationException', `${kind}_VALUE can not be converted to Timestamp at '${ctx.path}'`);
      }
      return new Date(Math.round(value * 1000));
    },
  };
}

export const importKeyMaterialOperation = defineOperation({
  name: 'ImportKeyMaterial',
  input: schema({
    KeyId: s.required(keyIdField()),
    ImportToken: s.required(s.blob({ min: 1, max: 6144 })),
    EncryptedKeyMaterial: s.required(s.blob({ min: 1, max: 6144 })),
    ValidTo: timestampField(),
    ExpirationModel: s.enum(expirationModels),
    ImportType: s.enum(importTypes),
    /** Stored with the import state; an import without one keeps the last. */
    KeyMaterialDescription: s.string({ min: 0, max: 256 }),
    KeyMaterialId: s.string({ min: 64, max: 64, pattern: /^[a-f0-9]+$/ }),
  }),
  async run(deps, ctx, input) {
    const expiration = expirationOf(input.ExpirationModel, input.ValidTo, deps.clock.now());
    // The origin is checked before the state (KMS-SPEC §3, footnotes 8 and 9).
    const resolved = await keyForOperation(deps, ctx, 'ResolveForImport', input.KeyId, { aliases: false, action: 'ImportKeyMaterial' });
    assertExternalOrigin(resolved.key, resolved.arn);
    assertStateAllows('ImportKeyMaterial', resolved.key.state, resolved.arn);
    const { keyMaterialId } = await importKeyMaterial(deps, resolved, {
      importToken: input.ImportToken,
      encryptedMaterial: input.EncryptedKeyMaterial,
      ...expiration,
      ...(input.ImportType ? { importType: input.ImportType } : {}),
      ...(input.KeyMaterialId ? { keyMaterialId: input.KeyMaterialId } : {}),
      ...(input.KeyMaterialDescription !== undefined ? { keyMaterialDescription: input.KeyMaterialDescription } : {}),
    });
    // AWS answers with the key id here, not the ARN (recorded).
    return { KeyId: resolved.key.keyId, KeyMaterialId: keyMaterialId };
  },
});
