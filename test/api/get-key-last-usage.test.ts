// GetKeyLastUsage through the unmodified AWS SDK KMS client, on records put into the service's
// SQLite trail directly (as the trail's writer puts them), so these tests hold whoever writes the
// trail; test/api/audit-trail-reading.test.ts checks it against records of real calls.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  CreateAliasCommand, CreateKeyCommand, DisableKeyCommand, GetKeyLastUsageCommand, NotFoundException, ScheduleKeyDeletionCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { auditDraft } from '../support/audit-drafts';
import { BOB, REGION, ROOT, sdkClient, startTestService, type TestService } from '../support/service';

const run = promisify(execFile);

let svc: TestService;
let kms: KMSClient;
beforeAll(async () => {
  svc = await startTestService({ listen: true });
  kms = sdkClient(svc, ROOT);
});
afterAll(async () => {
  kms.destroy();
  await svc.close();
});

const newKey = async () => (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
const lastUsage = (KeyId: string, client = kms) => client.send(new GetKeyLastUsageCommand({ KeyId }));
const rejection = (promise: Promise<unknown>) => promise.then(() => { throw new Error('expected a failure'); }, (e: unknown) => e as Error & { $metadata: { httpStatusCode?: number } });

it('answers a key never used with an empty KeyLastUsage and tracking from no earlier than its creation', async () => {
  const key = await newKey();
  const out = await lastUsage(key.KeyId!);
  expect(out.KeyId).toBe(key.KeyId);
  expect(out.KeyCreationDate).toEqual(key.CreationDate);
  expect(out.KeyLastUsage).toEqual({});
  expect(out.TrackingStartDate!.getTime()).toBeGreaterThanOrEqual(key.CreationDate!.getTime());
  expect(out.TrackingStartDate!.getTime()).toBeLessThanOrEqual(Date.now());
});

it('names the last successful cryptographic operation on the key, by key id or key ARN', async () => {
  const key = await newKey();
  const usedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
  const [record] = await svc.store.audit.append([
    auditDraft({ eventName: 'GenerateDataKey', eventTime: usedAt, resourceNames: [key.Arn!], requestId: 'req-gdk' }),
    auditDraft({ eventName: 'Decrypt', eventTime: usedAt, succeeded: false, resourceNames: [key.Arn!] }),
    auditDraft({ eventName: 'DescribeKey', eventTime: usedAt, readOnly: true, resourceNames: [key.Arn!] }),
  ]);
  for (const reference of [key.KeyId!, key.Arn!]) {
    const out = await lastUsage(reference);
    expect(out.KeyId).toBe(key.KeyId);
    expect(out.KeyLastUsage).toEqual({ Operation: 'GenerateDataKey', Timestamp: usedAt, CloudTrailEventId: record!.eventId, KmsRequestId: 'req-gdk' });
  }
});

it('refuses alias names with NotFoundException', async () => {
  const key = await newKey();
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/last-usage', TargetKeyId: key.KeyId }));
  const error = await rejection(lastUsage('alias/last-usage'));
  expect(error).toBeInstanceOf(NotFoundException);
  expect(error.message).toBe("Invalid keyId 'alias/last-usage'");
  expect(await rejection(lastUsage('11111111-2222-4333-8444-555555555555'))).toBeInstanceOf(NotFoundException);
});

it('answers for disabled keys and keys pending deletion', async () => {
  const disabled = await newKey();
  await kms.send(new DisableKeyCommand({ KeyId: disabled.KeyId }));
  const pending = await newKey();
  await kms.send(new ScheduleKeyDeletionCommand({ KeyId: pending.KeyId, PendingWindowInDays: 7 }));
  for (const key of [disabled, pending]) expect((await lastUsage(key.KeyId!)).KeyId).toBe(key.KeyId);
});

it('needs kms:GetKeyLastUsage', async () => {
  const key = await newKey();
  const bob = sdkClient(svc, BOB);
  const error = await rejection(lastUsage(key.KeyId!, bob));
  bob.destroy();
  expect(error.name).toBe('AccessDeniedException');
  expect(error.message).toBe(`User: ${BOB.principalArn} is not authorized to perform: kms:GetKeyLastUsage on resource: ${key.Arn} because no resource-based policy allows the kms:GetKeyLastUsage action`);
});

it('works through the AWS CLI', async () => {
  const key = await newKey();
  const [record] = await svc.store.audit.append([auditDraft({ eventName: 'Sign', eventTime: new Date(), resourceNames: [key.Arn!] })]);
  const { stdout } = await run('aws', ['kms', 'get-key-last-usage', '--key-id', key.KeyId!, '--endpoint-url', svc.url!, '--region', REGION, '--output', 'json'], {
    env: { PATH: process.env.PATH, HOME: svc.dir, AWS_ACCESS_KEY_ID: ROOT.accessKeyId, AWS_SECRET_ACCESS_KEY: ROOT.secretAccessKey, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' },
    timeout: 60_000,
  });
  const out = JSON.parse(stdout) as { KeyId: string; KeyLastUsage: { Operation: string; CloudTrailEventId: string } };
  expect(out.KeyId).toBe(key.KeyId);
  expect(out.KeyLastUsage).toMatchObject({ Operation: 'Sign', CloudTrailEventId: record!.eventId });
});
