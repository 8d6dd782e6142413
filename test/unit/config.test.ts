// Configuration by section: a command asks only for what it needs, and secrets never print.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, loadConfigSections, MAX_WORKERS, redactedConfig, WORKER_ALONE_VARIABLE, WORKER_INDEX_VARIABLE, workerRoleFrom } from '../../src/config';

let dataDir: string;
beforeAll(() => { dataDir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-config-')); });
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

it('loads the store section alone without a PIN or root credentials', () => {
  const env = { KMS_DATA_DIR: dataDir, KMS_METADATA_URI: 'mongodb://user:pw@db.example:27017/kms' };
  const config = loadConfigSections(['store'], env);
  expect(config).toEqual({ dataDir, metadataUri: 'mongodb://user:pw@db.example:27017/kms' });
  expect(Object.isFrozen(config)).toBe(true);
  // The whole configuration needs the token PIN, which this environment lacks.
  expect(() => loadConfig(env)).toThrow(ConfigError);
  expect(() => loadConfigSections(['store', 'token'], env)).toThrow(/no token PIN/);
});

it('loads every section for the server, with defaults, and redacts its secrets when printed', () => {
  const env = {
    KMS_DATA_DIR: dataDir, KMS_PIN: '12345678', KMS_ROOT_ACCESS_KEY_ID: 'AKIAEXAMPLE', KMS_ROOT_SECRET_ACCESS_KEY: 'very-secret',
    KMS_METADATA_URI: 'mongodb://user:pw@db.example:27017/kms',
  };
  const config = loadConfig(env);
  expect(config).toMatchObject({ host: '127.0.0.1', port: 8080, accountId: '111122223333', region: 'us-east-1', sessionPoolSize: 8, logLevel: 'info' });
  const printed = JSON.stringify(redactedConfig(config));
  for (const secret of ['12345678', 'very-secret', ':pw@']) expect(printed).not.toContain(secret);
  expect(JSON.stringify(redactedConfig(loadConfigSections(['store'], env)))).not.toContain(':pw@');
});

it('validates each section it loads, and only those', () => {
  expect(() => loadConfigSections(['identity'], { KMS_DATA_DIR: dataDir, KMS_ACCOUNT_ID: '12', KMS_ROOT_ACCESS_KEY_ID: 'a', KMS_ROOT_SECRET_ACCESS_KEY: 'b' })).toThrow(/12 digits/);
  expect(loadConfigSections(['server'], { KMS_ACCOUNT_ID: '12', KMS_PORT: '9000' })).toEqual({
    host: '127.0.0.1', port: 9000, maxBodyBytes: 262144, instanceId: `${hostname()}:9000`, workers: Math.min(availableParallelism(), MAX_WORKERS),
  });
});

it('KMS_WORKERS: one worker per core unless set, 1 to 64, said in one sentence otherwise', () => {
  expect(loadConfigSections(['server'], {}).workers).toBe(Math.min(availableParallelism(), 64));
  expect(loadConfigSections(['server'], { KMS_WORKERS: '1' }).workers).toBe(1);
  expect(loadConfigSections(['server'], { KMS_WORKERS: '64' }).workers).toBe(64);
  for (const wrong of ['0', '65', '2.5', 'many', '-1']) {
    expect(() => loadConfigSections(['server'], { KMS_WORKERS: wrong })).toThrow(new ConfigError('KMS_WORKERS must be an integer between 1 and 64'));
  }
});

it('a worker learns its index, and whether it starts alone, from the environment its primary gives it', () => {
  expect(workerRoleFrom({ [WORKER_INDEX_VARIABLE]: '0', [WORKER_ALONE_VARIABLE]: '1' })).toEqual({ index: 0, startsAlone: true });
  expect(workerRoleFrom({ [WORKER_INDEX_VARIABLE]: '3', [WORKER_ALONE_VARIABLE]: '0' })).toEqual({ index: 3, startsAlone: false });
  expect(() => workerRoleFrom({})).toThrow(ConfigError);
});
