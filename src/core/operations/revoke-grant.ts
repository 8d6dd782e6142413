// RevokeGrant: the key's owner (by policy) deletes a grant. Grant tokens are not accepted.
import { KmsError } from '../errors';
import { dryRunField, keyIdField } from '../api/fields';
import { assertGrantId, grantIdField, grantMessages } from '../access/grants';
import { keyForOperation, throwIfDryRun } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const revokeGrant = defineOperation({
  name: 'RevokeGrant',
  input: schema({ KeyId: s.required(keyIdField()), GrantId: s.required(grantIdField()), DryRun: dryRunField() }),
  async run(deps, ctx, input) {
    assertGrantId(input.GrantId);
    // Key id or key ARN (another account's key by its ARN), authorised like any key operation.
    const { key, arn } = await keyForOperation(deps, ctx, 'RevokeGrant', input.KeyId, { aliases: false });
    const grant = await deps.store.grants.get(key, key.keyId, input.GrantId);
    if (!grant) throw new KmsError('NotFoundException', grantMessages.grantNotFound(input.GrantId, arn));
    throwIfDryRun(input.DryRun);
    await deps.store.grants.delete(key, key.keyId, grant.grantId);
    return {};
  },
});
