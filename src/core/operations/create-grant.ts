// CreateGrant: lets a principal use a key for some of the operations the key supports,
// optionally only with a given encryption context, until the grant is retired or revoked.
import { DuplicateRecordError, KmsError } from '../errors';
import { dryRunField, grantTokensField, keyIdField } from '../api/fields';
import {
  assertConstraintsAllowed, assertOperationsGrantable, assertPrincipalArn, checkConstraintLimits, constraintsFromRequest,
  distinctOperations, grantConstraintsField, grantMessages, grantNameField, grantOperationsField,
  MAX_GRANTS_PER_KEY, namedGrantId, newGrantToken, principalIdField, randomGrantId,
} from '../access/grants';
import { keyForOperation, throwIfDryRun } from '../keys/resolve';
import type { GrantRecord } from '../model';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const createGrant = defineOperation({
  name: 'CreateGrant',
  input: schema({
    KeyId: s.required(keyIdField()),
    GranteePrincipal: s.required(principalIdField()),
    RetiringPrincipal: principalIdField(),
    Operations: s.required(grantOperationsField()),
    Constraints: grantConstraintsField(),
    GrantTokens: grantTokensField(),
    Name: grantNameField(),
    DryRun: dryRunField(),
  }),
  async run(deps, ctx, input) {
    assertPrincipalArn(input.GranteePrincipal);
    if (input.RetiringPrincipal !== undefined) assertPrincipalArn(input.RetiringPrincipal);
    const operations = distinctOperations(input.Operations);
    const constraints = constraintsFromRequest(input.Constraints);
    checkConstraintLimits(constraints);
    // Precondition: a grant is made only for a key named by key id or key ARN, never by an alias.
    const { key, arn } = await keyForOperation(deps, ctx, 'CreateGrant', input.KeyId, {
      aliases: false,
      authorization: {
        // Grant tokens are checked by authorisation, which also limits a grant-derived grant to its parent's rights.
        grantTokens: input.GrantTokens,
        encryptionContext: constraints?.encryptionContextEquals ?? constraints?.encryptionContextSubset,
        childGrant: { operations, constraints },
        conditions: {
          'kms:GrantOperations': operations,
          'kms:GranteePrincipal': input.GranteePrincipal,
          'kms:RetiringPrincipal': input.RetiringPrincipal,
          'kms:GrantIsForAWSResource': false,
          'kms:GrantConstraintType': constraints?.encryptionContextEquals ? 'EncryptionContextEquals' : constraints?.encryptionContextSubset ? 'EncryptionContextSubset' : undefined,
        },
      },
    });
    assertOperationsGrantable(key, operations);
    assertConstraintsAllowed(key, constraints);
    throwIfDryRun(input.DryRun);

    const scope = { accountId: key.accountId, region: key.region };
    const issuingAccount = ctx.principal.accountId;
    const identity = {
      scope, keyId: key.keyId, issuingAccount, granteePrincipal: input.GranteePrincipal,
      retiringPrincipal: input.RetiringPrincipal, operations, constraints,
    };
    // A named grant's id follows from its parameters, so a retry finds the grant it made.
    const grantId = input.Name === undefined ? randomGrantId() : namedGrantId({ ...identity, name: input.Name });
    const existing = input.Name === undefined ? undefined : await deps.store.grants.get(scope, key.keyId, grantId);
    if (existing) return { GrantToken: existing.grantToken, GrantId: existing.grantId };

    const grant: GrantRecord = {
      ...scope,
      keyId: key.keyId,
      grantId,
      grantToken: newGrantToken(grantId),
      ...(input.Name === undefined ? {} : { name: input.Name }),
      granteePrincipal: input.GranteePrincipal,
      ...(input.RetiringPrincipal === undefined ? {} : { retiringPrincipal: input.RetiringPrincipal }),
      issuingAccount,
      operations,
      ...(constraints === undefined ? {} : { constraints }),
      createdAt: deps.clock.now(),
    };
    let inserted: boolean;
    try {
      // Precondition: a key has at most 50,000 grants.
      // The store counts and inserts in one atomic step, so concurrent calls cannot pass it together.
      inserted = await deps.store.grants.insertWithinLimit(grant, MAX_GRANTS_PER_KEY);
    } catch (e) {
      // The same named request, running concurrently, made the grant first.
      const winner = e instanceof DuplicateRecordError && input.Name !== undefined
        ? await deps.store.grants.get(scope, key.keyId, grantId)
        : undefined;
      if (winner) return { GrantToken: winner.grantToken, GrantId: winner.grantId };
      throw e;
    }
    if (!inserted) throw new KmsError('LimitExceededException', grantMessages.tooManyGrants(arn));
    return { GrantToken: grant.grantToken, GrantId: grant.grantId };
  },
});
