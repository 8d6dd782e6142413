// Encrypt: up to 4096 bytes under a symmetric key, bound to the encryption context.
import { dryRunField, encryptionAlgorithmField, encryptionContextField, grantTokensField, keyIdField } from '../fields';
import { keyForOperation, throwIfDryRun } from '../keys';
import { defineOperation } from '../operation';
import { s, schema } from '../schema';
import { sealSymmetric } from '../symmetric';
import { assertSymmetricEncryptionKey } from '../symmetric-checks';

export const encrypt = defineOperation({
  name: 'Encrypt',
  input: schema({
    KeyId: s.required(keyIdField()),
    Plaintext: s.required(s.blob({ min: 1, max: 4096 })),
    EncryptionContext: encryptionContextField(),
    GrantTokens: grantTokensField(),
    EncryptionAlgorithm: encryptionAlgorithmField(),
    DryRun: dryRunField(),
  }),
  async run(deps, ctx, input) {
    const resolved = await keyForOperation(deps, ctx, 'Encrypt', input.KeyId, { aliases: true });
    assertSymmetricEncryptionKey(resolved, 'Encrypt', input.EncryptionAlgorithm);
    throwIfDryRun(input.DryRun);
    const sealed = await sealSymmetric(deps, resolved.key, input.Plaintext, input.EncryptionContext);
    return { CiphertextBlob: sealed.ciphertextBlob, KeyId: resolved.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' as const };
  },
});
