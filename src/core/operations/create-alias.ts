// CreateAlias: a new alias name for a customer managed key.
import { aliasArnOf, aliasMessages, checkAliasName, MAX_ALIASES_PER_KEY } from '../keys/aliases';
import { callerScope } from '../api/context';
import { DuplicateRecordError, KmsError } from '../errors';
import { aliasNameField, keyIdField } from '../api/fields';
import { keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const createAlias = defineOperation({
  name: 'CreateAlias',
  input: schema({ AliasName: s.required(aliasNameField()), TargetKeyId: s.required(keyIdField()) }),
  async run(deps, ctx, input) {
    const name = input.AliasName;
    checkAliasName(name);
    // Precondition: an alias is created only for a key named by key id or key ARN, never for another alias.
    const target = await keyForOperation(deps, ctx, 'CreateAlias', input.TargetKeyId, { aliases: false });
    const scope = callerScope(ctx);
    const keyId = target.key.keyId;
    if (await deps.store.aliases.get(scope, name)) throw new KmsError('AlreadyExistsException', aliasMessages.alreadyExists(aliasArnOf(scope, name)));
    const now = deps.clock.now();
    let inserted: boolean;
    try {
      // Precondition: a key has at most 50 aliases.
      // The store counts and inserts in one atomic step, so concurrent calls cannot pass it together.
      inserted = await deps.store.aliases.insertWithinLimit({ ...scope, aliasName: name, targetKeyId: keyId, createdAt: now, updatedAt: now }, MAX_ALIASES_PER_KEY);
    } catch (e) {
      if (e instanceof DuplicateRecordError) throw new KmsError('AlreadyExistsException', aliasMessages.alreadyExists(aliasArnOf(scope, name)));
      throw e;
    }
    if (!inserted) throw new KmsError('LimitExceededException', aliasMessages.tooManyAliases(target.arn));
    return {};
  },
});
