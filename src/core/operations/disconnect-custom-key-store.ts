// DisconnectCustomKeyStore: the store becomes DISCONNECTED and its keys Unavailable. This
// instance closes its connection now; every other instance closes its own on its next use of
// the store, or at its next maintenance run, whichever comes first.
import { authorize } from '../access/authorize';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { dropConnection } from '../custom-key-stores/connections';
import { changeCustomKeyStore, existingCustomKeyStore } from '../custom-key-stores/custom-key-store';
import { customKeyStoreIdField } from '../custom-key-stores/settings';
import { KmsError } from '../errors';

export const disconnectCustomKeyStore = defineOperation({
  name: 'DisconnectCustomKeyStore',
  input: schema({ CustomKeyStoreId: s.required(customKeyStoreIdField()) }),
  async run(deps, ctx, input) {
    await authorize(deps, ctx, { action: 'DisconnectCustomKeyStore' });
    const record = await existingCustomKeyStore(deps, ctx, input.CustomKeyStoreId);
    const disconnecting = await changeCustomKeyStore(deps, record, (current) => {
      // Precondition: only a store that is not DISCONNECTED or DISCONNECTING can be disconnected.
      if (current.connectionState === 'DISCONNECTED' || current.connectionState === 'DISCONNECTING') {
        throw new KmsError('CustomKeyStoreInvalidStateException', `Custom key store ${current.customKeyStoreId} is ${current.connectionState}.`);
      }
      return { ...current, connectionState: 'DISCONNECTING', stateChangedAt: deps.clock.now() };
    });
    await dropConnection(deps.keyStores, record.customKeyStoreId);
    await changeCustomKeyStore(deps, disconnecting, (current) => {
      if (current.connectionState !== 'DISCONNECTING') return undefined;
      const { connectionErrorCode: _cleared, ...rest } = current;
      return { ...rest, connectionState: 'DISCONNECTED', stateChangedAt: deps.clock.now() };
    });
    return {};
  },
});
