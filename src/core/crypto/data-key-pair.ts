// Data key pairs: an RSA, EC or Ed25519 key pair generated inside the token, handed to the caller
// (the API's purpose), with the private key also sealed under a symmetric KMS key and the
// encryption context. Shared by GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext.
import type { RequestContext } from '../api/context';
import type { CoreDeps } from '../deps';
import type { EncryptionContext } from './encryption-context';
import { dataKeyPairSpecField, dryRunField, encryptionContextField, grantTokensField, keyIdField } from '../api/fields';
import { assertStoreMakesEd25519, assertTokenCanHold, isEdwardsSpec } from '../keys/key-specs';
import { keyForOperation, throwIfDryRun } from '../keys/resolve';
import type { DataKeyPairSpec } from '../model';
import type { AsymmetricKeySpec } from '../key-stores/port';
import { requireCapability } from '../key-stores/registry';
import { s, schema } from '../api/schema';
import { keyStoreCall, sealSymmetric } from './symmetric';
import { assertSymmetricEncryptionKey } from './symmetric-checks';

export const dataKeyPairInput = schema({
  EncryptionContext: encryptionContextField(),
  KeyId: s.required(keyIdField()),
  KeyPairSpec: s.required(dataKeyPairSpecField()),
  GrantTokens: grantTokensField(),
  DryRun: dryRunField(),
});

export async function generateDataKeyPair(
  deps: CoreDeps,
  ctx: RequestContext,
  operation: 'GenerateDataKeyPair' | 'GenerateDataKeyPairWithoutPlaintext',
  input: { KeyId: string; KeyPairSpec: DataKeyPairSpec; EncryptionContext?: EncryptionContext; DryRun?: boolean; GrantTokens?: string[] },
) {
  const resolved = await keyForOperation(deps, ctx, operation, input.KeyId, {
    aliases: true,
    authorization: {
      encryptionContext: input.EncryptionContext,
      grantTokens: input.GrantTokens,
      conditions: { 'kms:DataKeyPairSpec': input.KeyPairSpec, 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' },
    },
  });
  assertSymmetricEncryptionKey(resolved, operation, undefined);
  assertTokenCanHold(input.KeyPairSpec, 'KeyPairSpec');
  const store = deps.keyStores.storeFor();
  if (isEdwardsSpec(input.KeyPairSpec)) assertStoreMakesEd25519(store, 'KeyPairSpec');
  throwIfDryRun(input.DryRun);
  const pair = await requireCapability(store, 'keyPairs').generateDataKeyPair(input.KeyPairSpec as AsymmetricKeySpec);
  try {
    const sealed = await sealSymmetric(deps, resolved.key, pair.privateKeyPkcs8, input.EncryptionContext, keyStoreCall(ctx, operation, resolved.arn));
    return {
      PrivateKeyCiphertextBlob: sealed.ciphertextBlob,
      PrivateKeyPlaintext: pair.privateKeyPkcs8,
      PublicKey: pair.publicKeySpki,
      KeyId: resolved.arn,
      KeyPairSpec: input.KeyPairSpec,
      KeyMaterialId: sealed.keyMaterialId,
    };
  } catch (e) {
    pair.privateKeyPkcs8.fill(0);
    throw e;
  }
}
