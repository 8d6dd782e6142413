// TagResource: adds tags to a key, or changes the value of tags it already has.
import { keyIdField, tagsField } from '../api/fields';
import { assertStateAllows } from '../keys/key-state';
import { changeKey, keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { mergeTags, validateTagsToAdd } from '../keys/tags';

export const tagResource = defineOperation({
  name: 'TagResource',
  input: schema({ KeyId: s.required(keyIdField()), Tags: s.required(tagsField()) }),
  async run(deps, ctx, input) {
    const tags = validateTagsToAdd(input.Tags);
    // Precondition: tag operations accept a key id or key ARN only, never an alias.
    const resolved = await keyForOperation(deps, ctx, 'TagResource', input.KeyId, { aliases: false, authorization: { requestTags: tags } });
    // State and the 50-tag limit are checked again on every attempt: the key may have changed.
    await changeKey(deps, resolved, (key, arn) => {
      assertStateAllows('TagResource', key.state, arn);
      return { ...key, tags: mergeTags(key.tags, tags) };
    });
    return {};
  },
});
