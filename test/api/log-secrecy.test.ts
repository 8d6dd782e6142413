// The request log: one winston JSON line per request with request id, operation, key id,
// principal, outcome and latency, and nothing secret in it. A realistic session is driven
// with distinctive plaintexts, then the log file is searched for every secret the session
// handled, in every encoding it travelled in.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import request from 'supertest';
import { ACCOUNT, ALICE, OTHER_ROOT, REGION, ROOT, startTestService, type TestService } from '../support/service';
import { signedHeaders, type SignOptions } from '../support/signed';

let svc: TestService;
beforeAll(async () => { svc = await startTestService(); });
afterAll(async () => { await svc.close(); });

const ROOT_ARN = `arn:aws:iam::${ACCOUNT}:root`;
/**
 * An oversized body is refused before the operation is looked up, so its line carries no
 * operation today although X-Amz-Target names one; either is accepted.
 */
const OPTIONAL = '<operation optional>';

/** What the log line of one request must say. */
interface Expected {
  requestId: string;
  status: number;
  operation?: string;
  outcome: string;
  principal?: string;
  keyId?: string;
}

interface LogLine {
  level: string;
  message: string;
  requestId?: unknown;
  operation?: unknown;
  principal?: unknown;
  outcome?: unknown;
  keyId?: unknown;
  status?: unknown;
  latencyMs?: unknown;
  timestamp?: unknown;
  [field: string]: unknown;
}

const requests: Expected[] = [];
/** Every value that must never reach the log, with a label for the failure message. */
const secrets: { label: string; value: string }[] = [];
const canaryId = randomBytes(6).toString('hex');
let canaryCount = 0;

function secretBytes(label: string, bytes: Buffer): void {
  secrets.push({ label: `${label} (base64)`, value: bytes.toString('base64') });
  secrets.push({ label: `${label} (hex)`, value: bytes.toString('hex') });
  secrets.push({ label: `${label} (HEX)`, value: bytes.toString('hex').toUpperCase() });
}

