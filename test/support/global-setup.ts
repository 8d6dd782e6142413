// Jest global setup: a throwaway SoftHSM configuration for this run, never a developer's
// token. Each test file makes its own token in it (see softhsm.ts).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * SoftHSM lists only the tokens present when the module initialises, so tokens are made up
 * front, before any test process loads it; test files claim them one by one (softhsm.ts).
 */
export const TOKEN_POOL_SIZE = 128;

export default async function globalSetup(): Promise<void> {
  const root = mkdtempSync(path.join(tmpdir(), 'hsm-kms-test-'));
  const tokenDir = path.join(root, 'tokens');
  mkdirSync(tokenDir);
  const conf = path.join(root, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  // Workers inherit these; the PKCS#11 module reads SOFTHSM2_CONF when it initialises.
  process.env.SOFTHSM2_CONF = conf;
  process.env.KMS_TEST_ROOT = root;

  const run = promisify(execFile);
  const tokens = Array.from({ length: TOKEN_POOL_SIZE }, (_, i) => ({ label: `pool-${String(i).padStart(3, '0')}`, pin: randomBytes(8).toString('hex') }));
  // One at a time: concurrent `--free` initialisations race for the same free slot.
  for (const { label, pin } of tokens) {
    await run('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', randomBytes(8).toString('hex'), '--pin', pin], { env: { ...process.env, SOFTHSM2_CONF: conf } });
  }
  writeFileSync(path.join(root, 'tokens.json'), JSON.stringify(tokens));
  mkdirSync(path.join(root, 'claimed'));
}
