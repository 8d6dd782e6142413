// What a person sees starting the service in a terminal: one plain line saying where it answers
// and where the credentials are, not the JSON log (which a pipe still gets: every other test
// that starts a child service reads those lines). The terminal is a real pseudo-terminal.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readyLine, consoleLogLevel } from '../../src/ready-line';
import type { Config } from '../../src/config';
import { ROOT } from '../support/service';
import { createTestToken, type TestToken } from '../support/softhsm';

const repo = path.join(__dirname, '..', '..');
let token: TestToken;
let dataDir: string;
beforeAll(() => { token = createTestToken('first-run'); });
beforeEach(() => { dataDir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-first-run-')); });
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

/** Runs the service under `script`, which gives it a terminal, until `until` matches its output. */
function inTerminal(env: Record<string, string>, until: RegExp): Promise<string> {
  const command = [process.execPath, '-r', path.join(repo, 'test/support/ts-register.cjs'), path.join(repo, 'src/main.ts')].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    env: { PATH: process.env.PATH, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF, ...env }, detached: true, stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no match within 60 s:\n${output}`)), 60_000);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ }
      if (error) reject(error); else resolve(output);
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (until.test(output)) setTimeout(() => finish(), 300);
    });
    child.on('exit', () => finish(until.test(output) ? undefined : new Error(`exited:\n${output}`)));
  });
}

const envFor = (overrides: Record<string, string> = {}) => ({
  KMS_DATA_DIR: dataDir, KMS_TOKEN_LABEL: token.label, KMS_PIN: token.pin, KMS_PORT: '0',
  KMS_ROOT_ACCESS_KEY_ID: ROOT.accessKeyId, KMS_ROOT_SECRET_ACCESS_KEY: ROOT.secretAccessKey, ...overrides,
});

it('in a terminal, says "hsm-kms ready at http://…" and where the credentials are, instead of the JSON log', async () => {
  const output = await inTerminal(envFor(), /hsm-kms ready at http:\/\/127\.0\.0\.1:\d+/);
  expect(output).toMatch(/hsm-kms ready at http:\/\/127\.0\.0\.1:\d+ \(region us-east-1, account 111122223333; credentials: KMS_ROOT_ACCESS_KEY_ID and KMS_ROOT_SECRET_ACCESS_KEY\)/);
  // The info lines ("starting", "listening", …) stay out of the terminal.
  expect(output).not.toMatch(/"level":"info"/);
  expect(output).not.toContain(ROOT.secretAccessKey);
}, 90_000);

it('in a terminal with KMS_LOG_LEVEL set, the JSON log is shown as asked', async () => {
  const output = await inTerminal(envFor({ KMS_LOG_LEVEL: 'info' }), /hsm-kms ready at/);
  expect(output).toMatch(/"level":"info","message":"listening"/);
}, 90_000);

it('the ready line names the generated credentials file when the root credentials come from it, and the console level follows the terminal', () => {
  const config = { host: '127.0.0.1', dataDir: '/nonexistent', region: 'eu-west-1', accountId: '123456789012', logLevel: 'info' } as Config;
  expect(readyLine(config, 8080, {})).toBe('hsm-kms ready at http://127.0.0.1:8080 (region eu-west-1, account 123456789012; credentials: see KMS_ROOT_ACCESS_KEY_ID)');
  expect(readyLine({ ...config, host: '::1', tls: { certFile: 'c', keyFile: 'k' } } as Config, 8443, { KMS_ROOT_ACCESS_KEY_ID: 'AKIA' })).toMatch(/^hsm-kms ready at https:\/\/\[::1\]:8443 /);
  expect(consoleLogLevel(config, {}, true)).toBe('warn');
  expect(consoleLogLevel(config, { KMS_LOG_LEVEL: 'debug' }, true)).toBe('info');
  expect(consoleLogLevel(config, {}, false)).toBe('info');
});
