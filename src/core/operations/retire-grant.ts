// RetireGrant: deletes a grant, named by its token or by its key and id. Who may is decided
// by the grant itself, not by policies: its retiring principal, its grantee if the grant
// allows RetireGrant, and the account that issued it.
import type { RequestContext } from '../api/context';
import type { CoreDeps } from '../deps';
import { KmsError } from '../errors';
import { dryRunField, keyIdField } from '../api/fields';
import { assertGrantId, grantForToken, grantIdField, grantMessages, grantTokenField, mayRetire } from '../access/grants';
import { PARTITION } from '../keys/key-id';
import { assertStateAllows } from '../keys/key-state';
import { resolveKey, throwIfDryRun } from '../keys/resolve';
import { keyArn, type GrantRecord } from '../model';
import { defineOperation } from '../api/operation';
import { schema } from '../api/schema';

async function grantById(deps: CoreDeps, ctx: RequestContext, keyId: string, grantId: string): Promise<GrantRecord> {
  assertGrantId(grantId);
  // Key id or key ARN; the grant's own rules, not the key's policy, decide who may retire it.
  const { key, arn } = await resolveKey(deps, ctx, keyId, { aliases: false });
  assertStateAllows('RetireGrant', key.state, arn);
  const grant = await deps.store.grants.get(key, key.keyId, grantId);
  if (!grant) throw new KmsError('NotFoundException', grantMessages.grantNotFound(grantId, arn));
  return grant;
}

export const retireGrant = defineOperation({
  name: 'RetireGrant',
  input: schema({
    GrantToken: grantTokenField(),
    KeyId: keyIdField(),
    GrantId: grantIdField(),
    DryRun: dryRunField(),
  }),
  async run(deps, ctx, input) {
    let grant: GrantRecord;
    if (input.GrantToken !== undefined) {
      grant = await grantForToken(deps, input.GrantToken);
      if (input.GrantId !== undefined || input.KeyId !== undefined) {
        // Both ways of naming a grant were used: they must name the same one.
        const named = await grantById(deps, ctx, input.KeyId ?? keyArn(PARTITION, grant, grant.keyId), input.GrantId ?? grant.grantId);
        if (named.grantId !== grant.grantId) throw new KmsError('ValidationException', grantMessages.tokenAndIdDiffer);
      }
    } else {
      if (input.KeyId === undefined || input.GrantId === undefined) throw new KmsError('ValidationException', grantMessages.retireTarget);
      grant = await grantById(deps, ctx, input.KeyId, input.GrantId);
    }
    const arn = keyArn(PARTITION, grant, grant.keyId);
    // Precondition: only the retiring principal of a grant, its grantee when it allows RetireGrant, or its issuing account may retire it.
    if (!mayRetire(grant, ctx.principal.arn)) throw new KmsError('AccessDeniedException', grantMessages.retireDenied(ctx.principal.arn, arn));
    throwIfDryRun(input.DryRun);
    // A grant retired or revoked meanwhile is gone either way.
    await deps.store.grants.delete(grant, grant.keyId, grant.grantId);
    return {};
  },
});
