// KMS_WORKERS=2 as real processes: a primary and two workers on one port, one token and one
// store. Which worker answered a request is read from the log: each worker's lines carry its
// instance id, and the request line carries the request id the client got back.
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateRandomCommand, KMSClient } from '@aws-sdk/client-kms';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EmbeddedStore } from '../../src/store/embedded';
import { startChildService, type ChildService } from '../support/child-service';
import { REGION, ROOT } from '../support/service';
import { createTestToken, type TestToken } from '../support/softhsm';
import { defaultXksConfig, healthPath, xksSignedHeaders } from '../support/xks';

const INSTANCE = 'workers-test';
const FIRST = `${INSTANCE}#0`;
const SECOND = `${INSTANCE}#1`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let token: TestToken;
let dataDir: string;
beforeAll(() => { token = createTestToken('workers'); });
beforeEach(() => { dataDir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-workers-')); });
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const envFor = (overrides: Record<string, string> = {}) => ({
  KMS_DATA_DIR: dataDir, KMS_TOKEN_LABEL: token.label, KMS_PIN: token.pin, KMS_PORT: '0', KMS_INSTANCE_ID: INSTANCE, KMS_WORKERS: '2',
  KMS_ROOT_ACCESS_KEY_ID: ROOT.accessKeyId, KMS_ROOT_SECRET_ACCESS_KEY: ROOT.secretAccessKey, KMS_LOG_LEVEL: 'info', ...overrides,
});

/** Every service started, so a failing test still leaves no process behind (workers leave with their primary). */
const children = new Set<ChildService>();
afterEach(async () => {
  for (const child of children) {
    child.process.kill('SIGKILL');
    await child.exited;
  }
  children.clear();
});

type LogLine = Record<string, unknown>;

/** The first log line `match` accepts, once the service has written it; fails after `timeoutMs` or if the service exits. */
async function logLine(child: ChildService, match: (line: LogLine) => boolean, what: string, timeoutMs = 60_000): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = child.logLines().find(match);
    if (line) return line;
    if (child.process.exitCode !== null || child.process.signalCode !== null) throw new Error(`the service exited before logging ${what}: ${(await child.exited).stderr}`);
    if (Date.now() > deadline) throw new Error(`no ${what} logged within ${timeoutMs} ms`);
    await sleep(50);
  }
}

const primaryLine = (message: string, worker?: string) => (line: LogLine) =>
  line.role === 'primary' && line.message === message && (worker === undefined || line.worker === worker);

interface Service {
  child: ChildService;
  /** A new connection for every request, so the primary hands each to the next worker in turn. */
  kms: KMSClient;
}

async function startWorkers(env: Record<string, string> = {}): Promise<Service> {
  const child = startChildService(envFor(env));
  children.add(child);
  const ready = await logLine(child, primaryLine('ready'), 'ready');
  expect(ready.workers).toBe(2);
  const kms = new KMSClient({
    endpoint: `http://127.0.0.1:${ready.port as number}`, region: REGION, credentials: ROOT, maxAttempts: 1,
    requestHandler: { httpAgent: new Agent({ keepAlive: false }), requestTimeout: 10_000 },
  });
  return { child, kms };
}

/** The instance that served the request `requestId`, from its request log line. */
async function servedBy(service: Service, requestId: string | undefined): Promise<string> {
  const line = await logLine(service.child, (l) => l.message === 'request' && l.requestId === requestId, `the request line of ${requestId}`, 10_000);
  return line.instance as string;
}

async function stopWithSigterm(service: Service): Promise<{ code: number | null; stderr: string }> {
  service.kms.destroy();
  service.child.process.kill('SIGTERM');
  return service.child.exited;
}

/** A signed XKS GetHealthStatus on a connection of its own: the status and the request id. */
async function xksHealth(url: string): Promise<{ status: number; requestId: string }> {
  const { host } = new URL(url);
  const rawPath = healthPath();
  const body = Buffer.from(JSON.stringify({ requestMetadata: { kmsOperation: 'KmsHealthCheck', kmsRequestId: randomUUID() } }));
  const headers = await xksSignedHeaders(rawPath, body, { host });
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(rawPath, url), { method: 'POST', headers, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, requestId: res.headers['x-request-id'] as string }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('XKS health check timed out')));
    req.end(body);
  });
}

