// Throwaway SoftHSM tokens for tests, and a raw PKCS#11 view for custody checks.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as pkcs11js from 'pkcs11js';
import { SOFTHSM_MODULE } from '../../src/config';
import { openDefaultToken, type Pkcs11Token } from '../../src/pkcs11';

export interface TestToken {
  label: string;
  pin: string;
}

/**
 * A fresh token of this run's pool (see global-setup.ts), claimed atomically so no two test
 * files ever share one. `_purpose` only documents the call site.
 */
export function createTestToken(_purpose = 'test'): TestToken {
  const root = process.env.KMS_TEST_ROOT;
  if (!root || !process.env.SOFTHSM2_CONF?.includes('hsm-kms-test-')) throw new Error('tests must run under jest global setup (throwaway SOFTHSM2_CONF)');
  const pool = JSON.parse(readFileSync(path.join(root, 'tokens.json'), 'utf8')) as TestToken[];
  for (const token of pool) {
    try {
      mkdirSync(path.join(root, 'claimed', token.label));
      return token;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  // Pool used up: make one now. It is visible to this process only if no token connection is
  // open yet (the module then rescans); otherwise opening it fails loudly, naming the label.
  const label = `late-${randomBytes(6).toString('hex')}`;
  const pin = randomBytes(8).toString('hex');
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', randomBytes(8).toString('hex'), '--pin', pin], { stdio: 'pipe' });
      return { label, pin };
    } catch (e) {
      // Another worker may have raced us for the same free slot.
      if (attempt >= 5) throw e;
    }
  }
}

/** The default token of a test service, on `token`; `profileDir` and `profileVendor` choose its capability profile as the service's options do. */
export function openTestToken(token: TestToken, overrides: { poolSize?: number; acquireTimeoutMs?: number; profileDir?: string; profileVendor?: string } = {}): Pkcs11Token {
  return openDefaultToken({
    ...(overrides.profileDir ? { profileDir: overrides.profileDir } : {}),
    ...(overrides.profileVendor ? { profileVendor: overrides.profileVendor } : {}),
    modulePath: SOFTHSM_MODULE,
    tokenLabel: token.label,
    pin: token.pin,
    poolSize: overrides.poolSize ?? 4,
    acquireTimeoutMs: overrides.acquireTimeoutMs ?? 5000,
    reconnectDelayMs: { initial: 10, max: 200 },
  });
}

export interface InspectedObject {
  sensitive: boolean;
  extractable: boolean;
  token: boolean;
  valueReadError?: string;
}

/**
 * Looks at the token's objects through its own PKCS#11 session, independently of the
 * service's adapter: what a custody auditor would do.
 */
export function inspectObjectsById(lib: pkcs11js.PKCS11, token: TestToken, objectIdHex: string): InspectedObject[] {
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === token.label);
  if (slot === undefined) throw new Error(`token ${token.label} not visible`);
  const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
  try {
    lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_ID, value: Buffer.from(objectIdHex, 'hex') }]);
    const handles = lib.C_FindObjects(session, 10);
    lib.C_FindObjectsFinal(session);
    return handles.map((h) => {
      const [sensitive, extractable, onToken] = lib.C_GetAttributeValue(session, h, [
        { type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE }, { type: pkcs11js.CKA_TOKEN },
      ]).map((a) => (a.value as Buffer)[0] === 1);
      let valueReadError: string | undefined;
      try {
        lib.C_GetAttributeValue(session, h, [{ type: pkcs11js.CKA_VALUE }]);
      } catch (e) {
        valueReadError = (e as Error).message;
      }
      return { sensitive: !!sensitive, extractable: !!extractable, token: !!onToken, valueReadError };
    });
  } finally {
    lib.C_CloseSession(session);
  }
}
