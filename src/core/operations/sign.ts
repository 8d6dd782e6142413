// Sign: a signature over a message (hashed here) or a digest, made with the private key
// inside the token. ECDSA signatures are DER-encoded, as AWS returns them.
import { dryRunField, grantTokensField, keyIdField, messageField, messageTypeField, signingAlgorithmField } from '../api/fields';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { prepareSigning } from '../crypto/signing';

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
    const { resolved, scheme, digest, object } = await prepareSigning(deps, ctx, 'Sign', input);
    const signature = await object.capability.signDigest(object.backingKeyId, scheme, digest);
    return { KeyId: resolved.arn, Signature: signature, SigningAlgorithm: input.SigningAlgorithm };
  },
});
