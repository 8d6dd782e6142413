// The container's way in: docker/make-secrets.sh writes the root credentials and the token PIN as
// files, compose mounts them as Docker secrets, and the entrypoint's dev-setup run makes the dev
// token with that PIN. Run here with the same script and variables, minus Docker.
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startChildService } from '../support/child-service';

const repo = path.join(__dirname, '..', '..');
let work: string;
beforeEach(() => { work = mkdtempSync(path.join(tmpdir(), 'hsm-kms-container-')); });
afterEach(() => rmSync(work, { recursive: true, force: true }));

it('the service runs on the root credentials and token PIN given as secret files, with none in its environment', async () => {
  copyFileSync(path.join(repo, 'docker', 'make-secrets.sh'), path.join(work, 'make-secrets.sh'));
  execFileSync('sh', [path.join(work, 'make-secrets.sh')]);
  const secrets = path.join(work, 'secrets');
  const dataDir = path.join(work, 'data');
  const env = {
    KMS_DATA_DIR: dataDir, KMS_TOKEN_LABEL: 'hsm-kms-container', KMS_PIN_FILE: path.join(secrets, 'token-pin'),
    KMS_ROOT_CREDENTIALS_FILE: path.join(secrets, 'root-credentials.json'), KMS_PROVISION_DEV_TOKEN: '1',
    // The container's own SoftHSM configuration in the data directory, not the test suite's.
    SOFTHSM2_CONF: '', KMS_ROOT_ACCESS_KEY_ID: '', KMS_ROOT_SECRET_ACCESS_KEY: '', KMS_PIN: '',
  };
  const pin = readFileSync(env.KMS_PIN_FILE, 'utf8');
  const setup = () => execFileSync('sh', [path.join(repo, 'hsm', 'dev-setup.sh')], { env: { ...process.env, ...env, KMS_SKIP_NPM: '1' }, encoding: 'utf8' });
  const first = setup();
  expect(first).toMatch(/initialising SoftHSM token 'hsm-kms-container'/);
  expect(first).not.toContain(pin);
  // The PIN stays in the secret; no generated PIN or credentials file competes with it.
  expect(existsSync(path.join(dataDir, 'dev-token.pin'))).toBe(false);
  expect(existsSync(path.join(dataDir, 'root-credentials.json'))).toBe(false);
  // A second start changes nothing.
  expect(setup()).toBe('');

  const credentials = JSON.parse(readFileSync(env.KMS_ROOT_CREDENTIALS_FILE, 'utf8')) as { accessKeyId: string; secretAccessKey: string };
  const child = startChildService({ ...env, KMS_PORT: '0' });
  const port = await child.listening;
  const kms = new KMSClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials, maxAttempts: 1 });
  try {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    expect(KeyMetadata?.Enabled).toBe(true);
    expect(child.logLines().map((l) => JSON.stringify(l)).join('\n')).not.toContain(credentials.secretAccessKey);
  } finally {
    kms.destroy();
    child.process.kill('SIGTERM');
    await child.exited;
  }
}, 120_000);
