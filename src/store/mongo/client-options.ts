// The MongoClient options the store relies on, in one place, and the client made with them.
//
// Precedence in the driver (mongodb 7.9, checked in test/unit/mongo-client-options.test.ts): an
// option given both in the options object and in the connection string takes the object's value,
// but options that set the same thing under different names are applied in the driver's own
// order, so `readConcernLevel=local` in the URI overrides our `readConcern` object, `wtimeout=5`
// our `wtimeoutMS`, and `journal=false` survives our `writeConcern`. Rather than depend on that order, a connection
// string that sets any option this module owns to another value is refused at start-up with a
// message naming it, and the client's resolved options are checked again after it is made.
import { MongoClient } from 'mongodb';
import type { MongoClientOptions } from 'mongodb';
import { MongoStoreSetupError } from './setup-error';

/** A server that cannot be reached is reported within seconds, not after the driver's 30 s default. */
export const SERVER_SELECTION_TIMEOUT_MS = 5000;
/** TCP, TLS and the MongoDB handshake of one new connection. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** How long a write waits for a majority of the replica set to acknowledge it. */
export const WRITE_CONCERN_TIMEOUT_MS = 10_000;
/** How long an operation waits for a free pooled connection. */
export const WAIT_QUEUE_TIMEOUT_MS = 10_000;

/** Every MongoClient option the store relies on. MongoStore.init() makes its client with exactly these. */
export function mongoClientOptions(): MongoClientOptions {
  return {
    // An absent optional field stays absent instead of being stored as null: records are compared
    // whole, and a query on { field: { $exists: false } } must keep matching.
    ignoreUndefined: true,
    // A write is acknowledged once a majority of the replica set has it, so a failover cannot roll
    // back a key, grant or audit record a caller was told exists. Without a wtimeout a write would
    // wait forever while the majority is down; with it the call fails (the write may still have
    // been applied on the primary, as after any lost reply: crash recovery handles that case).
    writeConcern: { w: 'majority', wtimeoutMS: WRITE_CONCERN_TIMEOUT_MS },
    // Reads see only majority-committed data, never a write that a failover could roll back.
    readConcern: { level: 'majority' },
    // One automatic retry of a write or read interrupted by a failover or a network error.
    // Retried writes are applied once (the server deduplicates them by transaction number).
    retryWrites: true,
    retryReads: true,
    serverSelectionTimeoutMS: SERVER_SELECTION_TIMEOUT_MS,
    connectTimeoutMS: CONNECT_TIMEOUT_MS,
    waitQueueTimeoutMS: WAIT_QUEUE_TIMEOUT_MS,
    // No socket timeout (the driver's default, stated here because it is a decision): it would
    // cut legitimately long operations, an index build at start-up or a large audit prune. A
    // server that stops answering is still detected: the monitor's heartbeat times out after
    // connectTimeoutMS plus heartbeatFrequencyMS and interrupts the connections in use.
    // timeoutMS is not used: the driver made it a no-op in 7.8.
    socketTimeoutMS: 0,
  };
}

interface OwnedOption {
  /** As hsm-kms needs it, for the message. */
  needs: string;
  /** Whether a value the connection string gives is one hsm-kms can run with. */
  accepts(value: string): boolean;
}

const exactly = (needed: number | string): OwnedOption => ({ needs: String(needed), accepts: (value) => value.toLowerCase() === String(needed).toLowerCase() });

/**
 * The connection-string options that set what mongoClientOptions() sets, by lower-case name (the
 * driver reads them case-insensitively). The same value is accepted (Atlas strings carry
 * `retryWrites=true&w=majority`); any other is refused. `journal=true` only strengthens the write
 * concern, so only `false` is refused there.
 */
