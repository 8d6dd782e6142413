// GenerateDataKeyPair: a key pair from the token; the private key in plaintext (PKCS#8 DER)
// and sealed under the KMS key, the public key as SPKI DER.
import { dataKeyPairInput, generateDataKeyPair as makeDataKeyPair } from '../crypto/data-key-pair';
import { defineOperation } from '../api/operation';

export const generateDataKeyPair = defineOperation({
  name: 'GenerateDataKeyPair',
  input: dataKeyPairInput,
  run: (deps, ctx, input) => makeDataKeyPair(deps, ctx, 'GenerateDataKeyPair', input),
});
