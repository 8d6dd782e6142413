// The test-suite conveniences through the unmodified AWS SDK, used exactly as a suite uses moto's
// server mode: any credentials (FOOBARKEY/FOOBARSECRET) in the region the client picks, and
// POST /moto-api/reset between tests. Then what must still be refused, and both conveniences off.
import {
  CreateAliasCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, KMSClient, KMSServiceException, ListAliasesCommand, ListKeysCommand,
} from '@aws-sdk/client-kms';
import { openAuditSigningKey, AUDIT_SIGNING_KEY_OBJECT_ID } from '../../src/core/audit/signing-key';
import { verifyAuditTrail } from '../../src/core/audit/verify';
import { tokenObjectsOf, type KeyRecord } from '../../src/core/model';
import { HEALTH_KEY_ID } from '../../src/pkcs11/token-objects';
import { kmsCall } from '../support/signed';
import { ACCOUNT, ALICE, ROOT, startTestService, type TestService } from '../support/service';
import { rejection } from '../support/sdk-rejection';
import { listTokenObjects } from '../support/token-objects';

const MOTO_CREDENTIALS = { accessKeyId: 'FOOBARKEY', secretAccessKey: 'FOOBARSECRET' };
const MOTO_REGION = 'us-west-2';

async function tokenObjectIds(svc: TestService): Promise<string[]> {
  return (await listTokenObjects(svc.token)).map((o) => o.id);
}

/** Every key record of every scope, complete or not. */
async function storedKeys(svc: TestService): Promise<KeyRecord[]> {
  return svc.store.keys.listEvery(undefined, 10_000);
}

async function reset(svc: TestService, resetPath = '/moto-api/reset'): Promise<Response> {
  return fetch(`${svc.url}${resetPath}`, { method: 'POST' });
}


/** The aliases a suite made: AWS's predefined alias/aws/* names are not anyone's data. */
const customerAliases = async (kms: KMSClient) => ((await kms.send(new ListAliasesCommand({}))).Aliases ?? []).filter((a) => !a.AliasName!.startsWith('alias/aws/'));

