// GetPublicKey: the public half of an asymmetric key (DER SubjectPublicKeyInfo), with what
// it is for, so it can be used safely outside the service.
import { publicKeyDer } from '../crypto/asymmetric';
import { signingAlgorithmsListed } from '../crypto/signing';
import { KmsError } from '../errors';
import { grantTokensField, keyIdField } from '../api/fields';
import { encryptionAlgorithmsOf, isAsymmetricSpec, keyAgreementAlgorithmsOf } from '../keys/key-specs';
import { keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const getPublicKey = defineOperation({
  name: 'GetPublicKey',
  input: schema({ KeyId: s.required(keyIdField()), GrantTokens: grantTokensField() }),
  async run(deps, ctx, input) {
    const { key, arn } = await keyForOperation(deps, ctx, 'GetPublicKey', input.KeyId, { aliases: true, authorization: { grantTokens: input.GrantTokens } });
    // Precondition: only an asymmetric key has a public key to give out.
    if (!isAsymmetricSpec(key.keySpec)) {
      throw new KmsError('UnsupportedOperationException', `${arn} key spec ${key.keySpec} has no public key: GetPublicKey takes an asymmetric KMS key.`);
    }
    return {
      KeyId: arn,
      PublicKey: publicKeyDer(key),
      CustomerMasterKeySpec: key.keySpec,
      KeySpec: key.keySpec,
      KeyUsage: key.keyUsage,
      EncryptionAlgorithms: encryptionAlgorithmsOf(key.keySpec, key.keyUsage),
      SigningAlgorithms: signingAlgorithmsListed(deps, key),
      KeyAgreementAlgorithms: keyAgreementAlgorithmsOf(key.keySpec, key.keyUsage),
    };
  },
});
