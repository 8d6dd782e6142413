// Jest global setup: a throwaway SoftHSM configuration for this run, never a developer's
// token. Each test file makes its own token in it (see softhsm.ts).
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export default function globalSetup(): void {
  const root = mkdtempSync(path.join(tmpdir(), 'hsm-kms-test-'));
  const tokenDir = path.join(root, 'tokens');
  mkdirSync(tokenDir);
  const conf = path.join(root, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  // Workers inherit these; the PKCS#11 module reads SOFTHSM2_CONF when it initialises.
  process.env.SOFTHSM2_CONF = conf;
  process.env.KMS_TEST_ROOT = root;
}
