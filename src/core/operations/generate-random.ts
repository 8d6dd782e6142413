// GenerateRandom: bytes from a key store's RNG: the default token's, or that of the CloudHSM
// key store named by CustomKeyStoreId.
import { authorize } from '../access/authorize';
import { KmsError } from '../errors';
import { numberOfBytesField } from '../api/fields';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { connectedKeyStore } from '../custom-key-stores/connections';
import { existingCustomKeyStore } from '../custom-key-stores/custom-key-store';
import { customKeyStoreIdField } from '../custom-key-stores/settings';

export const generateRandom = defineOperation({
  name: 'GenerateRandom',
  input: schema({
    NumberOfBytes: s.required(numberOfBytesField(), 'NumberOfBytes is required.'),
    CustomKeyStoreId: customKeyStoreIdField(),
  }),
  async run(deps, ctx, input) {
    await authorize(deps, ctx, { action: 'GenerateRandom' });
    if (input.CustomKeyStoreId === undefined) return { Plaintext: await deps.keyStores.storeFor().randomBytes(input.NumberOfBytes) };
    const record = await existingCustomKeyStore(deps, ctx, input.CustomKeyStoreId);
    // Precondition: GenerateRandom draws only from a CloudHSM key store, never from an external key store.
    if (record.type !== 'AWS_CLOUDHSM') throw new KmsError('UnsupportedOperationException', 'GenerateRandom does not support external key stores. Specify the ID of a CloudHSM key store.');
    const store = record.connectionState === 'CONNECTED' ? await connectedKeyStore(deps, record).catch((e: unknown) => {
      throw e instanceof KmsError ? new KmsError('CustomKeyStoreInvalidStateException', e.message, e.detail) : e;
    }) : undefined;
    // Precondition: random bytes come from a custom key store only while it is CONNECTED.
    if (!store) throw new KmsError('CustomKeyStoreInvalidStateException', `Custom key store ${record.customKeyStoreId} is ${record.connectionState}. Connect it before generating random bytes from it.`);
    return { Plaintext: await store.randomBytes(input.NumberOfBytes) };
  },
});
