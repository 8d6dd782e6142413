// Metrics and health on the admin listener (KMS_ADMIN_PORT), against the real server as a child
// process: the metrics change as requests are served (scraped and parsed), /readyz names the part
// that is down, and the admin listener is never the KMS port. With workers, the primary's
// /metrics is the whole service's.
import { CreateKeyCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { READINESS_CACHE_MS } from '../../src/core/jobs/readiness';
import { startChildService, type ChildService } from '../support/child-service';
import { parseExposition, valueOf } from '../support/prometheus';
import { REGION, ROOT } from '../support/service';
import { createTestToken, type TestToken } from '../support/softhsm';
import { tokenDirectoryOf } from '../support/token-dir';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Running {
  child: ChildService;
  kmsPort: number;
  admin: string;
  kms: KMSClient;
}

async function start(token: TestToken, dataDir: string, env: Record<string, string> = {}): Promise<Running> {
  const child = startChildService({
    KMS_DATA_DIR: dataDir, KMS_TOKEN_LABEL: token.label, KMS_PIN: token.pin, KMS_PORT: '0', KMS_ADMIN_PORT: '0',
    KMS_ROOT_ACCESS_KEY_ID: ROOT.accessKeyId, KMS_ROOT_SECRET_ACCESS_KEY: ROOT.secretAccessKey, ...env,
  });
  const kmsPort = await child.listening;
  let admin: string | undefined;
  for (let i = 0; i < 200 && !admin; i++) {
    admin = child.logLines().find((line) => line.message === 'admin listening')?.url as string | undefined;
    if (!admin) await sleep(50);
  }
  if (!admin) throw new Error('the admin listener never said where it listens');
  // A fresh connection per request, so that with workers the requests spread over them.
  const kms = new KMSClient({
    endpoint: `http://127.0.0.1:${kmsPort}`, region: REGION, credentials: ROOT, maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: false }) }),
  });
  return { child, kmsPort, admin, kms };
}

async function stop(running: Running): Promise<void> {
  running.kms.destroy();
  running.child.process.kill('SIGTERM');
  await running.child.exited;
}

async function scrape(admin: string) {
  const res = await fetch(`${admin}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parseExposition(await res.text());
}

describe('one process', () => {
  let token: TestToken;
  let dataDir: string;
  let svc: Running;
  beforeAll(async () => {
    token = createTestToken('metrics');
    dataDir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-metrics-'));
    svc = await start(token, dataDir, { KMS_WORKERS: '1' });
  }, 60_000);
  afterAll(async () => {
    await stop(svc);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('counts requests and their latency by operation and outcome as they are served', async () => {
    const { KeyMetadata } = await svc.kms.send(new CreateKeyCommand({}));
    const keyId = KeyMetadata!.KeyId!;
    const before = await scrape(svc.admin);
    const encrypts = { source: 'kms', operation: 'Encrypt', outcome: 'success', error_code: '' };
    const notFound = { source: 'kms', operation: 'Encrypt', outcome: 'failure', error_code: 'NotFoundException' };
    for (let i = 0; i < 3; i++) await svc.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(`secret ${i}`) }));
    await expect(svc.kms.send(new EncryptCommand({ KeyId: '11111111-2222-3333-4444-555555555555', Plaintext: Buffer.from('x') }))).rejects.toMatchObject({ name: 'NotFoundException' });
    const after = await scrape(svc.admin);

    const grew = (name: string, labels: Record<string, string>) => (valueOf(after, name, labels) ?? 0) - (valueOf(before, name, labels) ?? 0);
    expect(grew('hsm_kms_requests_total', encrypts)).toBe(3);
    expect(grew('hsm_kms_requests_total', notFound)).toBe(1);
    expect(grew('hsm_kms_request_duration_seconds_count', encrypts)).toBe(3);
    expect(grew('hsm_kms_request_duration_seconds_count', notFound)).toBe(1);
    // Cumulative buckets: +Inf holds every call, and the sum of latencies is positive.
    expect(grew('hsm_kms_request_duration_seconds_bucket', { ...encrypts, le: '+Inf' })).toBe(3);
    expect(grew('hsm_kms_request_duration_seconds_sum', encrypts)).toBeGreaterThan(0);
    // The token did the work: AES-GCM in the default token, timed by mechanism.
    expect(grew('hsm_kms_token_operation_duration_seconds_count', { key_store: 'default', mechanism: 'AES_GCM', operation: 'aesGcmEncrypt', outcome: 'success' })).toBe(3);
  }, 30_000);

  it('shows the session pool of the token and the keys by state', async () => {
    const samples = await scrape(svc.admin);
    for (const name of ['hsm_kms_token_sessions_in_use', 'hsm_kms_token_sessions_idle', 'hsm_kms_token_sessions_waiters', 'hsm_kms_token_sessions_size']) {
      expect(valueOf(samples, name, { key_store: 'default' })).toBeDefined();
    }
    expect(valueOf(samples, 'hsm_kms_token_sessions_in_use', { key_store: 'default' })).toBe(0);
    expect(valueOf(samples, 'hsm_kms_token_sessions_idle', { key_store: 'default' })).toBeGreaterThan(0);
    expect(valueOf(samples, 'hsm_kms_token_sessions_size', { key_store: 'default' })).toBe(8);
    expect(valueOf(samples, 'hsm_kms_token_reconnects_total', { key_store: 'default' })).toBeDefined();
    expect(valueOf(samples, 'hsm_kms_token_session_acquire_timeouts_total', { key_store: 'default' })).toBe(0);
    // Keys by state and spec, read from the store.
    expect(valueOf(samples, 'hsm_kms_keys', { state: 'Enabled', key_spec: 'SYMMETRIC_DEFAULT' })).toBeGreaterThanOrEqual(1);
    // Node's process metrics come along under the same prefix.
    expect(valueOf(samples, 'hsm_kms_process_resident_memory_bytes')).toBeGreaterThan(0);
    // The audit trail: every call above was appended (in batches), and the chain is as long as the head's sequence.
    expect(valueOf(samples, 'hsm_kms_audit_append_duration_seconds_count')).toBeGreaterThan(0);
    expect(valueOf(samples, 'hsm_kms_audit_chain_length')).toBeGreaterThan(0);
  });

  it('serves metrics and health on the admin listener, never on the KMS port', async () => {
    expect(new URL(svc.admin).port).not.toBe(String(svc.kmsPort));
    const onKms = await fetch(`http://127.0.0.1:${svc.kmsPort}/metrics`);
    expect(onKms.status).toBe(404);
    expect(await onKms.text()).not.toContain('hsm_kms_requests_total');
    const live = await fetch(`${svc.admin}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toMatchObject({ status: 'ok' });
    const ready = await fetch(`${svc.admin}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', token: 'ok', store: 'ok', keyStores: { default: 'ok' } });
    expect((await fetch(`${svc.admin}/`)).status).toBe(404);
    expect((await fetch(`${svc.admin}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('/readyz names the token when it is down, and recovers when it is back', async () => {
    await sleep(READINESS_CACHE_MS + 50);
    const dir = tokenDirectoryOf(token.label);
    const aside = path.join(process.env.KMS_TEST_ROOT!, `away-${token.label}`);
    renameSync(dir, aside);
    try {
      const res = await fetch(`${svc.admin}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ status: 'unavailable', token: 'unavailable', store: 'ok', keyStores: { default: 'unavailable' } });
      // Liveness is not readiness: the process still answers.
      expect((await fetch(`${svc.admin}/healthz`)).status).toBe(200);
    } finally {
      renameSync(aside, dir);
    }
    let status = 0;
    for (let i = 0; i < 60 && status !== 200; i++) {
      await sleep(250);
      status = (await fetch(`${svc.admin}/readyz`)).status;
    }
    expect(status).toBe(200);
  }, 30_000);
});

