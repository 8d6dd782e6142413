// The MongoDB store's index list checked without a server: every option is one the server
// documents, every partial filter uses only operators a partial index accepts, `unique` is where
// the repository contracts need it, and the start-up comparison with listIndexes() names each
// difference. Every check is also run on a broken copy of the list, to show it can fail.
//
// Why here and not only against a server: the driver passes createIndexes only the options it
// knows and silently drops the rest, and a server keeps an existing index of the same name as it
// is, so a misspelt or dropped option would be lost without an error anywhere.
import { MongoServerError, type Db, type Document } from 'mongodb';
import {
  compareIndexes, ensureStoreIndexes, IndexMismatchError, keyOf, STORE_INDEXES, type StoreCollection, type StoreIndex,
} from '../../src/store/mongo/indexes';
import { MongoStoreSetupError } from '../../src/store/mongo/setup-error';

type IndexList = Record<string, StoreIndex[]>;

/**
 * The oldest MongoDB server hsm-kms supports: 6.0 (README, "Running with a MongoDB replica set";
 * docker/compose.yaml runs 7). The operator list below is the one for this version.
 */
const OLDEST_SUPPORTED_SERVER = '6.0';

/**
 * The index options the MongoDB manual documents for createIndexes, from the page
 * "db.collection.createIndex()" (section "Options": options for all index types, then those of
 * wildcard, text, 2dsphere and 2d indexes), for MongoDB 6.0 and later. Left out on purpose:
 * `background` (deprecated, ignored since 4.2), `dropDups` (removed in 3.0) and the geoHaystack
 * `bucketSize` (the index type was removed in 5.0).
 */
const DOCUMENTED_INDEX_OPTIONS = new Set([
  // All index types
  'name', 'unique', 'partialFilterExpression', 'sparse', 'expireAfterSeconds', 'hidden', 'storageEngine', 'collation',
  // Wildcard indexes
  'wildcardProjection',
  // Text indexes
  'weights', 'default_language', 'language_override', 'textIndexVersion',
  // 2dsphere indexes
  '2dsphereIndexVersion',
  // 2d indexes
  'bits', 'min', 'max',
]);

/**
 * The unique indexes the repository contracts rely on (a duplicate insert must fail with
 * DuplicateRecordError, a lease must have one holder, the audit chain one record per sequence),
 * with the key each must have. A unique index that is also partial or sparse lets documents
 * without the field through, so neither is allowed on these.
 */
const MUST_BE_UNIQUE: Record<string, Record<string, Document>> = {
  keys: { scope_keyId: { accountId: 1, region: 1, keyId: 1 } },
  aliases: { scope_aliasName: { accountId: 1, region: 1, aliasName: 1 } },
  grants: { grantId: { grantId: 1 }, grantToken: { grantToken: 1 } },
  leases: { name: { name: 1 } },
  externalKeys: { keyStorePrefix_externalKeyId: { keyStorePrefix: 1, externalKeyId: 1 } },
  customKeyStores: { customKeyStoreId: { customKeyStoreId: 1 }, scope_name: { accountId: 1, region: 1, name: 1 } },
  auditRecords: { sequence: { sequence: 1 }, eventId: { eventId: 1 } },
};

const copy = (): IndexList => structuredClone(STORE_INDEXES) as unknown as IndexList;
const indexNamed = (list: IndexList, collection: StoreCollection, name: string): StoreIndex => list[collection]!.find((index) => index.name === name)!;

function undocumentedOptions(list: IndexList): string[] {
  return Object.entries(list).flatMap(([collection, indexes]) => indexes.flatMap((index) => Object.keys(index)
    .filter((option) => option !== 'key' && !DOCUMENTED_INDEX_OPTIONS.has(option))
    .map((option) => `${collection}.${index.name}: ${option}`)));
}

const COMPARISONS = new Set(['$eq', '$gt', '$gte', '$lt', '$lte']);

/**
 * What a partial filter uses that a partial index does not accept on MongoDB 6.0+ (manual page
 * "Partial Indexes", "Create a Partial Index"): equality (`field: value` or $eq), `$exists: true`,
 * $gt, $gte, $lt, $lte, $type, $and, $or and $in. $or and $in need 6.0; $exists: false, $ne,
 * $nin, $not, $regex, $elemMatch and the rest are refused by the server.
 */
