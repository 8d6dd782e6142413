// Runs the repository contracts against MongoStore. The server is KMS_TEST_MONGODB_URI when set,
// otherwise a throwaway mongod from mongodb-memory-server if it can obtain a binary. Without
// either the suite is skipped, visibly: no MongoDB server can be installed on our CI machines,
// and a suite that silently passed there would claim coverage it does not have.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { MongoMemoryReplSet, MongoMemoryServer } from 'mongodb-memory-server-core';
import { MongoStore } from '../../src/store/mongo';
import { describeAliasRepositoryContract } from './alias-repository.contract';
import { describeAuditRepositoryContract } from './audit-repository.contract';
import { describeCustomKeyStoreRepositoryContract } from './custom-key-store-repository.contract';
import { describeExternalKeyRepositoryContract } from './external-key-repository.contract';
import { describeGrantRepositoryContract } from './grant-repository.contract';
import { describeLeaseRepositoryContract } from './lease-repository.contract';
import { describeKeyRepositoryContract } from './key-repository.contract';
import type { StoreContractOptions, StoreFactory } from './metadata-fixtures';

const SKIP_TITLE = 'SKIPPED: no MongoDB (set KMS_TEST_MONGODB_URI)';
/** How long finding (and possibly downloading) a mongod binary may take before we give up. */
const BINARY_PROBE_TIMEOUT_MS = 20_000;
const SERVER_START_TIMEOUT_MS = 60_000;

type MongoSource =
  | { kind: 'uri'; uri: string }
  | { kind: 'memory-server'; binaryPath: string }
  | { kind: 'unavailable'; reason: string };

/**
 * Jest registers tests synchronously, so whether to run or skip must be known before any async
 * work. The binary search therefore runs in a child process that we can wait for, and kill when it
 * overruns: mongodb-memory-server downloads the binary when it is not cached, which fails or
 * hangs on a machine without network access.
 */
function findMongo(): MongoSource {
  const uri = process.env.KMS_TEST_MONGODB_URI;
  if (uri) return { kind: 'uri', uri };

  const probe = `
    const { MongoBinary } = require('mongodb-memory-server-core');
    const { execFileSync } = require('node:child_process');
    MongoBinary.getPath()
      .then((binaryPath) => {
        execFileSync(binaryPath, ['--version'], { stdio: 'ignore', timeout: 10000 }); // it must also run here
        process.stdout.write(binaryPath);
      })
      .catch((e) => { process.stderr.write(String((e && e.message) || e)); process.exit(1); });`;
  const result = spawnSync(process.execPath, ['-e', probe], {
    cwd: path.resolve(__dirname, '..', '..'),
    encoding: 'utf8',
    timeout: BINARY_PROBE_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  if (result.error) return { kind: 'unavailable', reason: `binary probe failed: ${result.error.message}` };
  if (result.status !== 0) {
    const firstLines = result.stderr.trim().split('\n').slice(0, 2).join(' ');
    return { kind: 'unavailable', reason: `mongodb-memory-server has no binary: ${firstLines}` };
  }
  return { kind: 'memory-server', binaryPath: result.stdout.trim() };
}

interface RunningServer {
  uri: string;
  stop(): Promise<void>;
}

/** A one-node replica set, so keys.delete's transaction path is exercised; a standalone if that fails. */
async function startMemoryServer(binaryPath: string): Promise<RunningServer> {
  const binary = { systemBinary: binaryPath };
  const replSet = new MongoMemoryReplSet({ binary, replSet: { count: 1, storageEngine: 'wiredTiger' } });
  try {
    await replSet.start();
    return { uri: replSet.getUri(), stop: async () => { await replSet.stop(); } };
  } catch (e) {
    await replSet.stop().catch(() => undefined);
    console.warn(`MongoMemoryReplSet did not start (${String(e)}); using a standalone mongod, so keys.delete runs without a transaction`);
  }
  const server = await MongoMemoryServer.create({ binary });
  return { uri: server.getUri(), stop: async () => { await server.stop(); } };
}

const source = findMongo();

if (source.kind === 'unavailable') {
  // Straight to stderr: jest drops the buffered console output of a file whose tests are all skipped.
  process.stderr.write(
    `\n${'!'.repeat(72)}\n  MongoStore contract suites ${SKIP_TITLE}\n  ${source.reason}\n${'!'.repeat(72)}\n\n`,
  );
  describe('Repository contracts: MongoStore', () => {
    test.skip(`${SKIP_TITLE}: ${source.reason.slice(0, 160)}`, () => undefined);
  });
} else {
  describe(`MongoStore on ${source.kind === 'uri' ? 'KMS_TEST_MONGODB_URI' : 'mongodb-memory-server'}`, () => {
    // One database for this run, unique so runs sharing a server cannot collide; emptied after each test.
    const dbName = `kms_contract_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
    let server: RunningServer | undefined;
    let uri = '';
    let admin: MongoClient | undefined;

    beforeAll(async () => {
      if (source.kind === 'uri') {
        uri = source.uri;
      } else {
        server = await startMemoryServer(source.binaryPath);
        uri = server.uri;
      }
      // A short server selection timeout, so a wrong or unreachable URI fails the suite quickly.
      admin = await MongoClient.connect(uri, { serverSelectionTimeoutMS: 10_000 });
    }, SERVER_START_TIMEOUT_MS);

    afterAll(async () => {
      try {
        await admin?.db(dbName).dropDatabase();
      } finally {
        await admin?.close();
        await server?.stop();
      }
    });

    const factory: StoreFactory = async () => new MongoStore(uri, dbName);
    const options: StoreContractOptions = {
      reopen: async () => new MongoStore(uri, dbName),
      cleanup: async () => {
        await admin?.db(dbName).dropDatabase();
      },
    };
    describeKeyRepositoryContract('MongoStore', factory, options);
    describeAliasRepositoryContract('MongoStore', factory, options);
    describeGrantRepositoryContract('MongoStore', factory, options);
    describeLeaseRepositoryContract('MongoStore', factory, options);
    describeExternalKeyRepositoryContract('MongoStore', factory, options);
    describeCustomKeyStoreRepositoryContract('MongoStore', factory, options);
    describeAuditRepositoryContract('MongoStore', factory, options);
  });
}
