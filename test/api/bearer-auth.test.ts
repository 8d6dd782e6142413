// Bearer JWT authentication through the HTTP layer: a token from a configured issuer is a
// caller like any other, every bad token is an UnrecognizedClientException, SigV4 still
// works beside it, and a service without issuers treats Bearer as it always did.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import request from 'supertest';
import { parseJwtIssuers } from '../../src/auth-config';
import { ACCOUNT, REGION, startTestService, type TestService } from '../support/service';
import { kmsCall } from '../support/signed';

const ROOT_ISSUER = 'https://root-idp.example';
const ROLE_ISSUER = 'https://role-idp.example';
const EU_ISSUER = 'https://eu-idp.example';
const REMOTE_ISSUER = 'http://127.0.0.1/remote-idp';
const AUDIENCE = 'hsm-kms';
const INVALID = 'The security token included in the request is invalid.';
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Pair { privateKey: CryptoKey; publicKey: CryptoKey; jwk: JWK }
async function pair(alg: 'RS256' | 'ES256', kid: string): Promise<Pair> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  return { publicKey, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

let svc: TestService;
let plain: TestService;
let dir: string;
let rsa: Pair;
let ec: Pair;
let stranger: Pair;
let jwksServer: Server;
/** Every token sent in this file, to check none reaches the log. */
const sentTokens: string[] = [];

beforeAll(async () => {
  [rsa, ec, stranger] = await Promise.all([pair('RS256', 'rsa-1'), pair('ES256', 'ec-1'), pair('RS256', 'rsa-1')]);
  dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-bearer-api-'));
  const jwksFile = path.join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [rsa.jwk, ec.jwk] }));
  jwksServer = createServer((req, res) => {
    if (req.url === '/jwks.json') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [ec.jwk] }));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  // As KMS_JWT_ISSUERS would configure them.
  const jwtIssuers = parseJwtIssuers([
    // Today only an account's root may act, so this issuer maps every subject to it.
    { issuer: ROOT_ISSUER, audience: AUDIENCE, jwksFile, principalTemplate: `arn:aws:iam::${ACCOUNT}:root` },
    { issuer: ROLE_ISSUER, audience: AUDIENCE, jwksFile, principalTemplate: `arn:aws:iam::${ACCOUNT}:role/{sub}`, algorithms: ['ES256'] },
    { issuer: EU_ISSUER, audience: AUDIENCE, jwksFile, principalTemplate: 'arn:aws:iam::444455556666:root', region: 'eu-west-1' },
    { issuer: REMOTE_ISSUER, audience: AUDIENCE, jwksUrl, principalTemplate: `arn:aws:iam::${ACCOUNT}:root` },
  ]);
  svc = await startTestService({ jwtIssuers });
  plain = await startTestService();
});
afterAll(async () => {
  await svc.close();
  await plain.close();
  jwksServer.closeAllConnections();
  await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

async function token(claims: JWTPayload = {}, key: Pair = rsa, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = await new SignJWT({ iss: ROOT_ISSUER, aud: AUDIENCE, sub: 'ci-pipeline', iat: now, exp: now + 300, ...claims })
    .setProtectedHeader({ alg: key.jwk.alg as string, kid: key.jwk.kid, ...header })
    .sign(key.privateKey);
  sentTokens.push(jwt);
  return jwt;
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** POSTs a KMS operation with `Authorization: <authorization>` and no signature. */
async function call(app: TestService['app'], target: string, body: unknown, authorization: string) {
  const res = await request(app).post('/')
    .set('content-type', 'application/x-amz-json-1.1')
    .set('x-amz-target', `TrentService.${target}`)
    .set('authorization', authorization)
    .send(JSON.stringify(body));
  return Object.assign(res, { body: res.text ? JSON.parse(res.text) : {} });
}

const bearer = (app: TestService['app'], target: string, body: unknown, jwt: string) => call(app, target, body, `Bearer ${jwt}`);

function expectUnrecognized(res: Awaited<ReturnType<typeof call>>): void {
  expect(res.status).toBe(400);
  expect(res.headers['x-amzn-requestid']).toMatch(uuid);
  expect(res.body).toEqual({ __type: 'UnrecognizedClientException', message: INVALID });
}

describe('a valid bearer token', () => {
  it('acts as the principal its issuer maps it to: CreateKey, ListKeys, Encrypt and Decrypt as the account root', async () => {
    const jwt = await token();
    const created = await bearer(svc.app, 'CreateKey', { Description: 'made with a JWT' }, jwt);
    expect(created.status).toBe(200);
    const key = created.body.KeyMetadata as { KeyId: string; Arn: string; AWSAccountId: string };
    expect(key.AWSAccountId).toBe(ACCOUNT);
    expect(key.Arn).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${key.KeyId}`);

    const listed = await bearer(svc.app, 'ListKeys', {}, jwt);
    expect(listed.status).toBe(200);
    expect((listed.body.Keys as { KeyId: string }[]).map((k) => k.KeyId)).toContain(key.KeyId);

    const enc = await bearer(svc.app, 'Encrypt', { KeyId: key.KeyId, Plaintext: Buffer.from('hello').toString('base64') }, jwt);
    expect(enc.status).toBe(200);
    const dec = await bearer(svc.app, 'Decrypt', { CiphertextBlob: enc.body.CiphertextBlob }, await token({ sub: 'another-subject' }));
    expect(dec.status).toBe(200);
    expect(Buffer.from(dec.body.Plaintext as string, 'base64').toString()).toBe('hello');

    // The same key through SigV4: one account, one set of keys, whichever way in.
    const signed = await kmsCall(svc.app, 'DescribeKey', { KeyId: key.KeyId });
    expect(signed.status).toBe(200);
    expect(signed.body.KeyMetadata.Description).toBe('made with a JWT');
  });

  it('of an issuer with its own region and account creates keys there', async () => {
    const jwt = await token({ iss: EU_ISSUER });
    const created = await bearer(svc.app, 'CreateKey', {}, jwt);
    expect(created.status).toBe(200);
    expect(created.body.KeyMetadata.Arn).toMatch(/^arn:aws:kms:eu-west-1:444455556666:key\//);
    const mine = await bearer(svc.app, 'ListKeys', {}, await token());
    expect((mine.body.Keys as { KeyId: string }[]).map((k) => k.KeyId)).not.toContain(created.body.KeyMetadata.KeyId);
  });

  it('mapped to a role without rights is authenticated, then denied by authorisation', async () => {
    const res = await bearer(svc.app, 'ListKeys', {}, await token({ iss: ROLE_ISSUER, sub: 'reporting' }, ec));
    expect(res.status).toBe(400);
    expect(res.body.__type).toBe('AccessDeniedException');
    expect(res.body.message).toContain(`arn:aws:iam::${ACCOUNT}:role/reporting`);
  });

  it('may come from an issuer whose JWKS is served over HTTP', async () => {
    const res = await bearer(svc.app, 'ListKeys', {}, await token({ iss: REMOTE_ISSUER }, ec));
    expect(res.status).toBe(200);
    expectUnrecognized(await bearer(svc.app, 'ListKeys', {}, await token({ iss: REMOTE_ISSUER }, rsa)));
  });
});

describe('a bad bearer token is an UnrecognizedClientException', () => {
  it('when expired, not yet valid, wrongly signed, for another audience or issuer, or without sub', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const jwt of [
      await token({ exp: now - 120 }),
      await token({ nbf: now + 600 }),
      await token({}, stranger),
      await token({ aud: 'another-service' }),
      await token({ iss: 'https://unknown-idp.example' }),
      await token({ sub: undefined }),
      // Role issuer accepts ES256 only.
      await token({ iss: ROLE_ISSUER }, rsa),
      await token({ iss: ROLE_ISSUER, sub: 'admin/../root' }, ec),
    ]) {
      expectUnrecognized(await bearer(svc.app, 'ListKeys', {}, jwt));
    }
  });

  it('when its alg is none or HS256', async () => {
    const claims = { iss: ROOT_ISSUER, aud: AUDIENCE, sub: 'x', exp: Math.floor(Date.now() / 1000) + 300 };
    const none = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
    const secret = new TextEncoder().encode(await exportSPKI(rsa.publicKey));
    const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(secret);
    sentTokens.push(none, hs256);
    expectUnrecognized(await bearer(svc.app, 'ListKeys', {}, none));
    expectUnrecognized(await bearer(svc.app, 'ListKeys', {}, hs256));
  });

  it('when missing or garbled', async () => {
    for (const authorization of ['Bearer', 'Bearer ', 'bearer not-a-jwt', 'Bearer a.b.c', `Bearer ${'x'.repeat(15_000)}`]) {
      expectUnrecognized(await call(svc.app, 'ListKeys', {}, authorization));
    }
  });

  it('and none of it reaches the log, which records the principal and why a token was refused', async () => {
    await bearer(svc.app, 'ListKeys', {}, await token({ sub: 'logged-subject' }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const text = readFileSync(svc.logFile, 'utf8');
    expect(text).toContain(`"principal":"arn:aws:iam::${ACCOUNT}:root"`);
    expect(text).toMatch(/bearer token refused: ERR_JWT_EXPIRED/);
    expect(text).toMatch(/bearer token refused: unknown issuer/);
    expect(sentTokens.length).toBeGreaterThan(10);
    for (const jwt of sentTokens) {
      // Header and claims alone are not secret, but the signature part is what must never leak.
      const signature = jwt.split('.')[2]!;
      expect(text).not.toContain(jwt);
      if (signature.length > 0) expect(text).not.toContain(signature);
    }
  });
});

describe('SigV4 beside bearer tokens', () => {
  it('keeps working on a service with issuers', async () => {
    expect((await kmsCall(svc.app, 'ListKeys', {})).status).toBe(200);
  });

  it('is the only way in when no issuer is configured: Bearer is an IncompleteSignatureException as before', async () => {
    const res = await bearer(plain.app, 'ListKeys', {}, await token());
    expect(res.status).toBe(400);
    expect(res.body.__type).toBe('IncompleteSignatureException');
    expect(res.text).not.toContain(sentTokens.at(-1)!.split('.')[2]!);
  });
});
