// GenerateDataKeyWithoutPlaintext: only the sealed data key; the plaintext is discarded.
import { dataKeyInput, generateDataKey } from '../crypto/data-key';
import { defineOperation } from '../api/operation';

export const generateDataKeyWithoutPlaintext = defineOperation({
  name: 'GenerateDataKeyWithoutPlaintext',
  input: dataKeyInput,
  async run(deps, ctx, input) {
    const { Plaintext, ...withoutPlaintext } = await generateDataKey(deps, ctx, 'GenerateDataKeyWithoutPlaintext', input);
    Plaintext.fill(0);
    return withoutPlaintext;
  },
});
