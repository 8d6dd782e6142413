// KeyMetadata as AWS returns it from CreateKey and DescribeKey.
import { arnOf } from './keys';
import { encryptionAlgorithmsFor, type KeyRecord } from './model';

export function keyMetadata(key: KeyRecord) {
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
    Origin: key.origin,
    ...(key.customKeyStoreId ? { CustomKeyStoreId: key.customKeyStoreId } : {}),
    KeyManager: key.keyManager,
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    ...(encryptionAlgorithmsFor(key.keySpec, key.keyUsage) ? { EncryptionAlgorithms: encryptionAlgorithmsFor(key.keySpec, key.keyUsage) } : {}),
    MultiRegion: key.multiRegion,
    ...(key.currentVersionId ? { CurrentKeyMaterialId: key.currentVersionId } : {}),
  };
}

export type KeyMetadata = ReturnType<typeof keyMetadata>;
