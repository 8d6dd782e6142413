// UntagResource: removes tags from a key; naming a tag the key does not have is no error.
import { keyIdField } from '../api/fields';
import { assertStateAllows } from '../keys/key-state';
import { changeKey, keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { removeTags, validateTagKeysToRemove } from '../keys/tags';

export const untagResource = defineOperation({
  name: 'UntagResource',
  input: schema({ KeyId: s.required(keyIdField()), TagKeys: s.required(s.list(s.string({ min: 1, max: 128 }))) }),
  async run(deps, ctx, input) {
    const tagKeys = validateTagKeysToRemove(input.TagKeys);
    // Precondition: tag operations accept a key id or key ARN only, never an alias.
    const resolved = await keyForOperation(deps, ctx, 'UntagResource', input.KeyId, { aliases: false, authorization: { conditions: { 'aws:TagKeys': tagKeys } } });
    await changeKey(deps, resolved, (key, arn) => {
      assertStateAllows('UntagResource', key.state, arn);
      return { ...key, tags: removeTags(key.tags, tagKeys) };
    });
    return {};
  },
});
