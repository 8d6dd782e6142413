// GET /.well-known/jwks.json (beyond AWS): the JWKS of SIGN_VERIFY keys tagged jwks=true,
// and JWTs signed through Sign verified by jose against it, locally and remotely.
import { createPublicKey, verify as nodeVerify, type JsonWebKey } from 'node:crypto';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWK } from 'jose';
import request from 'supertest';
import { kmsCall } from '../support/signed';
import { ACCOUNT, REGION, startTestService, type TestService } from '../support/service';

let svc: TestService;
beforeAll(async () => { svc = await startTestService({ listen: true }); });
afterAll(async () => { await svc.close(); });

type Meta = { KeyId: string; Arn: string };
const tag = [{ TagKey: 'jwks', TagValue: 'true' }];

async function createKey(KeySpec: string, KeyUsage: string, Tags = tag): Promise<Meta> {
  const res = await kmsCall(svc.app, 'CreateKey', { KeySpec, KeyUsage, Tags });
  expect(res.status).toBe(200);
  return res.body.KeyMetadata as Meta;
}

async function fetchJwks(): Promise<{ keys: JWK[] }> {
  const res = await request(svc.app).get('/.well-known/jwks.json');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return JSON.parse(res.text) as { keys: JWK[] };
}

const b64url = (value: object | Buffer) => (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString('base64url');

/** An ECDSA signature from DER (what KMS returns) to JOSE's fixed-size r‖s (RFC 7518 §3.4). */
function derToJose(der: Buffer, size: number): Buffer {
  let offset = der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2;
  const integer = () => {
    const length = der[offset + 1]!;
    const value = der.subarray(offset + 2, offset + 2 + length);
    offset += 2 + length;
    const trimmed = value.subarray(value.length > size ? value.length - size : 0);
    return Buffer.concat([Buffer.alloc(size - trimmed.length), trimmed]);
  };
  return Buffer.concat([integer(), integer()]);
}

/** A JWT whose signature comes from KMS Sign (MessageType RAW over the JWS signing input). */
async function signJwt(keyArn: string, alg: string, SigningAlgorithm: string, payload: object, joseSize?: number): Promise<string> {
  const input = `${b64url({ alg, typ: 'JWT', kid: keyArn })}.${b64url(payload)}`;
  const res = await kmsCall(svc.app, 'Sign', { KeyId: keyArn, Message: Buffer.from(input).toString('base64'), MessageType: 'RAW', SigningAlgorithm });
  expect(res.status).toBe(200);
  const der = Buffer.from(res.body.Signature, 'base64');
  return `${input}.${b64url(joseSize ? derToJose(der, joseSize) : der)}`;
}

describe('JWKS', () => {
  let es256: Meta; let es384: Meta; let es512: Meta; let es256k: Meta; let rsa: Meta; let ed25519: Meta;
  let untagged: Meta; let disabled: Meta; let encryption: Meta; let agreement: Meta;
  beforeAll(async () => {
    es256 = await createKey('ECC_NIST_P256', 'SIGN_VERIFY');
    es384 = await createKey('ECC_NIST_P384', 'SIGN_VERIFY');
    es512 = await createKey('ECC_NIST_P521', 'SIGN_VERIFY');
    es256k = await createKey('ECC_SECG_P256K1', 'SIGN_VERIFY');
    rsa = await createKey('RSA_2048', 'SIGN_VERIFY');
    ed25519 = await createKey('ECC_NIST_EDWARDS25519', 'SIGN_VERIFY');
    untagged = await createKey('ECC_NIST_P256', 'SIGN_VERIFY', [{ TagKey: 'jwks', TagValue: 'false' }]);
    disabled = await createKey('ECC_NIST_P256', 'SIGN_VERIFY');
    await kmsCall(svc.app, 'DisableKey', { KeyId: disabled.KeyId });
    encryption = await createKey('RSA_2048', 'ENCRYPT_DECRYPT');
    agreement = await createKey('ECC_NIST_P256', 'KEY_AGREEMENT');
  });

  it('lists the public keys of enabled SIGN_VERIFY keys tagged jwks=true, unauthenticated, with kid = key ARN', async () => {
    const { keys } = await fetchJwks();
    const byKid = new Map(keys.map((k) => [k.kid, k]));
    expect([...byKid.keys()].sort()).toEqual([es256, es384, es512, es256k, rsa, ed25519].map((k) => k.Arn).sort());
    for (const excluded of [untagged, disabled, encryption, agreement]) expect(byKid.has(excluded.Arn)).toBe(false);
    expect(byKid.get(es256.Arn)).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(byKid.get(es384.Arn)).toMatchObject({ kty: 'EC', crv: 'P-384', alg: 'ES384', use: 'sig' });
    expect(byKid.get(es512.Arn)).toMatchObject({ kty: 'EC', crv: 'P-521', alg: 'ES512', use: 'sig' });
    expect(byKid.get(es256k.Arn)).toMatchObject({ kty: 'EC', crv: 'secp256k1', alg: 'ES256K', use: 'sig' });
    // Ed25519: an OKP key (RFC 8037) for JWS EdDSA.
    expect(byKid.get(ed25519.Arn)).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    // RSA signing keys sign RS* and PS* alike: no alg, the JWS header names it.
    expect(byKid.get(rsa.Arn)).toMatchObject({ kty: 'RSA', e: 'AQAB', use: 'sig' });
    expect(byKid.get(rsa.Arn)).not.toHaveProperty('alg');
    for (const jwk of keys) {
      expect(jwk).not.toHaveProperty('d');
      // The same key GetPublicKey gives.
      const spki = Buffer.from((await kmsCall(svc.app, 'GetPublicKey', { KeyId: jwk.kid! })).body.PublicKey, 'base64');
      expect(createPublicKey({ key: { ...jwk } as JsonWebKey, format: 'jwk' }).export({ format: 'der', type: 'spki' })).toEqual(spki);
    }
    // Keys of another account or region are never listed.
    const elsewhere = await kmsCall(svc.app, 'CreateKey', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Tags: tag }, { region: 'eu-west-1' });
    expect(elsewhere.status).toBe(200);
    expect((await fetchJwks()).keys.map((k) => k.kid)).not.toContain(elsewhere.body.KeyMetadata.Arn);
    // The configured account and region are the ones published.
    expect(es256.Arn.split(':').slice(3, 5)).toEqual([REGION, ACCOUNT]);
  });

  it('a JWT signed through Sign (ES256, DER converted to JOSE r||s) verifies with jose against the fetched JWKS', async () => {
    const jwks = createLocalJWKSet(await fetchJwks());
    const now = Math.floor(Date.now() / 1000);
    const jwt = await signJwt(es256.Arn, 'ES256', 'ECDSA_SHA_256', { sub: 'alice', iss: 'hsm-kms', iat: now, exp: now + 60 }, 32);
    const { payload, protectedHeader } = await jwtVerify(jwt, jwks, { issuer: 'hsm-kms', algorithms: ['ES256'] });
    expect(payload.sub).toBe('alice');
    expect(protectedHeader.kid).toBe(es256.Arn);
    // A changed payload no longer verifies.
    const [h, , s] = jwt.split('.');
    await expect(jwtVerify(`${h}.${b64url({ sub: 'mallory', iss: 'hsm-kms', iat: now, exp: now + 60 })}.${s}`, jwks)).rejects.toThrow();
  });

  it('ES384, ES512, RS256 and PS256 JWTs verify too, and against the listening server\'s JWKS (createRemoteJWKSet)', async () => {
    const remote = createRemoteJWKSet(new URL(`${svc.url}/.well-known/jwks.json`));
    const cases: [Meta, string, string, number | undefined][] = [
      [es384, 'ES384', 'ECDSA_SHA_384', 48], [es512, 'ES512', 'ECDSA_SHA_512', 66],
      [rsa, 'RS256', 'RSASSA_PKCS1_V1_5_SHA_256', undefined], [rsa, 'PS256', 'RSASSA_PSS_SHA_256', undefined], [rsa, 'PS512', 'RSASSA_PSS_SHA_512', undefined],
    ];
    for (const [key, alg, SigningAlgorithm, size] of cases) {
      const jwt = await signJwt(key.Arn, alg, SigningAlgorithm, { sub: alg }, size);
      const { payload, protectedHeader } = await jwtVerify(jwt, remote);
      expect({ sub: payload.sub, alg: protectedHeader.alg }).toEqual({ sub: alg, alg });
    }
  });

  it('an EdDSA JWT (ED25519_SHA_512 over the signing input, used as the JWS signature as it is) verifies with jose against the fetched JWKS', async () => {
    const jwks = createLocalJWKSet(await fetchJwks());
    const jwt = await signJwt(ed25519.Arn, 'EdDSA', 'ED25519_SHA_512', { sub: 'ed' });
    const { payload, protectedHeader } = await jwtVerify(jwt, jwks, { algorithms: ['EdDSA'] });
    expect({ sub: payload.sub, alg: protectedHeader.alg, kid: protectedHeader.kid }).toEqual({ sub: 'ed', alg: 'EdDSA', kid: ed25519.Arn });
    const [h, , s] = jwt.split('.');
    await expect(jwtVerify(`${h}.${b64url({ sub: 'mallory' })}.${s}`, jwks)).rejects.toThrow();
  });

  it('the secp256k1 key\'s JWK verifies an ES256K signature (checked with node:crypto from the JWK)', async () => {
    const jwk = (await fetchJwks()).keys.find((k) => k.kid === es256k.Arn)!;
    const jwt = await signJwt(es256k.Arn, 'ES256K', 'ECDSA_SHA_256', { sub: 'k1' }, 32);
    const [h, p, s] = jwt.split('.');
    const key = createPublicKey({ key: { ...jwk } as JsonWebKey, format: 'jwk' });
    expect(nodeVerify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s!, 'base64url'))).toBe(true);
  });

  it('withdraws a key once it is disabled or untagged', async () => {
    const key = await createKey('ECC_NIST_P256', 'SIGN_VERIFY');
    expect((await fetchJwks()).keys.map((k) => k.kid)).toContain(key.Arn);
    await kmsCall(svc.app, 'DisableKey', { KeyId: key.KeyId });
    expect((await fetchJwks()).keys.map((k) => k.kid)).not.toContain(key.Arn);
    await kmsCall(svc.app, 'EnableKey', { KeyId: key.KeyId });
    expect((await fetchJwks()).keys.map((k) => k.kid)).toContain(key.Arn);
    await kmsCall(svc.app, 'UntagResource', { KeyId: key.KeyId, TagKeys: ['jwks'] });
    expect((await fetchJwks()).keys.map((k) => k.kid)).not.toContain(key.Arn);
  });
});
