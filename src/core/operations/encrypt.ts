// Encrypt: up to 4096 bytes under a symmetric key, bound to the encryption context; or, under
// an RSA key, standard RSA-OAEP with the public key (up to what the modulus fits).
import { assertNoEncryptionContext, assertOaepFits, rsaEncrypt } from '../crypto/asymmetric';
import { dryRunField, encryptionAlgorithmField, encryptionContextField, grantTokensField, keyIdField } from '../api/fields';
import { keyForOperation, throwIfDryRun } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { keyStoreCall, sealSymmetric } from '../crypto/symmetric';
import { encryptionSchemeFor } from '../crypto/symmetric-checks';

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
    const resolved = await keyForOperation(deps, ctx, 'Encrypt', input.KeyId, {
      aliases: true,
      createsAwsManagedKey: true,
      authorization: {
        encryptionContext: input.EncryptionContext,
        grantTokens: input.GrantTokens,
        conditions: { 'kms:EncryptionAlgorithm': input.EncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT' },
      },
    });
    const scheme = encryptionSchemeFor(resolved, 'Encrypt', input.EncryptionAlgorithm);
    if (scheme.kind === 'rsa') {
      assertNoEncryptionContext(input.EncryptionContext, scheme.key.keySpec);
      assertOaepFits(scheme.key.keySpec, scheme.algorithm, input.Plaintext.length);
      throwIfDryRun(input.DryRun);
      return { CiphertextBlob: rsaEncrypt(scheme.key, scheme.algorithm, input.Plaintext), KeyId: resolved.arn, EncryptionAlgorithm: scheme.algorithm };
    }
    throwIfDryRun(input.DryRun);
    const sealed = await sealSymmetric(deps, resolved.key, input.Plaintext, input.EncryptionContext, keyStoreCall(ctx, 'Encrypt', resolved.arn));
    return { CiphertextBlob: sealed.ciphertextBlob, KeyId: resolved.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' as const };
  },
});
