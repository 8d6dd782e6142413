// `npm run test:unit`: the unit layer only (core with fakes, auth, lint boundaries), with the
// settings of package.json's jest config but without its global setup, which makes the run's
// SoftHSM token pool: no unit test touches a token. `npm test` still runs everything.
import { readFileSync } from 'node:fs';
import path from 'node:path';

const { globalSetup: _setup, globalTeardown: _teardown, ...shared } = JSON.parse(readFileSync(path.join(import.meta.dirname, 'package.json'), 'utf8')).jest;

export default { ...shared, roots: ['<rootDir>/test/unit'] };
