// GenerateDataKeyPairWithoutPlaintext: the public key and the sealed private key only; the
// plaintext private key is wiped.
import { dataKeyPairInput, generateDataKeyPair } from '../crypto/data-key-pair';
import { defineOperation } from '../api/operation';

export const generateDataKeyPairWithoutPlaintext = defineOperation({
  name: 'GenerateDataKeyPairWithoutPlaintext',
  input: dataKeyPairInput,
  async run(deps, ctx, input) {
    const { PrivateKeyPlaintext, ...withoutPlaintext } = await generateDataKeyPair(deps, ctx, 'GenerateDataKeyPairWithoutPlaintext', input);
    PrivateKeyPlaintext.fill(0);
    return withoutPlaintext;
  },
});