describe('any credentials and reset on, used as moto\'s server mode is', () => {
  let svc: TestService;
  let kms: KMSClient;
  let signingKeyId: string;

  beforeAll(async () => {
    svc = await startTestService({ listen: true, anyCredentials: true, devReset: true });
    // The service's own token objects, which a reset must leave alone.
    signingKeyId = (await openAuditSigningKey(svc.deps, 'test')).keyId;
    expect(await svc.defaultStore.isHealthy()).toBe(true);
    kms = new KMSClient({ endpoint: svc.url, region: MOTO_REGION, credentials: MOTO_CREDENTIALS, maxAttempts: 1 });
  });
  // What a moto suite's fixture does between tests.
  afterEach(async () => {
    expect((await reset(svc)).status).toBe(200);
  });
  afterAll(async () => {
    kms.destroy();
    await svc.close();
  });

  it('FOOBARKEY in us-west-2 creates keys in us-west-2 of the configured account, encrypts and decrypts; the reset leaves no key, alias or token object behind', async () => {
    const symmetric = (await kms.send(new CreateKeyCommand({ Description: 'fixture' }))).KeyMetadata!;
    expect(symmetric.Arn).toBe(`arn:aws:kms:${MOTO_REGION}:${ACCOUNT}:key/${symmetric.KeyId}`);
    expect(symmetric.AWSAccountId).toBe(ACCOUNT);
    const pair = (await kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }))).KeyMetadata!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/fixture', TargetKeyId: symmetric.KeyId }));
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: 'alias/fixture', Plaintext: Buffer.from('moto-style') }));
    const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob }));
    expect(Buffer.from(decrypted.Plaintext!).toString()).toBe('moto-style');
    expect(decrypted.KeyId).toBe(symmetric.Arn);
    // An AWS managed key, made by its first use, goes with the reset too.
    const managed = (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/s3' }))).KeyMetadata!;
    expect(managed.KeyManager).toBe('AWS');
    expect((await kms.send(new ListKeysCommand({}))).Keys!.map((k) => k.KeyId).sort()).toEqual([symmetric.KeyId, pair.KeyId, managed.KeyId].sort());

    // The trail names the caller by the access key id it used, as the account root.
    const recorded = (await svc.store.audit.lookup({ attribute: { key: 'AccessKeyId', value: 'FOOBARKEY' } }, { limit: 50 })).items;
    expect(recorded.map((r) => r.eventName)).toEqual(expect.arrayContaining(['CreateKey', 'CreateAlias', 'Encrypt', 'Decrypt', 'ListKeys']));
    expect(JSON.parse(recorded[0]!.event)).toMatchObject({ userIdentity: { arn: `arn:aws:iam::${ACCOUNT}:root`, accessKeyId: 'FOOBARKEY' }, awsRegion: MOTO_REGION });

    const keyObjects = (await storedKeys(svc)).flatMap((key) => tokenObjectsOf(key).map((o) => o.objectId));
    expect(keyObjects).toHaveLength(3);
    expect(await tokenObjectIds(svc)).toEqual(expect.arrayContaining(keyObjects));

    const answer = await reset(svc);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ status: 'ok', keysDeleted: 3, keysKept: 0, customKeyStoresDeleted: 0 });

    expect((await kms.send(new ListKeysCommand({}))).Keys).toEqual([]);
    expect(await customerAliases(kms)).toEqual([]);
    expect(((await kms.send(new ListAliasesCommand({}))).Aliases ?? []).filter((a) => a.TargetKeyId !== undefined)).toEqual([]);
    expect(await storedKeys(svc)).toEqual([]);
    const left = await tokenObjectIds(svc);
    for (const id of keyObjects) expect(left).not.toContain(id);
    // The service's own objects survive: the health key and the audit signing pair.
    expect(left.filter((id) => id !== HEALTH_KEY_ID && id !== AUDIT_SIGNING_KEY_OBJECT_ID)).toEqual([]);
    expect(left.filter((id) => id === AUDIT_SIGNING_KEY_OBJECT_ID)).toHaveLength(2);
    expect(left).toContain(HEALTH_KEY_ID);
    expect((await svc.defaultStore.isHealthy())).toBe(true);
  }, 60_000);

  it('a second test after the reset starts from a clean state, and the audit trail restarts verifiable', async () => {
    expect((await kms.send(new ListKeysCommand({}))).Keys).toEqual([]);
    expect(await customerAliases(kms)).toEqual([]);
    // Only this test's calls are in the trail, from record 1.
    const [first] = await svc.store.audit.range(1, 1);
    expect(first).toMatchObject({ sequence: 1, eventName: 'ListKeys', accessKeyId: 'FOOBARKEY' });
    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/fixture', TargetKeyId: key.KeyId }));
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: 'alias/fixture', Plaintext: Buffer.from('again') }));
    expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob }))).Plaintext!).toString()).toBe('again');
    // The signing key survived the reset and signs the new chain.
    const signingKey = await openAuditSigningKey(svc.deps, 'test');
    expect(signingKey.keyId).toBe(signingKeyId);
    const verification = await verifyAuditTrail(svc.store.audit, signingKey.publicKeySpki);
    expect(verification).toMatchObject({ ok: true, firstSequence: 1 });
    expect(verification.recordsChecked).toBeGreaterThanOrEqual(6);
  }, 60_000);

  it('our own path /hsm-kms/reset resets too, and a GET is not a reset', async () => {
    await kms.send(new CreateKeyCommand({}));
    expect((await fetch(`${svc.url}/hsm-kms/reset`)).status).toBe(404);
    expect((await kms.send(new ListKeysCommand({}))).Keys).toHaveLength(1);
    expect((await reset(svc, '/hsm-kms/reset')).status).toBe(200);
    expect((await kms.send(new ListKeysCommand({}))).Keys).toEqual([]);
  }, 60_000);

  it('a wrong-format Authorization header, an expired X-Amz-Date or a scope for another service is still refused', async () => {
    const unsigned = await fetch(svc.url!, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys', 'x-amz-date': '20260101T000000Z',
        authorization: 'AWS4-HMAC-SHA256 Credential=FOOBARKEY/20260101/us-west-2/kms/aws4_request, SignedHeaders=host;x-amz-date',
      },
      body: '{}',
    });
    expect(unsigned.status).toBe(400);
    expect(await unsigned.json()).toMatchObject({ __type: 'IncompleteSignatureException' });
    const bearerLike = await fetch(svc.url!, { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys', authorization: 'FOOBARKEY' }, body: '{}' });
    expect(await bearerLike.json()).toMatchObject({ __type: 'IncompleteSignatureException' });

    const expired = await kmsCall(svc.app, 'ListKeys', {}, { credentials: MOTO_CREDENTIALS, region: MOTO_REGION, signingDate: new Date(Date.now() - 10 * 60_000) });
    expect(expired.status).toBe(400);
    expect(expired.body).toMatchObject({ __type: 'InvalidSignatureException' });
    expect(expired.body.message).toMatch(/^Signature expired/);

    const fine = await kmsCall(svc.app, 'ListKeys', {}, { credentials: MOTO_CREDENTIALS, region: MOTO_REGION });
    expect(fine.status).toBe(200);
  }, 60_000);

  it('known access key ids (the root, the credentials file) are still verified with their secrets and act as themselves', async () => {
    for (const known of [ROOT, ALICE]) {
      const wrongSecret = await kmsCall(svc.app, 'ListKeys', {}, { credentials: { accessKeyId: known.accessKeyId, secretAccessKey: MOTO_CREDENTIALS.secretAccessKey }, region: MOTO_REGION });
      expect(wrongSecret.status).toBe(400);
      expect(wrongSecret.body).toMatchObject({ __type: 'InvalidSignatureException' });
    }
    // With its own secret, Alice is Alice, not the root an unknown key id stands for.
    await kmsCall(svc.app, 'ListKeys', {}, { credentials: ALICE, region: MOTO_REGION });
    const [record] = (await svc.store.audit.lookup({ attribute: { key: 'AccessKeyId', value: ALICE.accessKeyId } }, { limit: 1 })).items;
    expect(JSON.parse(record!.event)).toMatchObject({ userIdentity: { arn: ALICE.principalArn } });
  }, 60_000);

  it('a reset while requests run does not crash the service, and the reset after them leaves nothing behind', async () => {
    let running = true;
    const failures = new Set<string>();
    const work = async () => {
      while (running) {
        try {
          const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
          await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }));
        } catch (e) {
          // A key the reset deleted under the request: an AWS error, never a dropped connection.
          expect(e).toBeInstanceOf(KMSServiceException);
          failures.add((e as KMSServiceException).name);
        }
      }
    };
    const workers = [work(), work(), work()];
    const resets: number[] = [];
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      resets.push(...(await Promise.all([reset(svc), reset(svc, '/hsm-kms/reset')])).map((r) => r.status));
    }
    running = false;
    await Promise.all(workers);
    expect(resets).toEqual(Array(8).fill(200));
    expect([...failures].filter((name) => !['NotFoundException', 'KMSInvalidStateException', 'KMSInternalException'].includes(name))).toEqual([]);

    expect((await reset(svc)).status).toBe(200);
    expect((await kms.send(new ListKeysCommand({}))).Keys).toEqual([]);
    expect(await storedKeys(svc)).toEqual([]);
    expect((await listTokenObjects(svc.token)).filter((o) => o.id !== HEALTH_KEY_ID && o.id !== AUDIT_SIGNING_KEY_OBJECT_ID)).toEqual([]);
    const verification = await verifyAuditTrail(svc.store.audit, (await openAuditSigningKey(svc.deps, 'test')).publicKeySpki);
    expect(verification.ok).toBe(true);
  }, 120_000);
});

describe('both conveniences off (the default)', () => {
  let svc: TestService;
  let kms: KMSClient;
  beforeAll(async () => {
    svc = await startTestService({ listen: true });
    kms = new KMSClient({ endpoint: svc.url, region: MOTO_REGION, credentials: MOTO_CREDENTIALS, maxAttempts: 1 });
  });
  afterAll(async () => {
    kms.destroy();
    await svc.close();
  });

  it('FOOBARKEY is refused as an unknown access key id, and neither reset path exists', async () => {
    const refused = await rejection(kms.send(new ListKeysCommand({})));
    expect(refused.name).toBe('UnrecognizedClientException');
    const root = new KMSClient({ endpoint: svc.url, region: MOTO_REGION, credentials: ROOT, maxAttempts: 1 });
    try {
      await root.send(new CreateKeyCommand({}));
      for (const resetPath of ['/moto-api/reset', '/hsm-kms/reset']) expect((await reset(svc, resetPath)).status).toBe(404);
      expect((await root.send(new ListKeysCommand({}))).Keys).toHaveLength(1);
    } finally {
      root.destroy();
    }
  }, 60_000);
});
