// DeriveSharedSecret: ECDH between the KMS key's private key (inside its key store) and a peer's
// public key on the same curve. Returns the raw shared secret (Z), as AWS does.
import { currentBackingKey, peerPublicPoint } from '../crypto/asymmetric';
import { KmsError, messages } from '../errors';
import { dryRunField, grantTokensField, keyAgreementAlgorithmField, keyIdField, publicKeyField } from '../api/fields';
import { isEccSpec } from '../keys/key-specs';
import { assertUsage, keyForOperation, throwIfDryRun } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const deriveSharedSecret = defineOperation({
  name: 'DeriveSharedSecret',
  input: schema({
    KeyId: s.required(keyIdField()),
    KeyAgreementAlgorithm: s.required(keyAgreementAlgorithmField()),
    PublicKey: s.required(publicKeyField()),
    GrantTokens: grantTokensField(),
    DryRun: dryRunField(),
  }),
  async run(deps, ctx, input) {
    const resolved = await keyForOperation(deps, ctx, 'DeriveSharedSecret', input.KeyId, {
      aliases: true,
      authorization: { grantTokens: input.GrantTokens, conditions: { 'kms:KeyAgreementAlgorithm': input.KeyAgreementAlgorithm } },
    });
    assertUsage(resolved, 'KEY_AGREEMENT', 'DeriveSharedSecret');
    const spec = resolved.key.keySpec;
    if (!isEccSpec(spec)) throw new KmsError('InvalidKeyUsageException', messages.incompatibleAlgorithm(input.KeyAgreementAlgorithm, spec));
    const point = peerPublicPoint(spec, input.PublicKey);
    throwIfDryRun(input.DryRun);
    const { capability, backingKeyId } = currentBackingKey(deps, resolved.key, 'keyPairs');
    const secret = await capability.deriveSharedSecret(backingKeyId, point);
    return { KeyId: resolved.arn, SharedSecret: secret, KeyAgreementAlgorithm: input.KeyAgreementAlgorithm, KeyOrigin: resolved.key.origin };
  },
});
