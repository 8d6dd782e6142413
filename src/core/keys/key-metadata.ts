// KeyMetadata as AWS returns it from CreateKey and DescribeKey.
import { encryptionAlgorithmsOf, keyAgreementAlgorithmsOf, macAlgorithmsOf, signingAlgorithmsOf } from './key-specs';
import { arnOf } from './resolve';
import type { CustomKeyStoreRecord, KeyRecord, KeyState, SigningAlgorithm } from '../model';
import type { MultiRegionConfiguration } from '../multi-region/set';

/**
 * `state` is the state the key answers with (Unavailable while its custom key store is
 * disconnected), `customKeyStore` the record of that store, for CloudHsmClusterId, and
 * `signingAlgorithms` those the key's token can compute (signingAlgorithmsListed), when fewer than AWS's.
 */
export function keyMetadata(
  record: KeyRecord,
  view: { state?: KeyState; customKeyStore?: CustomKeyStoreRecord; signingAlgorithms?: SigningAlgorithm[]; multiRegionConfiguration?: MultiRegionConfiguration } = {},
) {
  const key = view.state ? { ...record, state: view.state } : record;
  const pendingDeletion = key.state === 'PendingDeletion' || key.state === 'PendingReplicaDeletion';
  return {
    AWSAccountId: key.accountId,
    KeyId: key.keyId,
    Arn: arnOf(key),
    CreationDate: key.createdAt,
    Enabled: key.state === 'Enabled',
    Description: key.description,
    KeyUsage: key.keyUsage,
    KeyState: key.state,
    ...(pendingDeletion && key.deletionDate ? { DeletionDate: key.deletionDate } : {}),
    ...(pendingDeletion && key.pendingWindowInDays ? { PendingDeletionWindowInDays: key.pendingWindowInDays } : {}),
    // A seeded key may ask to be reported as AWS_KMS although its material was imported.
    Origin: key.reportedOrigin ?? key.origin,
    // Imported material: how and when it expires, while the key has it (absent before the first import and after deletion).
    ...(key.imported?.expirationModel ? { ExpirationModel: key.imported.expirationModel } : {}),
    ...(key.imported?.validTo ? { ValidTo: key.imported.validTo } : {}),
    ...(key.customKeyStoreId ? { CustomKeyStoreId: key.customKeyStoreId } : {}),
    ...(view.customKeyStore?.cloudHsm ? { CloudHsmClusterId: view.customKeyStore.cloudHsm.clusterId } : {}),
    ...(key.xksKeyId ? { XksKeyConfiguration: { Id: key.xksKeyId } } : {}),
    KeyManager: key.keyManager,
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    // Exactly one of the algorithm lists, by key usage, as AWS lists them.
    EncryptionAlgorithms: encryptionAlgorithmsOf(key.keySpec, key.keyUsage),
    SigningAlgorithms: view.signingAlgorithms ?? signingAlgorithmsOf(key.keySpec, key.keyUsage),
    KeyAgreementAlgorithms: keyAgreementAlgorithmsOf(key.keySpec, key.keyUsage),
    MacAlgorithms: macAlgorithmsOf(key.keySpec, key.keyUsage),
    MultiRegion: key.multiRegion,
    ...(key.multiRegion && view.multiRegionConfiguration ? { MultiRegionConfiguration: view.multiRegionConfiguration } : {}),
    // AWS reports the key material id of symmetric encryption keys only.
    ...(key.currentVersionId && key.keySpec === 'SYMMETRIC_DEFAULT' ? { CurrentKeyMaterialId: key.currentVersionId } : {}),
  };
}

export type KeyMetadata = ReturnType<typeof keyMetadata>;
