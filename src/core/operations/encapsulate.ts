// Encapsulate: a shared secret and its ML-KEM ciphertext under a KMS key's public key. No key here
// can be ML-KEM (CreateKey refuses the specs: no PKCS#11 mechanism exists for them), so once the
// key is found, authorised and in a usable state, the request is refused with
// UnsupportedOperationException and that reason, never as an unknown operation.
import { dryRunField, grantTokensField, keyIdField } from '../api/fields';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { encapsulationAlgorithms, refuseKeyEncapsulation } from '../keys/key-specs';
import { keyForOperation } from '../keys/resolve';

export const encapsulate = defineOperation({
  name: 'Encapsulate',
  input: schema({
    KeyId: s.required(keyIdField()),
    EncapsulationAlgorithm: s.required(s.enum(encapsulationAlgorithms)),
    GrantTokens: grantTokensField(),
    DryRun: dryRunField(),
  }),
  async run(deps, ctx, input) {
    const resolved = await keyForOperation(deps, ctx, 'Encapsulate', input.KeyId, { aliases: true, authorization: { grantTokens: input.GrantTokens } });
    return refuseKeyEncapsulation(resolved.arn, resolved.key.keyUsage, 'Encapsulate');
  },
});
