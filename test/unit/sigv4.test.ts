// SigV4 verification, checked against requests signed two independent ways: by
// @smithy/signature-v4 called directly, and by the real AWS SDK KMS client (whose signed
// request is captured by a fake request handler before it would go on the wire).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Sha256 } from '@aws-crypto/sha256-js';
import { EncryptCommand, KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { HttpRequest, HttpResponse } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import type { Principal } from '../../src/core/api/context';
import { KmsError, type ErrorCode } from '../../src/core/errors';
import {
  formatAmzDate,
  signingKeyCacheLimit,
  signingKeyCacheSize,
  sigv4Messages,
  verifySigV4,
  type Credential,
  type SignedRequest,
  type VerifiedCaller,
} from '../../src/http/auth/sigv4';

const NOW = new Date('2026-01-01T00:10:00.000Z');
const HOST = 'kms.example.test:8443';

const alice: Principal = { arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333', policies: [] };
const bob: Principal = { arn: 'arn:aws:iam::444455556666:root', accountId: '444455556666', policies: [] };
const ALICE = { accessKeyId: 'AKIAALICE0000000001', secretAccessKey: 'alice/secret+key/0123456789abcdefghijklmnop' };
const BOB = { accessKeyId: 'AKIABOB000000000002', secretAccessKey: 'bob/secret+key/ZYXWVUTSRQPONMLKJIHGFEDCBA98' };

const credentials: Credential[] = [
  { ...ALICE, principal: alice },
  { ...BOB, principal: bob },
];
const findCredential = (id: string): Credential | undefined => credentials.find((c) => c.accessKeyId === id);

const minutes = (n: number) => n * 60_000;
const seconds = (n: number) => n * 1000;
const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs);

// ---------------------------------------------------------------------------------------------
// Request builders

interface DirectOptions {
  method?: string;
  path?: string;
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
  body?: Buffer | string;
  signingDate?: Date;
  creds?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  region?: string;
  service?: string;
  signableHeaders?: Set<string>;
  applyChecksum?: boolean;
}

/** Converts a signed smithy request into what the HTTP layer hands the verifier. */
function toSignedRequest(req: HttpRequest): SignedRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) headers[name.toLowerCase()] = value;
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.query)) if (value !== null) query[name] = value;
  const body: unknown = req.body;
  return {
    method: req.method,
    path: req.path,
    query,
    headers,
    body:
      body === undefined ? Buffer.alloc(0) : typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body as Uint8Array),
  };
}

/** Signs a KMS-shaped request with @smithy/signature-v4 directly. */
async function signDirect(o: DirectOptions = {}): Promise<SignedRequest> {
  const body = o.body ?? '{"KeyId":"alias/x","Plaintext":"aGk="}';
  const signer = new SignatureV4({
    service: o.service ?? 'kms',
    region: o.region ?? 'us-east-1',
    credentials: o.creds ?? ALICE,
    sha256: Sha256,
    uriEscapePath: true,
    ...(o.applyChecksum === undefined ? {} : { applyChecksum: o.applyChecksum }),
  });
  const request = new HttpRequest({
    method: o.method ?? 'POST',
    hostname: 'kms.example.test',
    port: 8443,
    path: o.path ?? '/',
    query: o.query ?? {},
    headers: {
      host: HOST,
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'TrentService.Encrypt',
      ...o.headers,
    },
    body,
  });
  const signed = await signer.sign(request, {
    signingDate: o.signingDate ?? NOW,
    ...(o.signableHeaders ? { signableHeaders: o.signableHeaders } : {}),
  });
  return toSignedRequest(signed as HttpRequest);
}

/** Sends `command` through a real KMSClient and returns the signed request it would have sent. */
async function signWithSdk(
  command: ListKeysCommand | EncryptCommand,
  o: { creds?: { accessKeyId: string; secretAccessKey: string }; region?: string; signingDate?: Date } = {},
): Promise<SignedRequest> {
  const captured: HttpRequest[] = [];
  const client = new KMSClient({
    region: o.region ?? 'eu-west-3',
    endpoint: `https://${HOST}`,
    credentials: o.creds ?? ALICE,
    // The SDK signs at Date.now() + systemClockOffset: this pins the signing time near NOW.
    systemClockOffset: (o.signingDate ?? NOW).getTime() - Date.now(),
    maxAttempts: 1,
    requestHandler: {
      handle: async (request: HttpRequest) => {
        captured.push(request);
        return {
          response: new HttpResponse({
            statusCode: 200,
            headers: { 'content-type': 'application/x-amz-json-1.1' },
            body: Readable.from([Buffer.from('{}')]),
          }),
        };
      },
    },
  });
  // The client is typed per command; both commands here resolve against the same client.
  await client.send(command as ListKeysCommand);
  client.destroy();
  const request = captured[0];
  if (!request) throw new Error('the SDK sent nothing');
  return toSignedRequest(request);
}

// ---------------------------------------------------------------------------------------------
// Request manipulation

function clone(r: SignedRequest): SignedRequest {
  return { ...r, query: { ...r.query }, headers: { ...r.headers }, body: Buffer.from(r.body) };
}

function authOf(r: SignedRequest): string {
  const a = r.headers.authorization;
  if (typeof a !== 'string') throw new Error('no authorization header');
  return a;
}

function signatureOf(r: SignedRequest): string {
  const m = /Signature=([0-9a-f]{64})/.exec(authOf(r));
  if (!m?.[1]) throw new Error('no signature');
  return m[1];
}

function withAuthorization(r: SignedRequest, authorization: string | string[] | undefined): SignedRequest {
  const c = clone(r);
  c.headers.authorization = authorization;
  return c;
}

function withHeaders(r: SignedRequest, headers: Record<string, string | string[] | undefined>): SignedRequest {
  const c = clone(r);
  Object.assign(c.headers, headers);
  return c;
}

/** Rewrites the Authorization header; the signature in it stays as the client computed it. */
function editAuthorization(r: SignedRequest, edit: (a: string) => string): SignedRequest {
  return withAuthorization(r, edit(authOf(r)));
}

async function verify(r: SignedRequest, now = NOW, options?: { service?: string; maxSkewMs?: number }) {
  return verifySigV4(r, findCredential, now, options);
}

