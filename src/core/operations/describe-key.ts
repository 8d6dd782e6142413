// DescribeKey: a key's metadata, by key id, key ARN, alias name or alias ARN.
import { grantTokensField, keyIdField } from '../api/fields';
import { signingAlgorithmsListed } from '../crypto/signing';
import { keyMetadata } from '../keys/key-metadata';
import { keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { configurationOf } from '../multi-region/set';

export const describeKey = defineOperation({
  name: 'DescribeKey',
  input: schema({ KeyId: s.required(keyIdField()), GrantTokens: grantTokensField() }),
  async run(deps, ctx, input) {
    const { key, state, customKeyStore } = await keyForOperation(deps, ctx, 'DescribeKey', input.KeyId, { aliases: true, createsAwsManagedKey: true, authorization: { grantTokens: input.GrantTokens } });
    const multiRegionConfiguration = await configurationOf(deps, key);
    return { KeyMetadata: keyMetadata(key, { state, customKeyStore, signingAlgorithms: signingAlgorithmsListed(deps, key), ...(multiRegionConfiguration ? { multiRegionConfiguration } : {}) }) };
  },
});
