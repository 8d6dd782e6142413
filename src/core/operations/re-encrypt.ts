// ReEncrypt: decrypt under the source key and encrypt under the destination key, without
// the plaintext ever leaving the service. Either side may be symmetric or RSA.
import { assertNoEncryptionContext, rsaEncrypt } from '../crypto/asymmetric';
import { parseCiphertext } from '../crypto/ciphertext';
import type { RequestContext } from '../api/context';
import { openCiphertext } from '../crypto/decryption';
import type { CoreDeps } from '../deps';
import { dryRunField, encryptionAlgorithmField, encryptionContextField, grantTokensField, keyIdField } from '../api/fields';
import { keyForOperation, resolveKey, throwIfDryRun } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { keyStoreCall, sealSymmetric } from '../crypto/symmetric';
import { encryptionSchemeFor } from '../crypto/symmetric-checks';

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
    const sameKey = { 'kms:ReEncryptOnSameKey': await namesSameKey(deps, ctx, input.CiphertextBlob, input.SourceKeyId, input.DestinationKeyId) };
    const destination = await keyForOperation(deps, ctx, 'ReEncrypt', input.DestinationKeyId, {
      aliases: true,
      createsAwsManagedKey: true,
      action: 'ReEncryptTo',
      authorization: {
        encryptionContext: input.DestinationEncryptionContext,
        grantTokens: input.GrantTokens,
        conditions: { 'kms:EncryptionAlgorithm': input.DestinationEncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT', ...sameKey },
      },
    });
    const scheme = encryptionSchemeFor(destination, 'ReEncrypt', input.DestinationEncryptionAlgorithm);
    if (scheme.kind === 'rsa') assertNoEncryptionContext(input.DestinationEncryptionContext, scheme.key.keySpec);
    const opened = await openCiphertext(deps, ctx, {
      blob: input.CiphertextBlob, keyId: input.SourceKeyId, context: input.SourceEncryptionContext, algorithm: input.SourceEncryptionAlgorithm, dryRun: input.DryRun,
      grantTokens: input.GrantTokens, conditions: sameKey,
    }, 'ReEncrypt');
    throwIfDryRun(input.DryRun);
    try {
      const sealed = scheme.kind === 'rsa'
        ? { ciphertextBlob: rsaEncrypt(scheme.key, scheme.algorithm, opened.plaintext), keyMaterialId: undefined }
        : await sealSymmetric(deps, destination.key, opened.plaintext, input.DestinationEncryptionContext, keyStoreCall(ctx, 'ReEncrypt', destination.arn));
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

/** kms:ReEncryptOnSameKey: whether the source and destination are one key (by id, wherever named). */
async function namesSameKey(deps: CoreDeps, ctx: RequestContext, blob: Buffer, sourceKeyId: string | undefined, destinationKeyId: string): Promise<boolean> {
  const keyIdOf = async (reference: string) => (await resolveKey(deps, ctx, reference, { aliases: true }).catch(() => undefined))?.key.keyId;
  const source = sourceKeyId !== undefined ? await keyIdOf(sourceKeyId) : headerKeyId(blob);
  return source !== undefined && source === (await keyIdOf(destinationKeyId));
}

function headerKeyId(blob: Buffer): string | undefined {
  try {
    return parseCiphertext(blob).keyId;
  } catch {
    return undefined;
  }
}
