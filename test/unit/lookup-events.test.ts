// LookupEvents in core, with drafts appended by hand: filters, time range, paging, visibility per
// account and region, authorisation, and CloudTrail's errors. The trail is the memory store's, then
// the SQLite store's (the other repositories stay in memory).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RequestContext } from '../../src/core/api/context';
import { lookupEvents } from '../../src/core/audit/lookup-events';
import type { CoreDeps } from '../../src/core/deps';
import { toWire } from '../../src/http/kms/json';
import { auditDraft, type DraftOptions } from '../support/audit-drafts';
import { kmsFailure, newCoreDeps, type Loose } from '../support/core-harness';
import { EmbeddedStore } from '../../src/store/embedded';
import { withRepositories } from '../support/wrapped-store';

const ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '444455556666';
const REGION = 'us-east-1';
const keyArn = (n: number, account = ACCOUNT, region = REGION) => `arn:aws:kms:${region}:${account}:key/${String(n).padStart(8, '0')}-1111-2222-3333-444444444444`;
const root: RequestContext = { principal: { arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, policies: [] }, region: REGION, requestId: 'r' };
const otherRoot: RequestContext = { principal: { arn: `arn:aws:iam::${OTHER_ACCOUNT}:root`, accountId: OTHER_ACCOUNT, policies: [] }, region: REGION, requestId: 'r' };
const userWith = (...statements: object[]): RequestContext => ({
  ...root,
  principal: { arn: `arn:aws:iam::${ACCOUNT}:user/carol`, accountId: ACCOUNT, policies: statements.length ? [JSON.stringify({ Version: '2012-10-17', Statement: statements })] : [] },
});
const T0 = new Date('2026-11-01T00:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

describe.each(['memory', 'sqlite'] as const)('LookupEvents on the %s trail', (trail) => {
  let deps: CoreDeps;
  let embedded: EmbeddedStore | undefined;
  let dir: string | undefined;

  beforeEach(async () => {
    ({ deps } = await newCoreDeps(new Date('2026-12-01T00:00:00Z')));
    if (trail === 'sqlite') {
      dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-lookup-'));
      embedded = new EmbeddedStore(path.join(dir, 'metadata.sqlite'));
      await embedded.init();
      deps = { ...deps, store: withRepositories(deps.store, { audit: embedded.audit }) };
    }
  });

  afterEach(async () => {
    await embedded?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    embedded = undefined;
    dir = undefined;
  });

  const append = (...drafts: DraftOptions[]) => deps.store.audit.append(drafts.map(auditDraft));
  const lookup = async (body: object, ctx: RequestContext = root): Promise<Loose> =>
    toWire(await lookupEvents.prepare(JSON.parse(JSON.stringify(body))).run(deps, ctx)) as Loose;
  const failure = (body: object, ctx: RequestContext = root) => kmsFailure(Promise.resolve().then(() => lookupEvents.prepare(body).run(deps, ctx)));
  const names = (out: Loose) => (out.Events as Loose[]).map((e) => e.EventName);

  /** Pages through everything `body` finds, MaxResults at a time. */
  async function all(body: object, ctx: RequestContext = root): Promise<{ events: Loose[]; pages: number }> {
    const events: Loose[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const out = await lookup({ ...body, ...(token ? { NextToken: token } : {}) }, ctx);
      events.push(...out.Events);
      token = out.NextToken;
      pages++;
    } while (token);
    return { events, pages };
  }

  describe('results', () => {
    it('answers events newest first in CloudTrail\'s shape', async () => {
      await append(
        { eventName: 'CreateKey', eventTime: at(1), resourceNames: [keyArn(1)], accessKeyId: 'AKIAROOT', requestId: 'req-1' },
        { eventName: 'DescribeKey', eventTime: at(2), readOnly: true, resourceNames: [keyArn(1), 'alias/app'], principalArn: `arn:aws:iam::${ACCOUNT}:user/alice` },
      );
      const out = await lookup({});
      expect(names(out)).toEqual(['DescribeKey', 'CreateKey']);
      expect(out.NextToken).toBeUndefined();
      const [describe, create] = out.Events as Loose[];
      expect(describe).toEqual({
        EventId: expect.any(String), EventName: 'DescribeKey', ReadOnly: 'true', EventTime: at(2).getTime() / 1000, EventSource: 'kms.amazonaws.com', Username: 'alice',
        Resources: [{ ResourceType: 'AWS::KMS::Key', ResourceName: keyArn(1) }, { ResourceType: 'AWS::KMS::Alias', ResourceName: 'alias/app' }],
        CloudTrailEvent: expect.any(String),
      });
      expect(describe!.AccessKeyId).toBeUndefined();
      expect(create).toMatchObject({ EventName: 'CreateKey', ReadOnly: 'false', AccessKeyId: 'AKIAROOT', Username: 'root' });
      const event = JSON.parse(create!.CloudTrailEvent);
      expect(event).toMatchObject({ eventName: 'CreateKey', requestID: 'req-1', eventID: create!.EventId });
    });

    it('answers an empty trail with no events and no NextToken', async () => {
      expect(await lookup({})).toEqual({ Events: [] });
    });

    it('returns at most 50 events by default', async () => {
      await append(...Array.from({ length: 60 }, (_, i) => ({ eventName: 'Encrypt', eventTime: at(i), resourceNames: [keyArn(1)] })));
      const out = await lookup({});
      expect(out.Events).toHaveLength(50);
      expect(out.NextToken).toEqual(expect.any(String));
    });
  });

  describe('lookup attributes', () => {
    beforeEach(async () => {
      await append(
        { eventName: 'CreateKey', eventTime: at(1), resourceNames: [keyArn(1)], accessKeyId: 'AKIAROOT', eventId: '00000000-0000-4000-8000-000000000001' },
        { eventName: 'Encrypt', eventTime: at(2), resourceNames: [keyArn(1)], principalArn: `arn:aws:iam::${ACCOUNT}:user/alice`, accessKeyId: 'AKIAALICE' },
        { eventName: 'ListKeys', eventTime: at(3), readOnly: true, accessKeyId: 'AKIAROOT' },
        { eventName: 'Decrypt', eventTime: at(4), resourceNames: [keyArn(2), 'alias/app'], principalArn: `arn:aws:iam::${ACCOUNT}:user/alice`, accessKeyId: 'AKIAALICE' },
        { eventName: 'LookupEvents', eventTime: at(5), readOnly: true, eventSource: 'cloudtrail.amazonaws.com', accessKeyId: 'AKIAROOT' },
      );
    });
    const by = async (AttributeKey: string, AttributeValue: string) => names(await lookup({ LookupAttributes: [{ AttributeKey, AttributeValue }] }));

    it('filters on each attribute the trail stores', async () => {
      expect(await by('EventId', '00000000-0000-4000-8000-000000000001')).toEqual(['CreateKey']);
      expect(await by('EventName', 'Encrypt')).toEqual(['Encrypt']);
      expect(await by('ReadOnly', 'true')).toEqual(['LookupEvents', 'ListKeys']);
      expect(await by('ReadOnly', 'false')).toEqual(['Decrypt', 'Encrypt', 'CreateKey']);
      expect(await by('Username', 'alice')).toEqual(['Decrypt', 'Encrypt']);
      expect(await by('Username', 'root')).toEqual(['LookupEvents', 'ListKeys', 'CreateKey']);
      expect(await by('AccessKeyId', 'AKIAALICE')).toEqual(['Decrypt', 'Encrypt']);
      expect(await by('ResourceName', keyArn(1))).toEqual(['Encrypt', 'CreateKey']);
      expect(await by('ResourceName', 'alias/app')).toEqual(['Decrypt']);
      expect(await by('EventName', 'Sign')).toEqual([]);
    });

    it('filters on EventSource and ResourceType from the CloudTrail event', async () => {
      expect(await by('EventSource', 'cloudtrail.amazonaws.com')).toEqual(['LookupEvents']);
      expect(await by('EventSource', 'kms.amazonaws.com')).toEqual(['Decrypt', 'ListKeys', 'Encrypt', 'CreateKey']);
      expect(await by('ResourceType', 'AWS::KMS::Key')).toEqual(['Decrypt', 'Encrypt', 'CreateKey']);
      expect(await by('ResourceType', 'AWS::KMS::Alias')).toEqual(['Decrypt']);
      expect(await by('ResourceType', 'AWS::EC2::Instance')).toEqual([]);
    });

    it('combines an attribute with a time range', async () => {
      expect(names(await lookup({ LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'alice' }], StartTime: at(3).getTime() / 1000 }))).toEqual(['Decrypt']);
    });
  });

  describe('time range', () => {
    beforeEach(async () => {
      await append(...[10, 20, 30, 40].map((s) => ({ eventName: `E${s}`, eventTime: at(s) })));
    });

    it('includes both ends of the range', async () => {
      expect(names(await lookup({ StartTime: at(20).getTime() / 1000, EndTime: at(30).getTime() / 1000 }))).toEqual(['E30', 'E20']);
      expect(names(await lookup({ StartTime: at(25).getTime() / 1000 }))).toEqual(['E40', 'E30']);
      expect(names(await lookup({ EndTime: at(25).getTime() / 1000 }))).toEqual(['E20', 'E10']);
      expect(names(await lookup({ StartTime: at(30).getTime() / 1000, EndTime: at(30).getTime() / 1000 }))).toEqual(['E30']);
    });

    it('accepts fractional epoch seconds, as the AWS SDKs send them', async () => {
      expect(names(await lookup({ StartTime: at(19.999).getTime() / 1000, EndTime: at(20.001).getTime() / 1000 }))).toEqual(['E20']);
    });

    it('refuses a StartTime after the EndTime with InvalidTimeRangeException', async () => {
      expect(await failure({ StartTime: at(30).getTime() / 1000, EndTime: at(20).getTime() / 1000 })).toEqual({ code: 'InvalidTimeRangeException', message: expect.any(String) });
    });

    it('refuses a timestamp that is not a number as a serialization error', async () => {
      expect((await failure({ StartTime: '2026-11-01T00:00:00Z' })).code).toBe('SerializationException');
      expect((await failure({ EndTime: 1e20 })).code).toBe('SerializationException');
    });
  });

  describe('paging', () => {
    beforeEach(async () => {
      await append(...Array.from({ length: 23 }, (_, i) => ({ eventName: `E${i}`, eventTime: at(i), resourceNames: [keyArn(i % 2)] })));
    });

    it('pages through every event exactly once, newest first', async () => {
      const { events, pages } = await all({ MaxResults: 5 });
      expect(pages).toBe(5);
      expect(events.map((e) => e.EventName)).toEqual(Array.from({ length: 23 }, (_, i) => `E${22 - i}`));
    });

    it('pages within a filter', async () => {
      const { events } = await all({ MaxResults: 4, LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: keyArn(1) }] });
      expect(events.map((e) => e.EventName)).toEqual(Array.from({ length: 11 }, (_, i) => `E${21 - 2 * i}`));
      const byType = await all({ MaxResults: 3, LookupAttributes: [{ AttributeKey: 'ResourceType', AttributeValue: 'AWS::KMS::Key' }] });
      expect(byType.events).toHaveLength(23);
    });

    it('gives no NextToken when the last page is exactly full', async () => {
      const out = await lookup({ MaxResults: 23 });
      expect(out.Events).toHaveLength(23);
      expect(out.NextToken).toBeUndefined();
    });

    it('refuses MaxResults outside 1 to 50 with InvalidMaxResultsException', async () => {
      for (const MaxResults of [0, -1, 51, 1000]) expect((await failure({ MaxResults })).code).toBe('InvalidMaxResultsException');
      expect((await lookup({ MaxResults: 1 })).Events).toHaveLength(1);
      expect((await lookup({ MaxResults: 50 })).Events).toHaveLength(23);
      expect((await failure({ MaxResults: '5' })).code).toBe('SerializationException');
    });

    it('a NextToken the service did not issue for the same lookup parameters is refused with InvalidNextTokenException.', async () => {
      const first = await lookup({ MaxResults: 5, LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'E3' }] });
      expect(first.NextToken).toBeUndefined();
      const { NextToken } = await lookup({ MaxResults: 5 });
      expect((await lookup({ MaxResults: 5, NextToken })).Events).toHaveLength(5);
      const refused = async (body: object) => expect((await failure(body)).code).toBe('InvalidNextTokenException');
      // Issued for other parameters.
      await refused({ NextToken, LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'E3' }] });
      await refused({ NextToken, StartTime: at(0).getTime() / 1000 });
      // Not issued at all, or tampered with.
      await refused({ NextToken: 'garbage' });
      await refused({ NextToken: `${NextToken}=` });
      await refused({ NextToken: Buffer.from('lookup:abc:0123456789abcdef').toString('base64url') });
      const [, , mac] = Buffer.from(NextToken, 'base64url').toString().split(':');
      await refused({ NextToken: Buffer.from(`lookup:0:${mac}`).toString('base64url') });
      await refused({ NextToken: Buffer.from(`lookup:3:${'0'.repeat(16)}`).toString('base64url') });
      // MaxResults may change between pages.
      expect((await lookup({ MaxResults: 2, NextToken })).Events).toHaveLength(2);
    });
  });

  describe('lookup attribute errors', () => {
    const refused = async (LookupAttributes: unknown) => expect((await failure({ LookupAttributes })).code).toBe('InvalidLookupAttributesException');

    it('refuses more than one lookup attribute', async () => {
      await refused([{ AttributeKey: 'EventName', AttributeValue: 'Encrypt' }, { AttributeKey: 'Username', AttributeValue: 'root' }]);
    });

    it('refuses an unknown or missing AttributeKey, and a missing, empty or too long AttributeValue', async () => {
      await refused([{ AttributeKey: 'UserAgent', AttributeValue: 'x' }]);
      await refused([{ AttributeKey: 'eventname', AttributeValue: 'Encrypt' }]);
      await refused([{ AttributeValue: 'Encrypt' }]);
      await refused([{ AttributeKey: 'EventName' }]);
      await refused([{ AttributeKey: 'EventName', AttributeValue: '' }]);
      await refused([{ AttributeKey: 'EventName', AttributeValue: 'a'.repeat(2001) }]);
      // '_', ' ', ',' and line feeds count twice towards the 2000.
      await refused([{ AttributeKey: 'EventName', AttributeValue: '_'.repeat(1001) }]);
      expect((await lookup({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: '_'.repeat(1000) }] })).Events).toEqual([]);
      expect((await lookup({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'a'.repeat(2000) }] })).Events).toEqual([]);
      expect((await lookup({ LookupAttributes: [] })).Events).toEqual([]);
    });

    it('refuses a lookup attribute of the wrong JSON type as a serialization error', async () => {
      expect((await failure({ LookupAttributes: { AttributeKey: 'EventName', AttributeValue: 'Encrypt' } })).code).toBe('SerializationException');
      expect((await failure({ LookupAttributes: [{ AttributeKey: 7, AttributeValue: 'Encrypt' }] })).code).toBe('SerializationException');
    });
  });

  describe('event category', () => {
    it('finds no Insights events and refuses other categories', async () => {
      await append({ eventName: 'Encrypt', eventTime: at(1) });
      expect(await lookup({ EventCategory: 'insight' })).toEqual({ Events: [] });
      expect((await failure({ EventCategory: 'management' })).code).toBe('InvalidEventCategoryException');
    });
  });

  describe('visibility', () => {
    it('shows an account only its own events in the region asked', async () => {
      await append(
        { eventName: 'Mine', eventTime: at(1), resourceNames: [keyArn(1)] },
        { eventName: 'Theirs', eventTime: at(2), resourceNames: [keyArn(2, OTHER_ACCOUNT)], principalArn: `arn:aws:iam::${OTHER_ACCOUNT}:root` },
        { eventName: 'TheirsOnMyKey', eventTime: at(3), resourceNames: [keyArn(3)], principalArn: `arn:aws:iam::${OTHER_ACCOUNT}:root` },
        { eventName: 'MineElsewhere', eventTime: at(4), region: 'eu-west-1', resourceNames: [keyArn(4, ACCOUNT, 'eu-west-1')] },
      );
      expect(names(await lookup({}))).toEqual(['TheirsOnMyKey', 'Mine']);
      expect(names(await lookup({}, otherRoot))).toEqual(['TheirsOnMyKey', 'Theirs']);
      expect(names(await lookup({}, { ...root, region: 'eu-west-1' }))).toEqual(['MineElsewhere']);
      // A filter on another account's key finds nothing for this one.
      expect(names(await lookup({ LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: keyArn(2, OTHER_ACCOUNT) }] }))).toEqual([]);
    });

    it('shows records that belong to no account to every caller allowed to look events up', async () => {
      const draft = auditDraft({ eventName: 'GetHealthStatus', eventTime: at(1) });
      const event = JSON.parse(draft.event) as Loose;
      delete event.recipientAccountId;
      delete event.awsRegion;
      event.userIdentity = { type: 'Unknown', principalId: 'xks-proxy-credential' };
      event.eventSource = 'xks-proxy.hsm-kms';
      await deps.store.audit.append([{ ...draft, event: JSON.stringify(event) }]);
      expect(names(await lookup({}))).toEqual(['GetHealthStatus']);
      expect(names(await lookup({}, otherRoot))).toEqual(['GetHealthStatus']);
      expect((await lookup({ LookupAttributes: [{ AttributeKey: 'EventSource', AttributeValue: 'xks-proxy.hsm-kms' }] })).Events).toHaveLength(1);
    });

    it('reads a bounded number of records per call and carries on with a NextToken', async () => {
      await append({ eventName: 'Mine', eventTime: at(0) });
      await append(...Array.from({ length: 2100 }, (_, i) => ({ eventName: 'Theirs', eventTime: at(i + 1), principalArn: `arn:aws:iam::${OTHER_ACCOUNT}:root` })));
      const first = await lookup({});
      expect(first.Events).toEqual([]);
      expect(first.NextToken).toEqual(expect.any(String));
      const { events, pages } = await all({});
      expect(events.map((e) => e.EventName)).toEqual(['Mine']);
      expect(pages).toBe(3);
    });
  });

  describe('authorisation', () => {
    beforeEach(async () => {
      await append({ eventName: 'Encrypt', eventTime: at(1) });
    });

    it('LookupEvents is allowed only by an identity policy allowing cloudtrail:LookupEvents, or to the account\'s root.', async () => {
      expect(names(await lookup({}))).toEqual(['Encrypt']);
      expect(await failure({}, userWith())).toEqual({
        code: 'AccessDeniedException',
        message: `User: arn:aws:iam::${ACCOUNT}:user/carol is not authorized to perform: cloudtrail:LookupEvents on resource: * because no identity-based policy allows the cloudtrail:LookupEvents action`,
      });
      // kms:* says nothing about CloudTrail.
      expect((await failure({}, userWith({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }))).code).toBe('AccessDeniedException');
      expect(names(await lookup({}, userWith({ Effect: 'Allow', Action: 'cloudtrail:LookupEvents', Resource: '*' })))).toEqual(['Encrypt']);
      expect(names(await lookup({}, userWith({ Effect: 'Allow', Action: 'cloudtrail:Lookup*', Resource: '*' })))).toEqual(['Encrypt']);
      const denied = await failure({}, userWith({ Effect: 'Allow', Action: 'cloudtrail:*', Resource: '*' }, { Effect: 'Deny', Action: 'cloudtrail:LookupEvents', Resource: '*' }));
      expect(denied.message).toContain('with an explicit deny in an identity-based policy');
    });

    it('checks permission before the parameters', async () => {
      expect((await failure({ MaxResults: 0 }, userWith())).code).toBe('AccessDeniedException');
    });
  });
});