function partialFilterProblems(filter: Document, where: string): string[] {
  return Object.entries(filter).flatMap(([field, condition]): string[] => {
    if (field === '$and' || field === '$or') {
      if (!Array.isArray(condition) || condition.length === 0) return [`${where}: ${field} needs a non-empty array`];
      return condition.flatMap((clause: Document, i: number) => partialFilterProblems(clause, `${where}.${field}[${i}]`));
    }
    if (field.startsWith('$')) return [`${where}: ${field} is not allowed in a partial filter`];
    const isOperatorDocument = typeof condition === 'object' && condition !== null && !Array.isArray(condition) && !(condition instanceof Date)
      && Object.keys(condition as Document).some((key) => key.startsWith('$'));
    if (!isOperatorDocument) return []; // equality on a value
    return Object.entries(condition as Document).flatMap(([operator, operand]): string[] => {
      if (COMPARISONS.has(operator) || operator === '$type') return [];
      if (operator === '$exists') return operand === true ? [] : [`${where}.${field}: only $exists: true is allowed`];
      if (operator === '$in') return Array.isArray(operand) ? [] : [`${where}.${field}: $in needs an array`];
      return [`${where}.${field}: ${operator} is not allowed in a partial filter`];
    });
  });
}

function partialFiltersProblems(list: IndexList): string[] {
  return Object.entries(list).flatMap(([collection, indexes]) => indexes.flatMap((index) => (index.partialFilterExpression
    ? partialFilterProblems(index.partialFilterExpression, `${collection}.${index.name}`) : [])));
}

function uniquenessProblems(list: IndexList): string[] {
  return Object.entries(MUST_BE_UNIQUE).flatMap(([collection, required]) => Object.entries(required).flatMap(([name, key]): string[] => {
    const index = list[collection]?.find((candidate) => candidate.name === name);
    if (!index) return [`${collection}.${name}: missing`];
    const problems: string[] = [];
    if (index.unique !== true) problems.push(`${collection}.${name}: not unique`);
    if (JSON.stringify(keyOf(index)) !== JSON.stringify(key)) problems.push(`${collection}.${name}: key ${JSON.stringify(keyOf(index))}`);
    if (index.partialFilterExpression || index.sparse) problems.push(`${collection}.${name}: partial or sparse, so not unique for every document`);
    return problems;
  }));
}

/** Two indexes of one collection may not share a name, nor a key with the same filter (the server refuses the second, code 85). */
function duplicateProblems(list: IndexList): string[] {
  return Object.entries(list).flatMap(([collection, indexes]) => {
    const names = indexes.map((index) => index.name);
    const shapes = indexes.map((index) => JSON.stringify([keyOf(index), index.partialFilterExpression ?? null]));
    return [
      ...names.filter((name, i) => names.indexOf(name) !== i).map((name) => `${collection}: name ${name} twice`),
      ...shapes.filter((shape, i) => shapes.indexOf(shape) !== i).map((shape) => `${collection}: key and filter ${shape} twice`),
    ];
  });
}

