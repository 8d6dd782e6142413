// DeleteAlias: removes one alias; its key is not affected.
import { aliasArnOf, checkAliasName } from '../keys/aliases';
import { authorize } from '../access/authorize';
import { callerScope } from '../api/context';
import { KmsError, messages } from '../errors';
import { aliasNameField } from '../api/fields';
import { PARTITION } from '../keys/key-id';
import { assertStateAllows } from '../keys/key-state';
import { keyArn } from '../model';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const deleteAlias = defineOperation({
  name: 'DeleteAlias',
  input: schema({ AliasName: s.required(aliasNameField()) }),
  async run(deps, ctx, input) {
    const name = input.AliasName;
    checkAliasName(name);
    const scope = callerScope(ctx);
    const alias = await deps.store.aliases.get(scope, name);
    if (!alias) throw new KmsError('NotFoundException', messages.aliasDoesNotExist(aliasArnOf(scope, name)));
    // Authorised on the alias's key, which may be in any state or already gone.
    const arn = keyArn(PARTITION, scope, alias.targetKeyId);
    // The call's resource is the alias's key (CloudTrail logs its ARN), even when it is gone.
    ctx.onKeyResolved?.(arn);
    const key = await deps.store.keys.get(scope, alias.targetKeyId);
    const target = key && !key.incomplete ? key : undefined;
    // A key that is gone has no key policy left: identity policies alone decide.
    await authorize(deps, ctx, { action: 'DeleteAlias', ...(target ? { key: { record: target, arn } } : {}) });
    if (target) assertStateAllows('DeleteAlias', target.state, arn);
    if (!(await deps.store.aliases.delete(scope, name))) throw new KmsError('NotFoundException', messages.aliasDoesNotExist(aliasArnOf(scope, name)));
    return {};
  },
});