it('both workers answer on both ports, a key made through one is usable through the other at once, and SIGTERM stops them all with exit code 0', async () => {
  const xksConfigFile = path.join(dataDir, 'xks-proxy.json');
  writeFileSync(xksConfigFile, JSON.stringify(defaultXksConfig()), { mode: 0o600 });
  const service = await startWorkers({ KMS_XKS_PORT: '0', KMS_XKS_CONFIG_FILE: xksConfigFile });
  const { kms } = service;
  const created = await kms.send(new CreateKeyCommand({}));
  const keyId = created.KeyMetadata!.KeyId!;
  const maker = await servedBy(service, created.$metadata.requestId);
  expect([FIRST, SECOND]).toContain(maker);
  const other = maker === FIRST ? SECOND : FIRST;

  // Round after round until the other worker has served each operation on the key (round robin: within two rounds).
  const servedByOther = new Set<string>();
  const served = new Set<string>([maker]);
  for (let round = 0; round < 10 && servedByOther.size < 3; round++) {
    const described = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    expect(described.KeyMetadata!.KeyState).toBe('Enabled');
    const plaintext = Buffer.from(`round ${round}`);
    const encrypted = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }));
    const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob! }));
    expect(Buffer.from(decrypted.Plaintext!)).toEqual(plaintext);
    expect(decrypted.KeyId).toBe(created.KeyMetadata!.Arn);
    for (const [operation, response] of [['DescribeKey', described], ['Encrypt', encrypted], ['Decrypt', decrypted]] as const) {
      const instance = await servedBy(service, response.$metadata.requestId);
      served.add(instance);
      if (instance === other) servedByOther.add(operation);
    }
  }
  expect([...servedByOther].sort()).toEqual(['Decrypt', 'DescribeKey', 'Encrypt']);
  expect([...served].sort()).toEqual([FIRST, SECOND]);

  // The XKS proxy's port is shared the same way.
  const xksUrls = service.child.logLines().filter((l) => l.message === 'XKS proxy listening').map((l) => l.url as string);
  expect(xksUrls).toHaveLength(2);
  expect(xksUrls[1]).toBe(xksUrls[0]);
  const servedXks = new Set<string>();
  for (let n = 0; n < 10 && servedXks.size < 2; n++) {
    const { status, requestId } = await xksHealth(xksUrls[0]!);
    expect(status).toBe(200);
    servedXks.add(await servedBy(service, requestId));
  }
  expect([...servedXks].sort()).toEqual([FIRST, SECOND]);

  const pids = service.child.logLines().filter(primaryLine('worker ready')).map((l) => l.pid as number);
  expect(pids).toHaveLength(2);
  const { code, stderr } = await stopWithSigterm(service);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  // Each worker stopped as a single process does: it said so, and retired its heartbeat.
  const lines = service.child.logLines();
  for (const instance of [FIRST, SECOND]) expect(lines.some((l) => l.instance === instance && l.message === 'shutting down')).toBe(true);
  expect(lines.filter(primaryLine('worker exited')).map((l) => l.code)).toEqual([0, 0]);
  for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  const store = new EmbeddedStore(path.join(dataDir, 'metadata.sqlite'));
  await store.init();
  try {
    expect(await store.leases.listLive('instance:', new Date())).toEqual([]);
  } finally {
    await store.close();
  }
}, 120_000);

it('a refused PIN stops the service with the exit code and the sentence of a single process, after one attempt', async () => {
  const single = await startChildService(envFor({ KMS_WORKERS: '1', KMS_PIN: 'wrong-pin-0000' })).exited;
  expect(single.code).toBe(78);
  expect(single.stderr).toContain(`token '${token.label}' refused the PIN (CKR_PIN_INCORRECT)`);
  rmSync(path.join(dataDir, 'pin-refused'));

  const child = startChildService(envFor({ KMS_PIN: 'wrong-pin-0000' }));
  children.add(child);
  const workers = await child.exited;
  expect({ code: workers.code, stderr: workers.stderr }).toEqual({ code: single.code, stderr: single.stderr });
  // Worker 0 starts alone: no second worker ever tried the PIN.
  expect(child.logLines().filter(primaryLine('worker started')).map((l) => l.worker)).toEqual([FIRST]);
  expect(workers.stdout).not.toContain('"message":"ready"');
}, 90_000);

it('a worker killed with SIGKILL is restarted, and the service answers meanwhile', async () => {
  const service = await startWorkers();
  const { kms } = service;
  const victim = await logLine(service.child, primaryLine('worker ready', SECOND), 'the second worker ready');
  process.kill(victim.pid as number, 'SIGKILL');
  const exit = await logLine(service.child, primaryLine('worker exited', SECOND), 'the killed worker exiting', 10_000);
  expect(exit.signal).toBe('SIGKILL');

  // The survivor serves every new connection until the second worker is back.
  for (let n = 0; n < 4; n++) expect((await kms.send(new GenerateRandomCommand({ NumberOfBytes: 16 }))).Plaintext).toHaveLength(16);
  const restarted = await logLine(service.child, (l) => primaryLine('worker ready', SECOND)(l) && l.pid !== victim.pid, 'the second worker ready again');
  expect(service.child.logLines().find(primaryLine('restarting worker', SECOND))?.delayMs).toBeGreaterThan(0);

  // And it serves again, as the same instance.
  let servedByRestarted = false;
  for (let n = 0; n < 10 && !servedByRestarted; n++) {
    const response = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 16 }));
    servedByRestarted = (await servedBy(service, response.$metadata.requestId)) === SECOND;
  }
  expect(servedByRestarted).toBe(true);
  expect(restarted.pid).not.toBe(victim.pid);
  expect((await stopWithSigterm(service)).code).toBe(0);
}, 120_000);