describe('the declared indexes', () => {
  it(`use only the index options the server documents (MongoDB ${OLDEST_SUPPORTED_SERVER}+)`, () => {
    expect(undocumentedOptions(copy())).toEqual([]);
    // A misspelling, and an option the server no longer honours, are caught.
    const broken = copy();
    Object.assign(indexNamed(broken, 'leases', 'name'), { expireAfterSecond: 60 });
    Object.assign(indexNamed(broken, 'grants', 'grantId'), { background: true });
    expect(undocumentedOptions(broken)).toEqual(['grants.grantId: background', 'leases.name: expireAfterSecond']);
  });

  it(`use only operators a partial filter accepts on MongoDB ${OLDEST_SUPPORTED_SERVER}+`, () => {
    const list = copy();
    // The list really has partial filters to check.
    expect(Object.values(list).flat().filter((index) => index.partialFilterExpression).length).toBeGreaterThanOrEqual(8);
    expect(partialFiltersProblems(list)).toEqual([]);
    const broken = copy();
    indexNamed(broken, 'keys', 'due_for_deletion').partialFilterExpression = { state: { $ne: 'Enabled' } };
    indexNamed(broken, 'grants', 'region_retiringPrincipal_grantId').partialFilterExpression = { retiringPrincipal: { $exists: false } };
    indexNamed(broken, 'keys', 'due_for_rotation').partialFilterExpression = { $nor: [{ state: 'Disabled' }] };
    expect(partialFiltersProblems(broken)).toEqual([
      'keys.due_for_deletion.state: $ne is not allowed in a partial filter',
      'keys.due_for_rotation: $nor is not allowed in a partial filter',
      'grants.region_retiringPrincipal_grantId.retiringPrincipal: only $exists: true is allowed',
    ]);
    // What 6.0 allows passes.
    expect(partialFilterProblems({ $or: [{ state: { $in: ['Enabled', 'Disabled'] } }, { n: { $gte: 1, $lt: 5 } }], t: { $type: 'string' } }, 'allowed')).toEqual([]);
  });

  it('are unique where the repository contracts need it, on the right key, for every document', () => {
    expect(uniquenessProblems(copy())).toEqual([]);
    const noUnique = copy();
    delete indexNamed(noUnique, 'keys', 'scope_keyId').unique;
    delete indexNamed(noUnique, 'auditRecords', 'eventId').unique;
    expect(uniquenessProblems(noUnique)).toEqual(['keys.scope_keyId: not unique', 'auditRecords.eventId: not unique']);
    const wrongKey = copy();
    indexNamed(wrongKey, 'aliases', 'scope_aliasName').key = { accountId: 1, aliasName: 1 };
    indexNamed(wrongKey, 'leases', 'name').sparse = true;
    wrongKey.customKeyStores = wrongKey.customKeyStores!.filter((index) => index.name !== 'scope_name');
    expect(uniquenessProblems(wrongKey)).toEqual([
      'aliases.scope_aliasName: key {"accountId":1,"aliasName":1}',
      'leases.name: partial or sparse, so not unique for every document',
      'customKeyStores.scope_name: missing',
    ]);
  });

  it('have names, and keys with their filters, unique per collection', () => {
    expect(duplicateProblems(copy())).toEqual([]);
    const broken = copy();
    broken.aliases!.push({ ...indexNamed(broken, 'aliases', 'scope_targetKeyId'), key: { targetKeyId: 1 } });
    broken.keys!.push({ ...indexNamed(broken, 'keys', 'due_for_deletion'), name: 'due_for_deletion_again' });
    expect(duplicateProblems(broken)).toEqual([
      'keys: key and filter [{"deletionDate":1},{"state":"PendingDeletion"}] twice',
      'aliases: name scope_targetKeyId twice',
    ]);
  });
});

/** What listIndexes() returns for `indexes` on a server: the _id index first, each with the server's `v`. */
function asServerHolds(indexes: readonly StoreIndex[]): Document[] {
  return [{ v: 2, key: { _id: 1 }, name: '_id_' }, ...structuredClone(indexes).map((index) => ({ v: 2, ...index }))];
}

