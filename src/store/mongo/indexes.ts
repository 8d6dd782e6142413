// Every index the MongoDB store relies on, declared once, and the check that the server holds
// exactly these definitions. createIndexes alone is not enough: an index that already exists
// under the same name is kept as it is, so a dropped `unique` or an old partial filter would
// survive every start-up silently. init() compares what listIndexes() returns with this list
// and refuses to start on a difference, saying what differs and which index to drop.
import { MongoServerError } from 'mongodb';
import type { Db, Document, IndexDescription } from 'mongodb';
import { MongoStoreSetupError } from './setup-error';

export type StoreCollection = 'keys' | 'aliases' | 'grants' | 'leases' | 'externalKeys' | 'customKeyStores' | 'auditRecords' | 'auditDigests';

/** An index as createIndexes takes it, always named: the name is how start-up finds it again. */
export type StoreIndex = IndexDescription & { name: string };

/** Every index the store relies on, by collection. init() creates the missing ones and checks the rest. */
export const STORE_INDEXES: Readonly<Record<StoreCollection, readonly StoreIndex[]>> = {
  keys: [
    { key: { accountId: 1, region: 1, keyId: 1 }, unique: true, name: 'scope_keyId' },
    // Crash recovery scans only the few incomplete keys, so index just those.
    { key: { updatedAt: 1 }, name: 'incomplete_by_update', partialFilterExpression: { incomplete: true } },
    // The background jobs' queries, each partial to the few keys it can return.
    { key: { deletionDate: 1 }, name: 'due_for_deletion', partialFilterExpression: { state: 'PendingDeletion' } },
    { key: { 'rotation.nextRotationDate': 1 }, name: 'due_for_rotation', partialFilterExpression: { state: 'Enabled', 'rotation.enabled': true } },
    { key: { 'versions.status': 1 }, name: 'with_pending_version', partialFilterExpression: { 'versions.status': 'PENDING' } },
    { key: { 'imported.upkeepAt': 1 }, name: 'due_for_import_upkeep', partialFilterExpression: { 'imported.upkeepAt': { $exists: true } } },
    // Multi-Region keys: the members of a set (one key id, every region), and work under way on a set.
    { key: { accountId: 1, keyId: 1 }, name: 'accountId_keyId' },
    { key: { 'multiRegionWork.startedAt': 1 }, name: 'with_multi_region_work', partialFilterExpression: { 'multiRegionWork.startedAt': { $exists: true } } },
    // Only keys in custom key stores carry customKeyStoreId.
    {
      key: { accountId: 1, region: 1, customKeyStoreId: 1, keyId: 1 },
      name: 'scope_customKeyStoreId_keyId',
      partialFilterExpression: { customKeyStoreId: { $exists: true } },
    },
  ],
  aliases: [
    { key: { accountId: 1, region: 1, aliasName: 1 }, unique: true, name: 'scope_aliasName' },
    { key: { accountId: 1, region: 1, targetKeyId: 1 }, name: 'scope_targetKeyId' },
  ],
  grants: [
    { key: { grantId: 1 }, unique: true, name: 'grantId' },
    { key: { grantToken: 1 }, unique: true, name: 'grantToken' },
    { key: { accountId: 1, region: 1, keyId: 1, grantId: 1 }, name: 'scope_keyId_grantId' },
    {
      key: { region: 1, retiringPrincipal: 1, grantId: 1 },
      name: 'region_retiringPrincipal_grantId',
      partialFilterExpression: { retiringPrincipal: { $exists: true } },
    },
  ],
  leases: [{ key: { name: 1 }, unique: true, name: 'name' }],
  externalKeys: [
    { key: { keyStorePrefix: 1, externalKeyId: 1 }, unique: true, name: 'keyStorePrefix_externalKeyId' },
  ],
  customKeyStores: [
    { key: { customKeyStoreId: 1 }, unique: true, name: 'customKeyStoreId' },
    { key: { accountId: 1, region: 1, name: 1 }, unique: true, name: 'scope_name' },
    { key: { accountId: 1, region: 1, createdAt: 1, customKeyStoreId: 1 }, name: 'scope_createdAt_customKeyStoreId' },
    { key: { connectionState: 1 }, name: 'connectionState' },
    {
      key: { 'cloudHsm.clusterId': 1 },
      name: 'cloudHsm_clusterId',
      partialFilterExpression: { 'cloudHsm.clusterId': { $exists: true } },
    },
  ],
  // The audit trail: one sequence and one event id per record; LookupEvents reads newest first
  // by one attribute; the head document (collection auditHead) needs only its _id.
  auditRecords: [
    { key: { sequence: 1 }, unique: true, name: 'sequence' },
    { key: { eventId: 1 }, unique: true, name: 'eventId' },
    { key: { eventTime: 1 }, name: 'eventTime' },
    { key: { eventName: 1, sequence: -1 }, name: 'eventName_sequence' },
    { key: { readOnly: 1, sequence: -1 }, name: 'readOnly_sequence' },
    { key: { username: 1, sequence: -1 }, name: 'username_sequence', partialFilterExpression: { username: { $exists: true } } },
    { key: { accessKeyId: 1, sequence: -1 }, name: 'accessKeyId_sequence', partialFilterExpression: { accessKeyId: { $exists: true } } },
    { key: { resourceNames: 1, sequence: -1 }, name: 'resourceNames_sequence' },
  ],
  auditDigests: [{ key: { sequence: 1, signedAt: 1 }, name: 'sequence_signedAt' }],
};

