// ConnectCustomKeyStore: answers at once with the store CONNECTING and connects in the
// background, as AWS does; a client polls DescribeCustomKeyStores for CONNECTED or FAILED.
import { authorize } from '../access/authorize';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { completeConnection } from '../custom-key-stores/connections';
import { changeCustomKeyStore, existingCustomKeyStore } from '../custom-key-stores/custom-key-store';
import { customKeyStoreIdField } from '../custom-key-stores/settings';
import { KmsError } from '../errors';

export const connectCustomKeyStore = defineOperation({
  name: 'ConnectCustomKeyStore',
  input: schema({ CustomKeyStoreId: s.required(customKeyStoreIdField()) }),
  async run(deps, ctx, input) {
    await authorize(deps, ctx, { action: 'ConnectCustomKeyStore' });
    const record = await existingCustomKeyStore(deps, ctx, input.CustomKeyStoreId);
    let started = false;
    const connecting = await changeCustomKeyStore(deps, record, (current) => {
      started = false;
      // Precondition: a FAILED or DISCONNECTING store must be disconnected before it connects again.
      if (current.connectionState === 'FAILED' || current.connectionState === 'DISCONNECTING') {
        throw new KmsError('CustomKeyStoreInvalidStateException', `Custom key store ${current.customKeyStoreId} is ${current.connectionState}. Disconnect it (DisconnectCustomKeyStore) before connecting it again.`);
      }
      // Already CONNECTED or CONNECTING: nothing to do.
      if (current.connectionState !== 'DISCONNECTED') return undefined;
      started = true;
      return { ...current, connectionState: 'CONNECTING', stateChangedAt: deps.clock.now() };
    });
    if (started) {
      // Not awaited: the outcome is in the record. A failure to record it is settled by recovery.
      void completeConnection(deps, connecting, ctx.requestId).catch(() => undefined);
    }
    return {};
  },
});
