// KMS keys in custom key stores: what CreateKey accepts for them, and where their material
// goes. Both kinds hold symmetric encryption keys only (KMS-SPEC §6.3, §6.4).
import type { RequestContext } from '../api/context';
import type { CoreDeps } from '../deps';
import { KmsError } from '../errors';
import { XksProxyFailure } from '../key-stores/connectors';
import type { KeyStore } from '../key-stores/port';
import type { BackingKeyRef, CustomKeyStoreRecord, KeyRecord, KeySpec, KeyUsage, Origin } from '../model';
import { connectedKeyStore } from './connections';
import { existingCustomKeyStore } from './custom-key-store';
import { ExternalKeyStore } from './external-key-store';
import { createKeyError } from './xks-failures';

const ORIGIN_FOR_TYPE = { AWS_CLOUDHSM: 'AWS_CLOUDHSM', EXTERNAL_KEY_STORE: 'EXTERNAL_KEY_STORE' } as const;

// Precondition: a key in a custom key store is a single-Region SYMMETRIC_DEFAULT encryption key whose Origin names the store's type.
export function checkCustomKeyStoreRequest(request: { origin: Origin; CustomKeyStoreId?: string; XksKeyId?: string; keySpec: KeySpec; keyUsage: KeyUsage; MultiRegion?: boolean }): void {
  if (request.origin !== 'AWS_CLOUDHSM' && request.origin !== 'EXTERNAL_KEY_STORE') {
    throw new KmsError('ValidationException', request.XksKeyId !== undefined
      ? 'XksKeyId is valid only when Origin is EXTERNAL_KEY_STORE.'
      : `CustomKeyStoreId is valid only when Origin is AWS_CLOUDHSM or EXTERNAL_KEY_STORE, not ${request.origin}.`);
  }
  if (request.CustomKeyStoreId === undefined) throw new KmsError('ValidationException', `Origin ${request.origin} requires a CustomKeyStoreId.`);
  if (request.origin === 'EXTERNAL_KEY_STORE' && request.XksKeyId === undefined) throw new KmsError('ValidationException', 'Origin EXTERNAL_KEY_STORE requires an XksKeyId.');
  if (request.origin === 'AWS_CLOUDHSM' && request.XksKeyId !== undefined) throw new KmsError('ValidationException', 'XksKeyId is valid only when Origin is EXTERNAL_KEY_STORE.');
  if (request.keySpec !== 'SYMMETRIC_DEFAULT' || request.keyUsage !== 'ENCRYPT_DECRYPT') {
    throw new KmsError('UnsupportedOperationException', `Custom key stores support only symmetric encryption keys (KeySpec SYMMETRIC_DEFAULT, KeyUsage ENCRYPT_DECRYPT), not ${request.keySpec} for ${request.keyUsage}.`);
  }
  if (request.MultiRegion) throw new KmsError('UnsupportedOperationException', 'Multi-Region keys cannot be created in a custom key store.');
}

export interface Placement {
  /** The key store the new token object is made in. */
  material: KeyStore;
  backing: BackingKeyRef;
  label: string;
  customKeyStore: CustomKeyStoreRecord;
}

/**
 * Where a new key in a custom key store keeps its material: a CloudHSM key store's token (the
 * object labelled with the key ARN, as AWS labels it), or, for an external key store, an inner
 * key in the default token beside the external key, once the proxy has vouched for that key.
 */
export async function placeInCustomKeyStore(
  deps: CoreDeps,
  ctx: RequestContext,
  request: { customKeyStoreId: string; xksKeyId?: string; keyId: string; versionId: string; arn: string },
): Promise<Placement> {
  const record = await existingCustomKeyStore(deps, ctx, request.customKeyStoreId);
  // Precondition: the key's Origin matches the custom key store's type.
  const expected = ORIGIN_FOR_TYPE[record.type];
  if ((request.xksKeyId !== undefined) !== (expected === 'EXTERNAL_KEY_STORE')) {
    throw new KmsError('ValidationException', `Custom key store ${record.customKeyStoreId} is of type ${record.type}: its keys have Origin ${expected}.`);
  }
  // Precondition: keys are created only in a CONNECTED custom key store.
  const notConnected = () => new KmsError('CustomKeyStoreInvalidStateException', `Custom key store ${record.customKeyStoreId} is ${record.connectionState}. Connect it before creating keys in it.`);
  if (record.connectionState !== 'CONNECTED') throw notConnected();
  let store: KeyStore | undefined;
  try {
    store = await connectedKeyStore(deps, record);
  } catch (e) {
    if (e instanceof KmsError) throw new KmsError('CustomKeyStoreInvalidStateException', e.message, e.detail);
    throw e;
  }
  if (!store) throw notConnected();
  if (record.type === 'AWS_CLOUDHSM') {
    return { material: store, backing: { kind: 'pkcs11', tokenId: record.customKeyStoreId, objectId: request.versionId }, label: request.arn, customKeyStore: record };
  }
  if (!(store instanceof ExternalKeyStore)) throw new KmsError('KMSInternalException', 'The external key store is not connected through an XKS client.', `store ${store.id} is not an ExternalKeyStore`);
  const xksKeyId = request.xksKeyId!;
  await checkExternalKey(store, xksKeyId, { operation: 'CreateKey', requestId: ctx.requestId, principalArn: ctx.principal.arn, keyArn: request.arn });
  return {
    material: deps.keyStores.storeFor(),
    backing: { kind: 'xks', keyStoreId: record.customKeyStoreId, xksKeyId, localObjectId: request.versionId },
    label: `kms:${request.keyId}`,
    customKeyStore: record,
  };
}

// Precondition: an external key is used for a new KMS key only if the proxy reports it AES_256, ENABLED and able to encrypt and decrypt.
async function checkExternalKey(store: ExternalKeyStore, xksKeyId: string, call: Parameters<ExternalKeyStore['describeExternalKey']>[1]): Promise<void> {
  let metadata;
  try {
    metadata = await store.describeExternalKey(xksKeyId, call);
  } catch (e) {
    if (e instanceof XksProxyFailure) throw createKeyError(e);
    throw e;
  }
  const problems = [
    metadata.keySpec !== 'AES_256' && `its key spec is ${metadata.keySpec}, not AES_256`,
    !(metadata.keyUsage.includes('ENCRYPT') && metadata.keyUsage.includes('DECRYPT')) && `its key usage is [${metadata.keyUsage.join(', ')}], not ENCRYPT and DECRYPT`,
    metadata.keyStatus !== 'ENABLED' && `its status is ${metadata.keyStatus}, not ENABLED`,
  ].filter(Boolean);
  if (problems.length > 0) throw new KmsError('XksKeyInvalidConfigurationException', `The external key ${xksKeyId} cannot back a KMS key: ${problems.join('; ')}.`);
}

// Precondition: an external key backs at most one KMS key in its custom key store.
export async function assertXksKeyUnused(deps: CoreDeps, draft: KeyRecord): Promise<void> {
  const inStore = await deps.store.keys.listInCustomKeyStore(draft, draft.customKeyStoreId!, Number.MAX_SAFE_INTEGER);
  const other = inStore.find((k) => k.keyId !== draft.keyId && k.xksKeyId === draft.xksKeyId);
  if (other) throw new KmsError('XksKeyAlreadyInUseException', `The external key ${draft.xksKeyId} is already associated with a KMS key in custom key store ${draft.customKeyStoreId}.`);
}
