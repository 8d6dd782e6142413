// SigV4 authentication through the HTTP layer: who may call, with which error when not, and
// how the signature's credential scope (region) and the principal's account scope keys.
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import request from 'supertest';
import { ACCOUNT, ALICE, OTHER_ROOT, REGION, ROOT, startTestService, type TestService } from '../support/service';
import { kmsCall, signedHeaders } from '../support/signed';

let svc: TestService;
beforeAll(async () => { svc = await startTestService(); });
afterAll(async () => { await svc.close(); });

const OTHER_ACCOUNT = '444455556666';
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000);

interface Res { status: number; text: string; headers: Record<string, string> }

/** The AWS error shape, plus the request id every response carries. */
function expectError(res: Res, type: string, status: number): string {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/x-amz-json-1\.1(;|$)/);
  expect(res.headers['x-amzn-requestid']).toMatch(uuid);
  const body = JSON.parse(res.text) as { __type: unknown; message: unknown };
  expect(body.__type).toBe(type);
  expect(typeof body.message).toBe('string');
  return body.message as string;
}

/** Sends exactly these headers and bytes to the KMS endpoint. */
async function post(headers: Record<string, string>, body: Buffer): Promise<Res> {
  let req = request(svc.app).post('/');
  for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
  const res = await req.send(body);
  return { status: res.status, text: res.text, headers: res.headers as Record<string, string> };
}

async function createKey(options: Parameters<typeof kmsCall>[3] = {}) {
  const res = await kmsCall(svc.app, 'CreateKey', {}, options);
  expect(res.status).toBe(200);
  return res.body.KeyMetadata as { KeyId: string; Arn: string; AWSAccountId: string };
}

async function listKeyIds(options: Parameters<typeof kmsCall>[3] = {}): Promise<string[]> {
  const res = await kmsCall(svc.app, 'ListKeys', { Limit: 1000 }, options);
  expect(res.status).toBe(200);
  return (res.body.Keys as { KeyId: string }[]).map((k) => k.KeyId);
}

describe('missing or malformed credentials', () => {
  const body = Buffer.from('{}');

  it('no Authorization header is a 403 MissingAuthenticationTokenException', async () => {
    const headers = await signedHeaders('ListKeys', body);
    delete headers.authorization;
    const message = expectError(await post(headers, body), 'MissingAuthenticationTokenException', 403);
    expect(message).toBe('Request is missing Authentication Token');
    const bare = await request(svc.app).post('/').set('content-type', 'application/x-amz-json-1.1').set('x-amz-target', 'TrentService.ListKeys').send('{}');
    expectError({ status: bare.status, text: bare.text, headers: bare.headers as Record<string, string> }, 'MissingAuthenticationTokenException', 403);
  });

  it('a garbage Authorization header is a 400 IncompleteSignatureException that echoes no secret', async () => {
    const headers = await signedHeaders('ListKeys', body);
    const signature = /Signature=([0-9a-f]{64})/.exec(headers.authorization!)![1]!;
    for (const garbage of [
      'garbage',
      'Bearer eyJhbGciOiJIUzI1NiJ9.e30.secret',
      'AWS4-HMAC-SHA256',
      'AWS4-HMAC-SHA256 Credential',
      `AWS4-HMAC-SHA256 Credential=${ROOT.accessKeyId}/x, Signature=${signature}`,
      `AWS4-HMAC-SHA256 Credential=${ROOT.accessKeyId}, SignedHeaders=host;x-amz-date, Signature=nothex`,
      `AWS4-HMAC-SHA256 ${signature}`,
    ]) {
      const message = expectError(await post({ ...headers, authorization: garbage }, body), 'IncompleteSignatureException', 400);
      expect(message).not.toContain(signature);
      expect(message).not.toContain('secret');
    }
  });

  it('an unknown access key is an UnrecognizedClientException', async () => {
    const res = await kmsCall(svc.app, 'ListKeys', {}, { credentials: { accessKeyId: 'AKIAUNKNOWN000000001', secretAccessKey: 'whatever-secret' } });
    expect(expectError(res, 'UnrecognizedClientException', 400)).toBe('The security token included in the request is invalid.');
  });

  it('a session token is an UnrecognizedClientException: this service issues none', async () => {
    const headers = await signedHeaders('ListKeys', body);
    expectError(await post({ ...headers, 'x-amz-security-token': 'FwoGZXIvYXdzE' }, body), 'UnrecognizedClientException', 400);
  });

  it('a wrong secret is an InvalidSignatureException', async () => {
    for (const credentials of [
      { accessKeyId: ROOT.accessKeyId, secretAccessKey: `${ROOT.secretAccessKey}x` },
      { accessKeyId: ALICE.accessKeyId, secretAccessKey: ROOT.secretAccessKey },
      { accessKeyId: ROOT.accessKeyId, secretAccessKey: OTHER_ROOT.secretAccessKey },
    ]) {
      const res = await kmsCall(svc.app, 'ListKeys', {}, { credentials });
      const message = expectError(res, 'InvalidSignatureException', 400);
      expect(message).toMatch(/^The request signature we calculated does not match the signature you provided/);
      for (const secret of [ROOT.secretAccessKey, ALICE.secretAccessKey, OTHER_ROOT.secretAccessKey]) expect(res.text).not.toContain(secret);
    }
  });

  it('a request changed after signing is an InvalidSignatureException', async () => {
    const signedBody = Buffer.from('{"Limit":1}');
    const headers = await signedHeaders('ListKeys', signedBody);
    expectError(await post(headers, Buffer.from('{"Limit":2}')), 'InvalidSignatureException', 400);
    expectError(await post({ ...headers, 'x-amz-target': 'TrentService.CreateKey' }, signedBody), 'InvalidSignatureException', 400);
    expect((await post(headers, signedBody)).status).toBe(200);
  });

  it('a credential scope with an invalid region or another service is an InvalidSignatureException', async () => {
    expectError(await kmsCall(svc.app, 'ListKeys', {}, { region: 'Not_A_Region' }), 'InvalidSignatureException', 400);
    const signer = new SignatureV4({ service: 'dynamodb', region: REGION, credentials: ROOT, sha256: Sha256 });
    const signed = await signer.sign(new HttpRequest({
      method: 'POST', protocol: 'http:', hostname: 'localhost', path: '/', body,
      headers: { host: 'localhost', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys' },
    }));
    const message = expectError(await post(signed.headers as Record<string, string>, body), 'InvalidSignatureException', 400);
    expect(message).toContain("Credential should be scoped to correct service: 'kms'.");
  });
});

describe('the signing date', () => {
  it('a request signed 6 minutes ago has expired', async () => {
    const res = await kmsCall(svc.app, 'ListKeys', {}, { signingDate: minutesAgo(6) });
    expect(expectError(res, 'InvalidSignatureException', 400)).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/);
  });

  it('a request signed 6 minutes in the future is not yet current', async () => {
    const res = await kmsCall(svc.app, 'ListKeys', {}, { signingDate: minutesAgo(-6) });
    expect(expectError(res, 'InvalidSignatureException', 400)).toMatch(/^Signature not yet current: /);
  });

  it('a request signed 4 minutes ago, or 4 minutes ahead, is accepted', async () => {
    expect((await kmsCall(svc.app, 'ListKeys', {}, { signingDate: minutesAgo(4) })).status).toBe(200);
    expect((await kmsCall(svc.app, 'ListKeys', {}, { signingDate: minutesAgo(-4) })).status).toBe(200);
  });
});

