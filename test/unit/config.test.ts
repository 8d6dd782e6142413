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
    adminHost: '127.0.0.1', tlsPollMs: 1000, tlsDevCert: false,
  });
});

it('the admin listener and TLS: off unless set, both TLS files or neither, the development certificate under the data directory', () => {
  const server = (env: Record<string, string>) => loadConfigSections(['server'], { KMS_DATA_DIR: dataDir, ...env });
  expect(server({})).not.toHaveProperty('adminPort');
  expect(server({})).not.toHaveProperty('tls');
  expect(server({ KMS_ADMIN_PORT: '9464', KMS_ADMIN_HOST: '10.0.0.5' })).toMatchObject({ adminPort: 9464, adminHost: '10.0.0.5' });
  expect(() => server({ KMS_ADMIN_PORT: '70000' })).toThrow('KMS_ADMIN_PORT must be an integer between 0 and 65535');
  expect(server({ KMS_TLS_CERT_FILE: '/etc/kms/cert.pem', KMS_TLS_KEY_FILE: '/etc/kms/key.pem', KMS_TLS_POLL_MS: '50' })).toMatchObject({
    tls: { certFile: '/etc/kms/cert.pem', keyFile: '/etc/kms/key.pem' }, tlsPollMs: 50, tlsDevCert: false,
  });
  expect(() => server({ KMS_TLS_CERT_FILE: '/etc/kms/cert.pem' })).toThrow('set both KMS_TLS_CERT_FILE and KMS_TLS_KEY_FILE, or neither');
  expect(server({ KMS_TLS_DEV_CERT: '1' })).toMatchObject({ tlsDevCert: true, tls: { certFile: path.join(dataDir, 'tls', 'server.pem'), keyFile: path.join(dataDir, 'tls', 'server.key') } });
  expect(() => server({ KMS_TLS_DEV_CERT: '1', KMS_TLS_CERT_FILE: '/a', KMS_TLS_KEY_FILE: '/b' })).toThrow(/KMS_TLS_DEV_CERT makes its own certificate/);
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

it('the test-suite conveniences: off unless on, on only with a loopback KMS_HOST, and a reset never with an audit export', () => {
  const dev = (env: Record<string, string>) => loadConfigSections(['dev'], env).dev;
  expect(dev({})).toEqual({ anyCredentials: false, reset: false });
  expect(dev({ KMS_DEV_ANY_CREDENTIALS: 'on' })).toEqual({ anyCredentials: true, reset: false });
  expect(dev({ KMS_DEV_RESET: 'ON', KMS_DEV_ANY_CREDENTIALS: 'off' })).toEqual({ anyCredentials: false, reset: true });
  expect(() => dev({ KMS_DEV_RESET: 'yes' })).toThrow(new ConfigError('KMS_DEV_RESET must be on or off'));
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(dev({ KMS_HOST: host, KMS_DEV_ANY_CREDENTIALS: 'on', KMS_DEV_RESET: 'on' })).toEqual({ anyCredentials: true, reset: true });
  for (const host of ['0.0.0.0', '::', '10.0.0.5', 'kms.example']) {
    expect(() => dev({ KMS_HOST: host, KMS_DEV_RESET: 'on' })).toThrow(`KMS_DEV_RESET is for test suites on one machine: KMS_HOST ${host} is not a loopback address`);
  }
  // Off, any host is fine.
  expect(dev({ KMS_HOST: '0.0.0.0' })).toEqual({ anyCredentials: false, reset: false });
  expect(() => dev({ KMS_DEV_RESET: 'on', KMS_AUDIT_EXPORT_DIR: '/var/audit' })).toThrow('KMS_DEV_RESET clears the audit trail, which KMS_AUDIT_EXPORT_DIR exports: unset one of them');
  expect(loadConfig({ KMS_DATA_DIR: dataDir, KMS_PIN: '1', KMS_ROOT_ACCESS_KEY_ID: 'a', KMS_ROOT_SECRET_ACCESS_KEY: 'b' }).dev).toEqual({ anyCredentials: false, reset: false });
});
