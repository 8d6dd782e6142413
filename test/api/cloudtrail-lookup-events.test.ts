// CloudTrail's LookupEvents on the KMS endpoint, through the unmodified AWS SDK CloudTrail client,
// the AWS CLI and raw signed requests: shapes, paging, CloudTrail's errors and their JSON shape,
// the cloudtrail signing name, and cloudtrail:LookupEvents authorisation. Records are put into the
// service's SQLite trail directly here, so these tests depend on the trail's store and not on who
// writes it; test/api/audit-trail-reading.test.ts reads records the service writes itself.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  CloudTrailClient, InvalidLookupAttributesException, InvalidMaxResultsException, InvalidNextTokenException, InvalidTimeRangeException,
  LookupEventsCommand, paginateLookupEvents, type LookupEventsCommandInput,
} from '@aws-sdk/client-cloudtrail';
import { ListKeysCommand } from '@aws-sdk/client-kms';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import request from 'supertest';
import type { CredentialsFileEntry } from '../../src/http/auth/principals';
import { auditDraft, type DraftOptions } from '../support/audit-drafts';
import { ACCOUNT, ALICE, REGION, ROOT, sdkClient, startTestService, type TestService } from '../support/service';
import { kmsCall } from '../support/signed';

const run = promisify(execFile);
const TARGET = 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.';
const AUDITOR: CredentialsFileEntry = {
  accessKeyId: 'AKIAAUDITORTEST00001', secretAccessKey: 'auditor-secret-key-for-tests-only-000001', principalArn: `arn:aws:iam::${ACCOUNT}:user/auditor`,
  policies: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'cloudtrail:LookupEvents', Resource: '*' }] }],
};
const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/11111111-2222-4333-8444-555555555555`;
const T0 = new Date('2026-11-01T00:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

let svc: TestService;
let dir: string;
let root: CloudTrailClient;
const drafts: DraftOptions[] = [
  ...Array.from({ length: 60 }, (_, i): DraftOptions => ({ eventName: 'Encrypt', eventTime: at(10 + i), resourceNames: [KEY_ARN], accessKeyId: ROOT.accessKeyId })),
  { eventName: 'DescribeKey', eventTime: at(100), readOnly: true, resourceNames: [KEY_ARN, 'alias/app'], principalArn: ALICE.principalArn, accessKeyId: ALICE.accessKeyId, requestId: 'req-describe' },
];

const cloudTrail = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
  new CloudTrailClient({ endpoint: svc.url, region: REGION, credentials, maxAttempts: 1 });

/** A raw request signed as the SDK would sign it, for `service`, with exactly these bytes. */
async function signedCall(target: string, body: string, options: { service?: string; contentType?: string; credentials?: typeof ROOT } = {}) {
  const headers = { host: 'localhost', 'content-type': options.contentType ?? 'application/x-amz-json-1.1', 'x-amz-target': target };
  const signer = new SignatureV4({ service: options.service ?? 'cloudtrail', region: REGION, credentials: options.credentials ?? ROOT, sha256: Sha256 });
  const signed = await signer.sign(new HttpRequest({ method: 'POST', protocol: 'http:', hostname: 'localhost', path: '/', headers, body }));
  const res = await request(svc.app).post('/').set(signed.headers).send(body);
  return { status: res.status, body: res.text ? JSON.parse(res.text) as Record<string, unknown> : {}, headers: res.headers };
}

/** The error `promise` rejects with. */
const rejection = (promise: Promise<unknown>) => promise.then(() => { throw new Error('expected a failure'); }, (e: unknown) => e as Error & { $metadata: { httpStatusCode?: number } });

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-lookup-'));
  const credentialsFile = path.join(dir, 'credentials.json');
  writeFileSync(credentialsFile, JSON.stringify([ALICE, AUDITOR]));
  svc = await startTestService({ listen: true, credentialsFile });
  await svc.store.audit.append(drafts.map(auditDraft));
  root = cloudTrail(ROOT);
});
afterAll(async () => {
  root.destroy();
  await svc.close();
  rmSync(dir, { recursive: true, force: true });
});

/** LookupEvents through the SDK; an EndTime before today leaves out the records of the service's own calls. */
function lookup(input: LookupEventsCommandInput, client = root) {
  return client.send(new LookupEventsCommand({ ...input, EndTime: input.EndTime ?? at(1000) }));
}

describe('through the AWS SDK CloudTrail client', () => {
  it('answers events newest first in CloudTrail\'s shape', async () => {
    const out = await lookup({ MaxResults: 2 });
    expect(out.Events).toHaveLength(2);
    const [describe, encrypt] = out.Events!;
    expect(describe).toEqual({
      EventId: expect.any(String), EventName: 'DescribeKey', ReadOnly: 'true', AccessKeyId: ALICE.accessKeyId, EventTime: at(100),
      EventSource: 'kms.amazonaws.com', Username: 'alice',
      Resources: [{ ResourceType: 'AWS::KMS::Key', ResourceName: KEY_ARN }, { ResourceType: 'AWS::KMS::Alias', ResourceName: 'alias/app' }],
      CloudTrailEvent: expect.any(String),
    });
    expect(JSON.parse(describe!.CloudTrailEvent!)).toMatchObject({ eventID: describe!.EventId, requestID: 'req-describe', eventName: 'DescribeKey' });
    expect(encrypt).toMatchObject({ EventName: 'Encrypt', ReadOnly: 'false', EventTime: at(69), Username: 'root' });
    expect(out.NextToken).toEqual(expect.any(String));
  });

  it('filters on one lookup attribute and a time range', async () => {
    const byUser = await lookup({ LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'alice' }] });
    expect(byUser.Events!.map((e) => e.EventName)).toEqual(['DescribeKey']);
    const byResource = await lookup({ LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: 'alias/app' }] });
    expect(byResource.Events!.map((e) => e.EventName)).toEqual(['DescribeKey']);
    const inRange = await lookup({ StartTime: at(20), EndTime: at(24), LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'Encrypt' }] });
    expect(inRange.Events!.map((e) => e.EventTime)).toEqual([at(24), at(23), at(22), at(21), at(20)]);
  });

  it('pages with the SDK\'s paginator', async () => {
    const times: Date[] = [];
    let pages = 0;
    for await (const page of paginateLookupEvents({ client: root, pageSize: 7 }, { EndTime: at(1000), LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'Encrypt' }] })) {
      pages++;
      times.push(...page.Events!.map((e) => e.EventTime!));
    }
    expect(pages).toBe(9);
    expect(times).toEqual(Array.from({ length: 60 }, (_, i) => at(69 - i)));
  });

  it('answers CloudTrail\'s exceptions, as the SDK\'s classes, with status 400', async () => {
    const cases: [Promise<unknown>, new (...args: never[]) => Error][] = [
      [lookup({ StartTime: at(50), EndTime: at(40) }), InvalidTimeRangeException],
      [lookup({ MaxResults: 51 }), InvalidMaxResultsException],
      [lookup({ MaxResults: 0 }), InvalidMaxResultsException],
      [lookup({ NextToken: 'not-a-token' }), InvalidNextTokenException],
      [lookup({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'a' }, { AttributeKey: 'Username', AttributeValue: 'b' }] }), InvalidLookupAttributesException],
      [lookup({ LookupAttributes: [{ AttributeKey: 'UserAgent' as 'EventName', AttributeValue: 'x' }] }), InvalidLookupAttributesException],
    ];
    for (const [call, type] of cases) {
      const error = await rejection(call);
      expect(error).toBeInstanceOf(type);
      expect(error.$metadata.httpStatusCode).toBe(400);
      // The SDK moves CloudTrail's Message member into the error's message.
      expect(error.message).toMatch(/\w/);
    }
  });

  it('refuses a NextToken issued for other parameters', async () => {
    const { NextToken } = await lookup({ MaxResults: 1 });
    expect(await rejection(lookup({ MaxResults: 1, NextToken, LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'Encrypt' }] }))).toBeInstanceOf(InvalidNextTokenException);
  });

  it('denies a principal without cloudtrail:LookupEvents, and allows one with it', async () => {
    const alice = cloudTrail(ALICE);
    const denied = await rejection(lookup({}, alice));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.$metadata.httpStatusCode).toBe(400);
    expect(denied.message).toBe(`User: ${ALICE.principalArn} is not authorized to perform: cloudtrail:LookupEvents on resource: * because no identity-based policy allows the cloudtrail:LookupEvents action`);
    alice.destroy();
    const auditor = cloudTrail(AUDITOR);
    expect((await lookup({ MaxResults: 1 }, auditor)).Events).toHaveLength(1);
    auditor.destroy();
  });

  it('leaves the KMS API as it was on the same endpoint', async () => {
    const kms = sdkClient(svc, ROOT);
    expect((await kms.send(new ListKeysCommand({}))).Keys).toEqual(expect.any(Array));
    kms.destroy();
    const unknown = await kmsCall(svc.app, 'LookupEvents', {});
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual({ __type: 'UnknownOperationException', message: '' });
  });
});

describe('on the wire', () => {
  it('CloudTrail requests must be signed for the cloudtrail service.', async () => {
    const res = await signedCall(`${TARGET}LookupEvents`, '{}', { service: 'kms' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ __type: 'InvalidSignatureException', Message: "Credential should be scoped to correct service: 'cloudtrail'. " });
    expect(res.headers['x-amzn-errortype']).toBe('InvalidSignatureException');
    expect(res.headers['x-amzn-requestid']).toEqual(expect.any(String));
    // And a KMS operation signed for CloudTrail is refused by the KMS API, in its own shape.
    const kms = await signedCall('TrentService.ListKeys', '{}', { service: 'cloudtrail' });
    expect(kms.body).toEqual({ __type: 'InvalidSignatureException', message: "Credential should be scoped to correct service: 'kms'. " });
  });

  it('CloudTrail requests are accepted only with the AWS JSON content types.', async () => {
    for (const contentType of ['application/json', 'text/plain']) {
      const res = await signedCall(`${TARGET}LookupEvents`, '{}', { contentType });
      expect(res.status).toBe(400);
      expect(res.body.__type).toBe('SerializationException');
    }
    expect((await signedCall(`${TARGET}LookupEvents`, '{"MaxResults":1}', { contentType: 'application/x-amz-json-1.0' })).status).toBe(200);
  });

  it('answers bad input with a 4xx in CloudTrail\'s shape, never a 500', async () => {
    const bodies = [
      'not json', '[]', '"text"', '{"MaxResults":"5"}', '{"MaxResults":1.5}', '{"StartTime":"yesterday"}', '{"StartTime":1e300}', '{"LookupAttributes":{}}',
      '{"LookupAttributes":[null]}', '{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":7}]}', '{"NextToken":7}', '{"NextToken":""}',
      '{"EventCategory":"management"}', '{"__proto__":{"x":1}}', `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"${'x'.repeat(3000)}"}]}`,
    ];
    for (const body of bodies) {
      const res = await signedCall(`${TARGET}LookupEvents`, body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(Object.keys(res.body).sort()).toEqual(['Message', '__type']);
    }
    const unknown = await signedCall(`${TARGET}DescribeTrails`, '{}');
    expect(unknown).toMatchObject({ status: 400, body: { __type: 'UnknownOperationException' } });
    const unsigned = await request(svc.app).post('/').set({ 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `${TARGET}LookupEvents` }).send('{}');
    expect(unsigned.status).toBe(403);
    expect(JSON.parse(unsigned.text).__type).toBe('MissingAuthenticationTokenException');
  });
});

describe('through the AWS CLI', () => {
  const cli = (args: string[], credentials = ROOT) => run('aws', ['cloudtrail', 'lookup-events', '--endpoint-url', svc.url!, '--region', REGION, '--output', 'json', ...args], {
    env: { PATH: process.env.PATH, HOME: dir, AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' },
    timeout: 60_000,
  });
  let available = true;
  beforeAll(async () => {
    available = await run('aws', ['--version'], { timeout: 30_000 }).then(() => true, () => false);
  });

  it('works unmodified: filters, time range and its own paging', async () => {
    if (!available) throw new Error('the AWS CLI (aws) is not installed: this test needs it');
    const { stdout } = await cli([
      '--lookup-attributes', 'AttributeKey=EventName,AttributeValue=Encrypt', '--start-time', at(20).toISOString(), '--end-time', at(59).toISOString(), '--page-size', '7',
    ]);
    const out = JSON.parse(stdout) as { Events: { EventName: string; EventTime: string | number; ReadOnly: string }[] };
    expect(out.Events).toHaveLength(40);
    expect(out.Events.every((e) => e.EventName === 'Encrypt' && e.ReadOnly === 'false')).toBe(true);
  });

  it('reports CloudTrail\'s errors', async () => {
    if (!available) throw new Error('the AWS CLI (aws) is not installed: this test needs it');
    const failed = await cli(['--start-time', at(50).toISOString(), '--end-time', at(40).toISOString()]).then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(failed?.code).not.toBe(0);
    expect(failed?.stderr).toContain('InvalidTimeRangeException');
    const denied = await cli(['--max-results', '1'], ALICE).then(() => undefined, (e: { stderr: string }) => e);
    expect(denied?.stderr).toContain('AccessDeniedException');
  });
});
