// UpdateAlias: points an existing alias at another key of the same type and key usage.
import { aliasArnOf, aliasMessages, checkAliasName, keyTypeOf, MAX_ALIASES_PER_KEY, sameKind } from '../keys/aliases';
import { authorize } from '../access/authorize';
import { callerScope } from '../api/context';
import { KmsError, messages } from '../errors';
import { aliasNameField, keyIdField } from '../api/fields';
import { PARTITION } from '../keys/key-id';
import { keyForOperation } from '../keys/resolve';
import { keyArn, type KeyRecord } from '../model';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

function kindText(key: KeyRecord): string {
  const type = keyTypeOf(key.keySpec);
  return `${type === 'symmetric' ? 'a' : 'an'} ${type} key with key usage ${key.keyUsage}`;
}

export const updateAlias = defineOperation({
  name: 'UpdateAlias',
  input: schema({ AliasName: s.required(aliasNameField()), TargetKeyId: s.required(keyIdField()) }),
  async run(deps, ctx, input) {
    const name = input.AliasName;
    checkAliasName(name);
    // The new key: authorised, and its state checked (a key pending deletion is refused).
    const next = await keyForOperation(deps, ctx, 'UpdateAlias', input.TargetKeyId, { aliases: false });
    const scope = callerScope(ctx);
    const alias = await deps.store.aliases.get(scope, name);
    if (!alias) throw new KmsError('NotFoundException', messages.aliasDoesNotExist(aliasArnOf(scope, name)));

    // The key the alias leaves: authorised too, in any state, even if it no longer exists.
    const currentArn = keyArn(PARTITION, scope, alias.targetKeyId);
    const stored = await deps.store.keys.get(scope, alias.targetKeyId);
    const current = stored && !stored.incomplete ? stored : undefined;
    await authorize(deps, ctx, { action: 'UpdateAlias', ...(current ? { key: { record: current, arn: currentArn } } : {}) });
    // Precondition: UpdateAlias moves an alias only to a key of the same key type and key usage.
    if (current && !current.incomplete && !sameKind(current, next.key)) {
      throw new KmsError(
        'ValidationException',
        `${name} cannot be moved to ${next.arn}, which is ${kindText(next.key)}: its current key ${currentArn} is ${kindText(current)}, and the new key must have the same key type and key usage.`,
      );
    }

    // Precondition: UpdateAlias never gives a key more than 50 aliases.
    const moved = await deps.store.aliases.moveWithinLimit(scope, name, next.key.keyId, deps.clock.now(), MAX_ALIASES_PER_KEY);
    if (moved === 'notFound') throw new KmsError('NotFoundException', messages.aliasDoesNotExist(aliasArnOf(scope, name)));
    if (moved === 'limitExceeded') throw new KmsError('LimitExceededException', aliasMessages.tooManyAliases(next.arn));
    return {};
  },
});
