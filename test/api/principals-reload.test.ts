// KMS_CREDENTIALS_FILE is reloaded while the service runs: principals appear, change their
// secret and disappear without a restart, and a broken file changes nothing.
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CredentialsFileEntry } from '../../src/http/auth/principals';
import { ACCOUNT, ALICE, ROOT, startTestService, type TestService } from '../support/service';
import { kmsCall } from '../support/signed';

const BOB: CredentialsFileEntry = {
  accessKeyId: 'AKIABOBTEST000000001', secretAccessKey: 'bob-secret-key-for-tests-only-0000000001', principalArn: `arn:aws:iam::${ACCOUNT}:user/bob`,
};
const BOB_ROTATED = { ...BOB, secretAccessKey: 'bob-rotated-secret-for-tests-only-000001' };

let svc: TestService;
let dir: string;
let file: string;

function writeCredentials(entries: unknown, options: { atomically?: boolean } = {}): void {
  const text = typeof entries === 'string' ? entries : JSON.stringify(entries, null, 2);
  if (!options.atomically) {
    writeFileSync(file, text);
    return;
  }
  const temporary = path.join(dir, `.credentials.${Date.now()}.tmp`);
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-creds-'));
  file = path.join(dir, 'credentials.json');
  writeCredentials([ALICE]);
  svc = await startTestService({ credentialsFile: file, credentialsPollMs: 25 });
});
afterAll(async () => {
  await svc.close();
  rmSync(dir, { recursive: true, force: true });
});

async function outcome(credentials: { accessKeyId: string; secretAccessKey: string }): Promise<string> {
  const res = await kmsCall(svc.app, 'ListKeys', {}, { credentials });
  return res.status === 200 ? 'OK' : (res.body.__type as string);
}

/** Retries until the service answers `expected`: the poller takes up a change within a few intervals. */
async function eventually(credentials: { accessKeyId: string; secretAccessKey: string }, expected: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = await outcome(credentials);
    if (last === expected) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  expect(last).toBe(expected);
}

function log(): string {
  return readFileSync(svc.logFile, 'utf8');
}

it('a principal added to the file is known, and authorised as the policies say, without a restart', async () => {
  expect(await outcome(BOB)).toBe('UnrecognizedClientException');
  writeCredentials([ALICE, BOB]);
  // Known now: authenticated, and refused by authorisation rather than by authentication.
  await eventually(BOB, 'AccessDeniedException');
  const res = await kmsCall(svc.app, 'ListKeys', {}, { credentials: BOB });
  expect(res.body.message).toContain(BOB.principalArn);
  expect(await outcome(ALICE)).toBe('AccessDeniedException');
  expect(await outcome(ROOT)).toBe('OK');
});

it('a changed secret takes effect: the old signature is refused, the new one accepted', async () => {
  writeCredentials([ALICE, BOB_ROTATED], { atomically: true });
  await eventually(BOB, 'InvalidSignatureException');
  expect(await outcome(BOB_ROTATED)).toBe('AccessDeniedException');
});

it('a broken file keeps the previous principals, and the log names the problem but no secret', async () => {
  const errorsBefore = (log().match(/credentials file refused/g) ?? []).length;
  for (const broken of [
    `[{"accessKeyId": "${BOB.accessKeyId}", "secretAccessKey": "${BOB.secretAccessKey}"`,
    [ALICE, { ...BOB, principalArn: 'bob' }],
    [ALICE, BOB_ROTATED, { ...BOB, principalArn: `arn:aws:iam::${ACCOUNT}:user/bob2` }],
  ]) {
    const seen = (log().match(/credentials file refused/g) ?? []).length;
    writeCredentials(broken);
    // Wait until the poller has seen and refused this version.
    const deadline = Date.now() + 5000;
    while ((log().match(/credentials file refused/g) ?? []).length === seen && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await outcome(BOB_ROTATED)).toBe('AccessDeniedException');
    expect(await outcome(BOB)).toBe('InvalidSignatureException');
    expect(await outcome(ALICE)).toBe('AccessDeniedException');
    expect(await outcome(ROOT)).toBe('OK');
  }
  const text = log();
  // At least one refusal per broken version; an in-place write caught half-way by the poller
  // is refused too (as not valid JSON), so there may be more under load.
  expect((text.match(/credentials file refused/g) ?? []).length).toBeGreaterThanOrEqual(errorsBefore + 3);
  expect(text).toMatch(/not valid JSON/);
  expect(text).toMatch(/is not a principal ARN/);
  expect(text).toMatch(/repeats access key id/);
  for (const secret of [BOB.secretAccessKey, BOB_ROTATED.secretAccessKey, ALICE.secretAccessKey, ROOT.secretAccessKey]) expect(text).not.toContain(secret);
});

it('a principal removed from the file is no longer recognised; the root always is', async () => {
  writeCredentials([ALICE, BOB_ROTATED]);
  await eventually(BOB_ROTATED, 'AccessDeniedException');
  writeCredentials([ALICE], { atomically: true });
  await eventually(BOB_ROTATED, 'UnrecognizedClientException');
  expect(await outcome(ALICE)).toBe('AccessDeniedException');
  writeCredentials([]);
  await eventually(ALICE, 'UnrecognizedClientException');
  expect(await outcome(ROOT)).toBe('OK');
});
