// Decrypt: a symmetric ciphertext names its key (KeyId, if given, must match it); an RSA-OAEP
// ciphertext needs KeyId and EncryptionAlgorithm, and is decrypted inside the token.
import { openCiphertext } from '../crypto/decryption';
import { dryRunField, encryptionAlgorithmField, encryptionContextField, grantTokensField, keyIdField } from '../api/fields';
import { throwIfDryRun } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const decrypt = defineOperation({
  name: 'Decrypt',
  input: schema({
    CiphertextBlob: s.required(s.blob({ min: 1, max: 6144 })),
    EncryptionContext: encryptionContextField(),
    GrantTokens: grantTokensField(),
    KeyId: keyIdField(),
    EncryptionAlgorithm: encryptionAlgorithmField(),
    DryRun: dryRunField(),
  }),
  async run(deps, ctx, input) {
    const opened = await openCiphertext(deps, ctx, {
      blob: input.CiphertextBlob, keyId: input.KeyId, context: input.EncryptionContext, algorithm: input.EncryptionAlgorithm, dryRun: input.DryRun,
      grantTokens: input.GrantTokens,
    }, 'Decrypt');
    throwIfDryRun(input.DryRun);
    return { KeyId: opened.source.arn, Plaintext: opened.plaintext, EncryptionAlgorithm: opened.algorithm, KeyMaterialId: opened.keyMaterialId };
  },
});