const OWNED_URI_OPTIONS: Readonly<Record<string, OwnedOption>> = {
  w: exactly('majority'),
  wtimeoutms: exactly(WRITE_CONCERN_TIMEOUT_MS),
  wtimeout: exactly(WRITE_CONCERN_TIMEOUT_MS),
  journal: { needs: 'true or unset', accepts: (value) => value.toLowerCase() !== 'false' },
  j: { needs: 'true or unset', accepts: (value) => value.toLowerCase() !== 'false' },
  readconcernlevel: exactly('majority'),
  retrywrites: exactly('true'),
  retryreads: exactly('true'),
  ignoreundefined: exactly('true'),
  serverselectiontimeoutms: exactly(SERVER_SELECTION_TIMEOUT_MS),
  connecttimeoutms: exactly(CONNECT_TIMEOUT_MS),
  waitqueuetimeoutms: exactly(WAIT_QUEUE_TIMEOUT_MS),
  sockettimeoutms: exactly(0),
};

/** The connection string's options that contradict what the store needs, as "name=value (hsm-kms needs …)". */
export function conflictingUriOptions(uri: string): string[] {
  const query = uri.split('?')[1]?.split('#')[0] ?? '';
  const conflicts: string[] = [];
  for (const [name, value] of new URLSearchParams(query)) {
    const owned = OWNED_URI_OPTIONS[name.toLowerCase()];
    if (owned && !owned.accepts(value)) conflicts.push(`${name}=${value} (hsm-kms needs ${owned.needs})`);
  }
  return conflicts;
}

/** Where the client's resolved options fall short of mongoClientOptions(), whatever set them. */
export function weakenedClientOptions(client: MongoClient): string[] {
  const { writeConcern, readConcern, retryWrites, retryReads, serverSelectionTimeoutMS, connectTimeoutMS, waitQueueTimeoutMS, socketTimeoutMS } = client.options;
  const weakened: string[] = [];
  if (writeConcern?.w !== 'majority') weakened.push(`write concern w is ${String(writeConcern?.w)}, not majority`);
  if (writeConcern?.wtimeoutMS !== WRITE_CONCERN_TIMEOUT_MS) weakened.push(`write concern wtimeoutMS is ${String(writeConcern?.wtimeoutMS)}, not ${WRITE_CONCERN_TIMEOUT_MS}`);
  if (writeConcern?.journal === false) weakened.push('write concern journal is false');
  if (readConcern?.level !== 'majority') weakened.push(`read concern is ${String(readConcern?.level)}, not majority`);
  if (retryWrites !== true) weakened.push('retryWrites is off');
  if (retryReads !== true) weakened.push('retryReads is off');
  if (client.bsonOptions.ignoreUndefined !== true) weakened.push('ignoreUndefined is off');
  const timeouts = { serverSelectionTimeoutMS: [serverSelectionTimeoutMS, SERVER_SELECTION_TIMEOUT_MS], connectTimeoutMS: [connectTimeoutMS, CONNECT_TIMEOUT_MS], waitQueueTimeoutMS: [waitQueueTimeoutMS, WAIT_QUEUE_TIMEOUT_MS], socketTimeoutMS: [socketTimeoutMS, 0] };
  for (const [name, [actual, needed]] of Object.entries(timeouts)) {
    if (actual !== needed) weakened.push(`${name} is ${String(actual)}, not ${String(needed)}`);
  }
  return weakened;
}

/**
 * The store's client for `uri`, not yet connected. Throws MongoStoreSetupError when the
 * connection string contradicts mongoClientOptions(), naming the options (never the string,
 * which may carry a password).
 */
export function createMongoClient(uri: string): MongoClient {
  const conflicts = conflictingUriOptions(uri);
  if (conflicts.length > 0) {
    throw new MongoStoreSetupError(`the connection string sets ${conflicts.join(', ')}; hsm-kms sets these options itself (see "MongoDB client options" in the README): remove ${conflicts.length === 1 ? 'it' : 'them'} from the connection string`);
  }
  const client = new MongoClient(uri, mongoClientOptions());
  const weakened = weakenedClientOptions(client);
  if (weakened.length > 0) {
    throw new MongoStoreSetupError(`the MongoDB client would run with weaker settings than hsm-kms needs: ${weakened.join('; ')}; check the connection string's options`);
  }
  return client;
}