describe('compareIndexes (the start-up check against listIndexes)', () => {
  const keys = STORE_INDEXES.keys;
  const held = (change: (indexes: Document[]) => void): Document[] => {
    const indexes = asServerHolds(keys);
    change(indexes);
    return indexes;
  };
  const named = (indexes: Document[], name: string): Document => indexes.find((index) => index.name === name)!;

  it('finds nothing when the server holds exactly the declared indexes, whatever the server adds (v, ns, _id_)', () => {
    for (const [collection, indexes] of Object.entries(STORE_INDEXES)) {
      expect(compareIndexes(collection, indexes, asServerHolds(indexes).map((index) => ({ ...index, ns: `hsm_kms.${collection}` })))).toEqual([]);
    }
  });

  it('names a missing unique, and that the index must be dropped', () => {
    expect(compareIndexes('keys', keys, held((indexes) => { delete named(indexes, 'scope_keyId').unique; }))).toEqual([
      { collection: 'keys', index: 'scope_keyId', kind: 'different', detail: 'unique is missing on the server', drop: 'scope_keyId' },
    ]);
  });

  it('names a key whose fields are in another order', () => {
    const differences = compareIndexes('keys', keys, held((indexes) => { named(indexes, 'scope_keyId').key = { region: 1, accountId: 1, keyId: 1 }; }));
    expect(differences).toEqual([{
      collection: 'keys', index: 'scope_keyId', kind: 'different', drop: 'scope_keyId',
      detail: 'key is {"region":1,"accountId":1,"keyId":1} on the server, hsm-kms needs {"accountId":1,"region":1,"keyId":1}',
    }]);
    // The direction of a field counts too.
    expect(compareIndexes('keys', keys, held((indexes) => { named(indexes, 'due_for_deletion').key = { deletionDate: -1 }; }))).toHaveLength(1);
  });

  it('names a different, a missing and an unwanted partial filter, but not the same filter with its fields reordered', () => {
    const differences = compareIndexes('keys', keys, held((indexes) => {
      named(indexes, 'due_for_deletion').partialFilterExpression = { state: 'Disabled' };
      delete named(indexes, 'incomplete_by_update').partialFilterExpression;
      named(indexes, 'scope_keyId').partialFilterExpression = { keyId: { $exists: true } };
      named(indexes, 'due_for_rotation').partialFilterExpression = { 'rotation.enabled': true, state: 'Enabled' };
    }));
    expect(differences.map((d) => `${d.index}: ${d.detail}`)).toEqual([
      'scope_keyId: partialFilterExpression is {"keyId":{"$exists":true}} on the server, hsm-kms uses none',
      'incomplete_by_update: partialFilterExpression is missing on the server (hsm-kms needs {"incomplete":true})',
      'due_for_deletion: partialFilterExpression is {"state":"Disabled"} on the server, hsm-kms needs {"state":"PendingDeletion"}',
    ]);
  });

  it('names sparse, expireAfterSeconds, hidden and collation the server has and hsm-kms does not use', () => {
    const differences = compareIndexes('keys', keys, held((indexes) => {
      Object.assign(named(indexes, 'scope_keyId'), { sparse: true, expireAfterSeconds: 3600 });
      Object.assign(named(indexes, 'due_for_deletion'), { hidden: true, collation: { locale: 'en', strength: 2 } });
    }));
    expect(differences.map((d) => `${d.index}: ${d.detail}`)).toEqual([
      'scope_keyId: sparse is set on the server, hsm-kms does not use it',
      'scope_keyId: expireAfterSeconds is 3600 on the server, hsm-kms uses none',
      'due_for_deletion: hidden is set on the server, hsm-kms does not use it',
      'due_for_deletion: collation is {"locale":"en","strength":2} on the server, hsm-kms uses none',
    ]);
  });

  it('names a missing index; an extra one is reported as such, to be left alone', () => {
    const differences = compareIndexes('keys', keys, held((indexes) => {
      indexes.splice(indexes.indexOf(named(indexes, 'with_pending_version')), 1);
      indexes.push({ v: 2, key: { description: 1 }, name: 'by_description' });
    }));
    expect(differences).toEqual([
      { collection: 'keys', index: 'with_pending_version', kind: 'missing', detail: 'missing on the server' },
      { collection: 'keys', index: 'by_description', kind: 'extra', detail: 'on the server but not used by hsm-kms (key {"description":1}); left alone' },
    ]);
  });

  it('says which index holds the key of a missing one under another name, as that one must be dropped', () => {
    const differences = compareIndexes('keys', keys, held((indexes) => { named(indexes, 'scope_keyId').name = 'accountId_1_region_1_keyId_1'; }));
    expect(differences).toEqual([
      {
        collection: 'keys', index: 'scope_keyId', kind: 'missing', drop: 'accountId_1_region_1_keyId_1',
        detail: 'missing on the server, where index accountId_1_region_1_keyId_1 has the same key {"accountId":1,"region":1,"keyId":1} under another name',
      },
      expect.objectContaining({ index: 'accountId_1_region_1_keyId_1', kind: 'extra' }),
    ]);
  });
});

/**
 * The driver surface ensureStoreIndexes uses, over an in-memory catalogue. createIndexes behaves
 * as the server's: a batch holding one index that conflicts with an existing one of the same
 * name (`conflicts`) fails whole with IndexOptionsConflict, and nothing of it is created.
 */
function fakeDb(catalogue: Record<string, Document[]>, conflicts: Record<string, number> = {}, failures: Record<string, MongoServerError> = {}): Db {
  const collection = (name: string) => ({
    async createIndexes(specs: StoreIndex[]) {
      if (failures[name]) throw failures[name];
      const conflicting = specs.find((spec) => conflicts[`${name}.${spec.name}`]);
      if (conflicting) {
        throw new MongoServerError({ message: `An existing index has the same name as the requested index: ${conflicting.name}`, code: conflicts[`${name}.${conflicting.name}`], ok: 0 });
      }
      const held = (catalogue[name] ??= [{ v: 2, key: { _id: 1 }, name: '_id_' }]);
      for (const spec of specs) if (!held.some((index) => index.name === spec.name)) held.push({ v: 2, ...structuredClone(spec) });
      return specs.map((spec) => spec.name);
    },
    listIndexes() {
      return {
        async toArray() {
          if (!catalogue[name]) throw new MongoServerError({ message: `ns does not exist: hsm_kms.${name}`, code: 26, ok: 0 });
          return structuredClone(catalogue[name]);
        },
      };
    },
  });
  return { databaseName: 'hsm_kms', collection } as unknown as Db;
}

