// Start-up mistakes an operator makes, each answered in one plain sentence and a non-zero exit,
// and never by retrying a refused PIN.
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../support/service';
import { createTestToken, type TestToken } from '../support/softhsm';
import { startChildService } from '../support/child-service';

let token: TestToken;
let dataDir: string;
beforeAll(() => { token = createTestToken('startup'); });
beforeEach(() => { dataDir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-startup-')); });
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const envFor = (overrides: Record<string, string> = {}) => ({
  KMS_DATA_DIR: dataDir, KMS_TOKEN_LABEL: token.label, KMS_PIN: token.pin, KMS_PORT: '0',
  KMS_ROOT_ACCESS_KEY_ID: ROOT.accessKeyId, KMS_ROOT_SECRET_ACCESS_KEY: ROOT.secretAccessKey, ...overrides,
});

it('a port already in use is said plainly, with a non-zero exit', async () => {
  const blocker: Server = await new Promise((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => resolve(s)); });
  try {
    const port = (blocker.address() as { port: number }).port;
    const { code, stderr, stdout } = await startChildService(envFor({ KMS_PORT: String(port) })).exited;
    expect(code).not.toBe(0);
    expect(stderr).toContain(`KMS_HOST/KMS_PORT 127.0.0.1:${port} is already in use`);
    expect(stdout).not.toContain('"message":"listening"');
  } finally {
    blocker.close();
  }
}, 60_000);

it('a PIN the token refused is never tried again automatically.', async () => {
  const first = await startChildService(envFor({ KMS_PIN: 'wrong-pin-0000' })).exited;
  expect(first.code).toBe(78);
  expect(first.stderr).toContain(`token '${token.label}' refused the PIN (CKR_PIN_INCORRECT)`);
  expect(first.stderr).not.toContain('wrong-pin-0000');
  const marker = path.join(dataDir, 'pin-refused');
  expect(existsSync(marker)).toBe(true);
  // A restart, even with the right PIN, does not log in until an operator removes the marker.
  const second = await startChildService(envFor()).exited;
  expect(second.code).toBe(78);
  expect(second.stderr).toContain(`refused the PIN at an earlier start; fix KMS_PIN or KMS_PIN_FILE, then delete ${marker}`);
  rmSync(marker);
  const third = startChildService(envFor());
  expect(await third.listening).toBeGreaterThan(0);
  third.process.kill('SIGTERM');
  expect((await third.exited).code).toBe(0);
}, 90_000);

it('a data directory that cannot hold the store is named in one sentence', async () => {
  const file = path.join(dataDir, 'not-a-directory');
  writeFileSync(file, 'x');
  const { code, stderr } = await startChildService(envFor({ KMS_DATA_DIR: path.join(file, 'data') })).exited;
  expect(code).not.toBe(0);
  expect(stderr).toMatch(new RegExp(`KMS_DATA_DIR ${path.join(file, 'data')}: the metadata store cannot be opened or written there \\(ENOTDIR\\)`));
}, 60_000);

it('an unreachable MongoDB is named within seconds', async () => {
  const started = Date.now();
  const { code, stderr } = await startChildService(envFor({ KMS_METADATA_URI: 'mongodb://user:secret@127.0.0.1:1/kms' })).exited;
  expect(code).not.toBe(0);
  expect(stderr).toContain('KMS_METADATA_URI: no MongoDB server answered at 127.0.0.1:1');
  expect(stderr).not.toContain('secret');
  expect(Date.now() - started).toBeLessThan(20_000);
}, 60_000);

it('a MongoDB connection string that would weaken the write or read concern is refused, naming the option', async () => {
  const { code, stderr } = await startChildService(envFor({ KMS_METADATA_URI: 'mongodb://user:secret@127.0.0.1:1/kms?w=1&readConcernLevel=local' })).exited;
  expect(code).not.toBe(0);
  // Refused before any connection attempt, and not mistaken for an unreachable server.
  expect(stderr).toContain('KMS_METADATA_URI: the connection string sets w=1 (hsm-kms needs majority), readConcernLevel=local (hsm-kms needs majority)');
  expect(stderr).not.toContain('no MongoDB server answered');
  expect(stderr).not.toContain('secret');
}, 60_000);

it('creates metadata.sqlite readable by its owner only', async () => {
  const child = startChildService(envFor());
  await child.listening;
  try {
    expect(statSync(path.join(dataDir, 'metadata.sqlite')).mode & 0o777).toBe(0o600);
  } finally {
    child.process.kill('SIGTERM');
    await child.exited;
  }
}, 60_000);

it('the test-suite conveniences are refused unless the KMS endpoint listens on a loopback address.', async () => {
  for (const [variables, named] of [
    [{ KMS_DEV_ANY_CREDENTIALS: 'on' }, 'KMS_DEV_ANY_CREDENTIALS is'],
    [{ KMS_DEV_RESET: 'on' }, 'KMS_DEV_RESET is'],
    [{ KMS_DEV_ANY_CREDENTIALS: 'on', KMS_DEV_RESET: 'on' }, 'KMS_DEV_ANY_CREDENTIALS and KMS_DEV_RESET are'],
  ] as const) {
    const { code, stderr, stdout } = await startChildService(envFor({ KMS_HOST: '0.0.0.0', ...variables })).exited;
    expect(code).toBe(2);
    expect(stderr).toContain(`configuration error: ${named} for test suites on one machine: KMS_HOST 0.0.0.0 is not a loopback address (127.0.0.0/8, ::1, localhost)`);
    expect(stdout).not.toContain('"message":"listening"');
  }
  // On loopback both start, and the reset answers.
  const child = startChildService(envFor({ KMS_HOST: '127.0.0.1', KMS_DEV_ANY_CREDENTIALS: 'on', KMS_DEV_RESET: 'on' }));
  const port = await child.listening;
  expect((await fetch(`http://127.0.0.1:${port}/moto-api/reset`, { method: 'POST' })).status).toBe(200);
  child.process.kill('SIGTERM');
  expect((await child.exited).code).toBe(0);
}, 90_000);
