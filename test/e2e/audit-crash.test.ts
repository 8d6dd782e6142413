// The audit trail survives kill -9: the real server as a child process, under concurrent load,
// killed the moment a response arrives. Every call a client saw succeed has its record, because
// the record is committed before the response is written.
import { EncryptCommand, GenerateRandomCommand, KMSClient } from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chainValue } from '../../src/core/audit/record';
import { EmbeddedStore } from '../../src/store/embedded';
import { startChildService, type ChildService } from '../support/child-service';
import { REGION, ROOT } from '../support/service';
import { createTestToken, type TestToken } from '../support/softhsm';

let token: TestToken;
let dataDir: string;
let child: ChildService | undefined;
beforeEach(() => {
  token = createTestToken('audit-crash');
  dataDir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-audit-crash-'));
});
afterEach(async () => {
  if (child && child.process.exitCode === null && child.process.signalCode === null) {
    child.process.kill('SIGKILL');
    await child.exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

it('kill -9 right after responses arrive loses no record of a call the client saw succeed', async () => {
  child = startChildService({
    KMS_DATA_DIR: dataDir, KMS_TOKEN_LABEL: token.label, KMS_PIN: token.pin, KMS_PORT: '0', KMS_INSTANCE_ID: 'audit-crash',
    KMS_ROOT_ACCESS_KEY_ID: ROOT.accessKeyId, KMS_ROOT_SECRET_ACCESS_KEY: ROOT.secretAccessKey, KMS_LOG_LEVEL: 'info',
  });
  const port = await child.listening;
  const kms = new KMSClient({ endpoint: `http://127.0.0.1:${port}`, region: REGION, credentials: ROOT, maxAttempts: 1 });
  const succeeded: string[] = [];
  let killed = false;
  const worker = async (n: number) => {
    for (let i = 0; !killed && i < 500; i++) {
      try {
        const out = i % 2 === 0
          ? await kms.send(new GenerateRandomCommand({ NumberOfBytes: 16 }))
          : await kms.send(new EncryptCommand({ KeyId: 'alias/none', Plaintext: Buffer.from(`p${n}-${i}`) }));
        succeeded.push(out.$metadata.requestId!);
      } catch (e) {
        // A failure the service answered is recorded too; one cut off by the kill is not the client's success.
        const requestId = (e as { $metadata?: { requestId?: string; httpStatusCode?: number } }).$metadata;
        if (requestId?.httpStatusCode === 400 && requestId.requestId) succeeded.push(requestId.requestId);
      }
      // Kill the process the moment enough answers have arrived: others are in flight.
      if (!killed && succeeded.length >= 60) {
        killed = true;
        child!.process.kill('SIGKILL');
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, n) => worker(n)));
  await child.exited;
  kms.destroy();

  const store = new EmbeddedStore(path.join(dataDir, 'metadata.sqlite'));
  await store.init();
  try {
    const records = await store.audit.range(1, 100_000);
    const recorded = new Set(records.map((r) => (JSON.parse(r.event) as { requestID: string }).requestID));
    expect(succeeded.length).toBeGreaterThanOrEqual(60);
    expect(succeeded.filter((requestId) => !recorded.has(requestId))).toEqual([]);
    // And what is there is one unbroken chain.
    records.forEach((record, i) => {
      expect(record.sequence).toBe(i + 1);
      expect(record.chainValue).toBe(chainValue(record.previousChainValue, record.sequence, record.event));
    });
  } finally {
    await store.close();
  }
}, 60_000);
