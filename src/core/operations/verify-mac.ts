// VerifyMac: recomputes the HMAC inside the token and compares; a mismatch is
// KMSInvalidMacException, as AWS answers (with an empty message).
import { KmsError } from '../errors';
import { dryRunField, grantTokensField, keyIdField, macAlgorithmField, messageField, signatureField } from '../api/fields';
import { prepareMac } from '../crypto/mac';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const verifyMac = defineOperation({
  name: 'VerifyMac',
  input: schema({
    Message: s.required(messageField()),
    KeyId: s.required(keyIdField()),
    MacAlgorithm: s.required(macAlgorithmField()),
    Mac: s.required(signatureField()),
    GrantTokens: grantTokensField(),
    DryRun: dryRunField(),
  }),
  async run(deps, ctx, input) {
    const { resolved, hash, object } = await prepareMac(deps, ctx, 'VerifyMac', input);
    // Precondition: a MAC that does not match is refused with KMSInvalidMacException.
    if (!(await object.capability.verifyHmac(object.backingKeyId, hash, input.Message, input.Mac))) {
      throw new KmsError('KMSInvalidMacException', '', `MAC did not verify (${input.MacAlgorithm})`);
    }
    return { KeyId: resolved.arn, MacValid: true, MacAlgorithm: input.MacAlgorithm };
  },
});
