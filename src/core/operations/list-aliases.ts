// ListAliases: the caller's aliases in the request's region, optionally of one key, paginated,
// with AWS's predefined alias/aws/* names among them.
import { aliasArnOf, aliasListEntry } from '../keys/aliases';
import { predefinedAliasNames } from '../keys/aws-managed-keys';
import { decodeMarker, encodeMarker } from '../api/page-marker';
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
    const limit = input.Limit ?? DEFAULT_LIMIT;
    const page = await deps.store.aliases.list(scope, { keyId }, { limit, marker: input.Marker });
    const stored = page.items.map((alias) => ({ name: alias.aliasName, entry: aliasListEntry(alias) }));
    // AWS's predefined aliases whose key does not exist yet have no record: they are listed
    // without a target, in name order among the stored ones, within the window this page covers.
    const after = input.Marker === undefined ? '' : decodeMarker('alias', input.Marker);
    const windowEnd = page.nextMarker === undefined ? undefined : page.items.at(-1)!.aliasName;
    const storedNames = new Set(stored.map((a) => a.name));
    const unclaimed = keyId !== undefined ? [] : predefinedAliasNames
      .filter((name) => name > after && (windowEnd === undefined || name < windowEnd) && !storedNames.has(name))
      .map((name) => ({ name, entry: { AliasName: name, AliasArn: aliasArnOf(scope, name) } }));
    const merged = [...stored, ...unclaimed].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const items = merged.slice(0, limit);
    const truncated = page.nextMarker !== undefined || merged.length > limit;
    return {
      Aliases: items.map((a) => a.entry),
      ...(truncated ? { NextMarker: encodeMarker('alias', items.at(-1)!.name) } : {}),
      Truncated: truncated,
    };
  },
});
