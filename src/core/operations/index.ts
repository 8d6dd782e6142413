// Every operation the service offers, by its AWS name. The wire protocols dispatch from here.
import { createKey } from './create-key';
import { decrypt } from './decrypt';
import { describeKey } from './describe-key';
import { encrypt } from './encrypt';
import { generateDataKey } from './generate-data-key';
import { generateDataKeyWithoutPlaintext } from './generate-data-key-without-plaintext';
import { generateRandom } from './generate-random';
import { listKeys } from './list-keys';
import { reEncrypt } from './re-encrypt';

export const operations = {
  CreateKey: createKey,
  Decrypt: decrypt,
  DescribeKey: describeKey,
  Encrypt: encrypt,
  GenerateDataKey: generateDataKey,
  GenerateDataKeyWithoutPlaintext: generateDataKeyWithoutPlaintext,
  GenerateRandom: generateRandom,
  ListKeys: listKeys,
  ReEncrypt: reEncrypt,
};

export type OperationName = keyof typeof operations;
