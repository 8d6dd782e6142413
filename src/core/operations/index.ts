// Every operation the service offers, by its AWS name. The wire protocols dispatch from here.
import { cancelKeyDeletion } from './cancel-key-deletion';
import { createAlias } from './create-alias';
import { createGrant } from './create-grant';
import { createKey } from './create-key';
import { decrypt } from './decrypt';
import { deleteAlias } from './delete-alias';
import { deleteImportedKeyMaterial } from './delete-imported-key-material';
import { describeKey } from './describe-key';
import { deriveSharedSecret } from './derive-shared-secret';
import { disableKey } from './disable-key';
import { disableKeyRotation } from './disable-key-rotation';
import { enableKey } from './enable-key';
import { enableKeyRotation } from './enable-key-rotation';
import { encrypt } from './encrypt';
import { generateDataKey } from './generate-data-key';
import { generateDataKeyWithoutPlaintext } from './generate-data-key-without-plaintext';
import { generateDataKeyPair } from './generate-data-key-pair';
import { generateDataKeyPairWithoutPlaintext } from './generate-data-key-pair-without-plaintext';
import { generateRandom } from './generate-random';
import { getKeyPolicy } from './get-key-policy';
import { getKeyRotationStatus } from './get-key-rotation-status';
import { getParametersForImport } from './get-parameters-for-import';
import { generateMac } from './generate-mac';
import { getPublicKey } from './get-public-key';
import { importKeyMaterialOperation } from './import-key-material';
import { listAliases } from './list-aliases';
import { listGrants } from './list-grants';
import { listKeyRotations } from './list-key-rotations';
import { listKeyPolicies } from './list-key-policies';
import { listKeys } from './list-keys';
import { listResourceTags } from './list-resource-tags';
import { listRetirableGrants } from './list-retirable-grants';
import { putKeyPolicy } from './put-key-policy';
import { reEncrypt } from './re-encrypt';
import { retireGrant } from './retire-grant';
import { revokeGrant } from './revoke-grant';
import { rotateKeyOnDemand } from './rotate-key-on-demand';
import { scheduleKeyDeletion } from './schedule-key-deletion';
import { sign } from './sign';
import { tagResource } from './tag-resource';
import { untagResource } from './untag-resource';
import { updateAlias } from './update-alias';
import { updateKeyDescription } from './update-key-description';
import { verify } from './verify';
import { verifyMac } from './verify-mac';

export const operations = {
  CancelKeyDeletion: cancelKeyDeletion,
  CreateAlias: createAlias,
  CreateGrant: createGrant,
  CreateKey: createKey,
  Decrypt: decrypt,
  DeleteAlias: deleteAlias,
  DeleteImportedKeyMaterial: deleteImportedKeyMaterial,
  DeriveSharedSecret: deriveSharedSecret,
  DescribeKey: describeKey,
  DisableKey: disableKey,
  DisableKeyRotation: disableKeyRotation,
  EnableKey: enableKey,
  EnableKeyRotation: enableKeyRotation,
  Encrypt: encrypt,
  GenerateDataKey: generateDataKey,
  GenerateDataKeyPair: generateDataKeyPair,
  GenerateDataKeyPairWithoutPlaintext: generateDataKeyPairWithoutPlaintext,
  GenerateDataKeyWithoutPlaintext: generateDataKeyWithoutPlaintext,
  GenerateMac: generateMac,
  GenerateRandom: generateRandom,
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
  RetireGrant: retireGrant,
  RevokeGrant: revokeGrant,
  RotateKeyOnDemand: rotateKeyOnDemand,
  ScheduleKeyDeletion: scheduleKeyDeletion,
  Sign: sign,
  TagResource: tagResource,
  UntagResource: untagResource,
  UpdateAlias: updateAlias,
  UpdateKeyDescription: updateKeyDescription,
  Verify: verify,
  VerifyMac: verifyMac,
};

export type OperationName = keyof typeof operations;
