// Decapsulate: the shared secret in an ML-KEM ciphertext, recovered with a KMS key's private key.
// Refused like Encapsulate (encapsulate.ts), after the same key checks.
import { dryRunField, grantTokensField, keyIdField } from '../api/fields';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { encapsulationAlgorithms, refuseKeyEncapsulation } from '../keys/key-specs';
import { keyForOperation } from '../keys/resolve';

export const decapsulate = defineOperation({
  name: 'Decapsulate',
  input: schema({
    KeyId: s.required(keyIdField()),
    // AWS's model bounds the ciphertext at 1 to 6,144 bytes (ML-KEM-1024's is 1,568).
    SharedSecretCiphertextBlob: s.required(s.blob({ min: 1, max: 6144 })),
    EncapsulationAlgorithm: s.required(s.enum(encapsulationAlgorithms)),
    GrantTokens: grantTokensField(),
    DryRun: dryRunField(),
  }),
  async run(deps, ctx, input) {
    const resolved = await keyForOperation(deps, ctx, 'Decapsulate', input.KeyId, { aliases: true, authorization: { grantTokens: input.GrantTokens } });
    return refuseKeyEncapsulation(resolved.arn, resolved.key.keyUsage, 'Decapsulate');
  },
});
