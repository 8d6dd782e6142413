// GetKeyLastUsage in core, against the memory store with drafts appended by hand (as the trail's
// writer would for each call): which records count, TrackingStartDate, key references, states
// and authorisation.
import type { RequestContext } from '../../src/core/api/context';
import type { CoreDeps } from '../../src/core/deps';
import { auditDraft, type DraftOptions } from '../support/audit-drafts';
import { callOperation, kmsFailure, newCoreDeps, type Loose } from '../support/core-harness';
import type { FakeClock } from '../support/clock';
import type { MemoryStore } from '../support/memory-store';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const root: RequestContext = { principal: { arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, policies: [] }, region: REGION, requestId: 'r' };
const bob: RequestContext = { ...root, principal: { arn: `arn:aws:iam::${ACCOUNT}:user/bob`, accountId: ACCOUNT, policies: [] } };
const START = new Date('2026-11-01T00:00:00Z');
const seconds = (date: Date) => date.getTime() / 1000;

let deps: CoreDeps;
let store: MemoryStore;
let clock: FakeClock;

beforeEach(async () => {
  ({ deps, store, clock } = await newCoreDeps(START));
});

const call = (name: Parameters<typeof callOperation>[2], body: object, ctx: RequestContext = root): Promise<Loose> => callOperation(deps, ctx, name, body);
const failure = (body: object, ctx: RequestContext = root) => kmsFailure(call('GetKeyLastUsage', body, ctx));
const append = (...drafts: DraftOptions[]) => store.audit.append(drafts.map(auditDraft));
const newKey = async (body: object = {}) => (await call('CreateKey', body)).KeyMetadata as { KeyId: string; Arn: string; CreationDate: number };
const later = (ms: number) => { clock.advance(ms); return clock.now(); };

describe('last usage', () => {
  it('answers an empty KeyLastUsage for a key never used, tracking from its creation', async () => {
    await append({ eventName: 'ListKeys', eventTime: later(1000), readOnly: true });
    const key = await newKey();
    later(60_000);
    const out = await call('GetKeyLastUsage', { KeyId: key.KeyId });
    expect(out).toEqual({ KeyId: key.KeyId, KeyCreationDate: key.CreationDate, TrackingStartDate: key.CreationDate, KeyLastUsage: {} });
  });

  it('names the last successful cryptographic operation, its time, event id and request id', async () => {
    const key = await newKey();
    const encryptedAt = later(1000);
    const [encrypt] = await append({ eventName: 'Encrypt', eventTime: encryptedAt, resourceNames: [key.Arn], requestId: 'req-encrypt' });
    await append(
      // Management and failed calls are not use.
      { eventName: 'DescribeKey', eventTime: later(1000), readOnly: true, resourceNames: [key.Arn] },
      { eventName: 'Decrypt', eventTime: later(1000), succeeded: false, resourceNames: [key.Arn] },
      { eventName: 'DisableKey', eventTime: later(1000), resourceNames: [key.Arn] },
      // Another key's use is not this key's.
      { eventName: 'Sign', eventTime: later(1000), resourceNames: [key.Arn.replace(/key\/.*/, 'key/00000000-0000-4000-8000-000000000000')] },
    );
    const out = await call('GetKeyLastUsage', { KeyId: key.Arn });
    expect(out.KeyId).toBe(key.KeyId);
    expect(out.KeyLastUsage).toEqual({ Operation: 'Encrypt', Timestamp: seconds(encryptedAt), CloudTrailEventId: encrypt!.eventId, KmsRequestId: 'req-encrypt' });
  });

  it('counts every cryptographic operation and not the others', async () => {
    const key = await newKey();
    const counted = ['Decrypt', 'DeriveSharedSecret', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext',
      'GenerateDataKeyWithoutPlaintext', 'GenerateMac', 'ReEncrypt', 'Sign', 'Verify', 'VerifyMac'];
    for (const eventName of counted) {
      await append({ eventName, eventTime: later(1000), resourceNames: [key.Arn] });
      expect((await call('GetKeyLastUsage', { KeyId: key.KeyId })).KeyLastUsage.Operation).toBe(eventName);
    }
    for (const eventName of ['GetPublicKey', 'CreateGrant', 'RotateKeyOnDemand', 'GenerateRandom', 'DescribeKey', 'ScheduleKeyDeletion']) {
      await append({ eventName, eventTime: later(1000), resourceNames: [key.Arn] });
    }
    expect((await call('GetKeyLastUsage', { KeyId: key.KeyId })).KeyLastUsage.Operation).toBe('VerifyMac');
  });

  it('counts ReEncrypt for both its source and its destination key', async () => {
    const source = await newKey();
    const destination = await newKey();
    const [reEncrypt] = await append({ eventName: 'ReEncrypt', eventTime: later(1000), resourceNames: [source.Arn, destination.Arn] });
    for (const key of [source, destination]) {
      expect((await call('GetKeyLastUsage', { KeyId: key.KeyId })).KeyLastUsage).toMatchObject({ Operation: 'ReEncrypt', CloudTrailEventId: reEncrypt!.eventId });
    }
  });
});

