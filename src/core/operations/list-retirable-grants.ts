// ListRetirableGrants: the grants, on keys of any account in the request's region, that name
// a principal of the caller's account as retiring principal.
import { authorize } from '../access/authorize';
import { KmsError } from '../errors';
import { markerField } from '../api/fields';
import { accountOfPrincipal, assertPrincipalArn, grantListEntry, grantMessages, principalIdField } from '../access/grants';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

/** AWS: "If you do not include a value, it defaults to 50." */
const DEFAULT_LIMIT = 50;

export const listRetirableGrants = defineOperation({
  name: 'ListRetirableGrants',
  input: schema({
    Limit: s.integer({ min: 1, max: 100 }),
    Marker: markerField(),
    RetiringPrincipal: s.required(principalIdField()),
  }),
  async run(deps, ctx, input) {
    const retiringPrincipal = input.RetiringPrincipal;
    assertPrincipalArn(retiringPrincipal);
    await authorize(deps, ctx, { action: 'ListRetirableGrants' });
    // Precondition: ListRetirableGrants answers only for a retiring principal in the account of the caller.
    if (accountOfPrincipal(retiringPrincipal) !== ctx.principal.accountId) {
      throw new KmsError('AccessDeniedException', grantMessages.foreignRetiringPrincipal(ctx.principal.arn, retiringPrincipal));
    }
    const page = await deps.store.grants.listRetirable(ctx.region, retiringPrincipal, { limit: input.Limit ?? DEFAULT_LIMIT, marker: input.Marker });
    return {
      Grants: page.items.map(grantListEntry),
      ...(page.nextMarker ? { NextMarker: page.nextMarker } : {}),
      Truncated: page.nextMarker !== undefined,
    };
  },
});