describe('ensureStoreIndexes (what MongoStore.init runs after connecting)', () => {
  it('creates every declared index on an empty database and reports only the extras', async () => {
    const catalogue: Record<string, Document[]> = { keys: [{ v: 2, key: { _id: 1 }, name: '_id_' }, { v: 2, key: { note: 1 }, name: 'note' }] };
    const extras = await ensureStoreIndexes(fakeDb(catalogue));
    expect(extras).toEqual([expect.objectContaining({ collection: 'keys', index: 'note', kind: 'extra' })]);
    for (const [collection, indexes] of Object.entries(STORE_INDEXES)) {
      expect(catalogue[collection]!.map((index) => index.name)).toEqual(expect.arrayContaining(indexes.map((index) => index.name)));
    }
  });

  it.each<[number, string]>([[85, 'IndexOptionsConflict'], [86, 'IndexKeySpecsConflict']])('turns a createIndexes conflict (code %i, %s) into the plain-words start-up error', async (code) => {
    // An older scope_keyId without unique: createIndexes refuses the batch that holds it.
    const withoutUnique = { ...structuredClone(indexNamed(copy(), 'keys', 'scope_keyId')), unique: undefined };
    const catalogue: Record<string, Document[]> = { keys: [{ v: 2, key: { _id: 1 }, name: '_id_' }, { v: 2, ...JSON.parse(JSON.stringify(withoutUnique)) }] };
    const failure = await ensureStoreIndexes(fakeDb(catalogue, { 'keys.scope_keyId': code })).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(IndexMismatchError);
    // Only the real difference: the other keys indexes were created one by one after the batch failed.
    expect((failure as IndexMismatchError).differences).toEqual([
      { collection: 'keys', index: 'scope_keyId', kind: 'different', detail: 'unique is missing on the server', drop: 'scope_keyId' },
    ]);
    expect((failure as Error).message).toBe(
      'the indexes in MongoDB database hsm_kms differ from what hsm-kms needs: keys.scope_keyId: unique is missing on the server. '
      + "To fix, drop that index (in mongosh on database hsm_kms: db.keys.dropIndex('scope_keyId')) and start hsm-kms again: it recreates them as it needs them",
    );
    expect(catalogue.keys!.map((index) => index.name)).toEqual(['_id_', ...STORE_INDEXES.keys.map((index) => index.name)]);
  });

  it('lists every difference in one message, each index to drop once', async () => {
    const catalogue: Record<string, Document[]> = {
      aliases: asServerHolds(STORE_INDEXES.aliases).map((index) => (index.name === 'scope_aliasName' ? { ...index, unique: undefined, key: { aliasName: 1 } } : index)),
      leases: [{ v: 2, key: { _id: 1 }, name: '_id_' }, { v: 2, key: { name: 1 }, name: 'name_1', unique: true }],
    };
    const failure = await ensureStoreIndexes(fakeDb(JSON.parse(JSON.stringify(catalogue)) as Record<string, Document[]>, { 'aliases.scope_aliasName': 86, 'leases.name': 85 })).catch((e: unknown) => e) as IndexMismatchError;
    expect(failure.message).toContain('aliases.scope_aliasName: key is {"aliasName":1} on the server, hsm-kms needs {"accountId":1,"region":1,"aliasName":1}; aliases.scope_aliasName: unique is missing on the server');
    expect(failure.message).toContain('leases.name: missing on the server, where index name_1 has the same key {"name":1} under another name');
    expect(failure.message).toContain("db.aliases.dropIndex('scope_aliasName'), db.leases.dropIndex('name_1')");
    expect(failure.message.match(/db\.aliases\.dropIndex/g)).toHaveLength(1);
  });

  it('names a unique index that duplicates already break, without quoting the duplicated values', async () => {
    const duplicates = new MongoServerError({
      message: 'Index build failed: 6f1c: Collection hsm_kms.grants ( 0f3e ) :: caused by :: E11000 duplicate key error collection: hsm_kms.grants index: grantToken dup key: { grantToken: "AQoDYXdzEJr-secret-token" }',
      code: 11000, ok: 0,
    });
    const failure = await ensureStoreIndexes(fakeDb({}, {}, { grants: duplicates })).catch((e: unknown) => e) as Error;
    expect(failure).toBeInstanceOf(MongoStoreSetupError);
    expect(failure.message).toBe('the unique index grants.grantToken cannot be built in MongoDB database hsm_kms: documents in grants already share its key; remove or merge the duplicates, then start hsm-kms again');
    expect(failure.message).not.toContain('secret-token');
  });

  it('lets any other server error through as it is', async () => {
    const unauthorized = new MongoServerError({ message: 'not authorized on hsm_kms to execute command { createIndexes: ... }', code: 13, ok: 0 });
    await expect(ensureStoreIndexes(fakeDb({}, {}, { keys: unauthorized }))).rejects.toBe(unauthorized);
  });
});
