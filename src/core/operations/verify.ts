// Verify: checks a signature inside the token; one that does not verify is
// KMSInvalidSignatureException, as AWS answers (with an empty message).
import { KmsError } from '../errors';
import { dryRunField, grantTokensField, keyIdField, messageField, messageTypeField, signatureField, signingAlgorithmField } from '../api/fields';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { prepareSigning, verifyInToken } from '../crypto/signing';

export const verify = defineOperation({
  name: 'Verify',
  input: schema({
    KeyId: s.required(keyIdField()),
    Message: s.required(messageField()),
    MessageType: messageTypeField(),
    Signature: s.required(signatureField()),
    SigningAlgorithm: s.required(signingAlgorithmField()),
    GrantTokens: grantTokensField(),
    DryRun: dryRunField(),
  }),
  async run(deps, ctx, input) {
    const request = await prepareSigning(deps, ctx, 'Verify', input);
    // Precondition: a signature that does not verify is refused with KMSInvalidSignatureException.
    if (!(await verifyInToken(request, input.Signature))) {
      throw new KmsError('KMSInvalidSignatureException', '', `signature did not verify (${input.SigningAlgorithm})`);
    }
    return { KeyId: request.resolved.arn, SignatureValid: true, SigningAlgorithm: input.SigningAlgorithm };
  },
});
