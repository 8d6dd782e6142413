// GetParametersForImport: a wrapping key pair generated in the token for one import into a key
// of origin EXTERNAL, its public key, and an import token bound to the key, valid for 24 hours.
import { keyIdField } from '../api/fields';
import { assertExternalOrigin } from '../import/import-state';
import { getImportParameters } from '../import/key-import';
import { assertStateAllows } from '../keys/key-state';
import { keyForOperation } from '../keys/resolve';
import { wrappingAlgorithms, wrappingKeySpecs } from '../model';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const getParametersForImport = defineOperation({
  name: 'GetParametersForImport',
  input: schema({
    KeyId: s.required(keyIdField()),
    WrappingAlgorithm: s.required(s.enum(wrappingAlgorithms)),
    WrappingKeySpec: s.required(s.enum(wrappingKeySpecs)),
  }),
  async run(deps, ctx, input) {
    // The origin is checked before the state (KMS-SPEC §3, footnotes 8 and 9).
    const resolved = await keyForOperation(deps, ctx, 'ResolveForImport', input.KeyId, { aliases: false, action: 'GetParametersForImport' });
    assertExternalOrigin(resolved.key, resolved.arn);
    assertStateAllows('GetParametersForImport', resolved.key.state, resolved.arn);
    return getImportParameters(deps, resolved, input.WrappingAlgorithm, input.WrappingKeySpec);
  },
});
