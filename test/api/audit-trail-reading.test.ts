// The trail read back after real calls: KMS calls through the AWS SDK, then LookupEvents through
// the SDK's CloudTrail client and GetKeyLastUsage through the KMS client, on the records the
// service's audit observer (src/core/audit/trail.ts) wrote for those calls.
import { CloudTrailClient, LookupEventsCommand, type LookupEventsCommandInput } from '@aws-sdk/client-cloudtrail';
import {
  CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GetKeyLastUsageCommand, ReEncryptCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { ROOT, REGION, sdkClient, startTestService, type TestService } from '../support/service';

describe('reading the records of real calls', () => {
  let svc: TestService;
  let kms: KMSClient;
  let cloudTrail: CloudTrailClient;
  let keyA: { KeyId: string; Arn: string };
  let keyB: { KeyId: string; Arn: string };
  let reEncryptRequestId: string | undefined;
  const startedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000);

  beforeAll(async () => {
    svc = await startTestService({ listen: true });
    kms = sdkClient(svc, ROOT);
    cloudTrail = new CloudTrailClient({ endpoint: svc.url, region: REGION, credentials: ROOT, maxAttempts: 1 });
    const created = async () => {
      const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
      return { KeyId: KeyMetadata!.KeyId!, Arn: KeyMetadata!.Arn! };
    };
    keyA = await created();
    keyB = await created();
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyA.KeyId, Plaintext: Buffer.from('trail') }));
    await kms.send(new DecryptCommand({ CiphertextBlob }));
    const reEncrypted = await kms.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: keyB.KeyId }));
    reEncryptRequestId = reEncrypted.$metadata.requestId;
    expect(reEncryptRequestId).toEqual(expect.any(String));
    // A failed call and a management call after the last use do not count as use.
    const tampered = Buffer.from(CiphertextBlob!);
    tampered[tampered.length - 1]! ^= 1;
    await kms.send(new DecryptCommand({ CiphertextBlob: tampered })).catch(() => undefined);
    await kms.send(new DescribeKeyCommand({ KeyId: keyA.KeyId }));
  });
  afterAll(async () => {
    kms.destroy();
    cloudTrail.destroy();
    await svc.close();
  });

  const lookup = async (input: LookupEventsCommandInput) => (await cloudTrail.send(new LookupEventsCommand({ StartTime: startedAt, ...input }))).Events!;

  it('LookupEvents finds each call by name, resource, user and access key', async () => {
    const [encrypt, ...more] = await lookup({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'Encrypt' }] });
    expect(more).toEqual([]);
    expect(encrypt).toMatchObject({
      // CloudTrail marks KMS's cryptographic operations read-only: they change nothing.
      EventName: 'Encrypt', ReadOnly: 'true', EventSource: 'kms.amazonaws.com', Username: 'root', AccessKeyId: ROOT.accessKeyId,
      Resources: expect.arrayContaining([{ ResourceType: 'AWS::KMS::Key', ResourceName: keyA.Arn }]),
    });
    const event = JSON.parse(encrypt!.CloudTrailEvent!);
    expect(event).toMatchObject({ eventID: encrypt!.EventId, eventName: 'Encrypt', eventSource: 'kms.amazonaws.com' });
    // The plaintext is never in the trail.
    expect(encrypt!.CloudTrailEvent).not.toContain(Buffer.from('trail').toString('base64'));

    const onKeyA = (await lookup({ LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: keyA.Arn }] })).map((e) => e.EventName);
    expect(onKeyA).toEqual(expect.arrayContaining(['DescribeKey', 'ReEncrypt', 'Decrypt', 'Encrypt', 'CreateKey']));
    expect(onKeyA.indexOf('DescribeKey')).toBeLessThan(onKeyA.indexOf('Encrypt'));
    expect(onKeyA.indexOf('Encrypt')).toBeLessThan(onKeyA.indexOf('CreateKey'));
    const byAccessKey = await lookup({ LookupAttributes: [{ AttributeKey: 'AccessKeyId', AttributeValue: ROOT.accessKeyId }] });
    expect(byAccessKey.length).toBeGreaterThanOrEqual(7);
    const readOnly = (await lookup({ LookupAttributes: [{ AttributeKey: 'ReadOnly', AttributeValue: 'true' }] })).map((e) => e.EventName);
    expect(readOnly).toEqual(expect.arrayContaining(['DescribeKey', 'Encrypt']));
    expect(readOnly).not.toContain('CreateKey');
    const writes = (await lookup({ LookupAttributes: [{ AttributeKey: 'ReadOnly', AttributeValue: 'false' }] })).map((e) => e.EventName);
    // This test's own LookupEvents calls are in the trail too: read-only, from CloudTrail's event source.
    expect(writes).toEqual(['CreateKey', 'CreateKey']);
    const lookups = await lookup({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'LookupEvents' }] });
    expect(lookups.length).toBeGreaterThan(0);
    for (const event of lookups) {
      expect(event).toMatchObject({ EventSource: 'cloudtrail.amazonaws.com', ReadOnly: 'true' });
      expect(JSON.parse(event.CloudTrailEvent!)).toMatchObject({ readOnly: true, requestParameters: { lookupAttributes: [expect.any(Object)] } });
    }
  });

  it('GetKeyLastUsage names the ReEncrypt for both keys, with the event LookupEvents shows', async () => {
    const [reEncrypt] = await lookup({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'ReEncrypt' }] });
    for (const key of [keyA, keyB]) {
      const out = await kms.send(new GetKeyLastUsageCommand({ KeyId: key.KeyId }));
      expect(out.KeyLastUsage).toMatchObject({ Operation: 'ReEncrypt', CloudTrailEventId: reEncrypt!.EventId, Timestamp: reEncrypt!.EventTime });
      expect(out.KeyLastUsage!.KmsRequestId).toBe(reEncryptRequestId);
      expect(out.TrackingStartDate!.getTime()).toBeGreaterThanOrEqual(out.KeyCreationDate!.getTime());
    }
  });
});
