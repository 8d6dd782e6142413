// The TrentService dispatch table: every operation of the AWS KMS API this service answers,
// by its X-Amz-Target name. A typed table, never reflection; `satisfies` checks each entry
// without widening it, so no cast is needed where the router dispatches.
import type { DispatchableOperation } from '../../core/api/operation';
import { cancelKeyDeletion } from '../../core/operations/cancel-key-deletion';
import { connectCustomKeyStore } from '../../core/operations/connect-custom-key-store';
import { createCustomKeyStore } from '../../core/operations/create-custom-key-store';
import { deleteCustomKeyStore } from '../../core/operations/delete-custom-key-store';
import { describeCustomKeyStores } from '../../core/operations/describe-custom-key-stores';
import { disconnectCustomKeyStore } from '../../core/operations/disconnect-custom-key-store';
import { updateCustomKeyStore } from '../../core/operations/update-custom-key-store';
import { createAlias } from '../../core/operations/create-alias';
import { createGrant } from '../../core/operations/create-grant';
import { createKey } from '../../core/operations/create-key';
import { decapsulate } from '../../core/operations/decapsulate';
import { decrypt } from '../../core/operations/decrypt';
import { deleteAlias } from '../../core/operations/delete-alias';
import { deleteImportedKeyMaterial } from '../../core/operations/delete-imported-key-material';
import { describeKey } from '../../core/operations/describe-key';
import { deriveSharedSecret } from '../../core/operations/derive-shared-secret';
import { disableKey } from '../../core/operations/disable-key';
import { disableKeyRotation } from '../../core/operations/disable-key-rotation';
import { enableKey } from '../../core/operations/enable-key';
import { enableKeyRotation } from '../../core/operations/enable-key-rotation';
import { encapsulate } from '../../core/operations/encapsulate';
import { encrypt } from '../../core/operations/encrypt';
import { generateDataKey } from '../../core/operations/generate-data-key';
import { generateDataKeyWithoutPlaintext } from '../../core/operations/generate-data-key-without-plaintext';
import { generateDataKeyPair } from '../../core/operations/generate-data-key-pair';
import { generateDataKeyPairWithoutPlaintext } from '../../core/operations/generate-data-key-pair-without-plaintext';
import { generateRandom } from '../../core/operations/generate-random';
import { getKeyLastUsage } from '../../core/operations/get-key-last-usage';
import { getKeyPolicy } from '../../core/operations/get-key-policy';
import { getKeyRotationStatus } from '../../core/operations/get-key-rotation-status';
import { getParametersForImport } from '../../core/operations/get-parameters-for-import';
import { generateMac } from '../../core/operations/generate-mac';
import { getPublicKey } from '../../core/operations/get-public-key';
import { importKeyMaterialOperation } from '../../core/operations/import-key-material';
import { listAliases } from '../../core/operations/list-aliases';
import { listGrants } from '../../core/operations/list-grants';
import { listKeyRotations } from '../../core/operations/list-key-rotations';
import { listKeyPolicies } from '../../core/operations/list-key-policies';
import { listKeys } from '../../core/operations/list-keys';
import { listResourceTags } from '../../core/operations/list-resource-tags';
import { listRetirableGrants } from '../../core/operations/list-retirable-grants';
import { putKeyPolicy } from '../../core/operations/put-key-policy';
import { reEncrypt } from '../../core/operations/re-encrypt';
import { retireGrant } from '../../core/operations/retire-grant';
import { revokeGrant } from '../../core/operations/revoke-grant';
import { replicateKey } from '../../core/operations/replicate-key';
import { rotateKeyOnDemand } from '../../core/operations/rotate-key-on-demand';
import { updatePrimaryRegionOperation } from '../../core/operations/update-primary-region';
import { scheduleKeyDeletion } from '../../core/operations/schedule-key-deletion';
import { sign } from '../../core/operations/sign';
import { tagResource } from '../../core/operations/tag-resource';
import { untagResource } from '../../core/operations/untag-resource';
import { updateAlias } from '../../core/operations/update-alias';
import { updateKeyDescription } from '../../core/operations/update-key-description';
import { verify } from '../../core/operations/verify';
import { verifyMac } from '../../core/operations/verify-mac';

export const kmsOperations = {
  CancelKeyDeletion: cancelKeyDeletion,
  ConnectCustomKeyStore: connectCustomKeyStore,
  CreateCustomKeyStore: createCustomKeyStore,
  DeleteCustomKeyStore: deleteCustomKeyStore,
  DescribeCustomKeyStores: describeCustomKeyStores,
  DisconnectCustomKeyStore: disconnectCustomKeyStore,
  CreateAlias: createAlias,
  CreateGrant: createGrant,
  CreateKey: createKey,
  Decapsulate: decapsulate,
  Decrypt: decrypt,
  DeleteAlias: deleteAlias,
  DeleteImportedKeyMaterial: deleteImportedKeyMaterial,
  DeriveSharedSecret: deriveSharedSecret,
  DescribeKey: describeKey,
  DisableKey: disableKey,
  DisableKeyRotation: disableKeyRotation,
  EnableKey: enableKey,
  EnableKeyRotation: enableKeyRotation,
  Encapsulate: encapsulate,
  Encrypt: encrypt,
  GenerateDataKey: generateDataKey,
  GenerateDataKeyPair: generateDataKeyPair,
  GenerateDataKeyPairWithoutPlaintext: generateDataKeyPairWithoutPlaintext,
  GenerateDataKeyWithoutPlaintext: generateDataKeyWithoutPlaintext,
  GenerateMac: generateMac,
  GenerateRandom: generateRandom,
  GetKeyLastUsage: getKeyLastUsage,
  GetKeyPolicy: getKeyPolicy,
  GetKeyRotationStatus: getKeyRotationStatus,
  GetParametersForImport: getParametersForImport,
  GetPublicKey: getPublicKey,
  ImportKeyMaterial: importKeyMaterialOperation,
  ListAliases: listAliases,
  ListGrants: listGrants,
  ListKeyRotations: listKeyRotations,
  ListKeyPolicies: listKeyPolicies,
  ListKeys: listKeys,
  ListResourceTags: listResourceTags,
  ListRetirableGrants: listRetirableGrants,
  PutKeyPolicy: putKeyPolicy,
  ReEncrypt: reEncrypt,
  ReplicateKey: replicateKey,
  RetireGrant: retireGrant,
  RevokeGrant: revokeGrant,
  RotateKeyOnDemand: rotateKeyOnDemand,
  ScheduleKeyDeletion: scheduleKeyDeletion,
  Sign: sign,
  TagResource: tagResource,
  UntagResource: untagResource,
  UpdateAlias: updateAlias,
  UpdateCustomKeyStore: updateCustomKeyStore,
  UpdateKeyDescription: updateKeyDescription,
  UpdatePrimaryRegion: updatePrimaryRegionOperation,
  Verify: verify,
  VerifyMac: verifyMac,
} satisfies Record<string, DispatchableOperation>;

export type KmsOperationName = keyof typeof kmsOperations;
