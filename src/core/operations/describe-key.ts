// DescribeKey: a key's metadata, by key id, key ARN, alias name or alias ARN.
import { grantTokensField, keyIdField } from '../fields';
import { keyMetadata } from '../key-metadata';
import { keyForOperation } from '../keys';
import { defineOperation } from '../operation';
import { s, schema } from '../schema';

export const describeKey = defineOperation({
  name: 'DescribeKey',
  input: schema({ KeyId: s.required(keyIdField()), GrantTokens: grantTokensField() }),
  async run(deps, ctx, input) {
    const { key } = await keyForOperation(deps, ctx, 'DescribeKey', input.KeyId, { aliases: true, authorization: { grantTokens: input.GrantTokens } });
    return { KeyMetadata: keyMetadata(key) };
  },
});
