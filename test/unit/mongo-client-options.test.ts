// The MongoClient settings the store relies on, read back from a real driver client that is never
// connected (port 1 answers nobody): a dropped or misspelt option fails here, as does a
// connection string that would weaken one. The driver's own precedence between the options
// object and the connection string is pinned too, since the refusal rests on it.
import { BSON, MongoClient, type MongoClientOptions } from 'mongodb';
import { conflictingUriOptions, createMongoClient, mongoClientOptions, weakenedClientOptions } from '../../src/store/mongo/client-options';
import { MongoStore, MongoStoreSetupError } from '../../src/store/mongo';

const URI = 'mongodb://127.0.0.1:1/kms';

/** The store's settings as the driver resolved them, at client, database and collection level. */
function settingsOf(client: MongoClient) {
  const { options } = client;
  const collection = client.db('kms').collection('keys');
  return {
    ignoreUndefined: client.bsonOptions.ignoreUndefined,
    writeConcern: { w: options.writeConcern?.w, wtimeoutMS: options.writeConcern?.wtimeoutMS, journal: options.writeConcern?.journal },
    readConcern: options.readConcern?.level,
    collectionWriteConcern: collection.writeConcern?.w,
    collectionReadConcern: collection.readConcern?.level,
    retryWrites: options.retryWrites,
    retryReads: options.retryReads,
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS,
    connectTimeoutMS: options.connectTimeoutMS,
    waitQueueTimeoutMS: options.waitQueueTimeoutMS,
    socketTimeoutMS: options.socketTimeoutMS,
  };
}

const EXPECTED = {
  ignoreUndefined: true,
  writeConcern: { w: 'majority', wtimeoutMS: 10_000, journal: undefined },
  readConcern: 'majority',
  collectionWriteConcern: 'majority',
  collectionReadConcern: 'majority',
  retryWrites: true,
  retryReads: true,
  serverSelectionTimeoutMS: 5000,
  connectTimeoutMS: 10_000,
  waitQueueTimeoutMS: 10_000,
  socketTimeoutMS: 0,
};

async function withClient<T>(uri: string, options: MongoClientOptions, read: (client: MongoClient) => T): Promise<T> {
  const client = new MongoClient(uri, options);
  try {
    return read(client);
  } finally {
    await client.close();
  }
}

describe('mongoClientOptions()', () => {
  it('makes a client that carries every setting the store relies on', async () => {
    expect(await withClient(URI, mongoClientOptions(), settingsOf)).toEqual(EXPECTED);
    expect(await withClient(URI, mongoClientOptions(), weakenedClientOptions)).toEqual([]);
  });

  it('is what the check catches when an option is dropped or changed', async () => {
    const { readConcern: _readConcern, ignoreUndefined: _ignoreUndefined, ...dropped } = mongoClientOptions();
    const weaker = { ...dropped, writeConcern: { w: 1 }, retryWrites: false, serverSelectionTimeoutMS: 30_000 };
    const settings = await withClient(URI, weaker, settingsOf);
    expect(settings).not.toEqual(EXPECTED);
    expect(await withClient(URI, weaker, weakenedClientOptions)).toEqual([
      'write concern w is 1, not majority',
      'write concern wtimeoutMS is undefined, not 10000',
      'read concern is undefined, not majority',
      'retryWrites is off',
      'ignoreUndefined is off',
      'serverSelectionTimeoutMS is 30000, not 5000',
    ]);
  });

  it('a misspelt option is refused by the driver, not ignored', () => {
    expect(() => new MongoClient(URI, { ...mongoClientOptions(), retryWrite: true } as MongoClientOptions)).toThrow(/retrywrite is not supported/i);
  });

  it('ignoreUndefined: an undefined field is left out of the stored document, not stored as null', async () => {
    const stored = await withClient(URI, mongoClientOptions(), (client) => BSON.deserialize(BSON.serialize({ keyId: 'k', deletionDate: undefined }, client.bsonOptions)));
    expect(stored).toEqual({ keyId: 'k' });
    expect('deletionDate' in stored).toBe(false);
    // Without it the driver would store null, and { deletionDate: { $exists: false } } would stop matching.
    const { ignoreUndefined: _ignoreUndefined, ...without } = mongoClientOptions();
    expect(await withClient(URI, without, (client) => BSON.deserialize(BSON.serialize({ keyId: 'k', deletionDate: undefined }, client.bsonOptions)))).toEqual({ keyId: 'k', deletionDate: null });
  });
});