async function rejection(promise: Promise<VerifiedCaller>): Promise<KmsError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof KmsError) return e;
    throw e;
  }
  throw new Error('expected the request to be rejected');
}

async function expectRejected(
  r: SignedRequest,
  code: ErrorCode,
  message?: string | RegExp,
  now = NOW,
  options?: { service?: string; maxSkewMs?: number },
): Promise<KmsError> {
  const e = await rejection(verify(r, now, options));
  expect(e.code).toBe(code);
  if (typeof message === 'string') expect(e.message).toBe(message);
  else if (message) expect(e.message).toMatch(message);
  return e;
}

const mismatch = sigv4Messages.signatureMismatch;

// ---------------------------------------------------------------------------------------------

describe('verifySigV4 with requests signed by the AWS SDK KMS client', () => {
  it('accepts ListKeys and returns the principal, the scope region and the access key id', async () => {
    const r = await signWithSdk(new ListKeysCommand({}));
    expect(r.headers['x-amz-target']).toBe('TrentService.ListKeys');
    await expect(verify(r)).resolves.toEqual({ principal: alice, region: 'eu-west-3', accessKeyId: ALICE.accessKeyId });
  });

  it('accepts Encrypt with a binary field in the body', async () => {
    const r = await signWithSdk(new EncryptCommand({ KeyId: 'alias/x', Plaintext: Buffer.from('hi') }), {
      region: 'ap-southeast-2',
    });
    expect(JSON.parse(r.body.toString('utf8'))).toEqual({ KeyId: 'alias/x', Plaintext: 'aGk=' });
    const caller = await verify(r);
    expect(caller.region).toBe('ap-southeast-2');
    expect(caller.principal).toBe(alice);
  });

  it('rejects a tampered body', async () => {
    const r = await signWithSdk(new EncryptCommand({ KeyId: 'alias/x', Plaintext: Buffer.from('hi') }));
    const tampered = clone(r);
    tampered.body = Buffer.from(r.body.toString('utf8').replace('alias/x', 'alias/y'), 'utf8');
    // The SDK signed x-amz-content-sha256, so the changed body no longer matches that header.
    await expectRejected(tampered, 'InvalidSignatureException', sigv4Messages.contentSha256Mismatch);
    // Recomputing the header does not help: the header itself is signed.
    const rehashed = withHeaders(tampered, {
      'x-amz-content-sha256': createHash('sha256').update(tampered.body).digest('hex'),
    });
    await expectRejected(rehashed, 'InvalidSignatureException', mismatch);
  });

  it('rejects a changed x-amz-target header', async () => {
    const r = await signWithSdk(new ListKeysCommand({}));
    await expectRejected(withHeaders(r, { 'x-amz-target': 'TrentService.ScheduleKeyDeletion' }), 'InvalidSignatureException', mismatch);
  });

  it('rejects a request from which a signed header was removed', async () => {
    const r = await signWithSdk(new ListKeysCommand({}));
    await expectRejected(withHeaders(r, { 'x-amz-target': undefined }), 'InvalidSignatureException', mismatch);
    await expectRejected(withHeaders(r, { 'amz-sdk-invocation-id': undefined }), 'InvalidSignatureException', mismatch);
  });

  it('rejects a request signed with the wrong secret', async () => {
    const r = await signWithSdk(new ListKeysCommand({}), {
      creds: { accessKeyId: ALICE.accessKeyId, secretAccessKey: 'not-alices-secret' },
    });
    await expectRejected(r, 'InvalidSignatureException', mismatch);
  });

  it('rejects an unknown access key id', async () => {
    const r = await signWithSdk(new ListKeysCommand({}), {
      creds: { accessKeyId: 'AKIAUNKNOWN00000000', secretAccessKey: 'whatever' },
    });
    await expectRejected(r, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
  });

  it('ignores an unsigned header added after signing', async () => {
    const r = await signWithSdk(new ListKeysCommand({}));
    const extra = withHeaders(r, { 'x-forwarded-for': '10.0.0.1', via: '1.1 proxy', 'x-amzn-trace-id': 'Root=1-abc' });
    await expect(verify(extra)).resolves.toMatchObject({ principal: alice });
  });

  it('tells two principals apart by their keys', async () => {
    const fromAlice = await signWithSdk(new ListKeysCommand({}), { creds: ALICE, region: 'us-east-1' });
    const fromBob = await signWithSdk(new ListKeysCommand({}), { creds: BOB, region: 'us-west-2' });
    await expect(verify(fromAlice)).resolves.toEqual({ principal: alice, region: 'us-east-1', accessKeyId: ALICE.accessKeyId });
    await expect(verify(fromBob)).resolves.toEqual({ principal: bob, region: 'us-west-2', accessKeyId: BOB.accessKeyId });
    // Alice's signature presented under Bob's key id does not make the caller Bob.
    const impersonation = editAuthorization(fromAlice, (a) => a.replace(ALICE.accessKeyId, BOB.accessKeyId));
    await expectRejected(impersonation, 'InvalidSignatureException', mismatch);
  });

  it('rejects an SDK request signed 5m01s in the past or future', async () => {
    const past = await signWithSdk(new ListKeysCommand({}), { signingDate: at(-minutes(5) - seconds(1)) });
    await expectRejected(past, 'InvalidSignatureException', /^Signature expired: /);
    const future = await signWithSdk(new ListKeysCommand({}), { signingDate: at(minutes(5) + seconds(1)) });
    await expectRejected(future, 'InvalidSignatureException', /^Signature not yet current: /);
  });
});

describe('verifySigV4 with requests signed by @smithy/signature-v4 directly', () => {
  it('accepts a signed request', async () => {
    await expect(verify(await signDirect())).resolves.toEqual({
      principal: alice,
      region: 'us-east-1',
      accessKeyId: ALICE.accessKeyId,
    });
  });

  it('accepts a request whose client did not sign x-amz-content-sha256', async () => {
    const r = await signDirect({ applyChecksum: false });
    expect(r.headers['x-amz-content-sha256']).toBeUndefined();
    expect(authOf(r)).toContain('SignedHeaders=content-type;host;x-amz-date;x-amz-target,');
    await expect(verify(r)).resolves.toMatchObject({ principal: alice });
  });

  it('hashes the exact received body bytes', async () => {
    const body = Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0xc3, 0x28, 0x7d]); // not valid UTF-8
    const r = await signDirect({ body, applyChecksum: false });
    await expect(verify(r)).resolves.toMatchObject({ principal: alice });
    const flipped = clone(r);
    flipped.body = Buffer.from(body);
    flipped.body[1] = 0xfd;
    await expectRejected(flipped, 'InvalidSignatureException', mismatch);
  });

  it('accepts an empty body', async () => {
    await expect(verify(await signDirect({ body: '' }))).resolves.toMatchObject({ principal: alice });
    await expect(verify(await signDirect({ body: '', applyChecksum: false }))).resolves.toMatchObject({ principal: alice });
  });

  it('covers the method, path and query string', async () => {
    const r = await signDirect({ method: 'GET', path: '/some/path-x', query: { b: ['2', '1'], a: 'x y' }, body: '' });
    await expect(verify(r)).resolves.toMatchObject({ principal: alice });
    await expectRejected({ ...clone(r), method: 'POST' }, 'InvalidSignatureException', mismatch);
    await expectRejected({ ...clone(r), path: '/some/path-y' }, 'InvalidSignatureException', mismatch);
    await expectRejected({ ...clone(r), query: { b: ['2', '1'], a: 'x z' } }, 'InvalidSignatureException', mismatch);
    await expectRejected({ ...clone(r), query: { b: ['2', '1'], a: 'x y', c: '' } }, 'InvalidSignatureException', mismatch);
  });

  it('verifies user-agent when a custom signer signed it', async () => {
    const r = await signDirect({
      headers: { 'user-agent': 'custom-client/1.0' },
      signableHeaders: new Set(['user-agent']),
    });
    expect(authOf(r)).toMatch(/SignedHeaders=[^,]*;user-agent;/);
    await expect(verify(r)).resolves.toMatchObject({ principal: alice });
    await expectRejected(withHeaders(r, { 'user-agent': 'custom-client/2.0' }), 'InvalidSignatureException', mismatch);
  });

  it('ignores user-agent when the client did not sign it', async () => {
    const r = await signDirect({ headers: { 'user-agent': 'custom-client/1.0' } });
    expect(authOf(r)).not.toContain('user-agent');
    await expect(verify(withHeaders(r, { 'user-agent': 'rewritten-by-proxy' }))).resolves.toMatchObject({ principal: alice });
  });

  it('joins a repeated header with commas as the signer does', async () => {
    const r = await signDirect({ headers: { 'x-amz-meta-list': 'a,b' } });
    await expect(verify(withHeaders(r, { 'x-amz-meta-list': ['a', 'b'] }))).resolves.toMatchObject({ principal: alice });
  });

  it('accepts requests 4m59s in the past and in the future', async () => {
    const past = await signDirect({ signingDate: at(-minutes(4) - seconds(59)) });
    await expect(verify(past)).resolves.toMatchObject({ principal: alice });
    const future = await signDirect({ signingDate: at(minutes(4) + seconds(59)) });
    await expect(verify(future)).resolves.toMatchObject({ principal: alice });
  });

  it('accepts requests exactly at the edge of the window', async () => {
    await expect(verify(await signDirect({ signingDate: at(-minutes(5)) }))).resolves.toMatchObject({ principal: alice });
    await expect(verify(await signDirect({ signingDate: at(minutes(5)) }))).resolves.toMatchObject({ principal: alice });
  });

  it('honours a configured skew window in the message', async () => {
    const r = await signDirect({ signingDate: at(-minutes(16)) });
    await expectRejected(
      r,
      'InvalidSignatureException',
      'Signature expired: 20251231T235400Z is now earlier than 20251231T235500Z (20260101T001000Z - 15 min.)',
      NOW,
      { maxSkewMs: minutes(15) },
    );
    await expect(verify(r, NOW, { maxSkewMs: minutes(20) })).resolves.toMatchObject({ principal: alice });
  });

  it('verifies another service name when configured', async () => {
    const r = await signDirect({ service: 'kms-xks-proxy' });
    await expect(verify(r, NOW, { service: 'kms-xks-proxy' })).resolves.toMatchObject({ principal: alice });
    await expectRejected(r, 'InvalidSignatureException', "Credential should be scoped to correct service: 'kms'. ");
  });

  it('never puts the signature or the secret into a message or a detail', async () => {
    const r = await signDirect();
    const signature = signatureOf(r);
    const failures = [
      withHeaders(r, { 'x-amz-target': 'TrentService.Decrypt' }),
      editAuthorization(r, (a) => a.replace(', SignedHeaders=', ', SignedHeaders ')),
      editAuthorization(r, (a) => a.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512')),
      editAuthorization(r, (a) => a.replace('Credential=', 'Credential=x/').replace(/,\s*SignedHeaders=/, ', Bogus=1, SignedHeaders=')),
      editAuthorization(r, (a) => `${a}, Signature=${signature}`),
      editAuthorization(r, (a) => a.replace(signature, signature.toUpperCase())),
      editAuthorization(r, (a) => a.replace('/kms/', '/s3/')),
      withHeaders(r, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }),
      withHeaders(r, { 'x-amz-date': 'yesterday' }),
      // Malformed headers that put the signature where messages echo the request.
      withHeaders(r, { 'x-amz-date': signature }),
      editAuthorization(r, (a) => a.replace('/aws4_request', `/${signature}`)),
      editAuthorization(r, (a) => a.replace('/us-east-1/', `/${signature}/`)),
      editAuthorization(r, (a) => a.replace('/20260101/', `/${signature}/`)),
      editAuthorization(r, (a) => a.replace('/aws4_request', `/aws4_request/${signature}`)),
      editAuthorization(r, (a) => a.replace(`Credential=${ALICE.accessKeyId}/`, `Credential=${signature}/`)),
    ];
    for (const failure of failures) {
      const e = await rejection(verify(failure));
      for (const text of [e.message, e.detail ?? '', String(e.stack)]) {
        expect(text).not.toContain(signature);
        expect(text.toLowerCase()).not.toContain(signature);
        expect(text).not.toContain(ALICE.secretAccessKey);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// One test per `// Precondition:` in src/http/auth/sigv4.ts, named by the same sentence.

describe('verifySigV4 preconditions', () => {
  it('query-string (presigned) authentication is rejected.', async () => {
    const r = await signDirect();
    const presigned = {
      ...withAuthorization(r, undefined),
      query: {
        'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
        'X-Amz-Credential': `${ALICE.accessKeyId}/20260101/us-east-1/kms/aws4_request`,
        'X-Amz-Signature': signatureOf(r),
      },
    };
    await expectRejected(presigned, 'IncompleteSignatureException', sigv4Messages.queryAuthUnsupported);
    // Also when a header signature is present, and whatever the parameter's case.
    await expectRejected({ ...clone(r), query: { 'x-amz-signature': 'abc' } }, 'IncompleteSignatureException', sigv4Messages.queryAuthUnsupported);
  });

  it('a request without an Authorization header is rejected as missing authentication.', async () => {
    const r = await signDirect();
    await expectRejected(withAuthorization(r, undefined), 'MissingAuthenticationTokenException', 'Request is missing Authentication Token');
    await expectRejected(withAuthorization(r, '   '), 'MissingAuthenticationTokenException', 'Request is missing Authentication Token');
  });

  it('the request must carry exactly one Authorization header.', async () => {
    const r = await signDirect();
    await expectRejected(withAuthorization(r, [authOf(r), authOf(r)]), 'IncompleteSignatureException', sigv4Messages.multipleAuthorization);
  });

  it('the Authorization header must use the AWS4-HMAC-SHA256 algorithm.', async () => {
    const r = await signDirect();
    await expectRejected(
      editAuthorization(r, (a) => a.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512')),
      'IncompleteSignatureException',
      "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'.",
    );
    // A scheme that may carry a credential is not echoed.
    const e = await expectRejected(withAuthorization(r, 'Bearer eyJhbGciOi.secret.token'), 'IncompleteSignatureException');
    expect(e.message).toBe(sigv4Messages.unsupportedAlgorithmGeneric);
    await expectRejected(withAuthorization(r, 'c2VjcmV0LXRva2Vu'), 'IncompleteSignatureException', sigv4Messages.unsupportedAlgorithmGeneric);
  });

  it('every Authorization header parameter must be a key=value pair.', async () => {
    const r = await signDirect();
    const bad = editAuthorization(r, (a) => a.replace(', SignedHeaders=', ', SignedHeaders '));
    const hash = createHash('sha256').update(authOf(bad), 'utf8').digest('base64');
    await expectRejected(
      bad,
      'IncompleteSignatureException',
      `Invalid key=value pair (missing equal-sign) in Authorization header (hashed with SHA-256 and encoded with Base64): '${hash}'.`,
    );
    await expectRejected(editAuthorization(r, (a) => `${a},`), 'IncompleteSignatureException', /^Invalid key=value pair/);
    await expectRejected(editAuthorization(r, (a) => a.replace('Credential=', '=')), 'IncompleteSignatureException', /^Invalid key=value pair/);
  });

  it('Authorization header parameters must not repeat.', async () => {
    const r = await signDirect();
    await expectRejected(
      editAuthorization(r, (a) => `${a}, Signature=${'0'.repeat(64)}`),
      'IncompleteSignatureException',
      "Authorization header has more than one 'Signature' parameter.",
    );
  });

  it('the Authorization header must carry Credential, Signature and SignedHeaders, and the request an X-Amz-Date or Date header.', async () => {
    const r = await signDirect();
    await expectRejected(
      editAuthorization(r, (a) => a.replace(/, Signature=[0-9a-f]+/, '')),
      'IncompleteSignatureException',
      "Authorization header requires 'Signature' parameter.",
    );
    await expectRejected(
      editAuthorization(r, (a) => a.replace(/, Signature=[0-9a-f]+/, ', Signature=')),
      'IncompleteSignatureException',
      "Authorization header requires 'Signature' parameter.",
    );
    await expectRejected(
      withAuthorization(r, `AWS4-HMAC-SHA256 Signature=${'a'.repeat(64)}`),
      'IncompleteSignatureException',
      "Authorization header requires 'Credential' parameter. Authorization header requires 'SignedHeaders' parameter.",
    );
    await expectRejected(
      withHeaders(withAuthorization(r, 'AWS4-HMAC-SHA256'), { 'x-amz-date': undefined }),
      'IncompleteSignatureException',
      "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. " +
        "Authorization header requires 'SignedHeaders' parameter. " +
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    );
    await expectRejected(
      withHeaders(r, { 'x-amz-date': undefined }),
      'IncompleteSignatureException',
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    );
  });

  it('requests dated by the Date header instead of X-Amz-Date are rejected.', async () => {
    const r = await signDirect();
    const dated = withHeaders(r, { 'x-amz-date': undefined, date: 'Thu, 01 Jan 2026 00:10:00 GMT' });
    await expectRejected(dated, 'IncompleteSignatureException', sigv4Messages.dateHeaderUnsupported);
  });

  it('X-Amz-Date must be in ISO 8601 basic format.', async () => {
    const r = await signDirect();
    for (const value of ['2026-01-01T00:10:00Z', '20260101T001000', '20260230T001000Z', '20260101T241000Z', '']) {
      const e = await expectRejected(withHeaders(r, { 'x-amz-date': value }), 'IncompleteSignatureException');
      expect(e.message).toBe(
        value === ''
          ? sigv4Messages.badDateFormat('')
          : `Date must be in ISO-8601 'basic format'. Got '${value}'. See http://en.wikipedia.org/wiki/ISO_8601`,
      );
    }
    // Node joins a repeated header; two dates are not one date.
    await expectRejected(withHeaders(r, { 'x-amz-date': ['20260101T001000Z', '20260101T001000Z'] }), 'IncompleteSignatureException', /^Date must be in ISO-8601/);
  });

  it('the Signature parameter must be 64 lower-case hexadecimal digits.', async () => {
    const r = await signDirect();
    const signature = signatureOf(r);
    for (const bad of [signature.toUpperCase(), signature.slice(1), `${signature}0`, 'z'.repeat(64)]) {
      await expectRejected(
        editAuthorization(r, (a) => a.replace(signature, bad)),
        'IncompleteSignatureException',
        sigv4Messages.badSignatureFormat,
      );
    }
  });

  it('SignedHeaders must list distinct lower-case header names.', async () => {
    const r = await signDirect();
    for (const list of ['Host;x-amz-date', 'host;;x-amz-date', 'host;host;x-amz-date', 'host;x-amz-date;', 'host;x amz;x-amz-date', '__proto__;host;x-amz-date']) {
      await expectRejected(
        editAuthorization(r, (a) => a.replace(/SignedHeaders=[^,]*/, `SignedHeaders=${list}`)),
        'IncompleteSignatureException',
        sigv4Messages.badSignedHeaders,
      );
    }
  });

  it('a request dated more than the allowed skew before now is rejected.', async () => {
    const r = await signDirect({ signingDate: at(-minutes(5) - seconds(1)) });
    await expectRejected(
      r,
      'InvalidSignatureException',
      'Signature expired: 20260101T000459Z is now earlier than 20260101T000500Z (20260101T001000Z - 5 min.)',
    );
    const older = await signDirect({ signingDate: at(-minutes(10)) });
    await expectRejected(
      older,
      'InvalidSignatureException',
      'Signature expired: 20260101T000000Z is now earlier than 20260101T000500Z (20260101T001000Z - 5 min.)',
    );
  });

  it('a request dated more than the allowed skew after now is rejected.', async () => {
    const r = await signDirect({ signingDate: at(minutes(5) + seconds(1)) });
    await expectRejected(
      r,
      'InvalidSignatureException',
      'Signature not yet current: 20260101T001501Z is still later than 20260101T001500Z (20260101T001000Z + 5 min.)',
    );
  });

  it('the host header must be signed.', async () => {
    const r = await signDirect();
    await expectRejected(
      editAuthorization(r, (a) => a.replace('content-type;host;', 'content-type;')),
      'InvalidSignatureException',
      "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    );
  });

  it('the x-amz-date header must be signed.', async () => {
    const r = await signDirect();
    await expectRejected(
      editAuthorization(r, (a) => a.replace(';x-amz-date;', ';')),
      'InvalidSignatureException',
      sigv4Messages.dateNotSigned,
    );
  });

  it('the Date header must not be signed.', async () => {
    const r = withHeaders(await signDirect(), { date: 'Thu, 01 Jan 2026 00:10:00 GMT' });
    await expectRejected(
      editAuthorization(r, (a) => a.replace('SignedHeaders=', 'SignedHeaders=date;')),
      'IncompleteSignatureException',
      sigv4Messages.dateHeaderUnsupported,
    );
  });

  it('the credential must have exactly five slash-separated parts.', async () => {
    const r = await signDirect();
    await expectRejected(
      editAuthorization(r, (a) => a.replace('/aws4_request', '')),
      'IncompleteSignatureException',
      `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${ALICE.accessKeyId}/20260101/us-east-1/kms'`,
    );
    await expectRejected(
      editAuthorization(r, (a) => a.replace('/aws4_request', '/aws4_request/extra')),
      'IncompleteSignatureException',
      /^Credential must have exactly 5 slash-delimited elements/,
    );
  });

  it('the credential scope must name a valid region.', async () => {
    const r = await signDirect();
    await expectRejected(
      editAuthorization(r, (a) => a.replace('/us-east-1/', '/US_EAST/')),
      'InvalidSignatureException',
      "Credential should be scoped to a valid region, not 'US_EAST'. ",
    );
    await expectRejected(
      editAuthorization(r, (a) => a.replace('/us-east-1/', '//')),
      'InvalidSignatureException',
      "Credential should be scoped to a valid region, not ''. ",
    );
  });

  it('the credential scope must name the kms service.', async () => {
    const r = await signDirect({ service: 's3' });
    await expectRejected(r, 'InvalidSignatureException', "Credential should be scoped to correct service: 'kms'. ");
  });

  it('the credential scope must end with aws4_request.', async () => {
    const r = await signDirect();
    await expectRejected(
      editAuthorization(r, (a) => a.replace('/aws4_request', '/aws5_request')),
      'InvalidSignatureException',
      "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ",
    );
    // Every scope problem is reported at once, as AWS does.
    await expectRejected(
      editAuthorization(r, (a) => a.replace('/kms/aws4_request', '/s3/aws5_request')),
      'InvalidSignatureException',
      "Credential should be scoped to correct service: 'kms'. " +
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ",
    );
  });

  it('the credential scope date must be the date of X-Amz-Date.', async () => {
    const r = await signDirect();
    await expectRejected(
      editAuthorization(r, (a) => a.replace('/20260101/', '/20251231/')),
      'InvalidSignatureException',
      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20251231' != '20260101', from '20260101T001000Z'.",
    );
    // A signature made just before midnight, whose scope date is kept, cannot be re-dated.
    const justAfterMidnight = new Date('2026-01-01T00:00:30Z');
    const lateNight = await signDirect({ signingDate: new Date('2025-12-31T23:59:59Z') });
    await expect(verify(lateNight, justAfterMidnight)).resolves.toMatchObject({ principal: alice });
    const redated = withHeaders(lateNight, { 'x-amz-date': '20260101T000001Z' });
    await expectRejected(
      redated,
      'InvalidSignatureException',
      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20251231' != '20260101', from '20260101T000001Z'.",
      justAfterMidnight,
    );
  });

  it('session tokens are rejected because this service issues none.', async () => {
    const r = await signDirect({ creds: { ...ALICE, sessionToken: 'FwoGZXIvYXdzEXAMPLE' } });
    expect(authOf(r)).toContain('x-amz-security-token');
    await expectRejected(r, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
  });

  it('the access key id must belong to a configured credential.', async () => {
    const r = await signDirect({ creds: { accessKeyId: 'AKIANOBODY000000000', secretAccessKey: ALICE.secretAccessKey } });
    await expectRejected(r, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
    const empty = editAuthorization(await signDirect(), (a) => a.replace(`Credential=${ALICE.accessKeyId}/`, 'Credential=/'));
    await expectRejected(empty, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
  });

  it('in any-credentials mode a known access key id is still verified with its secret.', async () => {
    const root: Principal = { arn: 'arn:aws:iam::111122223333:root', accountId: '111122223333', policies: [] };
    const anyCredentials = { unknownAccessKeyPrincipal: () => root };
    // Unknown: the account root, whatever the secret, in the scope's region.
    const moto = await signDirect({ creds: { accessKeyId: 'FOOBARKEY', secretAccessKey: 'FOOBARSECRET' }, region: 'us-west-2' });
    expect(await verifySigV4(moto, findCredential, NOW, anyCredentials)).toEqual({ principal: root, region: 'us-west-2', accessKeyId: 'FOOBARKEY' });
    // Known: its own principal with its own secret, refused with any other.
    expect((await verifySigV4(await signDirect(), findCredential, NOW, anyCredentials)).principal).toBe(alice);
    const wrongSecret = await signDirect({ creds: { accessKeyId: ALICE.accessKeyId, secretAccessKey: 'FOOBARSECRET' } });
    const e = await rejection(verifySigV4(wrongSecret, findCredential, NOW, anyCredentials));
    expect(e.code).toBe('InvalidSignatureException');
    // Everything but the signature value is still checked for an unknown key id.
    await expect(verifySigV4(moto, findCredential, at(minutes(6)), anyCredentials)).rejects.toMatchObject({ code: 'InvalidSignatureException', message: expect.stringMatching(/^Signature expired/) });
    await expect(verifySigV4(withHeaders(moto, { 'content-type': undefined }), findCredential, NOW, anyCredentials)).rejects.toMatchObject({ code: 'InvalidSignatureException' });
    await expect(verifySigV4(moto, findCredential, NOW, { ...anyCredentials, service: 'cloudtrail' })).rejects.toMatchObject({ code: 'InvalidSignatureException' });
    const empty = editAuthorization(moto, (a) => a.replace('Credential=FOOBARKEY/', 'Credential=/'));
    await expect(verifySigV4(empty, findCredential, NOW, anyCredentials)).rejects.toMatchObject({ code: 'UnrecognizedClientException' });
  });

  it('every signed header must be present in the request.', async () => {
    const r = await signDirect();
    const e = await expectRejected(withHeaders(r, { 'content-type': undefined }), 'InvalidSignatureException', mismatch);
    expect(e.detail).toContain('content-type');
    // A header listed as signed that the client never sent is just as absent.
    const listed = editAuthorization(r, (a) => a.replace(';x-amz-target', ';x-amz-target;x-custom'));
    await expectRejected(listed, 'InvalidSignatureException', mismatch);
  });

  it('an x-amz-content-sha256 header must equal the SHA-256 of the received body.', async () => {
    // The smithy signer trusts a supplied x-amz-content-sha256, so these signatures are valid
    // over the wrong hash: only the hash check stops them.
    const wrongHash = await signDirect({ headers: { 'x-amz-content-sha256': createHash('sha256').update('other').digest('hex') } });
    await expectRejected(wrongHash, 'InvalidSignatureException', "The provided 'x-amz-content-sha256' header does not match what was computed.");
    const unsigned = await signDirect({ headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    await expectRejected(unsigned, 'InvalidSignatureException', sigv4Messages.contentSha256Mismatch);
    // Also when the client did not sign the header.
    const plain = await signDirect({ applyChecksum: false });
    await expectRejected(withHeaders(plain, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }), 'InvalidSignatureException', sigv4Messages.contentSha256Mismatch);
  });

  it('the signature must match the one recomputed over the received request.', async () => {
    const r = await signDirect();
    const signature = signatureOf(r);
    const flipped = signature.slice(0, -1) + (signature.endsWith('0') ? '1' : '0');
    await expectRejected(editAuthorization(r, (a) => a.replace(signature, flipped)), 'InvalidSignatureException', mismatch);
    // A signed header the smithy signer will not sign (authorization) cannot be verified.
    const odd = editAuthorization(r, (a) => a.replace('SignedHeaders=', 'SignedHeaders=authorization;'));
    const e = await expectRejected(odd, 'InvalidSignatureException', mismatch);
    expect(e.detail).toContain('signer covered');
  });
});

// ---------------------------------------------------------------------------------------------
// The verifier computes signatures itself (node:crypto). These properties prove its math equal
// to @smithy/signature-v4's on random requests: paths with special characters, '.', '..' and
// '//', repeated query names, unicode, empty bodies, multi-value headers, odd whitespace.

/** Header names the generator never makes: fixed by the test, by the signer, or refused. */
const reservedHeaders = new Set(['host', 'authorization', 'date', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256', '__proto__']);
/** Headers the smithy signer leaves out unless told to sign them. */
const unsignableByDefault = ['user-agent', 'x-amzn-trace-id', 'cache-control', 'expect', 'proxy-x', 'sec-fetch-mode', 'te'];

const headerName = fc
  .oneof(
    fc.constantFrom('content-type', 'x-amz-target', 'x-amz-meta-list', 'amz-sdk-request', '1', 'constructor', 'tostring', ...unsignableByDefault),
    fc.stringMatching(/^[a-z0-9!#$%&'*+.^_`|~-]{1,10}$/),
  )
  .filter((name) => !reservedHeaders.has(name));
const headerValue = fc.string({
  unit: fc.constantFrom('a', 'Z', '0', ' ', '  ', '\t', ' \t ', ',', ';', '=', '"', '/', '%', 'é', 'ÿ', '日', '😀'),
  maxLength: 8,
});
const pathSegment = fc.constantFrom(
  '', '.', '..', 'a', 'key', 'A-Z_0.9~', 'ü', '日本', '😀', 'a b', '%2F', '%20', '%', '%zz', "!'()*", '+', '=', '&', ';', ':', '@', '$', ',', '[]',
);
const path = fc.oneof(
  fc.array(pathSegment, { maxLength: 6 }).map((segments) => `/${segments.join('/')}`),
  fc.array(pathSegment, { maxLength: 3 }).map((segments) => segments.join('/')),
);
const queryName = fc
  .oneof(
    fc.constantFrom('a', 'A', 'b', 'Z', 'a b', '', '=', '&', '+', '%41', 'ü', '日本', '😀', "!'()*", 'Action', 'list[]'),
    fc.string({ maxLength: 6 }),
  )
  .filter((name) => !['x-amz-algorithm', 'x-amz-credential', 'x-amz-signature', 'x-amz-signedheaders'].includes(name.toLowerCase()));
const queryValue = fc.string({ unit: fc.constantFrom('a', 'B', '1', ' ', '+', '=', '&', '%', '/', '~', '*', 'é', '日', '😀', ''), maxLength: 6 });

const randomRequest = fc.record({
  rawPath: fc.boolean(),
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
  path,
  query: fc.dictionary(queryName, fc.oneof(queryValue, fc.array(queryValue, { minLength: 1, maxLength: 3 }), fc.constant([] as string[])), { maxKeys: 4 }),
  headers: fc.dictionary(headerName, fc.array(headerValue, { minLength: 1, maxLength: 3 }), { maxKeys: 5 }),
  signUnsignable: fc.boolean(),
  body: fc.oneof(
    fc.constant(Buffer.alloc(0)),
    fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b)),
    fc.string({ unit: 'grapheme', maxLength: 24 }).map((t) => Buffer.from(t, 'utf8')),
  ),
  applyChecksum: fc.boolean(),
  secret: fc.oneof(fc.string({ minLength: 1, maxLength: 48 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 })),
  region: fc.constantFrom('us-east-1', 'eu-west-3', 'ap-southeast-2', 'x', 'a1', 'local-dev-9'),
  offsetSeconds: fc.integer({ min: -300, max: 300 }),
});
type RandomRequest = typeof randomRequest extends fc.Arbitrary<infer T> ? T : never;

const RANDOM_KEY_ID = 'AKIARANDOM000000001';
const crossCheckRuns = { numRuns: 300 };
const serviceOf = (g: RandomRequest) => (g.rawPath ? 'kms-xks-proxy' : 'kms');
const randomCredential = (secret: string) => (id: string): Credential | undefined =>
  id === RANDOM_KEY_ID ? { accessKeyId: RANDOM_KEY_ID, secretAccessKey: secret, principal: alice } : undefined;

/** Signs `g` with @smithy/signature-v4 as a client would; returns it as the verifier receives it. */
async function signRandom(g: RandomRequest): Promise<SignedRequest> {
  const signer = new SignatureV4({
    service: serviceOf(g),
    region: g.region,
    credentials: { accessKeyId: RANDOM_KEY_ID, secretAccessKey: g.secret },
    sha256: Sha256,
    uriEscapePath: !g.rawPath,
    applyChecksum: g.applyChecksum,
  });
  const headers: Record<string, string> = { host: HOST };
  // A repeated header reaches the signer as one comma-joined value, and the verifier as a list.
  for (const [name, values] of Object.entries(g.headers)) headers[name] = values.join(',');
  const signed = await signer.sign(
    new HttpRequest({ method: g.method, hostname: 'kms.example.test', port: 8443, path: g.path, query: g.query, headers, body: g.body }),
    {
      signingDate: at(seconds(g.offsetSeconds)),
      ...(g.signUnsignable ? { signableHeaders: new Set(unsignableByDefault) } : {}),
    },
  );
  const received = toSignedRequest(signed as HttpRequest);
  for (const [name, values] of Object.entries(g.headers)) if (values.length > 1) received.headers[name] = [...values];
  // The verifier gets the path and the query as the client sent them, not as the signer saw them.
  return { ...received, path: g.path, query: g.query };
}

async function verifyRandom(g: RandomRequest, r: SignedRequest, secret = g.secret): Promise<VerifiedCaller> {
  return verifySigV4(r, randomCredential(secret), NOW, { service: serviceOf(g), rawPath: g.rawPath });
}

/**
 * What the previous verifier computed (before node:crypto): the request rebuilt from the signed
 * headers and signed by @smithy/signature-v4. Returns the headers it covered and the signature.
 */
async function smithyVerifierSignature(g: RandomRequest, r: SignedRequest, signedHeaders: string[]) {
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = r.headers[name];
    headers[name] = Array.isArray(value) ? value.join(',') : String(value);
  }
  const signer = new SignatureV4({
    service: serviceOf(g),
    region: g.region,
    credentials: { accessKeyId: RANDOM_KEY_ID, secretAccessKey: g.secret },
    sha256: Sha256,
    uriEscapePath: !g.rawPath,
    applyChecksum: false,
  });
  const signed = await signer.sign(new HttpRequest({ method: r.method, path: r.path, query: r.query, headers, body: r.body }), {
    signingDate: at(seconds(g.offsetSeconds)),
    signableHeaders: new Set(signedHeaders),
  });
  const m = /, SignedHeaders=([^,]*), Signature=([0-9a-f]{64})$/.exec(String(signed.headers.authorization));
  if (!m?.[1] || !m[2]) throw new Error('the signer produced no signature');
  return { covered: m[1], signature: m[2] };
}

describe('verifySigV4 cross-checked against @smithy/signature-v4 on random requests', () => {
  it('accepts every request the smithy signer signs, in both path modes', async () => {
    await fc.assert(
      fc.asyncProperty(randomRequest, async (g) => {
        const r = await signRandom(g);
        await expect(verifyRandom(g, r)).resolves.toEqual({ principal: alice, region: g.region, accessKeyId: RANDOM_KEY_ID });
      }),
      crossCheckRuns,
    );
  });

  it('rejects every such request once something it signed changes', async () => {
    const mutations = ['method', 'path', 'query', 'header', 'body', 'secret'] as const;
    await fc.assert(
      fc.asyncProperty(randomRequest, fc.constantFrom(...mutations), fc.nat(), async (g, mutation, pick) => {
        const r = await signRandom(g);
        const changed = clone(r);
        let secret = g.secret;
        if (mutation === 'method') changed.method = r.method === 'POST' ? 'PUT' : 'POST';
        if (mutation === 'path') changed.path = `${r.path}x`;
        if (mutation === 'query') changed.query = { ...r.query, 'zz-added': '1' };
        if (mutation === 'body') changed.body = Buffer.concat([r.body, Buffer.from('x')]);
        if (mutation === 'secret') secret = `${g.secret}x`;
        if (mutation === 'header') {
          const signed = (/SignedHeaders=([^,]*)/.exec(authOf(r))?.[1] ?? '').split(';').filter((h) => h !== 'x-amz-date' && h !== 'x-amz-content-sha256');
          const name = signed[pick % signed.length] ?? 'host';
          const value = r.headers[name];
          changed.headers[name] = Array.isArray(value) ? [...value.slice(0, -1), `${value[value.length - 1] ?? ''}x`] : `${value ?? ''}x`;
        }
        const e = await rejection(verifyRandom(g, changed, secret));
        expect(e.code).toBe('InvalidSignatureException');
      }),
      crossCheckRuns,
    );
  });

  it('decides exactly as the smithy-based verifier did, whatever headers a client lists as signed', async () => {
    await fc.assert(
      fc.asyncProperty(randomRequest, fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), async (g, picks, listAuthorization) => {
        const r = await signRandom(g);
        // Any received headers, in any order, always with host and x-amz-date, maybe with authorization.
        const present = Object.keys(r.headers).filter((h) => h !== 'host' && h !== 'x-amz-date' && h !== 'authorization');
        const listed = [...new Set(picks.map((p) => present[p % Math.max(present.length, 1)]).filter((h): h is string => h !== undefined))];
        const signedHeaders = ['x-amz-date', ...listed, 'host', ...(listAuthorization ? ['authorization'] : [])];
        const previous = await smithyVerifierSignature(g, r, signedHeaders);
        const scope = `${RANDOM_KEY_ID}/${formatAmzDate(at(seconds(g.offsetSeconds))).slice(0, 8)}/${g.region}/${serviceOf(g)}/aws4_request`;
        const presented = withAuthorization(
          r,
          `AWS4-HMAC-SHA256 Credential=${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${previous.signature}`,
        );
        const sorted = [...signedHeaders].sort().join(';');
        if (previous.covered === sorted) {
          await expect(verifyRandom(g, presented)).resolves.toMatchObject({ principal: alice, region: g.region });
          const flipped = previous.signature.slice(0, -1) + (previous.signature.endsWith('0') ? '1' : '0');
          const e = await rejection(verifyRandom(g, editAuthorization(presented, (a) => a.replace(previous.signature, flipped))));
          expect([e.code, e.detail]).toEqual(['InvalidSignatureException', 'signature mismatch']);
        } else {
          const e = await rejection(verifyRandom(g, presented));
          expect([e.code, e.detail]).toEqual([
            'InvalidSignatureException',
            `signer covered '${previous.covered}' but the client signed '${sorted}'`,
          ]);
        }
      }),
      crossCheckRuns,
    );
  });

  it('accepts what the AWS SDK KMS client signs for random regions, keys and payloads', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('us-east-1', 'eu-west-3', 'ap-southeast-2', 'local-dev-9'),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.dictionary(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 8 }), { maxKeys: 3 }),
        fc.integer({ min: -299, max: 299 }),
        async (region, keyName, plaintext, context, offsetSeconds) => {
          const r = await signWithSdk(
            new EncryptCommand({ KeyId: `alias/${keyName}`, Plaintext: plaintext, EncryptionContext: { ...context } }),
            { creds: BOB, region, signingDate: at(seconds(offsetSeconds)) },
          );
          await expect(verify(r)).resolves.toEqual({ principal: bob, region, accessKeyId: BOB.accessKeyId });
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('verifySigV4 signing key cache', () => {
  it('keeps a different secret under the same access key id apart', async () => {
    const oldSecret = { accessKeyId: ALICE.accessKeyId, secretAccessKey: 'old-secret/0123456789' };
    const newSecret = { accessKeyId: ALICE.accessKeyId, secretAccessKey: 'new-secret/0123456789' };
    const finder = (secret: string) => (id: string): Credential | undefined =>
      id === ALICE.accessKeyId ? { accessKeyId: id, secretAccessKey: secret, principal: alice } : undefined;
    const signedOld = await signDirect({ creds: oldSecret });
    const signedNew = await signDirect({ creds: newSecret });
    // Same date, region and service: only the secret tells the cached keys apart.
    await expect(verifySigV4(signedOld, finder(oldSecret.secretAccessKey), NOW)).resolves.toMatchObject({ principal: alice });
    await expect(verifySigV4(signedNew, finder(newSecret.secretAccessKey), NOW)).resolves.toMatchObject({ principal: alice });
    await expect(rejection(verifySigV4(signedOld, finder(newSecret.secretAccessKey), NOW))).resolves.toMatchObject({ code: 'InvalidSignatureException' });
    await expect(rejection(verifySigV4(signedNew, finder(oldSecret.secretAccessKey), NOW))).resolves.toMatchObject({ code: 'InvalidSignatureException' });
    await expect(verifySigV4(signedOld, finder(oldSecret.secretAccessKey), NOW)).resolves.toMatchObject({ principal: alice });
  });

  it(`holds at most ${signingKeyCacheLimit} signing keys and still verifies after evicting`, async () => {
    const first = await signDirect({ region: 'cache-first' });
    await expect(verify(first)).resolves.toMatchObject({ region: 'cache-first' });
    for (let i = 0; i < signingKeyCacheLimit + 20; i++) {
      await expect(verify(await signDirect({ region: `cache-${i}` }))).resolves.toMatchObject({ region: `cache-${i}` });
      expect(signingKeyCacheSize()).toBeLessThanOrEqual(signingKeyCacheLimit);
    }
    expect(signingKeyCacheSize()).toBe(signingKeyCacheLimit);
    // The first key was evicted long ago; it is derived again.
    await expect(verify(first)).resolves.toMatchObject({ region: 'cache-first' });
  });
});

describe('sigv4 conventions', () => {
  it('formats X-Amz-Date in ISO 8601 basic format', () => {
    expect(formatAmzDate(NOW)).toBe('20260101T001000Z');
    expect(formatAmzDate(new Date('2026-01-01T00:10:00.999Z'))).toBe('20260101T001000Z');
  });

  it('has a test named after every Precondition comment', () => {
    const source = readFileSync(join(__dirname, '../../src/http/auth/sigv4.ts'), 'utf8');
    const tests = readFileSync(__filename, 'utf8');
    const sentences = [...source.matchAll(/\/\/ Precondition: (.+)$/gm)].map((m) => (m[1] ?? '').trim());
    expect(sentences.length).toBeGreaterThanOrEqual(20);
    for (const sentence of sentences) expect(tests).toContain(`it('${sentence}'`);
  });
});
