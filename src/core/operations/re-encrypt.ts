// ReEncrypt: decrypt under the source key and encrypt under the destination key, without
// the plaintext ever leaving the service.
import { openCiphertext } from '../decryption';
import { dryRunField, encryptionAlgorithmField, encryptionContextField, grantTokensField, keyIdField } from '../fields';
import { keyForOperation, throwIfDryRun } from '../keys';
import { defineOperation } from '../operation';
import { s, schema } from '../schema';
import { sealSymmetric } from '../symmetric';
import { assertSymmetricEncryptionKey } from '../symmetric-checks';

export const reEncrypt = defineOperation({
  name: 'ReEncrypt',
  input: schema({
    CiphertextBlob: s.required(s.blob({ min: 1, max: 6144 })),
    SourceEncryptionContext: encryptionContextField(),
    SourceKeyId: keyIdField(),
    DestinationKeyId: s.required(keyIdField()),
    DestinationEncryptionContext: encryptionContextField(),
    SourceEncryptionAlgorithm: encryptionAlgorithmField(),
    DestinationEncryptionAlgorithm: encryptionAlgorithmField(),
    GrantTokens: grantTokensField(),
    DryRun: dryRunField(),
  }),
  async run(deps, ctx, input) {
    const destination = await keyForOperation(deps, ctx, 'ReEncrypt', input.DestinationKeyId, { aliases: true, action: 'ReEncryptTo' });
    assertSymmetricEncryptionKey(destination, 'ReEncrypt', input.DestinationEncryptionAlgorithm);
    const opened = await openCiphertext(deps, ctx, {
      blob: input.CiphertextBlob, keyId: input.SourceKeyId, context: input.SourceEncryptionContext, algorithm: input.SourceEncryptionAlgorithm, dryRun: input.DryRun,
    }, 'ReEncrypt');
    throwIfDryRun(input.DryRun);
    const sealed = await sealSymmetric(deps, destination.key, opened.plaintext, input.DestinationEncryptionContext);
    opened.plaintext.fill(0);
    return {
      CiphertextBlob: sealed.ciphertextBlob,
      SourceKeyId: opened.source.arn,
      KeyId: destination.arn,
      SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT' as const,
      DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT' as const,
      SourceKeyMaterialId: opened.keyMaterialId,
      DestinationKeyMaterialId: sealed.keyMaterialId,
    };
  },
});
