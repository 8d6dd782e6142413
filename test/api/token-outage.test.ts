// A token whose storage goes away and comes back, under load: the service answers a
// retryable 5xx in AWS's shape meanwhile (never a hang), heals by itself within seconds of the
// token's return, and every ciphertext made before decrypts afterwards.
import { renameSync } from 'node:fs';
import path from 'node:path';
import { kmsCall } from '../support/signed';
import { startTestService, type TestService } from '../support/service';
import { tokenDirectoryOf } from '../support/token-dir';

let svc: TestService;
beforeAll(async () => { svc = await startTestService(); });
afterAll(async () => svc.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it('a token that goes away for 3 seconds under load heals without a restart, and nothing made before is lost', async () => {
  const keys = await Promise.all([0, 1].map(async () => (await kmsCall(svc.app, 'CreateKey', {})).body.KeyMetadata.KeyId as string));
  const before: { keyId: string; blob: string; plaintext: string }[] = [];
  for (let i = 0; i < 20; i++) {
    const keyId = keys[i % 2]!;
    const plaintext = Buffer.from(`before ${i}`).toString('base64');
    before.push({ keyId, blob: (await kmsCall(svc.app, 'Encrypt', { KeyId: keyId, Plaintext: plaintext })).body.CiphertextBlob, plaintext });
  }
  const dir = tokenDirectoryOf(svc.token.label);
  const outcomes: { at: number; status: number; type?: string; ms: number }[] = [];
  let loading = true;
  const load = (async () => {
    // Bounded load: two callers, each waiting for its answer before the next request.
    await Promise.all([0, 1].map(async (caller) => {
      for (let n = 0; loading && n < 2000; n++) {
        const started = Date.now();
        const res = await kmsCall(svc.app, n % 3 === 2 ? 'GenerateDataKey' : n % 3 === 1 ? 'Decrypt' : 'Encrypt',
          n % 3 === 1 ? { CiphertextBlob: before[(n + caller) % before.length]!.blob } : { KeyId: keys[caller]!, ...(n % 3 === 2 ? { KeySpec: 'AES_256' } : { Plaintext: 'aGk=' }) });
        outcomes.push({ at: started, status: res.status, type: res.body.__type, ms: Date.now() - started });
        await sleep(5);
      }
    }));
  })();
  await sleep(300);
  const away = Date.now();
  // Out of the token directory altogether: SoftHSM would find it anywhere inside.
  const aside = path.join(process.env.KMS_TEST_ROOT!, `away-${svc.token.label}`);
  renameSync(dir, aside);
  await sleep(3000);
  renameSync(aside, dir);
  const back = Date.now();
  // Served again within seconds of the token's return.
  let healedAt: number | undefined;
  while (Date.now() - back < 20_000) {
    const res = await kmsCall(svc.app, 'Encrypt', { KeyId: keys[0]!, Plaintext: 'aGk=' });
    if (res.status === 200) {
      healedAt = Date.now();
      break;
    }
    await sleep(100);
  }
  await sleep(500);
  loading = false;
  await load;
  expect(healedAt).toBeDefined();
  const recoveryMs = healedAt! - back;
  process.stdout.write(`token outage: recovered ${recoveryMs} ms after the token's return\n`);
  expect(recoveryMs).toBeLessThan(10_000);

  const during = outcomes.filter((o) => o.at + o.ms > away + 100 && o.at < back);
  const failures = outcomes.filter((o) => o.status !== 200);
  expect(during.some((o) => o.status >= 500)).toBe(true);
  // Every failure is a retryable 5xx in AWS's shape, and none hung.
  for (const failure of failures) {
    expect([500, 503]).toContain(failure.status);
    expect(['KMSInternalException', 'DependencyTimeoutException']).toContain(failure.type);
  }
  expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(8000);
  // After recovery everything works, and every ciphertext made before decrypts.
  expect(outcomes.filter((o) => o.at > healedAt! + 200).every((o) => o.status === 200)).toBe(true);
  for (const { blob, plaintext, keyId } of before) {
    const res = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: blob });
    expect({ status: res.status, keyId: res.body.KeyId?.endsWith(keyId), plaintext: res.body.Plaintext }).toEqual({ status: 200, keyId: true, plaintext });
  }
}, 60_000);