describe('workers', () => {
  it('the primary serves the metrics of every worker, summed, and readiness of each', async () => {
    const token = createTestToken('metrics-workers');
    const dataDir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-metrics-w-'));
    const svc = await start(token, dataDir, { KMS_WORKERS: '2' });
    try {
      // The first worker listens before the second starts: wait for the primary's word that all do.
      for (let i = 0; i < 600 && !svc.child.logLines().some((l) => l.role === 'primary' && l.message === 'ready'); i++) await sleep(50);
      const { KeyMetadata } = await svc.kms.send(new CreateKeyCommand({}));
      const sent = 8;
      for (let i = 0; i < sent; i++) await svc.kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId!, Plaintext: Buffer.from('x') }));
      const samples = await scrape(svc.admin);
      expect(valueOf(samples, 'hsm_kms_requests_total', { source: 'kms', operation: 'Encrypt', outcome: 'success' })).toBe(sent);
      expect(valueOf(samples, 'hsm_kms_request_duration_seconds_count', { source: 'kms', operation: 'Encrypt', outcome: 'success' })).toBe(sent);
      expect(valueOf(samples, 'hsm_kms_workers', { state: 'listening' })).toBe(2);
      expect(valueOf(samples, 'hsm_kms_workers_missing_from_scrape')).toBe(0);
      // Each worker has its own pool: the sizes add up.
      expect(valueOf(samples, 'hsm_kms_token_sessions_size', { key_store: 'default' })).toBe(16);
      // Each worker served some of the requests (round-robin over fresh connections).
      const lines = svc.child.logLines().filter((l) => l.operation === 'Encrypt');
      expect(new Set(lines.map((l) => l.instance)).size).toBe(2);
      const ready = await fetch(`${svc.admin}/readyz`);
      expect(ready.status).toBe(200);
      const body = await ready.json() as { status: string; workers: { configured: number; listening: number; each: Record<string, string> } };
      expect(body).toMatchObject({ status: 'ok', token: 'ok', store: 'ok', workers: { configured: 2, listening: 2 } });
      expect(Object.values(body.workers.each)).toEqual(['ok', 'ok']);
    } finally {
      await stop(svc);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
