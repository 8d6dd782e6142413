// Real service processes on one data directory and one token: several instances stay correct
// while one restarts again and again, and a process killed in the middle of creating keys
// leaves nothing behind that recovery does not clean up.
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient, RotateKeyOnDemandCommand } from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AUDIT_SIGNING_KEY_OBJECT_ID } from '../../src/core/audit/signing-key';
import { HEALTH_KEY_ID } from '../../src/pkcs11/token-objects';
import { EmbeddedStore } from '../../src/store/embedded';
import type { KeyRecord } from '../../src/core/model';
import { tokenObjectsOf } from '../../src/core/model';
import { startChildService, type ChildService } from '../support/child-service';
import { ACCOUNT, REGION, ROOT } from '../support/service';
import { createTestToken, type TestToken } from '../support/softhsm';
import { listTokenObjects } from '../support/token-objects';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let token: TestToken;
let dataDir: string;
beforeEach(() => {
  token = createTestToken('instances');
  dataDir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-instances-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const envFor = (instanceId: string) => ({
  KMS_DATA_DIR: dataDir, KMS_TOKEN_LABEL: token.label, KMS_PIN: token.pin, KMS_PORT: '0', KMS_INSTANCE_ID: instanceId,
  KMS_ROOT_ACCESS_KEY_ID: ROOT.accessKeyId, KMS_ROOT_SECRET_ACCESS_KEY: ROOT.secretAccessKey, KMS_LOG_LEVEL: 'warn',
});

/** Every child started, so a failing test still leaves no process behind. */
const children = new Set<ChildService>();
afterEach(async () => {
  for (const child of children) {
    child.process.kill('SIGKILL');
    await child.exited;
  }
  children.clear();
});

async function start(instanceId: string): Promise<{ child: ChildService; kms: KMSClient }> {
  const child = startChildService({ ...envFor(instanceId), KMS_LOG_LEVEL: 'info' });
  children.add(child);
  void child.exited.then(() => children.delete(child));
  const port = await child.listening;
  return { child, kms: new KMSClient({ endpoint: `http://127.0.0.1:${port}`, region: REGION, credentials: ROOT, maxAttempts: 1 }) };
}

async function stop(instance: { child: ChildService; kms: KMSClient }, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  instance.kms.destroy();
  instance.child.process.kill(signal);
  await instance.child.exited;
}

/** Every key record in the store, complete or not. */
async function storedKeys(): Promise<KeyRecord[]> {
  const store = new EmbeddedStore(path.join(dataDir, 'metadata.sqlite'));
  await store.init();
  try {
    const complete: KeyRecord[] = [];
    let marker: string | undefined;
    do {
      const page = await store.keys.list({ accountId: ACCOUNT, region: REGION }, { limit: 1000, marker });
      complete.push(...page.items);
      marker = page.nextMarker;
    } while (marker);
    return [...complete, ...(await store.keys.listIncomplete(new Date(8.64e15)))];
  } finally {
    await store.close();
  }
}

/** The service's own objects: the health key and the one audit signing pair (two objects, one id). */
const serviceObjectIds = new Set([HEALTH_KEY_ID, AUDIT_SIGNING_KEY_OBJECT_ID]);

/** Nothing orphaned: every token object is named by a stored key (or is one of the service's own), and no object lacks an id. */
async function expectNoOrphans(): Promise<void> {
  const named = new Set((await storedKeys()).flatMap((key) => tokenObjectsOf(key).map((o) => o.objectId)));
  const objects = await listTokenObjects(token);
  expect(objects.filter((o) => o.id === '')).toEqual([]);
  expect(objects.filter((o) => !serviceObjectIds.has(o.id) && !named.has(o.id))).toEqual([]);
  // Two instances starting at once made the audit signing pair once, not once each.
  expect(objects.filter((o) => o.id === AUDIT_SIGNING_KEY_OBJECT_ID)).toHaveLength(2);
}

it('two instances on one store and token: keys created and rotated through both survive one restarting again and again', async () => {
  const a = await start('instance-a');
  let b = await start('instance-b');
  const created: string[] = [];
  const rotated = new Map<string, number>();
  const ciphertexts: { keyId: string; blob: Uint8Array }[] = [];
  let running = true;
  const work = async (pick: () => KMSClient) => {
    for (let n = 0; running && n < 500; n++) {
      try {
        const kms = pick();
        if (n % 4 === 3 && created.length > 0) {
          const keyId = created[n % created.length]!;
          await kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
          rotated.set(keyId, (rotated.get(keyId) ?? 0) + 1);
        } else {
          const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
          created.push(keyId);
          ciphertexts.push({ keyId, blob: (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(keyId) }))).CiphertextBlob! });
        }
      } catch {
        // A request to an instance that is restarting fails; that is the client's to retry.
      }
    }
  };
  const loads = [work(() => a.kms), work(() => b.kms)];
  for (let restart = 0; restart < 4; restart++) {
    await sleep(700);
    await stop(b, restart % 2 === 0 ? 'SIGKILL' : 'SIGTERM');
    b = await start('instance-b');
  }
  running = false;
  await Promise.all(loads);
  expect(created.length).toBeGreaterThan(10);
  // Nothing lost: every key a client was told exists works, and decrypts what it encrypted.
  for (const { keyId, blob } of ciphertexts) {
    const plaintext = (await a.kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!;
    expect(Buffer.from(plaintext).toString()).toBe(keyId);
  }
  const stored = new Map((await storedKeys()).map((k) => [k.keyId, k]));
  for (const keyId of created) {
    expect({ keyId, stored: stored.has(keyId), complete: !stored.get(keyId)?.incomplete }).toEqual({ keyId, stored: true, complete: true });
    expect(stored.get(keyId)!.rotation?.history.length ?? 0).toBeGreaterThanOrEqual(rotated.get(keyId) ?? 0);
  }
  await stop(b);
  await stop(a, 'SIGKILL');
  // Alone again, one start-up recovery leaves nothing orphaned.
  const alone = await start('instance-a');
  await stop(alone);
  await expectNoOrphans();
}, 180_000);

it('a process killed again and again while creating keys leaves nothing that recovery does not clean up', async () => {
  for (let kill = 0; kill < 6; kill++) {
    const instance = await start('killed');
    const creating = Promise.all([0, 1, 2].map(async () => {
      for (;;) await instance.kms.send(new CreateKeyCommand({ KeySpec: kill % 2 === 0 ? 'SYMMETRIC_DEFAULT' : 'ECC_NIST_P256', KeyUsage: kill % 2 === 0 ? 'ENCRYPT_DECRYPT' : 'SIGN_VERIFY' }));
    })).catch(() => undefined);
    await sleep(300 + Math.floor(Math.random() * 700));
    await stop(instance, 'SIGKILL');
    await creating;
  }
  // The same instance starting again recovers at once: it is alone, and the heartbeat it finds is its own.
  const restarted = await start('killed');
  await stop(restarted);
  expect((await storedKeys()).filter((k) => k.incomplete)).toEqual([]);
  await expectNoOrphans();
}, 180_000);
