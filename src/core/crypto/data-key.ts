// Data keys: bytes drawn from the token's RNG, returned to the caller and sealed under the
// KMS key. Shared by GenerateDataKey and GenerateDataKeyWithoutPlaintext.
import type { RequestContext } from '../api/context';
import type { CoreDeps } from '../deps';
import type { EncryptionContext } from './encryption-context';
import { dataKeySpecField, dryRunField, encryptionContextField, grantTokensField, keyIdField, numberOfBytesField } from '../api/fields';
import { keyForOperation, throwIfDryRun } from '../keys/resolve';
import type { DataKeySpec } from '../model';
import { s, schema } from '../api/schema';
import { keyStoreCall, sealSymmetric } from './symmetric';
import { assertSymmetricEncryptionKey } from './symmetric-checks';

export const dataKeyInput = schema({
  KeyId: s.required(keyIdField()),
  EncryptionContext: encryptionContextField(),
  NumberOfBytes: numberOfBytesField(),
  KeySpec: dataKeySpecField(),
  GrantTokens: grantTokensField(),
  DryRun: dryRunField(),
}, { exactlyOneOf: [{ members: ['KeySpec', 'NumberOfBytes'], message: 'Please specify either number of bytes or key spec.' }] });

const bytesForSpec: Record<DataKeySpec, number> = { AES_128: 16, AES_256: 32 };

export async function generateDataKey(
  deps: CoreDeps,
  ctx: RequestContext,
  operation: 'GenerateDataKey' | 'GenerateDataKeyWithoutPlaintext',
  input: { KeyId: string; EncryptionContext?: EncryptionContext; NumberOfBytes?: number; KeySpec?: DataKeySpec; DryRun?: boolean; GrantTokens?: string[] },
) {
  const resolved = await keyForOperation(deps, ctx, operation, input.KeyId, {
    aliases: true,
    createsAwsManagedKey: true,
    authorization: { encryptionContext: input.EncryptionContext, grantTokens: input.GrantTokens, conditions: { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' } },
  });
  assertSymmetricEncryptionKey(resolved, operation, undefined);
  throwIfDryRun(input.DryRun);
  const length = input.NumberOfBytes ?? bytesForSpec[input.KeySpec ?? 'AES_256'];
  const plaintext = await deps.keyStores.storeFor().randomBytes(length);
  const sealed = await sealSymmetric(deps, resolved.key, plaintext, input.EncryptionContext, keyStoreCall(ctx, operation, resolved.arn));
  return { CiphertextBlob: sealed.ciphertextBlob, Plaintext: plaintext, KeyId: resolved.arn, KeyMaterialId: sealed.keyMaterialId };
}