describe('TrackingStartDate', () => {
  it('is the oldest record the trail holds when the key is older', async () => {
    const key = await newKey();
    const firstRecord = later(5000);
    await append({ eventName: 'ListKeys', eventTime: firstRecord, readOnly: true });
    const out = await call('GetKeyLastUsage', { KeyId: key.KeyId });
    expect(out.TrackingStartDate).toBe(seconds(firstRecord));
    expect(out.KeyCreationDate).toBeLessThan(out.TrackingStartDate);
    expect(out.KeyLastUsage).toEqual({});
  });

  it('moves forward when retention prunes the oldest records', async () => {
    const key = await newKey();
    await append({ eventName: 'Encrypt', eventTime: later(1000), resourceNames: [key.Arn] });
    const kept = later(1000);
    await append({ eventName: 'ListKeys', eventTime: kept, readOnly: true });
    await store.audit.prune(2, kept);
    const out = await call('GetKeyLastUsage', { KeyId: key.KeyId });
    expect(out.TrackingStartDate).toBe(seconds(kept));
    expect(out.KeyLastUsage).toEqual({});
  });

  it('is now while the trail is empty', async () => {
    const key = await newKey();
    const now = later(7000);
    expect((await call('GetKeyLastUsage', { KeyId: key.KeyId })).TrackingStartDate).toBe(seconds(now));
  });
});

describe('key references and states', () => {
  it('refuses alias names and alias ARNs, as AWS does, and unknown keys', async () => {
    const key = await newKey();
    await call('CreateAlias', { AliasName: 'alias/app', TargetKeyId: key.KeyId });
    expect(await failure({ KeyId: 'alias/app' })).toEqual({ code: 'NotFoundException', message: "Invalid keyId 'alias/app'" });
    expect((await failure({ KeyId: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/app` })).code).toBe('NotFoundException');
    expect((await failure({ KeyId: '00000000-0000-4000-8000-000000000000' })).code).toBe('NotFoundException');
    expect((await failure({ KeyId: 'not-a-key' })).code).toBe('NotFoundException');
    expect((await kmsFailure(Promise.resolve().then(() => call('GetKeyLastUsage', {})))).code).toBe('ValidationException');
  });

  it('GetKeyLastUsage answers only for keys of the caller\'s own account.', async () => {
    const key = await newKey();
    const otherRoot: RequestContext = { ...root, principal: { arn: 'arn:aws:iam::444455556666:root', accountId: '444455556666', policies: [] } };
    // Even a key policy that lets the other account in does not make it a cross-account operation.
    await call('PutKeyPolicy', {
      KeyId: key.KeyId, PolicyName: 'default',
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [
        { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Action: 'kms:*', Resource: '*' },
      ] }),
    });
    expect(await failure({ KeyId: key.Arn }, otherRoot)).toEqual({ code: 'NotFoundException', message: `Key '${key.Arn}' does not exist` });
  });

  it('answers in every key state', async () => {
    const disabled = await newKey();
    await call('DisableKey', { KeyId: disabled.KeyId });
    const pendingDeletion = await newKey();
    await call('ScheduleKeyDeletion', { KeyId: pendingDeletion.KeyId });
    const pendingImport = await newKey({ Origin: 'EXTERNAL' });
    for (const key of [disabled, pendingDeletion, pendingImport]) {
      expect((await call('GetKeyLastUsage', { KeyId: key.KeyId })).KeyId).toBe(key.KeyId);
    }
  });
});

describe('authorisation', () => {
  it('needs kms:GetKeyLastUsage on the key', async () => {
    const key = await newKey();
    expect(await failure({ KeyId: key.KeyId }, bob)).toEqual({
      code: 'AccessDeniedException',
      message: `User: ${bob.principal.arn} is not authorized to perform: kms:GetKeyLastUsage on resource: ${key.Arn} because no resource-based policy allows the kms:GetKeyLastUsage action`,
    });
    const allowed: RequestContext = {
      ...bob,
      principal: { ...bob.principal, policies: [JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:GetKeyLastUsage', Resource: key.Arn }] })] },
    };
    expect((await call('GetKeyLastUsage', { KeyId: key.KeyId }, allowed)).KeyId).toBe(key.KeyId);
    const denied: RequestContext = {
      ...bob,
      principal: { ...bob.principal, policies: [JSON.stringify({ Version: '2012-10-17', Statement: [
        { Effect: 'Allow', Action: 'kms:*', Resource: '*' }, { Effect: 'Deny', Action: 'kms:GetKeyLastUsage', Resource: '*' },
      ] })] },
    };
    expect((await failure({ KeyId: key.KeyId }, denied)).code).toBe('AccessDeniedException');
  });
});