describe('the region of the credential scope', () => {
  it('selects the region of the key ARN, and keys are visible only in their region', async () => {
    const eu = await createKey({ region: 'eu-west-1' });
    expect(eu.Arn).toBe(`arn:aws:kms:eu-west-1:${ACCOUNT}:key/${eu.KeyId}`);
    const us = await createKey();
    expect(us.Arn).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${us.KeyId}`);

    expect(await listKeyIds()).not.toContain(eu.KeyId);
    expect(await listKeyIds()).toContain(us.KeyId);
    expect(await listKeyIds({ region: 'eu-west-1' })).toContain(eu.KeyId);
    expect(await listKeyIds({ region: 'eu-west-1' })).not.toContain(us.KeyId);

    const describeHere = await kmsCall(svc.app, 'DescribeKey', { KeyId: eu.KeyId });
    expectError(describeHere, 'NotFoundException', 400);
    const enc = await kmsCall(svc.app, 'Encrypt', { KeyId: eu.KeyId, Plaintext: b64('eu only') }, { region: 'eu-west-1' });
    expect(enc.status).toBe(200);
    expect(enc.body.KeyId).toBe(eu.Arn);
    // The ciphertext names a key the us-east-1 scope does not hold.
    expectError(await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: enc.body.CiphertextBlob }), 'InvalidCiphertextException', 400);
    const dec = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: enc.body.CiphertextBlob }, { region: 'eu-west-1' });
    expect(Buffer.from(dec.body.Plaintext, 'base64').toString()).toBe('eu only');
  });
});

describe('principals of another account', () => {
  it('are denied the keys of 111122223333 addressed by ARN', async () => {
    const mine = await createKey();
    const enc = await kmsCall(svc.app, 'Encrypt', { KeyId: mine.Arn, Plaintext: b64('not for you') });
    expect(enc.status).toBe(200);
    const asOther = { credentials: OTHER_ROOT };

    for (const [op, body] of [
      ['DescribeKey', { KeyId: mine.Arn }],
      ['Encrypt', { KeyId: mine.Arn, Plaintext: b64('x') }],
      ['GenerateDataKey', { KeyId: mine.Arn, KeySpec: 'AES_256' }],
      ['Decrypt', { CiphertextBlob: enc.body.CiphertextBlob, KeyId: mine.Arn }],
    ] as const) {
      const res = await kmsCall(svc.app, op, body, asOther);
      expect(expectError(res, 'AccessDeniedException', 400)).toBe(
        `User: ${OTHER_ROOT.principalArn} is not authorized to perform: kms:${op} on resource: ${mine.Arn} because no resource-based policy allows the kms:${op} action`,
      );
      expect(res.text).not.toContain(b64('not for you'));
    }
    // Without a KeyId, the ciphertext alone does not reach the key of another account.
    const blind = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: enc.body.CiphertextBlob }, asOther);
    expect(blind.status).toBe(400);
    expect(['AccessDeniedException', 'InvalidCiphertextException']).toContain(blind.body.__type);
    expect(blind.body.Plaintext).toBeUndefined();
    // Nor does the bare key id, which names a key in the caller's own account.
    expectError(await kmsCall(svc.app, 'DescribeKey', { KeyId: mine.KeyId }, asOther), 'NotFoundException', 400);
  });

  it('create and use their own keys, under their own account', async () => {
    const asOther = { credentials: OTHER_ROOT };
    const theirs = await createKey(asOther);
    expect(theirs.AWSAccountId).toBe(OTHER_ACCOUNT);
    expect(theirs.Arn).toBe(`arn:aws:kms:${REGION}:${OTHER_ACCOUNT}:key/${theirs.KeyId}`);

    const enc = await kmsCall(svc.app, 'Encrypt', { KeyId: theirs.KeyId, Plaintext: b64('their secret') }, asOther);
    expect(enc.status).toBe(200);
    expect(enc.body.KeyId).toBe(theirs.Arn);
    const dec = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: enc.body.CiphertextBlob }, asOther);
    expect(dec.status).toBe(200);
    expect(dec.body.KeyId).toBe(theirs.Arn);
    expect(Buffer.from(dec.body.Plaintext, 'base64').toString()).toBe('their secret');

    expect(await listKeyIds(asOther)).toContain(theirs.KeyId);
    expect(await listKeyIds()).not.toContain(theirs.KeyId);
    const listed = await kmsCall(svc.app, 'ListKeys', {}, asOther);
    for (const k of listed.body.Keys as { KeyArn: string }[]) expect(k.KeyArn).toMatch(new RegExp(`^arn:aws:kms:${REGION}:${OTHER_ACCOUNT}:key/`));

    // And account 111122223333's root is denied theirs in turn.
    const denied = await kmsCall(svc.app, 'Encrypt', { KeyId: theirs.Arn, Plaintext: b64('x') });
    expectError(denied, 'AccessDeniedException', 400);
    const deniedDecrypt = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: enc.body.CiphertextBlob, KeyId: theirs.Arn });
    expectError(deniedDecrypt, 'AccessDeniedException', 400);
  });

  it('a user of the same account (ALICE) is denied, an error carrying her ARN', async () => {
    const res = await kmsCall(svc.app, 'ListKeys', {}, { credentials: ALICE });
    expect(expectError(res, 'AccessDeniedException', 400)).toBe(
      `User: ${ALICE.principalArn} is not authorized to perform: kms:ListKeys on resource: * because no identity-based policy allows the kms:ListKeys action`,
    );
  });
});

describe('request ids', () => {
  it('every response of the KMS endpoint carries a distinct x-amzn-RequestId UUID, errors included', async () => {
    const body = Buffer.from('{}');
    const headers = await signedHeaders('ListKeys', body);
    const responses: Res[] = [
      await kmsCall(svc.app, 'ListKeys', {}),
      await kmsCall(svc.app, 'GenerateRandom', { NumberOfBytes: 4 }),
      await kmsCall(svc.app, 'Nope', {}),
      await kmsCall(svc.app, 'GenerateRandom', {}),
      await kmsCall(svc.app, 'ListKeys', Buffer.from('{')),
      await kmsCall(svc.app, 'ListKeys', {}, { contentType: 'text/plain' }),
      await kmsCall(svc.app, 'ListKeys', {}, { credentials: { accessKeyId: 'AKIANOBODY0000000001', secretAccessKey: 's' } }),
      await kmsCall(svc.app, 'ListKeys', {}, { credentials: ALICE }),
      await kmsCall(svc.app, 'ListKeys', {}, { signingDate: minutesAgo(10) }),
      await post({ ...headers, authorization: 'garbage' }, body),
      await post({ 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys' }, body),
      await kmsCall(svc.app, 'DescribeKey', { KeyId: '00000000-0000-4000-8000-000000000000' }),
    ];
    const ids = responses.map((res) => res.headers['x-amzn-requestid']);
    for (const id of ids) expect(id).toMatch(uuid);
    expect(new Set(ids).size).toBe(ids.length);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(2);
  });

  it('responses outside the KMS endpoint carry one too', async () => {
    for (const res of [await request(svc.app).get('/'), await request(svc.app).post('/elsewhere').send('{}')]) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.headers['x-amzn-requestid']).toMatch(uuid);
    }
  });
});