/** The index every collection has; it is not ours to declare or check. */
const ID_INDEX = '_id_';
/** createIndexes on an existing name with another key, or with other options (or an existing key under another name). */
const INDEX_KEY_SPECS_CONFLICT = 86;
const INDEX_OPTIONS_CONFLICT = 85;
const NAMESPACE_NOT_FOUND = 26;
/** A unique index cannot be built over documents that already break it. */
const DUPLICATE_KEY = 11000;

export interface IndexDifference {
  collection: string;
  /** The index the difference is about: ours when missing or different, the server's when extra. */
  index: string;
  kind: 'missing' | 'different' | 'extra';
  /** What differs, in plain words. */
  detail: string;
  /** The index to drop so that the next start can create ours; none for extras, which are left alone. */
  drop?: string;
}

/**
 * What differs between the indexes hsm-kms needs on `collection` and those listIndexes()
 * returned for it. Compared: the key (field order included), unique, partialFilterExpression,
 * sparse, expireAfterSeconds, hidden and collation; the server's own fields (`v`, `ns`) and the
 * `_id_` index are ignored. Indexes the server has and hsm-kms does not are reported as extras.
 */
export function compareIndexes(collection: string, expected: readonly StoreIndex[], onServer: readonly Document[]): IndexDifference[] {
  const differences: IndexDifference[] = [];
  const serverIndexes = onServer.filter((index) => index.name !== ID_INDEX);
  const serverByName = new Map(serverIndexes.map((index) => [String(index.name), index]));
  const expectedNames = new Set(expected.map((index) => index.name));
  const extras = serverIndexes.filter((index) => !expectedNames.has(String(index.name)));
  for (const index of expected) {
    const held = serverByName.get(index.name);
    if (!held) {
      // The server refuses a second index with the same key and options under another name (code 85): that one must go first.
      const sameKey = extras.find((extra) => sameKeyPattern(extra.key as Document, keyOf(index)));
      differences.push(sameKey
        ? { collection, index: index.name, kind: 'missing', detail: `missing on the server, where index ${String(sameKey.name)} has the same key ${asText(keyOf(index))} under another name`, drop: String(sameKey.name) }
        : { collection, index: index.name, kind: 'missing', detail: 'missing on the server' });
      continue;
    }
    for (const detail of definitionDifferences(index, held)) {
      differences.push({ collection, index: index.name, kind: 'different', detail, drop: index.name });
    }
  }
  for (const extra of extras) {
    differences.push({ collection, index: String(extra.name), kind: 'extra', detail: `on the server but not used by hsm-kms (key ${asText(extra.key)}); left alone` });
  }
  return differences;
}

/** Each option in which the server's index differs from ours, in plain words. */
function definitionDifferences(expected: StoreIndex, held: Document): string[] {
  const differences: string[] = [];
  if (!sameKeyPattern(held.key as Document, keyOf(expected))) {
    differences.push(`key is ${asText(held.key)} on the server, hsm-kms needs ${asText(keyOf(expected))}`);
  }
  for (const flag of ['unique', 'sparse', 'hidden'] as const) {
    const wanted = expected[flag] === true;
    const present = held[flag] === true || held[flag] === 1;
    if (wanted && !present) differences.push(`${flag} is missing on the server`);
    if (!wanted && present) differences.push(`${flag} is set on the server, hsm-kms does not use it`);
  }
  for (const option of ['partialFilterExpression', 'expireAfterSeconds', 'collation'] as const) {
    const wanted = expected[option] as unknown;
    const present = held[option] as unknown;
    if (wanted === undefined && present === undefined) continue;
    if (present === undefined) differences.push(`${option} is missing on the server (hsm-kms needs ${asText(wanted)})`);
    else if (wanted === undefined) differences.push(`${option} is ${asText(present)} on the server, hsm-kms uses none`);
    // The server completes a collation with its defaults, so only the fields we name are compared.
    else if (option === 'collation' ? !containsFields(present, wanted) : !sameValue(present, wanted)) {
      differences.push(`${option} is ${asText(present)} on the server, hsm-kms needs ${asText(wanted)}`);
    }
  }
  return differences;
}

/** The key pattern as a plain document, in its order (the driver also takes a Map). */
export function keyOf(index: StoreIndex): Document {
  return index.key instanceof Map ? Object.fromEntries(index.key) : index.key;
}

