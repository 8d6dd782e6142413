// UpdateCustomKeyStore: rename a store, or change what it connects to. A CloudHSM key store
// changes only while DISCONNECTED; an external key store may change its name, credential and
// URI path while connected (each instance then reconnects with the new settings), its
// endpoint and connectivity only while DISCONNECTED. New proxy settings are checked with
// GetHealthStatus before they are recorded.
import { authorize } from '../access/authorize';
import { callerScope } from '../api/context';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { changeCustomKeyStore, existingCustomKeyStore, messages } from '../custom-key-stores/custom-key-store';
import { openSecret, sealSecret } from '../custom-key-stores/secrets';
import {
  checkClusterDeclared, checkClusterUnused, checkXksProxyConnectivity, checkXksProxyUriEndpoint, checkXksProxyUriUnused,
  cloudHsmClusterIdField, customKeyStoreIdField, customKeyStoreNameField, keyStorePasswordField, validateXksProxy,
  xksProxySettingsFields,
} from '../custom-key-stores/settings';
import { DuplicateRecordError, KmsError } from '../errors';
import type { CustomKeyStoreRecord, SealedSecret } from '../model';

const invalidState = (record: CustomKeyStoreRecord, what: string) =>
  new KmsError('CustomKeyStoreInvalidStateException', `Custom key store ${record.customKeyStoreId} is ${record.connectionState}. ${what} only while it is DISCONNECTED.`);

export const updateCustomKeyStore = defineOperation({
  name: 'UpdateCustomKeyStore',
  input: schema({
    CustomKeyStoreId: s.required(customKeyStoreIdField()),
    NewCustomKeyStoreName: customKeyStoreNameField(),
    KeyStorePassword: keyStorePasswordField(),
    CloudHsmClusterId: cloudHsmClusterIdField(),
    ...xksProxySettingsFields(),
  }),
  async run(deps, ctx, input) {
    await authorize(deps, ctx, { action: 'UpdateCustomKeyStore' });
    const record = await existingCustomKeyStore(deps, ctx, input.CustomKeyStoreId);
    const xksChange = input.XksProxyUriEndpoint !== undefined || input.XksProxyUriPath !== undefined || input.XksProxyVpcEndpointServiceName !== undefined
      || input.XksProxyAuthenticationCredential !== undefined || input.XksProxyConnectivity !== undefined;
    const cloudHsmChange = input.KeyStorePassword !== undefined || input.CloudHsmClusterId !== undefined;
    const disconnected = record.connectionState === 'DISCONNECTED';

    let cloudHsm = record.cloudHsm;
    let xks = record.xks;
    let reconnect = false;
    if (record.type === 'AWS_CLOUDHSM') {
      // Precondition: XKS settings apply only to external key stores.
      if (xksChange) throw new KmsError('ValidationException', 'XKS proxy parameters are valid only for a custom key store of type EXTERNAL_KEY_STORE.');
      // Precondition: a CloudHSM key store is updated only while DISCONNECTED.
      if (!disconnected) throw invalidState(record, 'A custom key store of type AWS_CLOUDHSM can be updated');
      if (cloudHsm && input.CloudHsmClusterId !== undefined && input.CloudHsmClusterId !== cloudHsm.clusterId) {
        checkClusterDeclared(deps, input.CloudHsmClusterId);
        await checkClusterUnused(deps, input.CloudHsmClusterId, record.customKeyStoreId);
        cloudHsm = { ...cloudHsm, clusterId: input.CloudHsmClusterId };
      }
      if (cloudHsm && input.KeyStorePassword !== undefined) cloudHsm = { ...cloudHsm, keyStorePassword: await sealSecret(deps, record, 'KeyStorePassword', input.KeyStorePassword) };
    } else {
      if (cloudHsmChange) throw new KmsError('ValidationException', 'KeyStorePassword and CloudHsmClusterId are valid only for a custom key store of type AWS_CLOUDHSM.');
      if (xks && xksChange) {
        // Precondition: the endpoint and connectivity of an external key store change only while DISCONNECTED.
        const endpointChange = (input.XksProxyUriEndpoint !== undefined && input.XksProxyUriEndpoint !== xks.uriEndpoint)
          || (input.XksProxyConnectivity !== undefined && input.XksProxyConnectivity !== xks.connectivity) || input.XksProxyVpcEndpointServiceName !== undefined;
        if (endpointChange && !disconnected) throw invalidState(record, 'The XksProxyUriEndpoint and XksProxyConnectivity of an external key store can be changed');
        const connectivity = input.XksProxyConnectivity ?? xks.connectivity;
        checkXksProxyConnectivity(connectivity, input.XksProxyVpcEndpointServiceName);
        const uriEndpoint = input.XksProxyUriEndpoint ?? xks.uriEndpoint;
        checkXksProxyUriEndpoint(uriEndpoint);
        const uriPath = input.XksProxyUriPath ?? xks.uriPath;
        await checkXksProxyUriUnused(deps, callerScope(ctx), uriEndpoint, uriPath, record.customKeyStoreId);
        const credential = input.XksProxyAuthenticationCredential;
        const secret = credential?.RawSecretAccessKey ?? (await openSecret(deps, record, 'RawSecretAccessKey', xks.rawSecretAccessKey));
        const accessKeyId = credential?.AccessKeyId ?? xks.accessKeyId;
        await validateXksProxy(deps, { uriEndpoint, uriPath, accessKeyId, rawSecretAccessKey: secret, region: record.region }, ctx.requestId, 'UpdateCustomKeyStore');
        const rawSecretAccessKey: SealedSecret = credential ? await sealSecret(deps, record, 'RawSecretAccessKey', secret) : xks.rawSecretAccessKey;
        xks = { ...xks, uriEndpoint, uriPath, connectivity, accessKeyId, rawSecretAccessKey };
        reconnect = !disconnected;
      }
    }

    try {
      await changeCustomKeyStore(deps, record, (current) => {
        // Precondition: the connection state the checks above relied on has not changed meanwhile.
        if (current.connectionState !== record.connectionState) throw new KmsError('CustomKeyStoreInvalidStateException', `Custom key store ${current.customKeyStoreId} changed its connection state to ${current.connectionState} during the update. Retry the request.`);
        return {
          ...current,
          ...(input.NewCustomKeyStoreName !== undefined ? { name: input.NewCustomKeyStoreName } : {}),
          ...(cloudHsm ? { cloudHsm } : {}),
          ...(xks ? { xks } : {}),
          // Every instance reopens its connection with the new settings.
          ...(reconnect ? { connectionGeneration: current.connectionGeneration + 1 } : {}),
        };
      });
    } catch (e) {
      if (e instanceof DuplicateRecordError) throw new KmsError('CustomKeyStoreNameInUseException', messages.nameInUse(input.NewCustomKeyStoreName ?? record.name));
      throw e;
    }
    return {};
  },
});
