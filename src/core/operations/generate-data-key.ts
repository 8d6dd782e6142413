// GenerateDataKey: a data key in plaintext and sealed under the KMS key.
import { dataKeyInput, generateDataKey as makeDataKey } from '../crypto/data-key';
import { defineOperation } from '../api/operation';

export const generateDataKey = defineOperation({
  name: 'GenerateDataKey',
  input: dataKeyInput,
  run: (deps, ctx, input) => makeDataKey(deps, ctx, 'GenerateDataKey', input),
});
