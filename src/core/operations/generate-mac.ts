// GenerateMac: an HMAC (RFC 2104) of up to 4096 bytes, computed inside the token.
import { dryRunField, grantTokensField, keyIdField, macAlgorithmField, messageField } from '../api/fields';
import { prepareMac } from '../crypto/mac';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const generateMac = defineOperation({
  name: 'GenerateMac',
  input: schema({
    Message: s.required(messageField()),
    KeyId: s.required(keyIdField()),
    MacAlgorithm: s.required(macAlgorithmField()),
    GrantTokens: grantTokensField(),
    DryRun: dryRunField(),
  }),
  async run(deps, ctx, input) {
    const { resolved, hash, object } = await prepareMac(deps, ctx, 'GenerateMac', input);
    const mac = await object.capability.hmac(object.backingKeyId, hash, input.Message);
    return { Mac: mac, MacAlgorithm: input.MacAlgorithm, KeyId: resolved.arn };
  },
});
