// `npm run test:mongo`: the MongoDB suites and the API suite on MongoDB (jest.mongo.config.mjs),
// against the replica set named by KMS_TEST_MONGODB_URI. Without it there is nothing to run
// against, and the run is skipped with a message and exit code 0: no MongoDB server can be
// installed on the CI machines here. Extra arguments go to jest (e.g. a test file or -t).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..', '..');

if (!process.env.KMS_TEST_MONGODB_URI) {
  console.log('test:mongo: KMS_TEST_MONGODB_URI is not set: skipped (CI here has no MongoDB server)');
  process.exit(0);
}

// What `npm test` runs first: SoftHSM and its module, which the API suite's token pool needs.
const setup = spawnSync('sh', [path.join(root, 'hsm', 'dev-setup.sh')], { cwd: root, stdio: 'inherit' });
if (setup.status !== 0) process.exit(setup.status ?? 1);

const jest = createRequire(import.meta.url).resolve('jest/bin/jest');
const run = spawnSync(process.execPath, [jest, '--config', path.join(root, 'jest.mongo.config.mjs'), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, KMS_TEST_STORE: 'mongo' },
});
process.exit(run.status ?? 1);
