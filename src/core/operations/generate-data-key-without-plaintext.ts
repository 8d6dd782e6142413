// GenerateDataKeyWithoutPlaintext: only the sealed data key; the plaintext is discarded.
import { dataKeyInput, generateDataKey } from '../data-key';
import { defineOperation } from '../operation';

export const generateDataKeyWithoutPlaintext = defineOperation({
  name: 'GenerateDataKeyWithoutPlaintext',
  input: dataKeyInput,
  async run(deps, ctx, input) {
    const { Plaintext, ...withoutPlaintext } = await generateDataKey(deps, ctx, 'GenerateDataKeyWithoutPlaintext', input);
    Plaintext.fill(0);
    return withoutPlaintext;
  },
});