describe('the driver\'s precedence between our options and the connection string (mongodb 7.9)', () => {
  const resolved = (query: string) => withClient(`${URI}?${query}`, mongoClientOptions(), settingsOf);

  it('the options object wins where both give the same option', async () => {
    expect((await resolved('w=1')).writeConcern.w).toBe('majority');
    expect((await resolved('w=0&wtimeoutMS=0')).writeConcern).toEqual({ w: 'majority', wtimeoutMS: 10_000, journal: undefined });
    expect(await resolved('retryWrites=false&retryReads=false&ignoreUndefined=false')).toMatchObject({ retryWrites: true, retryReads: true, ignoreUndefined: true });
    expect((await resolved('serverSelectionTimeoutMS=30000')).serverSelectionTimeoutMS).toBe(5000);
  });

  it('the connection string wins where it names the setting differently: readConcernLevel, journal, j, wtimeout', async () => {
    expect((await resolved('readConcernLevel=local')).readConcern).toBe('local');
    expect((await resolved('readConcernLevel=local')).collectionReadConcern).toBe('local');
    expect((await resolved('journal=false')).writeConcern.journal).toBe(false);
    expect((await resolved('j=false')).writeConcern.journal).toBe(false);
    expect((await resolved('wtimeout=5')).writeConcern.wtimeoutMS).toBe(5);
  });
});

describe('a connection string that would weaken the settings', () => {
  it.each([
    ['w=1', 'w=1 (hsm-kms needs majority)'],
    ['w=0', 'w=0 (hsm-kms needs majority)'],
    ['readConcernLevel=local', 'readConcernLevel=local (hsm-kms needs majority)'],
    ['READCONCERNLEVEL=available', 'READCONCERNLEVEL=available (hsm-kms needs majority)'],
    ['journal=false', 'journal=false (hsm-kms needs true or unset)'],
    ['j=false', 'j=false (hsm-kms needs true or unset)'],
    ['wtimeout=5', 'wtimeout=5 (hsm-kms needs 10000)'],
    ['retryWrites=false', 'retryWrites=false (hsm-kms needs true)'],
    ['wtimeoutMS=0', 'wtimeoutMS=0 (hsm-kms needs 10000)'],
    ['serverSelectionTimeoutMS=30000', 'serverSelectionTimeoutMS=30000 (hsm-kms needs 5000)'],
  ])('%s is refused at start-up, naming it', (query, named) => {
    expect(conflictingUriOptions(`${URI}?replicaSet=rs0&${query}`)).toEqual([named]);
    expect(() => createMongoClient(`${URI}?${query}`)).toThrow(MongoStoreSetupError);
    expect(() => createMongoClient(`${URI}?${query}`)).toThrow(`the connection string sets ${named}`);
  });

  it('the same values as ours, journal=true and unrelated options are accepted (an Atlas string carries retryWrites=true&w=majority)', async () => {
    const uri = 'mongodb://h1:27017,h2:27017/kms?replicaSet=rs0&retryWrites=true&w=majority&readConcernLevel=majority&journal=true&appName=kms&maxPoolSize=50';
    expect(conflictingUriOptions(uri)).toEqual([]);
    const client = createMongoClient(uri);
    try {
      expect(settingsOf(client)).toEqual({ ...EXPECTED, writeConcern: { ...EXPECTED.writeConcern, journal: true } });
    } finally {
      await client.close();
    }
  });

  it('the refusal names the options, never the connection string and its password', () => {
    let refusal: Error | undefined;
    try {
      createMongoClient('mongodb://kms:s3cret-pass@127.0.0.1:1/kms?w=1&readConcernLevel=local');
    } catch (e) {
      refusal = e as Error;
    }
    expect(refusal?.message).toBe('the connection string sets w=1 (hsm-kms needs majority), readConcernLevel=local (hsm-kms needs majority); '
      + 'hsm-kms sets these options itself (see "MongoDB client options" in the README): remove them from the connection string');
    expect(refusal?.message).not.toContain('s3cret-pass');
  });

  it('MongoStore.init refuses it before trying to connect', async () => {
    const started = Date.now();
    const store = new MongoStore(`${URI}?w=1`);
    await expect(store.init()).rejects.toThrow(MongoStoreSetupError);
    // A connection attempt would have waited out the 5 s server selection timeout against port 1.
    expect(Date.now() - started).toBeLessThan(4000);
  });
});
