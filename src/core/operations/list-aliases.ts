// ListAliases: the caller's aliases in the request's region, optionally of one key, paginated.
import { aliasListEntry } from '../keys/aliases';
import { authorize } from '../access/authorize';
import { callerScope } from '../api/context';
import { KmsError, messages } from '../errors';
import { keyIdField, markerField } from '../api/fields';
import { resolveKey } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

/** AWS: "If you do not include a value, it defaults to 50." */
const DEFAULT_LIMIT = 50;

export const listAliases = defineOperation({
  name: 'ListAliases',
  input: schema({
    KeyId: keyIdField(),
    // "It must be between 1 and 100, inclusive" (API reference), unlike ListKeys' 1000.
    Limit: s.integer({ min: 1, max: 100 }),
    Marker: markerField(),
  }),
  async run(deps, ctx, input) {
    await authorize(deps, ctx, { action: 'ListAliases' });
    const scope = callerScope(ctx);
    let keyId: string | undefined;
    if (input.KeyId !== undefined) {
      // Key id or key ARN only: an alias name or alias ARN is an invalid key id here.
      const { key, arn } = await resolveKey(deps, ctx, input.KeyId, { aliases: false });
      // Precondition: ListAliases names only keys of the caller's own account.
      if (key.accountId !== scope.accountId) throw new KmsError('NotFoundException', messages.keyDoesNotExist(arn));
      keyId = key.keyId;
    }
    const page = await deps.store.aliases.list(scope, { keyId }, { limit: input.Limit ?? DEFAULT_LIMIT, marker: input.Marker });
    return {
      Aliases: page.items.map(aliasListEntry),
      ...(page.nextMarker ? { NextMarker: page.nextMarker } : {}),
      Truncated: page.nextMarker !== undefined,
    };
  },
});
