// GenerateRandom: bytes from a key store's RNG (the default token's).
import { authorize } from '../access/authorize';
import { KmsError } from '../errors';
import { numberOfBytesField } from '../api/fields';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const generateRandom = defineOperation({
  name: 'GenerateRandom',
  input: schema({
    NumberOfBytes: s.required(numberOfBytesField(), 'NumberOfBytes is required.'),
    CustomKeyStoreId: s.string({ min: 1, max: 64 }),
  }),
  async run(deps, ctx, input) {
    await authorize(deps, ctx, { action: 'GenerateRandom' });
    if (input.CustomKeyStoreId !== undefined) throw new KmsError('UnsupportedOperationException', 'Custom key stores are not supported by this service yet.');
    return { Plaintext: await deps.keyStores.storeFor().randomBytes(input.NumberOfBytes) };
  },
});
