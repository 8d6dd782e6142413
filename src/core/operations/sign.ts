// Sign: a signature over a message (hashed here, or by the token for Ed25519) or a digest,
// made with the private key inside the token. ECDSA signatures are DER-encoded, as AWS
// returns them; Ed25519 signatures are the 64-byte R‖S.
import { dryRunField, grantTokensField, keyIdField, messageField, messageTypeField, signingAlgorithmField } from '../api/fields';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { prepareSigning, signInToken } from '../crypto/signing';

export const sign = defineOperation({
  name: 'Sign',
  input: schema({
    KeyId: s.required(keyIdField()),
    Message: s.required(messageField()),
    MessageType: messageTypeField(),
    GrantTokens: grantTokensField(),
    SigningAlgorithm: s.required(signingAlgorithmField()),
    DryRun: dryRunField(),
  }),
  async run(deps, ctx, input) {
    const request = await prepareSigning(deps, ctx, 'Sign', input);
    const signature = await signInToken(request);
    return { KeyId: request.resolved.arn, Signature: signature, SigningAlgorithm: input.SigningAlgorithm };
  },
});
