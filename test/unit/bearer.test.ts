// Bearer JWT verification against locally generated key sets: what maps to which principal,
// and every way a token is refused. Each `// Precondition:` of http/auth/bearer.ts and of
// the issuer configuration (auth-config.ts) has a test here named after its sentence.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { ConfigError, loadConfig } from '../../src/config';
import { KmsError } from '../../src/core/errors';
import { parseJwtIssuers, type JwtIssuerConfig } from '../../src/auth-config';
import { BearerAuthenticator, isBearerAuthorization, MAX_TOKEN_LENGTH } from '../../src/http/auth/bearer';

const NOW = new Date('2030-01-01T12:00:00Z');
const nowSeconds = Math.floor(NOW.getTime() / 1000);
const ISSUER = 'https://idp.example';
const OTHER_ISSUER = 'https://other-idp.example';
const AUDIENCE = 'hsm-kms';
const INVALID = 'The security token included in the request is invalid.';

interface Pair { publicKey: CryptoKey; privateKey: CryptoKey; jwk: JWK }
let rsa: Pair;
let ec: Pair;
let stranger: Pair;
let otherIssuerKey: Pair;
let dir: string;
let jwksFile: string;
let otherJwksFile: string;

async function pair(alg: 'RS256' | 'ES256', kid: string): Promise<Pair> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { publicKey, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

beforeAll(async () => {
  [rsa, ec, stranger, otherIssuerKey] = await Promise.all([pair('RS256', 'rsa-1'), pair('ES256', 'ec-1'), pair('RS256', 'rsa-1'), pair('ES256', 'other-1')]);
  dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-bearer-'));
  jwksFile = path.join(dir, 'jwks.json');
  otherJwksFile = path.join(dir, 'other-jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [rsa.jwk, ec.jwk] }));
  writeFileSync(otherJwksFile, JSON.stringify({ keys: [otherIssuerKey.jwk] }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function issuers(overrides: Partial<Record<string, unknown>> = {}): JwtIssuerConfig[] {
  return parseJwtIssuers([
    { issuer: ISSUER, audience: AUDIENCE, jwksFile, principalTemplate: 'arn:aws:iam::111122223333:role/{sub}', algorithms: ['RS256', 'ES256'], ...overrides },
    { issuer: OTHER_ISSUER, audience: 'other-audience', jwksFile: otherJwksFile, principalTemplate: 'arn:aws:iam::444455556666:user/{email}', region: 'eu-west-1' },
  ]);
}

function authenticator(overrides: Partial<Record<string, unknown>> = {}): BearerAuthenticator {
  return new BearerAuthenticator(issuers(overrides), { defaultRegion: 'us-east-1' });
}

interface SignOptions { key?: Pair; alg?: string; kid?: string | null; omit?: ('exp' | 'sub' | 'iss' | 'aud')[] }

async function sign(claims: JWTPayload = {}, options: SignOptions = {}): Promise<string> {
  const key = options.key ?? rsa;
  const alg = options.alg ?? (key.jwk.alg as string);
  const payload: JWTPayload = { iss: ISSUER, aud: AUDIENCE, sub: 'alice', iat: nowSeconds - 10, exp: nowSeconds + 300, ...claims };
  for (const name of options.omit ?? []) delete payload[name];
  const header = options.kid === null ? { alg } : { alg, kid: options.kid ?? key.jwk.kid };
  return new SignJWT(payload).setProtectedHeader(header).sign(key.privateKey);
}

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** The KmsError a refused header produces, after checking it says nothing about the token. */
async function refusal(header: string, auth = authenticator(), now = NOW): Promise<KmsError> {
  const error = await auth.authenticate(header, now).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(KmsError);
  const kmsError = error as KmsError;
  const token = header.replace(/^\s*bearer\s+/i, '');
  if (token.length > 20) {
    expect(kmsError.message).not.toContain(token);
    expect(kmsError.detail ?? '').not.toContain(token);
    for (const part of token.split('.').filter((p) => p.length > 20)) expect(kmsError.detail ?? '').not.toContain(part);
  }
  return kmsError;
}

async function expectRefused(header: string, detail?: RegExp, auth?: BearerAuthenticator, now?: Date): Promise<void> {
  const error = await refusal(header, auth, now);
  expect(error.code).toBe('UnrecognizedClientException');
  expect(error.message).toBe(INVALID);
  if (detail) expect(error.detail).toMatch(detail);
}

describe('valid tokens', () => {
  it('map to the principal ARN of the template, in the account of the template', async () => {
    const auth = authenticator();
    for (const key of [rsa, ec]) {
      const caller = await auth.authenticate(`Bearer ${await sign({ sub: 'alice' }, { key })}`, NOW);
      expect(caller.principal).toEqual({ arn: 'arn:aws:iam::111122223333:role/alice', accountId: '111122223333', policies: [] });
      expect(caller.region).toBe('us-east-1');
      expect(caller.issuer).toBe(ISSUER);
    }
  });

  it('take the region and the identity policies of their issuer', async () => {
    const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] };
    const auth = authenticator({ region: 'ap-southeast-2', policies: [policy] });
    const caller = await auth.authenticate(`Bearer ${await sign()}`, NOW);
    expect(caller.region).toBe('ap-southeast-2');
    expect(caller.principal.policies).toEqual([JSON.stringify(policy)]);
  });

  it('of a second issuer use its keys, audience, template and region', async () => {
    const token = await sign({ iss: OTHER_ISSUER, aud: 'other-audience', sub: 'u-1', email: 'bob@example.com' }, { key: otherIssuerKey });
    const caller = await authenticator().authenticate(`Bearer ${token}`, NOW);
    expect(caller.principal).toEqual({ arn: 'arn:aws:iam::444455556666:user/bob@example.com', accountId: '444455556666', policies: [] });
    expect(caller.region).toBe('eu-west-1');
  });

  it('without a kid header are matched to a key of the right type', async () => {
    const caller = await authenticator().authenticate(`Bearer ${await sign({}, { key: ec, kid: null })}`, NOW);
    expect(caller.principal.arn).toBe('arn:aws:iam::111122223333:role/alice');
  });

  it('may map every subject to one fixed principal, such as the account root', async () => {
    const auth = authenticator({ principalTemplate: 'arn:aws:iam::111122223333:root' });
    expect((await auth.authenticate(`Bearer ${await sign({ sub: 'anyone' })}`, NOW)).principal.arn).toBe('arn:aws:iam::111122223333:root');
  });

  it('accept the scheme name in any case and surrounding spaces', async () => {
    const token = await sign();
    for (const header of [`bearer ${token}`, `BEARER ${token}`, `  Bearer   ${token}  `]) {
      expect((await authenticator().authenticate(header, NOW)).principal.arn).toBe('arn:aws:iam::111122223333:role/alice');
    }
  });
});

describe('isBearerAuthorization', () => {
  it('recognises the Bearer scheme only', () => {
    expect(isBearerAuthorization('Bearer abc')).toBe(true);
    expect(isBearerAuthorization('bearer abc')).toBe(true);
    expect(isBearerAuthorization('Bearer')).toBe(true);
    expect(isBearerAuthorization('BearerX abc')).toBe(false);
    expect(isBearerAuthorization('AWS4-HMAC-SHA256 Credential=x')).toBe(false);
    expect(isBearerAuthorization(undefined)).toBe(false);
    expect(isBearerAuthorization(['Bearer a', 'Bearer b'])).toBe(false);
  });
});

describe('refused tokens', () => {
  it('a bearer Authorization header must carry exactly one token.', async () => {
    const token = await sign();
    for (const header of ['Bearer', 'Bearer   ', `Bearer ${token} ${token}`, `Bearer ${token},${token}`]) {
      await expectRefused(header);
    }
  });

  it('a bearer token longer than 16 KiB is refused.', async () => {
    const token = await sign({ padding: 'x'.repeat(MAX_TOKEN_LENGTH) });
    expect(token.length).toBeGreaterThan(MAX_TOKEN_LENGTH);
    await expectRefused(`Bearer ${token}`, /longer than 16384/);
    // Just under the limit is fine.
    const fits = await sign({ padding: 'x'.repeat((MAX_TOKEN_LENGTH * 3) / 4 - 1000) });
    expect(fits.length).toBeLessThanOrEqual(MAX_TOKEN_LENGTH);
    expect((await authenticator().authenticate(`Bearer ${fits}`, NOW)).principal.arn).toBe('arn:aws:iam::111122223333:role/alice');
  });

  it('a bearer token must be a compact JWS of three base64url parts.', async () => {
    const token = await sign();
    const [h, p, s] = token.split('.') as [string, string, string];
    for (const garbled of ['garbage', `${h}.${p}`, `${h}.${p}.${s}.extra`, `${h}.${p}.${s}!`, `${h}..${s}`, `${h}.${b64url('not json')}.${s}`, `${h}.${b64url([1, 2])}.${s}`, token.replace(/\./g, '')]) {
      await expectRefused(`Bearer ${garbled}`);
    }
    // A JWE (five parts) is not a signed token either.
    await expectRefused(`Bearer ${h}.a.b.c.d`);
  });

  it('the token\'s iss claim must name a configured issuer.', async () => {
    await expectRefused(`Bearer ${await sign({ iss: 'https://evil.example' })}`, /unknown issuer/);
    await expectRefused(`Bearer ${await sign({}, { omit: ['iss'] })}`, /unknown issuer/);
    await expectRefused(`Bearer ${await sign({ iss: `${ISSUER}/` })}`, /unknown issuer/);
    await expectRefused(`Bearer ${await sign({ iss: ['https://idp.example'] as unknown as string })}`);
  });

  it('a token whose alg is none, HS256 or outside the issuer\'s algorithms is refused.', async () => {
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'alice', exp: nowSeconds + 300 };
    // alg none, crafted by hand: no signature at all.
    for (const alg of ['none', 'None', 'NONE']) {
      await expectRefused(`Bearer ${b64url({ alg, typ: 'JWT' })}.${b64url(claims)}.`, /ERR_JOSE_ALG_NOT_ALLOWED|ERR_JWS_INVALID/);
      await expectRefused(`Bearer ${b64url({ alg, typ: 'JWT' })}.${b64url(claims)}.${b64url('x')}`);
    }
    // HS256 keyed with the issuer's public key, the classic algorithm confusion.
    const pem = new TextEncoder().encode(await exportSPKI(rsa.publicKey));
    const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(pem);
    await expectRefused(`Bearer ${hs256}`, /ERR_JOSE_ALG_NOT_ALLOWED/);
    const jwkSecret = new TextEncoder().encode(JSON.stringify(rsa.jwk));
    await expectRefused(`Bearer ${await new SignJWT(claims).setProtectedHeader({ alg: 'HS512' }).sign(jwkSecret)}`, /ERR_JOSE_ALG_NOT_ALLOWED/);
    // An asymmetric algorithm the issuer does not allow.
    const pss = await generateKeyPair('PS256');
    const ps256 = await new SignJWT(claims).setProtectedHeader({ alg: 'PS256', kid: 'rsa-1' }).sign(pss.privateKey);
    await expectRefused(`Bearer ${ps256}`, /ERR_JOSE_ALG_NOT_ALLOWED/);
    await expectRefused(`Bearer ${await sign({}, { key: ec })}`, /ERR_JOSE_ALG_NOT_ALLOWED/, authenticator({ algorithms: ['RS256'] }));
  });

  it('a token not signed by a key of its issuer\'s JWKS is refused.', async () => {
    // Same kid and algorithm as the issuer's key, another key.
    await expectRefused(`Bearer ${await sign({}, { key: stranger })}`, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    // A kid the issuer does not publish.
    await expectRefused(`Bearer ${await sign({}, { key: stranger, kid: 'unknown' })}`, /ERR_JWKS_NO_MATCHING_KEY/);
    // Another configured issuer's key, with this issuer's name.
    await expectRefused(`Bearer ${await sign({}, { key: otherIssuerKey, kid: 'ec-1' })}`, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    // This issuer's key, naming the other issuer.
    await expectRefused(`Bearer ${await sign({ iss: OTHER_ISSUER, aud: 'other-audience', email: 'bob@example.com' }, { key: ec, kid: 'other-1' })}`, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    // A valid token with one character of its payload changed.
    const [h, p, s] = (await sign()).split('.') as [string, string, string];
    const tampered = b64url({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'admin' });
    await expectRefused(`Bearer ${h}.${tampered}.${s}`, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
  });

  it('a token for another audience is refused.', async () => {
    await expectRefused(`Bearer ${await sign({ aud: 'someone-else' })}`, /ERR_JWT_CLAIM_VALIDATION_FAILED.*aud/);
    await expectRefused(`Bearer ${await sign({}, { omit: ['aud'] })}`, /ERR_JWT_CLAIM_VALIDATION_FAILED.*aud/);
    await expectRefused(`Bearer ${await sign({ aud: 'other-audience' })}`, /aud/);
    // One of several audiences is enough, and an issuer may accept several.
    expect((await authenticator().authenticate(`Bearer ${await sign({ aud: ['x', AUDIENCE] })}`, NOW)).principal.arn).toMatch(/role\/alice$/);
    const several = authenticator({ audience: ['a', 'b'] });
    expect((await several.authenticate(`Bearer ${await sign({ aud: 'b' })}`, NOW)).principal.arn).toMatch(/role\/alice$/);
    await expectRefused(`Bearer ${await sign()}`, /aud/, several);
  });

  it('an expired or not yet valid token is refused, allowing 60 seconds of clock skew.', async () => {
    await expectRefused(`Bearer ${await sign({ exp: nowSeconds - 61 })}`, /ERR_JWT_EXPIRED/);
    await expectRefused(`Bearer ${await sign({ exp: nowSeconds - 3600 })}`, /ERR_JWT_EXPIRED/);
    await expectRefused(`Bearer ${await sign({ nbf: nowSeconds + 61 })}`, /ERR_JWT_CLAIM_VALIDATION_FAILED.*nbf/);
    const auth = authenticator();
    expect((await auth.authenticate(`Bearer ${await sign({ exp: nowSeconds - 59 })}`, NOW)).principal.arn).toMatch(/role\/alice$/);
    expect((await auth.authenticate(`Bearer ${await sign({ nbf: nowSeconds + 59 })}`, NOW)).principal.arn).toMatch(/role\/alice$/);
    // The same token, an hour later.
    const token = await sign();
    expect((await auth.authenticate(`Bearer ${token}`, NOW)).principal.arn).toMatch(/role\/alice$/);
    await expectRefused(`Bearer ${token}`, /ERR_JWT_EXPIRED/, auth, new Date(NOW.getTime() + 3_600_000));
    await expectRefused(`Bearer ${await sign({ exp: 'tomorrow' as unknown as number })}`, /exp/);
  });

  it('a token without exp or sub is refused.', async () => {
    await expectRefused(`Bearer ${await sign({}, { omit: ['exp'] })}`, /"exp" claim/);
    await expectRefused(`Bearer ${await sign({}, { omit: ['sub'] })}`, /"sub" claim/);
    // Even when the template does not use sub.
    await expectRefused(`Bearer ${await sign({}, { omit: ['sub'] })}`, /"sub" claim/, authenticator({ principalTemplate: 'arn:aws:iam::111122223333:root' }));
  });

  it('a claim placed into the principal template must be 1 to 64 characters of A-Z a-z 0-9 + = , . @ _ -.', async () => {
    for (const sub of ['alice/../admin', 'a:b', 'x}', '{sub}', 'a b', '', 'ä', 'x'.repeat(65), 'alice\n', 'role/admin']) {
      await expectRefused(`Bearer ${await sign({ sub })}`, /claim 'sub'/);
    }
    // A template of another claim: missing, not a string, or its name inherited from Object.
    const byEmail = authenticator({ principalTemplate: 'arn:aws:iam::111122223333:user/{email}' });
    await expectRefused(`Bearer ${await sign()}`, /claim 'email'/, byEmail);
    await expectRefused(`Bearer ${await sign({ email: 42 })}`, /claim 'email'/, byEmail);
    await expectRefused(`Bearer ${await sign({ email: ['a@b.c'] })}`, /claim 'email'/, byEmail);
    const byConstructor = authenticator({ principalTemplate: 'arn:aws:iam::111122223333:user/{constructor}' });
    await expectRefused(`Bearer ${await sign()}`, /claim 'constructor'/, byConstructor);
    // IAM's full character set and length pass.
    for (const sub of ['A-Za-z0-9+=,.@_-', 'x'.repeat(64), 'alice@example.com']) {
      expect((await authenticator().authenticate(`Bearer ${await sign({ sub })}`, NOW)).principal.arn).toBe(`arn:aws:iam::111122223333:role/${sub}`);
    }
    // Several placeholders, each checked.
    const session = authenticator({ principalTemplate: 'arn:aws:sts::111122223333:assumed-role/{group}/{sub}' });
    expect((await session.authenticate(`Bearer ${await sign({ group: 'Dev' })}`, NOW)).principal.arn).toBe('arn:aws:sts::111122223333:assumed-role/Dev/alice');
    await expectRefused(`Bearer ${await sign({ group: 'Dev/x' })}`, /claim 'group'/, session);
  });
});

describe('remote key sets', () => {
  let server: Server;
  let base: string;
  let fetches = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      fetches += 1;
      if (req.url === '/jwks.json') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [rsa.jwk] }));
      else if (req.url === '/slow') return; // never answers; closeAllConnections ends it
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const remote = (jwksUrl: string, timeoutMs?: number) => new BearerAuthenticator(
    parseJwtIssuers([{ issuer: ISSUER, audience: AUDIENCE, jwksUrl, principalTemplate: 'arn:aws:iam::111122223333:role/{sub}' }]),
    { defaultRegion: 'us-east-1', remoteTimeoutMs: timeoutMs },
  );

  it('verify tokens against a JWKS fetched once and cached', async () => {
    const auth = remote(`${base}/jwks.json`);
    expect((await auth.authenticate(`Bearer ${await sign()}`, NOW)).principal.arn).toBe('arn:aws:iam::111122223333:role/alice');
    const before = fetches;
    expect((await auth.authenticate(`Bearer ${await sign({ sub: 'bob' })}`, NOW)).principal.arn).toBe('arn:aws:iam::111122223333:role/bob');
    expect(fetches).toBe(before);
    await expectRefused(`Bearer ${await sign({}, { key: stranger })}`, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/, auth);
  });

  it('that cannot be fetched answer DependencyTimeoutException, not a refusal of the caller', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    for (const auth of [remote(`http://127.0.0.1:${port}/jwks.json`), remote(`${base}/missing`), remote(`${base}/slow`, 200)]) {
      const error = await refusal(`Bearer ${await sign()}`, auth);
      expect(error.code).toBe('DependencyTimeoutException');
      expect(error.detail).toMatch(/unavailable/);
    }
  });
});

describe('issuer configuration', () => {
  const valid = { issuer: ISSUER, audience: AUDIENCE, jwksFile: '/etc/hsm-kms/jwks.json', principalTemplate: 'arn:aws:iam::111122223333:role/{sub}' };
  const invalid = (entry: Record<string, unknown>, message: RegExp) => expect(() => parseJwtIssuers([entry])).toThrow(message);

  it('defaults to RS256 and ES256, no policies and the service region', () => {
    expect(parseJwtIssuers([valid])).toEqual([{ ...valid, audience: [AUDIENCE], algorithms: ['RS256', 'ES256'], policies: [] }]);
  });

  it('issuer and JWKS URLs must be https, or http only on the loopback interface.', () => {
    invalid({ ...valid, issuer: 'http://idp.example' }, /issuer must be an https URL/);
    invalid({ ...valid, issuer: 'idp.example' }, /issuer must be a URL/);
    invalid({ ...valid, jwksFile: undefined, jwksUrl: 'http://idp.example/jwks' }, /jwksUrl must be an https URL/);
    invalid({ ...valid, jwksFile: undefined, jwksUrl: 'file:///etc/jwks.json' }, /jwksUrl must be an https URL/);
    invalid({ ...valid, jwksFile: undefined, jwksUrl: 'https://user:pass@idp.example/jwks' }, /must not carry credentials/);
    for (const jwksUrl of ['https://idp.example/jwks', 'http://127.0.0.1:8443/jwks', 'http://localhost/jwks']) {
      expect(parseJwtIssuers([{ ...valid, jwksFile: undefined, jwksUrl }])[0]!.jwksUrl).toBe(jwksUrl);
    }
  });

  it('a principal template must spell out the account and the principal type before any placeholder.', () => {
    for (const principalTemplate of [
      'arn:aws:iam::{account}:root', 'arn:aws:iam::111122223333:{type}/x', 'arn:aws:iam::111122223333:{sub}',
      'arn:aws:iam::111122223333:root{sub}', 'arn:aws:iam::1111222233334:role/{sub}', 'arn:aws:kms:us-east-1:111122223333:key/{sub}',
      '{arn}', 'arn:aws:iam::111122223333:role/', 'arn:aws:iam::111122223333:role/{sub', 'arn:aws:iam::111122223333:role/{}',
      'arn:aws:iam::111122223333:role/{__proto__}', 'arn:aws:iam::111122223333:role/{a b}', 'arn:aws-cn:iam::111122223333:role/{sub}',
    ]) {
      invalid({ ...valid, principalTemplate }, /principalTemplate/);
    }
    for (const principalTemplate of [
      'arn:aws:iam::111122223333:root', 'arn:aws:iam::111122223333:user/{sub}', 'arn:aws:iam::111122223333:role/kms-{sub}',
      'arn:aws:sts::111122223333:assumed-role/Dev/{sub}', 'arn:aws:iam::111122223333:role/{cognito:groups}-{sub}',
    ]) {
      expect(parseJwtIssuers([{ ...valid, principalTemplate }])[0]!.principalTemplate).toBe(principalTemplate);
    }
  });

  it('each issuer needs exactly one of jwksFile (an absolute path) and jwksUrl.', () => {
    invalid({ ...valid, jwksFile: undefined }, /exactly one of jwksFile and jwksUrl/);
    invalid({ ...valid, jwksUrl: 'https://idp.example/jwks' }, /exactly one of jwksFile and jwksUrl/);
    invalid({ ...valid, jwksFile: 'jwks.json' }, /jwksFile must be an absolute path/);
    invalid({ ...valid, jwksFile: 42 }, /jwksFile must be an absolute path/);
  });

  it('issuer algorithms must be asymmetric JWS algorithms, never none or HS*.', () => {
    for (const algorithms of [['none'], ['HS256'], ['RS256', 'HS512'], [], 'RS256', ['rs256']]) invalid({ ...valid, algorithms }, /algorithms must be/);
    expect(parseJwtIssuers([{ ...valid, algorithms: ['PS256', 'EdDSA', 'ES384'] }])[0]!.algorithms).toEqual(['PS256', 'EdDSA', 'ES384']);
  });

  it('refuses other mistakes, naming the entry and the field', () => {
    expect(() => parseJwtIssuers([])).toThrow(/non-empty JSON array/);
    expect(() => parseJwtIssuers({ issuer: ISSUER })).toThrow(/non-empty JSON array/);
    expect(() => parseJwtIssuers([valid, valid])).toThrow(/issuer 1: issuer https:\/\/idp.example is listed twice/);
    invalid({ ...valid, audiance: 'typo' }, /issuer 0: unknown field 'audiance'/);
    invalid({ ...valid, audience: '' }, /audience/);
    invalid({ ...valid, audience: [] }, /audience/);
    invalid({ ...valid, region: 'mars' }, /region/);
    invalid({ ...valid, policies: {} }, /policies must be an array/);
    invalid({ ...valid, policies: ['not json'] }, /policy 0/);
    expect(() => parseJwtIssuers([null])).toThrow(/issuer 0: expected an object/);
  });

  it('refuses a JWKS file that is missing, malformed or holds private or symmetric keys', async () => {
    const make = (jwks: string) => {
      const file = path.join(dir, `jwks-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(file, jwks);
      return () => new BearerAuthenticator(parseJwtIssuers([{ ...valid, jwksFile: file }]), { defaultRegion: 'us-east-1' });
    };
    expect(() => new BearerAuthenticator(parseJwtIssuers([{ ...valid, jwksFile: path.join(dir, 'absent.json') }]), { defaultRegion: 'us-east-1' })).toThrow(/ENOENT/);
    expect(make('{')).toThrow(/not valid JSON/);
    expect(make('{"keys":[]}')).toThrow(/at least one key/);
    const privateJwk = await exportJWK(rsa.privateKey);
    const thrown = (() => { try { make(JSON.stringify({ keys: [privateJwk] }))(); } catch (e) { return (e as Error).message; } return ''; })();
    expect(thrown).toMatch(/private or symmetric/);
    expect(thrown).not.toContain(privateJwk.d);
    expect(make(JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }))).toThrow(/private or symmetric/);
  });

  describe('through loadConfig', () => {
    const base = { KMS_PIN: '1234', KMS_ROOT_ACCESS_KEY_ID: 'AKIAROOT', KMS_ROOT_SECRET_ACCESS_KEY: 'secret', KMS_DATA_DIR: '/tmp/hsm-kms-unused' };

    it('is off unless KMS_JWT_ISSUERS is set', () => {
      expect(loadConfig(base).jwtIssuers).toBeUndefined();
      expect(loadConfig({ ...base, KMS_JWT_ISSUERS: '' }).jwtIssuers).toBeUndefined();
    });

    it('takes inline JSON or the absolute path of a JSON file', () => {
      expect(loadConfig({ ...base, KMS_JWT_ISSUERS: JSON.stringify([valid]) }).jwtIssuers![0]!.issuer).toBe(ISSUER);
      const file = path.join(dir, 'issuers.json');
      writeFileSync(file, JSON.stringify([valid]));
      expect(loadConfig({ ...base, KMS_JWT_ISSUERS: file }).jwtIssuers![0]!.principalTemplate).toBe(valid.principalTemplate);
    });

    it('turns every mistake into a ConfigError naming KMS_JWT_ISSUERS', () => {
      for (const value of ['issuers.json', '[', '{"issuer":"x"}', JSON.stringify([{ ...valid, algorithms: ['none'] }]), path.join(dir, 'absent.json')]) {
        expect(() => loadConfig({ ...base, KMS_JWT_ISSUERS: value })).toThrow(ConfigError);
        expect(() => loadConfig({ ...base, KMS_JWT_ISSUERS: value })).toThrow(/JWT issuers|KMS_JWT_ISSUERS/);
      }
    });

    it('reads the credentials poll interval, 1 s unless set', () => {
      expect(loadConfig(base).credentialsPollMs).toBe(1000);
      expect(loadConfig({ ...base, KMS_CREDENTIALS_POLL_MS: '50' }).credentialsPollMs).toBe(50);
      expect(() => loadConfig({ ...base, KMS_CREDENTIALS_POLL_MS: '0' })).toThrow(ConfigError);
    });
  });
});
