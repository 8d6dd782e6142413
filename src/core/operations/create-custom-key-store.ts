// CreateCustomKeyStore: a custom key store, DISCONNECTED: a declared PKCS#11 token
// (AWS_CLOUDHSM) or an XKS proxy (EXTERNAL_KEY_STORE, checked with GetHealthStatus first).
// Its secret is sealed under a key of its own in the default token before anything is stored.
import { authorize } from '../access/authorize';
import { callerScope } from '../api/context';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { MAX_CUSTOM_KEY_STORES, messages, newCustomKeyStoreId } from '../custom-key-stores/custom-key-store';
import { createSecretKey, destroySecretKey, openSecret, sealSecret } from '../custom-key-stores/secrets';
import {
  checkClusterDeclared, checkClusterUnused, checkTrustAnchorCertificate, checkXksProxyConnectivity, checkXksProxyUriEndpoint,
  checkXksProxyUriUnused, cloudHsmClusterIdField, customKeyStoreNameField, keyStorePasswordField, trustAnchorCertificateField,
  validateXksProxy,
  xksProxySettingsFields,
} from '../custom-key-stores/settings';
import { DuplicateRecordError, KmsError } from '../errors';
import { customKeyStoreTypes, type CustomKeyStoreRecord } from '../model';

export const createCustomKeyStore = defineOperation({
  name: 'CreateCustomKeyStore',
  input: schema({
    CustomKeyStoreName: s.required(customKeyStoreNameField()),
    CloudHsmClusterId: cloudHsmClusterIdField(),
    TrustAnchorCertificate: trustAnchorCertificateField(),
    KeyStorePassword: keyStorePasswordField(),
    CustomKeyStoreType: s.enum(customKeyStoreTypes),
    ...xksProxySettingsFields(),
  }),
  async run(deps, ctx, input) {
    // Custom key store actions are IAM-only: identity policies, Resource "*".
    await authorize(deps, ctx, { action: 'CreateCustomKeyStore' });
    const type = input.CustomKeyStoreType ?? 'AWS_CLOUDHSM';
    const scope = callerScope(ctx);
    const now = deps.clock.now();
    const xksFields = [input.XksProxyUriEndpoint, input.XksProxyUriPath, input.XksProxyVpcEndpointServiceName, input.XksProxyAuthenticationCredential, input.XksProxyConnectivity];
    const cloudHsmFields = [input.CloudHsmClusterId, input.TrustAnchorCertificate, input.KeyStorePassword];

    let settings: Pick<CustomKeyStoreRecord, 'type'> & { cloudHsm?: { clusterId: string; trustAnchorCertificate: string; password: string }; xks?: NonNullable<CustomKeyStoreRecord['xks']> & { secret: string } };
    if (type === 'AWS_CLOUDHSM') {
      // Precondition: an AWS_CLOUDHSM store takes the cluster, its trust anchor and the kmsuser password, and no XKS settings.
      if (xksFields.some((f) => f !== undefined)) throw new KmsError('ValidationException', 'XKS proxy parameters are valid only for a custom key store of type EXTERNAL_KEY_STORE.');
      if (input.CloudHsmClusterId === undefined || input.TrustAnchorCertificate === undefined || input.KeyStorePassword === undefined) {
        throw new KmsError('ValidationException', 'A custom key store of type AWS_CLOUDHSM requires CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword.');
      }
      checkClusterDeclared(deps, input.CloudHsmClusterId);
      checkTrustAnchorCertificate(input.TrustAnchorCertificate);
      settings = { type, cloudHsm: { clusterId: input.CloudHsmClusterId, trustAnchorCertificate: input.TrustAnchorCertificate, password: input.KeyStorePassword } };
    } else {
      // Precondition: an EXTERNAL_KEY_STORE store takes the proxy's endpoint, path, connectivity and credential, and no CloudHSM settings.
      if (cloudHsmFields.some((f) => f !== undefined)) throw new KmsError('ValidationException', 'CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword are valid only for a custom key store of type AWS_CLOUDHSM.');
      if (input.XksProxyConnectivity === undefined || input.XksProxyUriEndpoint === undefined || input.XksProxyUriPath === undefined || input.XksProxyAuthenticationCredential === undefined) {
        throw new KmsError('ValidationException', 'A custom key store of type EXTERNAL_KEY_STORE requires XksProxyConnectivity, XksProxyUriEndpoint, XksProxyUriPath and XksProxyAuthenticationCredential.');
      }
      checkXksProxyConnectivity(input.XksProxyConnectivity, input.XksProxyVpcEndpointServiceName);
      checkXksProxyUriEndpoint(input.XksProxyUriEndpoint);
      const credential = input.XksProxyAuthenticationCredential;
      settings = {
        type,
        xks: {
          uriEndpoint: input.XksProxyUriEndpoint, uriPath: input.XksProxyUriPath, connectivity: input.XksProxyConnectivity,
          accessKeyId: credential.AccessKeyId, rawSecretAccessKey: { iv: '', ciphertext: '', tag: '' }, secret: credential.RawSecretAccessKey,
        },
      };
    }

    // AWS retry semantics: the same name with identical settings for a disconnected CloudHSM store answers its id.
    const sameName = await deps.store.customKeyStores.getByName(scope, input.CustomKeyStoreName);
    if (sameName) {
      if (settings.cloudHsm && sameName.cloudHsm && sameName.connectionState === 'DISCONNECTED'
        && sameName.cloudHsm.clusterId === settings.cloudHsm.clusterId && sameName.cloudHsm.trustAnchorCertificate === settings.cloudHsm.trustAnchorCertificate
        && (await openSecret(deps, sameName, 'KeyStorePassword', sameName.cloudHsm.keyStorePassword)) === settings.cloudHsm.password) {
        return { CustomKeyStoreId: sameName.customKeyStoreId };
      }
      throw new KmsError('CustomKeyStoreNameInUseException', messages.nameInUse(input.CustomKeyStoreName));
    }
    if ((await deps.store.customKeyStores.count(scope)) >= MAX_CUSTOM_KEY_STORES) {
      throw new KmsError('LimitExceededException', `You cannot create more than ${MAX_CUSTOM_KEY_STORES} custom key stores in this account and Region.`);
    }
    if (settings.cloudHsm) await checkClusterUnused(deps, settings.cloudHsm.clusterId);
    if (settings.xks) {
      await checkXksProxyUriUnused(deps, scope, settings.xks.uriEndpoint, settings.xks.uriPath);
      await validateXksProxy(deps, { uriEndpoint: settings.xks.uriEndpoint, uriPath: settings.xks.uriPath, accessKeyId: settings.xks.accessKeyId, rawSecretAccessKey: settings.xks.secret, region: scope.region }, ctx.requestId, 'CreateCustomKeyStore');
    }

    const customKeyStoreId = newCustomKeyStoreId();
    const secretKeyObjectId = await createSecretKey(deps, customKeyStoreId);
    try {
      const sealer = { customKeyStoreId, secretKeyObjectId };
      const record: CustomKeyStoreRecord = {
        ...scope,
        customKeyStoreId,
        name: input.CustomKeyStoreName,
        type: settings.type,
        createdAt: now,
        connectionState: 'DISCONNECTED',
        connectionGeneration: 0,
        stateChangedAt: now,
        secretKeyObjectId,
        ...(settings.cloudHsm
          ? { cloudHsm: { clusterId: settings.cloudHsm.clusterId, trustAnchorCertificate: settings.cloudHsm.trustAnchorCertificate, keyStorePassword: await sealSecret(deps, sealer, 'KeyStorePassword', settings.cloudHsm.password) } }
          : {}),
        ...(settings.xks
          ? {
            xks: {
              uriEndpoint: settings.xks.uriEndpoint, uriPath: settings.xks.uriPath, connectivity: settings.xks.connectivity, accessKeyId: settings.xks.accessKeyId,
              rawSecretAccessKey: await sealSecret(deps, sealer, 'RawSecretAccessKey', settings.xks.secret),
            },
          }
          : {}),
        revision: 0,
        updatedAt: now,
      };
      await deps.store.customKeyStores.insert(record);
      return { CustomKeyStoreId: customKeyStoreId };
    } catch (e) {
      await destroySecretKey(deps, secretKeyObjectId).catch(() => undefined);
      // Another request took the name between our check and the insert.
      if (e instanceof DuplicateRecordError) throw new KmsError('CustomKeyStoreNameInUseException', messages.nameInUse(input.CustomKeyStoreName));
      throw e;
    }
  },
});
