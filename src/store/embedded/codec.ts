// How records sit in the embedded store, both ways. Keys, grants, external keys and custom key
// stores are JSON in a `doc` column, every Date an ISO-8601 UTC string: JSON.stringify's own
// output, byte for byte what the store has always written. Aliases are plain columns, their
// dates epoch milliseconds.
import type { AliasRecord, CustomKeyStoreRecord, GrantRecord, KeyRecord } from '../../core/model';
import type { ExternalKeyRecord } from '../../core/xks-proxy/external-key';

/**
 * Every path from T to a Date, fields joined by "." and arrays marked "[]":
 * 'createdAt' | 'versions[].createdAt' | 'rotation.history[].date' | …
 */
export type DatePath<T, Prefix extends string = ''> =
  T extends Date ? Prefix
  : T extends readonly (infer Item)[] ? DatePath<Item, `${Prefix}[]`>
  : T extends object ? { [K in keyof T & string]-?: DatePath<NonNullable<T[K]>, Prefix extends '' ? K : `${Prefix}.${K}`> }[keyof T & string]
  : never;

/** Compiles only when `Paths` names every Date of T, and otherwise names the ones missing. */
type EveryDatePath<T, Paths extends readonly string[]> =
  [Exclude<DatePath<T>, Paths[number]>] extends [never] ? unknown : { missingDatePaths: Exclude<DatePath<T>, Paths[number]> };

export interface DocumentCodec<T> {
  encode(record: T): string;
  decode(doc: string): T;
}

/**
 * A JSON codec for T that turns the strings at `datePaths` back into Dates. Curried so T is
 * stated and the paths are inferred; the compiler rejects a list that misses a Date of T, so a
 * new date field cannot come back from storage as a string.
 */
export function documentCodec<T>() {
  return <const Paths extends readonly DatePath<T>[]>(datePaths: Paths & EveryDatePath<T, Paths>): DocumentCodec<T> => {
    const parsedPaths = datePaths.map(segmentsOf);
    return {
      encode: (record) => JSON.stringify(record),
      decode: (doc) => {
        const parsed = JSON.parse(doc) as unknown;
        for (const segments of parsedPaths) reviveDates(parsed, segments);
        return parsed as T;
      },
    };
  };
}

/** 'versions[].createdAt' → ['versions', '[]', 'createdAt']. */
function segmentsOf(path: string): string[] {
  return path.split('.').flatMap((field) => {
    const arrays: string[] = [];
    while (field.endsWith('[]')) {
      field = field.slice(0, -2);
      arrays.push('[]');
    }
    return [field, ...arrays];
  });
}

/**
 * Replaces, in place, the date strings that `segments` lead to under `node`. Absent optional
 * fields stay absent. `node` is freshly parsed JSON, so nobody else holds it.
 */
function reviveDates(node: unknown, segments: readonly string[]): unknown {
  const [head, ...rest] = segments;
  if (head === undefined) return new Date(node as string);
  if (head === '[]') return Array.isArray(node) ? node.map((item: unknown) => reviveDates(item, rest)) : node;
  if (typeof node === 'object' && node !== null && Object.hasOwn(node, head)) {
    const fields = node as Record<string, unknown>;
    fields[head] = reviveDates(fields[head], rest);
  }
  return node;
}

export const keyCodec = documentCodec<KeyRecord>()([
  'createdAt',
  'updatedAt',
  'deletionDate',
  'versions[].createdAt',
  'rotation.nextRotationDate',
  'rotation.history[].date',
  'rotation.inProgress[].startedAt',
  'imported.validTo',
  'imported.upkeepAt',
  'imported.parameters[].createdAt',
  'imported.parameters[].validTo',
  'imported.parameters[].usedAt',
  'imported.retiredObjects[].retiredAt',
  'multiRegionWork.startedAt',
]);

export const grantCodec = documentCodec<GrantRecord>()(['createdAt']);

export const externalKeyCodec = documentCodec<ExternalKeyRecord>()(['createdAt', 'updatedAt']);

export const customKeyStoreCodec = documentCodec<CustomKeyStoreRecord>()(['createdAt', 'stateChangedAt', 'updatedAt']);

/** An aliases row: columns, not a document, so lookups by target key need no JSON. */
export interface AliasRow {
  account_id: string;
  region: string;
  alias_name: string;
  target_key_id: string;
  created_at: number;
  updated_at: number;
}

export const aliasCodec = {
  encode(alias: AliasRecord): AliasRow {
    return {
      account_id: alias.accountId,
      region: alias.region,
      alias_name: alias.aliasName,
      target_key_id: alias.targetKeyId,
      created_at: alias.createdAt.getTime(),
      updated_at: alias.updatedAt.getTime(),
    };
  },
  decode(row: AliasRow): AliasRecord {
    return {
      accountId: row.account_id,
      region: row.region,
      aliasName: row.alias_name,
      targetKeyId: row.target_key_id,
      createdAt: new Date(row.created_at),
      updatedAt: new Date(row.updated_at),
    };
  },
};
