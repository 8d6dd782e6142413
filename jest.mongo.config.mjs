// `npm run test:mongo` (test/mongo/run.mjs): the suites that prove the MongoDB store, against the
// replica set named by KMS_TEST_MONGODB_URI, with the settings of package.json's jest config
// (its global setup makes the SoftHSM token pool the API suite needs). The runner sets
// KMS_TEST_STORE=mongo, which puts every test service (test/support/service.ts) on a fresh
// MongoDB database instead of the embedded store.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = import.meta.dirname;
const shared = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).jest;

/**
 * The MongoDB suites: the repository contracts on MongoStore, the transaction atomicity test (a
 * failure in the middle of a multi-document change leaves nothing behind) and the per-key limit
 * concurrency test. Add new MongoDB suites here. A file not written yet is left out rather than
 * failing the run, so the list can name suites before they land.
 */
export const MONGO_SUITES = [
  'test/contract/mongo-store.test.ts',
  'test/contract/mongo-transactions.test.ts',
  'test/contract/per-key-limits.test.ts',
];

/**
 * The API files left out: each reaches past the MetadataStore interface into the embedded store
 * (its SQLite file, an EmbeddedStore of its own, the data directory a child process opens), so on
 * MongoDB it would test nothing or fail for a reason that is not MongoDB's. Every other file in
 * test/api runs its services through startTestService and so runs on MongoDB here.
 */
export const EMBEDDED_ONLY_API_FILES = {
  'test/api/audit-cli.test.ts': 'the hsm-kms CLI runs on KMS_DATA_DIR (the embedded store), and the trail is tampered with in the SQLite file',
  'test/api/audit-trail.test.ts': 'one test reads the audit tables and the metadata.sqlite files to prove no secret is stored',
  'test/api/cloudhsm-key-stores.test.ts': 'one test reads the metadata.sqlite files in the service directory for PINs',
  'test/api/store-lock.test.ts': 'holds the SQLite write lock: a failure only the embedded store has',
  'test/api/xks-proxy.test.ts': "a second EmbeddedStore on the service's metadata.sqlite plays another instance",
  'test/api/xks-admin.test.ts': 'the admin CLI runs on KMS_DATA_DIR and its result is read with an EmbeddedStore',
  'test/api/metrics.test.ts': 'the server runs as a child process on KMS_DATA_DIR, the embedded store: nothing here reaches MongoDB',
  'test/api/startup-mistakes.test.ts': 'child processes on KMS_DATA_DIR, the embedded store: nothing here reaches MongoDB',
};

const escape = (file) => file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export default {
  ...shared,
  roots: ['<rootDir>/test'],
  testMatch: [
    '<rootDir>/test/api/**/*.test.ts',
    ...MONGO_SUITES.filter((file) => existsSync(path.join(root, file))).map((file) => `<rootDir>/${file}`),
  ],
  testPathIgnorePatterns: ['/node_modules/', ...Object.keys(EMBEDDED_ONLY_API_FILES).map((file) => `${escape(file)}$`)],
};
