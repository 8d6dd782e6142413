// ReEncrypt: decrypt under the source key and encrypt under the destination key, without
// the plaintext ever leaving the service. Either side may be symmetric or RSA.
import { assertNoEncryptionContext, rsaEncrypt } from '../asymmetric';
import { openCiphertext } from '../decryption';
import { dryRunField, encryptionAlgorithmField, encryptionContextField, grantTokensField, keyIdField } from '../fields';
import { keyForOperation, throwIfDryRun } from '../keys';
import { defineOperation } from '../operation';
import { s, schema } from '../schema';
import { sealSymmetric } from '../symmetric';
import { encryptionSchemeFor } from '../symmetric-checks';

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
    const scheme = encryptionSchemeFor(destination, 'ReEncrypt', input.DestinationEncryptionAlgorithm);
    if (scheme.kind === 'rsa') assertNoEncryptionContext(input.DestinationEncryptionContext, scheme.key.keySpec);
    const opened = await openCiphertext(deps, ctx, {
      blob: input.CiphertextBlob, keyId: input.SourceKeyId, context: input.SourceEncryptionContext, algorithm: input.SourceEncryptionAlgorithm, dryRun: input.DryRun,
    }, 'ReEncrypt');
    throwIfDryRun(input.DryRun);
    try {
      const sealed = scheme.kind === 'rsa'
        ? { ciphertextBlob: rsaEncrypt(scheme.key, scheme.algorithm, opened.plaintext), keyMaterialId: undefined }
        : await sealSymmetric(deps, destination.key, opened.plaintext, input.DestinationEncryptionContext);
      return {
        CiphertextBlob: sealed.ciphertextBlob,
        SourceKeyId: opened.source.arn,
        KeyId: destination.arn,
        SourceEncryptionAlgorithm: opened.algorithm,
        DestinationEncryptionAlgorithm: scheme.kind === 'rsa' ? scheme.algorithm : 'SYMMETRIC_DEFAULT' as const,
        SourceKeyMaterialId: opened.keyMaterialId,
        DestinationKeyMaterialId: sealed.keyMaterialId,
      };
    } finally {
      opened.plaintext.fill(0);
    }
  },
});