/** A fresh distinctive plaintext, recorded in utf8, base64 and hex. */
function canary(): string {
  const text = `PLAINTEXT-CANARY-${canaryId}-${++canaryCount}`;
  secrets.push({ label: `plaintext ${canaryCount} (utf8)`, value: text });
  secretBytes(`plaintext ${canaryCount}`, Buffer.from(text));
  return text;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

interface Sent { status: number; body: Record<string, unknown>; requestId: string }

/**
 * Sends one signed request and records what its log line must carry. `expect` overrides the
 * defaults (the operation named by the target, the root principal, success on 200).
 */
async function send(
  target: string | null,
  body: object | string | Buffer,
  options: SignOptions & {
    expect?: Partial<Omit<Expected, 'requestId' | 'status'>>;
    /** Changes the signed headers before sending. */
    mutate?: (headers: Record<string, string>) => void;
    /** Sends these bytes instead of the signed ones. */
    replaceBody?: Buffer;
  } = {},
): Promise<Sent> {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const headers = await signedHeaders(target, bytes, options);
  const signature = /Signature=([0-9a-f]{64})/.exec(headers.authorization ?? '')?.[1];
  if (signature) secrets.push({ label: `signature of a ${target} request`, value: signature });
  options.mutate?.(headers);
  let req = request(svc.app).post('/');
  for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
  const res = await req.send(options.replaceBody ?? bytes);
  const parsed = res.text ? (JSON.parse(res.text) as Record<string, unknown>) : {};
  const requestId = res.headers['x-amzn-requestid'] as string;
  expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
  const principal = options.credentials === ALICE ? ALICE.principalArn : options.credentials === OTHER_ROOT ? OTHER_ROOT.principalArn : ROOT_ARN;
  requests.push({
    requestId,
    status: res.status,
    operation: target ?? undefined,
    principal,
    outcome: res.status === 200 ? 'success' : String(parsed.__type),
    ...options.expect,
  });
  return { status: res.status, body: parsed, requestId };
}

function ciphertextOf(res: Sent): string {
  expect(res.status).toBe(200);
  const blob = res.body.CiphertextBlob as string;
  // Not secret, but request and response bodies are never logged: a ciphertext must not be either.
  secrets.push({ label: 'a ciphertext (base64)', value: blob });
  return blob;
}

async function readLogLines(expectedCount: number): Promise<LogLine[]> {
  // winston's file transport writes asynchronously: wait until every request's line is there.
  const deadline = Date.now() + 10_000;
  let lines: LogLine[] = [];
  while (Date.now() < deadline) {
    if (existsSync(svc.logFile)) {
      const text = readFileSync(svc.logFile, 'utf8');
      lines = text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as LogLine);
      if (lines.filter((l) => l.message === 'request').length >= expectedCount) break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // A little longer, so a stray extra line would show up too.
  await new Promise((r) => setTimeout(r, 200));
  return readFileSync(svc.logFile, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as LogLine);
}

describe('the request log of a realistic session', () => {
  let logText = '';
  let lines: LogLine[] = [];

  beforeAll(async () => {
    secrets.push({ label: 'root secret access key', value: ROOT.secretAccessKey });
    secrets.push({ label: 'alice secret access key', value: ALICE.secretAccessKey });
    secrets.push({ label: 'other account secret access key', value: OTHER_ROOT.secretAccessKey });
    secrets.push({ label: 'token PIN', value: svc.token.pin });

    // Keys.
    const created = await send('CreateKey', { Description: 'log secrecy', Tags: [{ TagKey: 'purpose', TagValue: 'logging' }] });
    expect(created.status).toBe(200);
    const key = created.body.KeyMetadata as { KeyId: string; Arn: string };
    requests.at(-1)!.keyId = key.Arn;
    const second = await send('CreateKey', {});
    const key2 = second.body.KeyMetadata as { KeyId: string; Arn: string };
    requests.at(-1)!.keyId = key2.Arn;

    // Encrypt and Decrypt distinctive plaintexts, with and without a context.
    const context = { tenant: 'acme', purpose: 'logging' };
    const sealed: { blob: string; text: string; context?: object }[] = [];
    for (const withContext of [false, true, true]) {
      const text = canary();
      const res = await send('Encrypt', { KeyId: key.KeyId, Plaintext: b64(text), ...(withContext ? { EncryptionContext: context } : {}) }, { expect: { keyId: key.KeyId } });
      sealed.push({ blob: ciphertextOf(res), text, ...(withContext ? { context } : {}) });
    }
    const byArn = await send('Encrypt', { KeyId: key2.Arn, Plaintext: b64(canary()) }, { expect: { keyId: key2.Arn } });
    ciphertextOf(byArn);
    for (const { blob, text, context: ctx } of sealed) {
      const res = await send('Decrypt', { CiphertextBlob: blob, ...(ctx ? { EncryptionContext: ctx } : {}) }, { expect: { keyId: key.Arn } });
      expect(Buffer.from(res.body.Plaintext as string, 'base64').toString()).toBe(text);
    }
    const withKeyId = await send('Decrypt', { CiphertextBlob: sealed[0]!.blob, KeyId: key.KeyId }, { expect: { keyId: key.KeyId } });
    expect(withKeyId.status).toBe(200);

    // Data keys, with and without plaintext, and their decryption.
    for (const spec of [{ KeySpec: 'AES_256' }, { KeySpec: 'AES_128' }, { NumberOfBytes: 64 }]) {
      const dk = await send('GenerateDataKey', { KeyId: key.KeyId, EncryptionContext: context, ...spec }, { expect: { keyId: key.KeyId } });
      expect(dk.status).toBe(200);
      secretBytes(`data key ${JSON.stringify(spec)}`, Buffer.from(dk.body.Plaintext as string, 'base64'));
      const blob = ciphertextOf(dk);
      const dec = await send('Decrypt', { CiphertextBlob: blob, EncryptionContext: context }, { expect: { keyId: key.Arn } });
      expect(dec.body.Plaintext).toBe(dk.body.Plaintext);
    }
    const sealedOnly = await send('GenerateDataKeyWithoutPlaintext', { KeyId: key2.KeyId, KeySpec: 'AES_256' }, { expect: { keyId: key2.KeyId } });
    const sealedOnlyBlob = ciphertextOf(sealedOnly);
    const opened = await send('Decrypt', { CiphertextBlob: sealedOnlyBlob }, { expect: { keyId: key2.Arn } });
    secretBytes('data key without plaintext', Buffer.from(opened.body.Plaintext as string, 'base64'));

    // Random bytes.
    for (const n of [16, 32, 1024]) {
      const random = await send('GenerateRandom', { NumberOfBytes: n });
      expect(random.status).toBe(200);
      secretBytes(`random ${n}`, Buffer.from(random.body.Plaintext as string, 'base64'));
    }

    // ReEncrypt to the second key and back out.
    const moved = await send('ReEncrypt', {
      CiphertextBlob: sealed[1]!.blob, SourceEncryptionContext: context, DestinationKeyId: key2.KeyId, DestinationEncryptionContext: { moved: 'yes' },
    }, { expect: { keyId: key2.Arn } });
    const movedBlob = ciphertextOf(moved);
    const movedOut = await send('Decrypt', { CiphertextBlob: movedBlob, EncryptionContext: { moved: 'yes' } }, { expect: { keyId: key2.Arn } });
    expect(Buffer.from(movedOut.body.Plaintext as string, 'base64').toString()).toBe(sealed[1]!.text);

    // Errors, each carrying a canary in its body.
    const expectFailure = (res: Sent, type: string) => { expect(res.body.__type).toBe(type); };
    expectFailure(await send('Encrypt', { KeyId: key.KeyId, Plaintext: b64(canary()) }, {
      credentials: { accessKeyId: ROOT.accessKeyId, secretAccessKey: 'not-the-root-secret' }, expect: { principal: undefined, keyId: undefined },
    }), 'InvalidSignatureException');
    expectFailure(await send('Encrypt', { KeyId: key.KeyId, Plaintext: b64(canary()) }, {
      credentials: { accessKeyId: 'AKIAUNKNOWN000000001', secretAccessKey: 'unknown-secret' }, expect: { principal: undefined, keyId: undefined },
    }), 'UnrecognizedClientException');
    expectFailure(await send('Encrypt', { KeyId: key.KeyId, Plaintext: b64(canary()) }, {
      mutate: (h) => { delete h.authorization; }, expect: { principal: undefined, keyId: undefined },
    }), 'MissingAuthenticationTokenException');
    expectFailure(await send('Encrypt', { KeyId: key.KeyId, Plaintext: b64(canary()) }, {
      signingDate: new Date(Date.now() - 10 * 60_000), expect: { principal: undefined, keyId: undefined },
    }), 'InvalidSignatureException');
    // The body is changed after signing: the signature no longer matches.
    expectFailure(await send('Encrypt', { KeyId: key.KeyId, Plaintext: b64(canary()) }, {
      replaceBody: Buffer.from(JSON.stringify({ KeyId: key.KeyId, Plaintext: b64(canary()) })), expect: { principal: undefined, keyId: undefined },
    }), 'InvalidSignatureException');

    const tampered = Buffer.from(sealed[0]!.blob, 'base64');
    tampered[tampered.length - 1]! ^= 0x01;
    expectFailure(await send('Decrypt', { CiphertextBlob: tampered.toString('base64') }, { expect: { keyId: undefined } }), 'InvalidCiphertextException');
    expectFailure(await send('Decrypt', { CiphertextBlob: sealed[1]!.blob, EncryptionContext: { tenant: 'other' } }, { expect: { keyId: undefined } }), 'InvalidCiphertextException');
    expectFailure(await send('Decrypt', { CiphertextBlob: b64(canary()) }, { expect: { keyId: undefined } }), 'InvalidCiphertextException');
    expectFailure(await send('Decrypt', { CiphertextBlob: sealed[0]!.blob, KeyId: key2.KeyId }, { expect: { keyId: key2.KeyId } }), 'IncorrectKeyException');

    const tooLong = `${canary()}-`.repeat(200).slice(0, 4097);
    secrets.push({ label: 'oversized plaintext (base64)', value: b64(tooLong) });
    // A request that fails validation is still logged with the key id it named (only that is taken from the body).
    expectFailure(await send('Encrypt', { KeyId: key.KeyId, Plaintext: b64(tooLong) }, { expect: { keyId: key.KeyId } }), 'ValidationException');
    expectFailure(await send('Encrypt', { Plaintext: b64(canary()) }, { expect: { keyId: undefined } }), 'ValidationException');
    expectFailure(await send('Encrypt', { KeyId: key.KeyId, Plaintext: { text: canary() } }, { expect: { keyId: key.KeyId } }), 'SerializationException');
    expectFailure(await send('Encrypt', `{"KeyId": "${key.KeyId}", "Plaintext": "${canary()}`, { expect: { keyId: undefined } }), 'SerializationException');
    expectFailure(await send('Encrypt', { KeyId: key.KeyId, Plaintext: `${canary()}!` }, { expect: { keyId: key.KeyId } }), 'SerializationException');
    expectFailure(await send('Encrypt', { KeyId: key.KeyId, Plaintext: b64(canary()), DryRun: true }, { expect: { keyId: key.KeyId } }), 'DryRunOperationException');
    expectFailure(await send('Encrypt', { KeyId: key.KeyId, Plaintext: b64(canary()) }, { contentType: 'text/plain', expect: { principal: undefined, keyId: undefined } }), 'SerializationException');
    expectFailure(await send('Nope', { Plaintext: b64(canary()) }, { expect: { operation: undefined, principal: undefined } }), 'UnknownOperationException');
    const huge = JSON.stringify({ KeyId: key.KeyId, Plaintext: b64(`${canary()} `.repeat(8000)) });
    expect(huge.length).toBeGreaterThan(256 * 1024);
    // The body is never read, so the caller is not known; the operation may or may not be logged (see below).
    expectFailure(await send('Encrypt', huge, { expect: { operation: OPTIONAL, principal: undefined } }), 'RequestEntityTooLargeException');

    // Principals without permission.
    expectFailure(await send('Encrypt', { KeyId: key.Arn, Plaintext: b64(canary()) }, { credentials: ALICE, expect: { keyId: key.Arn } }), 'AccessDeniedException');
    expectFailure(await send('Decrypt', { CiphertextBlob: sealed[0]!.blob }, { credentials: ALICE, expect: { keyId: undefined } }), 'AccessDeniedException');
    expectFailure(await send('GenerateRandom', { NumberOfBytes: 32 }, { credentials: ALICE }), 'AccessDeniedException');
    expectFailure(await send('Encrypt', { KeyId: key.Arn, Plaintext: b64(canary()) }, { credentials: OTHER_ROOT, expect: { keyId: key.Arn } }), 'AccessDeniedException');

    // A little concurrency, so lines from interleaved requests are still one per request.
    await Promise.all(Array.from({ length: 10 }, () => send('Encrypt', { KeyId: key.KeyId, Plaintext: b64(canary()) }, { expect: { keyId: key.KeyId } })));

    lines = await readLogLines(requests.length);
    logText = readFileSync(svc.logFile, 'utf8');
  });

  it('writes exactly one JSON line per request, with id, operation, key, principal, outcome and latency', () => {
    const requestLines = lines.filter((l) => l.message === 'request');
    expect(requestLines).toHaveLength(requests.length);
    expect(new Set(requests.map((r) => r.requestId)).size).toBe(requests.length);
    for (const expected of requests) {
      const mine = requestLines.filter((l) => l.requestId === expected.requestId);
      expect(mine).toHaveLength(1);
      const line = mine[0]!;
      const context = `${expected.operation} → ${expected.outcome}`;
      if (expected.operation === OPTIONAL) expected.operation = line.operation === undefined ? undefined : 'Encrypt';
      expect({ context, operation: line.operation, principal: line.principal, outcome: line.outcome, status: line.status, keyId: line.keyId })
        .toEqual({ context, operation: expected.operation, principal: expected.principal, outcome: expected.outcome, status: expected.status, keyId: expected.keyId });
      expect(typeof line.latencyMs).toBe('number');
      expect(line.latencyMs as number).toBeGreaterThanOrEqual(0);
      expect(line.latencyMs as number).toBeLessThan(60_000);
      expect(typeof line.timestamp).toBe('string');
      expect(line.level).toBe(expected.status >= 500 ? 'error' : 'info');
    }
  });

  it('logs no other lines: no internal errors happened', () => {
    expect(lines.filter((l) => l.message !== 'request')).toEqual([]);
    expect(requests.filter((r) => r.status >= 500)).toEqual([]);
  });

  it('the session covered what it claims: successes, every error kind, several principals', () => {
    const outcomes = new Set(requests.map((r) => r.outcome));
    for (const outcome of ['success', 'InvalidSignatureException', 'UnrecognizedClientException', 'MissingAuthenticationTokenException', 'InvalidCiphertextException',
      'IncorrectKeyException', 'ValidationException', 'SerializationException', 'DryRunOperationException', 'UnknownOperationException',
      'RequestEntityTooLargeException', 'AccessDeniedException']) {
      expect(outcomes).toContain(outcome);
    }
    for (const operation of ['CreateKey', 'Encrypt', 'Decrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateRandom', 'ReEncrypt']) {
      expect(requests.filter((r) => r.operation === operation && r.outcome === 'success').length).toBeGreaterThan(0);
    }
    expect(new Set(requests.map((r) => r.principal))).toEqual(new Set([ROOT_ARN, ALICE.principalArn, OTHER_ROOT.principalArn, undefined]));
    expect(canaryCount).toBeGreaterThan(20);
  });

  it('contains no plaintext, data key, random output, ciphertext, signature, secret access key or PIN', () => {
    expect(logText.length).toBeGreaterThan(0);
    expect(secrets.length).toBeGreaterThan(100);
    const leaked = secrets.filter((s) => s.value.length >= 8 && logText.includes(s.value)).map((s) => s.label);
    expect(leaked).toEqual([]);
    // Belt and braces: no fragment of a canary in any form.
    expect(logText).not.toContain('PLAINTEXT-CANARY');
    expect(logText).not.toContain(canaryId);
    expect(logText).not.toContain(b64('PLAINTEXT-CANARY').slice(0, 20));
    expect(logText).not.toContain(Buffer.from('PLAINTEXT-CANARY').toString('hex'));
  });

  it('names the keys by id or ARN, in this account and region only', () => {
    for (const line of lines) {
      if (typeof line.keyId === 'string' && line.keyId.startsWith('arn:')) expect(line.keyId).toMatch(new RegExp(`^arn:aws:kms:${REGION}:${ACCOUNT}:key/`));
    }
  });
});
