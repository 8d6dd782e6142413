// Every operation the service offers, by its AWS name. The wire protocols dispatch from here.
import { cancelKeyDeletion } from './cancel-key-deletion';
import { createAlias } from './create-alias';
import { createKey } from './create-key';
import { decrypt } from './decrypt';
import { deleteAlias } from './delete-alias';
import { describeKey } from './describe-key';
import { disableKey } from './disable-key';
import { enableKey } from './enable-key';
import { encrypt } from './encrypt';
import { generateDataKey } from './generate-data-key';
import { generateDataKeyWithoutPlaintext } from './generate-data-key-without-plaintext';
import { generateRandom } from './generate-random';
import { listAliases } from './list-aliases';
import { listKeys } from './list-keys';
import { listResourceTags } from './list-resource-tags';
import { reEncrypt } from './re-encrypt';
import { scheduleKeyDeletion } from './schedule-key-deletion';
import { tagResource } from './tag-resource';
import { untagResource } from './untag-resource';
import { updateAlias } from './update-alias';
import { updateKeyDescription } from './update-key-description';

export const operations = {
  CancelKeyDeletion: cancelKeyDeletion,
  CreateAlias: createAlias,
  CreateKey: createKey,
  Decrypt: decrypt,
  DeleteAlias: deleteAlias,
  DescribeKey: describeKey,
  DisableKey: disableKey,
  EnableKey: enableKey,
  Encrypt: encrypt,
  GenerateDataKey: generateDataKey,
  GenerateDataKeyWithoutPlaintext: generateDataKeyWithoutPlaintext,
  GenerateRandom: generateRandom,
  ListAliases: listAliases,
  ListKeys: listKeys,
  ListResourceTags: listResourceTags,
  ReEncrypt: reEncrypt,
  ScheduleKeyDeletion: scheduleKeyDeletion,
  TagResource: tagResource,
  UntagResource: untagResource,
  UpdateAlias: updateAlias,
  UpdateKeyDescription: updateKeyDescription,
};

export type OperationName = keyof typeof operations;
