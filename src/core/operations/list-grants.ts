// ListGrants: the grants on one key, optionally one grant or one grantee's, paginated.
import { keyIdField, markerField } from '../api/fields';
import { assertGrantId, grantIdField, grantListEntry, principalIdField } from '../access/grants';
import { keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

/** AWS: "If you do not include a value, it defaults to 50." */
const DEFAULT_LIMIT = 50;

export const listGrants = defineOperation({
  name: 'ListGrants',
  input: schema({
    KeyId: s.required(keyIdField()),
    // "It must be between 1 and 100, inclusive" (API reference), although the model allows 1000.
    Limit: s.integer({ min: 1, max: 100 }),
    Marker: markerField(),
    GrantId: grantIdField(),
    GranteePrincipal: principalIdField(),
  }),
  async run(deps, ctx, input) {
    if (input.GrantId !== undefined) assertGrantId(input.GrantId);
    // Key id or key ARN (another account's key by its ARN); an alias is an invalid key id here.
    const { key } = await keyForOperation(deps, ctx, 'ListGrants', input.KeyId, { aliases: false });
    const page = await deps.store.grants.list(
      key, key.keyId,
      { grantId: input.GrantId, granteePrincipal: input.GranteePrincipal },
      { limit: input.Limit ?? DEFAULT_LIMIT, marker: input.Marker },
    );
    return {
      Grants: page.items.map(grantListEntry),
      ...(page.nextMarker ? { NextMarker: page.nextMarker } : {}),
      Truncated: page.nextMarker !== undefined,
    };
  },
});