/** Key patterns are ordered: { a: 1, b: 1 } and { b: 1, a: 1 } are different indexes. */
function sameKeyPattern(a: Document | undefined, b: Document | undefined): boolean {
  const left = Object.entries(a ?? {});
  const right = Object.entries(b ?? {});
  return left.length === right.length && left.every(([field, direction], i) => right[i]![0] === field && sameValue(direction, right[i]![1]));
}

/** Deep equality for filter documents: field order does not matter there, array order does. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => key in b && sameValue(a[key], b[key]));
  }
  return a === b;
}

function containsFields(held: unknown, wanted: unknown): boolean {
  return isPlainObject(held) && isPlainObject(wanted) && Object.entries(wanted).every(([field, value]) => sameValue(held[field], value));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asText(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/** Start-up refused: the server's indexes differ from what hsm-kms needs. The message says which and how to fix it. */
export class IndexMismatchError extends MongoStoreSetupError {
  constructor(readonly database: string, readonly differences: readonly IndexDifference[]) {
    super(describeIndexMismatch(database, differences));
    this.name = 'IndexMismatchError';
  }
}

/** One sentence for the operator: every difference, then what to drop (hsm-kms recreates what it needs at the next start). */
export function describeIndexMismatch(database: string, differences: readonly IndexDifference[]): string {
  const listed = differences.map((d) => `${d.collection}.${d.index}: ${d.detail}`).join('; ');
  const drops = [...new Set(differences.filter((d) => d.drop).map((d) => `db.${d.collection}.dropIndex('${d.drop}')`))];
  const fix = drops.length > 0
    ? `drop ${drops.length === 1 ? 'that index' : 'those indexes'} (in mongosh on database ${database}: ${drops.join(', ')}) and start hsm-kms again: it recreates them as it needs them`
    : 'start hsm-kms again: it creates missing indexes at start-up';
  return `the indexes in MongoDB database ${database} differ from what hsm-kms needs: ${listed}. To fix, ${fix}`;
}

/**
 * Creates the missing indexes, then checks every expected one against the server. Throws
 * IndexMismatchError naming each difference; returns the extras (indexes hsm-kms does not use),
 * which are left alone.
 */
export async function ensureStoreIndexes(db: Db, indexes: Readonly<Record<string, readonly StoreIndex[]>> = STORE_INDEXES): Promise<IndexDifference[]> {
  const collections = Object.entries(indexes);
  // One createIndexes per collection: parallel index builds that each create the collection can race.
  await Promise.all(collections.map(([collection, specs]) => createIndexes(db, collection, specs)));
  const differences = (await Promise.all(collections.map(async ([collection, specs]) => compareIndexes(collection, specs, await listIndexes(db, collection))))).flat();
  const failing = differences.filter((d) => d.kind !== 'extra');
  if (failing.length > 0) throw new IndexMismatchError(db.databaseName, failing);
  return differences;
}

/**
 * createIndexes refuses the whole batch when one index conflicts with an existing one (codes 85
 * and 86), which would leave the others uncreated too. So a conflicting batch is retried one
 * index at a time, and the conflicts are left for the comparison to name in plain words.
 */
async function createIndexes(db: Db, collection: string, specs: readonly StoreIndex[]): Promise<void> {
  try {
    await db.collection(collection).createIndexes([...specs]);
  } catch (e) {
    if (!isIndexConflict(e)) throw duplicatesNamed(db, collection, e);
    for (const spec of specs) {
      try {
        await db.collection(collection).createIndexes([spec]);
      } catch (conflict) {
        if (!isIndexConflict(conflict)) throw duplicatesNamed(db, collection, conflict);
      }
    }
  }
}

/**
 * A unique index that cannot be built because documents already break it, in plain words. The
 * server's message is not passed on: it quotes the duplicated values, and a grant token is a secret.
 */
function duplicatesNamed(db: Db, collection: string, e: unknown): unknown {
  if (!(e instanceof MongoServerError) || e.code !== DUPLICATE_KEY) return e;
  const index = /index: (\S+) dup key/.exec(e.message)?.[1];
  return new MongoStoreSetupError(
    `the unique index ${collection}.${index ?? '(unnamed)'} cannot be built in MongoDB database ${db.databaseName}: documents in ${collection} already share its key; `
    + 'remove or merge the duplicates, then start hsm-kms again',
  );
}

function isIndexConflict(e: unknown): boolean {
  return e instanceof MongoServerError && (e.code === INDEX_KEY_SPECS_CONFLICT || e.code === INDEX_OPTIONS_CONFLICT);
}

async function listIndexes(db: Db, collection: string): Promise<Document[]> {
  try {
    return await db.collection(collection).listIndexes().toArray();
  } catch (e) {
    // A collection that does not exist has no indexes: each expected one is reported missing.
    if (e instanceof MongoServerError && e.code === NAMESPACE_NOT_FOUND) return [];
    throw e;
  }
}
