// Malformed requests: every one is answered with a 4xx in AWS's error shape, never a 5xx,
// a hang or a crash, and the service keeps answering afterwards.
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import request from 'supertest';
import { REGION, ROOT, startTestService, type TestService } from '../support/service';
import { kmsCall, signedHeaders } from '../support/signed';

let svc: TestService;
let keyId: string;
let ciphertext: string;

const b64 = (s: string) => Buffer.from(s).toString('base64');

interface RawResponse { status: number; text: string; headers: Record<string, string> }

/**
 * Checks the AWS JSON 1.1 error shape: a 4xx, the AWS content type, and a JSON body with a
 * string `__type` and a string `message`. Returns the parsed body.
 */
function expectAwsError(res: RawResponse, type?: string, status?: number): { __type: string; message: string } {
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  if (status !== undefined) expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/x-amz-json-1\.1(;|$)/);
  const body = JSON.parse(res.text) as Record<string, unknown>;
  expect(typeof body.__type).toBe('string');
  expect(typeof body.message).toBe('string');
  if (type !== undefined) expect(body.__type).toBe(type);
  return body as { __type: string; message: string };
}

/** A validly signed request for `target` whose body is exactly `raw`. */
const call = (target: string | null, raw: string | Buffer) => kmsCall(svc.app, target, Buffer.isBuffer(raw) ? raw : Buffer.from(raw));

/** POSTs exactly these headers and bytes: nothing is added, nothing is serialised. */
async function rawPost(app: TestService['app'], headers: Record<string, string>, body: Buffer): Promise<RawResponse> {
  let req = request(app).post('/');
  for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
  const res = await req.send(body);
  return { status: res.status, text: res.text, headers: res.headers as Record<string, string> };
}

/** Signs `headers` (whatever they are, content type or not) over `body` as the root user. */
async function signExactly(headers: Record<string, string>, body: Buffer): Promise<Record<string, string>> {
  const signer = new SignatureV4({ service: 'kms', region: REGION, credentials: ROOT, sha256: Sha256 });
  const signed = await signer.sign(new HttpRequest({ method: 'POST', protocol: 'http:', hostname: 'localhost', path: '/', headers: { host: 'localhost', ...headers }, body }));
  return signed.headers as Record<string, string>;
}

function expectNotPolluted(): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
}

async function expectServiceAlive(app: TestService['app'] = svc.app): Promise<void> {
  const res = await kmsCall(app, 'GenerateRandom', { NumberOfBytes: 8 });
  expect(res.status).toBe(200);
  expect(Buffer.from(res.body.Plaintext, 'base64').length).toBe(8);
}

const validBodies = (): Record<string, object> => ({
  Encrypt: { KeyId: keyId, Plaintext: b64('x') },
  CreateKey: {},
  GenerateDataKey: { KeyId: keyId, KeySpec: 'AES_256' },
  ListKeys: {},
  GenerateRandom: { NumberOfBytes: 16 },
  Decrypt: { CiphertextBlob: ciphertext },
});
const operationNames = ['Encrypt', 'CreateKey', 'GenerateDataKey', 'ListKeys', 'GenerateRandom', 'Decrypt'] as const;

// SoftHSM lists only the tokens present when the module is initialised, so the two services
// of this file (each on its own new token) run one after the other, never side by side.
describe('on a service with the default body limit', () => {
  beforeAll(async () => {
    svc = await startTestService();
    const created = await kmsCall(svc.app, 'CreateKey', {});
    expect(created.status).toBe(200);
    keyId = created.body.KeyMetadata.KeyId;
    const enc = await kmsCall(svc.app, 'Encrypt', { KeyId: keyId, Plaintext: b64('bad input fixture') });
    expect(enc.status).toBe(200);
    ciphertext = enc.body.CiphertextBlob;
  });
  afterAll(async () => { await svc.close(); });

  describe('bodies that are not a JSON object', () => {
    const notJson = ['{', '{"KeyId": ', '{"a":1,}', "{'KeyId':'x'}", 'KeyId=x', 'null null', '{"a":1}garbage', '\u0000', '{"a":"\\x41"}', '{"a":01}', 'NaN'];
    const notObjects = ['[]', '[{"KeyId":"x"}]', '"a string"', '42', '-1.5', 'true', 'null'];

    it.each(operationNames)('%s: invalid JSON is a SerializationException', async (op) => {
      for (const body of notJson) {
        const res = await call(op, body);
        expectAwsError(res, 'SerializationException', 400);
      }
    });

    it.each(operationNames)('%s: a JSON array, string, number, boolean or null body is a SerializationException', async (op) => {
      for (const body of notObjects) {
        const res = await call(op, body);
        expectAwsError(res, 'SerializationException', 400);
      }
    });

    it('invalid UTF-8 and a byte-order mark are 4xx, not crashes', async () => {
      for (const body of [Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"NumberOfBytes":1}')])]) {
        const res = await call('GenerateRandom', body);
        // The lone invalid sequence decodes to U+FFFD inside a member name, which is ignored;
        // everything else must be refused. Either way: no 5xx.
        expect(res.status).toBeLessThan(500);
        if (res.status !== 200) expectAwsError(res);
      }
    });

    it('an empty body is an empty structure: ListKeys succeeds', async () => {
      const res = await call('ListKeys', Buffer.alloc(0));
      expect(res.status).toBe(200);
      expect(Array.isArray(res.body.Keys)).toBe(true);
      const create = await call('CreateKey', Buffer.alloc(0));
      expect(create.status).toBe(200);
    });

    it('an empty body for an operation with required members is a ValidationException', async () => {
      const res = await call('Decrypt', Buffer.alloc(0));
      expect(expectAwsError(res, 'ValidationException', 400).message)
        .toBe("1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null");
    });

    it('deeply nested JSON is refused, not a crash', async () => {
      const depth = 10_000;
      const bodies = [
        '['.repeat(depth),
        '['.repeat(depth) + ']'.repeat(depth),
        '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
        `{"NumberOfBytes":1,"Extra":${'['.repeat(depth)}${']'.repeat(depth)}}`,
        `{"KeyId":"${keyId}","Plaintext":"eA==","EncryptionContext":${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}}`,
        '['.repeat(100_000) + ']'.repeat(100_000),
      ];
      for (const body of bodies) {
        const res = await call(body.includes('Plaintext') ? 'Encrypt' : 'GenerateRandom', body);
        expectAwsError(res, 'SerializationException', 400);
      }
      await expectServiceAlive();
    });
  });

  describe('members of the wrong JSON type', () => {
    const cases: [string, object][] = [
      ['GenerateRandom', { NumberOfBytes: '32' }],
      ['GenerateRandom', { NumberOfBytes: true }],
      ['GenerateRandom', { NumberOfBytes: [32] }],
      ['GenerateRandom', { NumberOfBytes: { n: 32 } }],
      ['GenerateDataKey', { KeyId: 'k', NumberOfBytes: '32' }],
      ['Encrypt', { KeyId: 12345, Plaintext: 'eA==' }],
      ['Encrypt', { KeyId: ['k'], Plaintext: 'eA==' }],
      ['Encrypt', { KeyId: 'k', Plaintext: { data: 'x' } }],
      ['Encrypt', { KeyId: 'k', Plaintext: 120 }],
      ['Encrypt', { KeyId: 'k', Plaintext: ['eA=='] }],
      ['Encrypt', { KeyId: 'k', Plaintext: 'eA==', EncryptionContext: ['a', 'b'] }],
      ['Encrypt', { KeyId: 'k', Plaintext: 'eA==', EncryptionContext: 'a=b' }],
      ['Encrypt', { KeyId: 'k', Plaintext: 'eA==', EncryptionContext: { a: 1 } }],
      ['Encrypt', { KeyId: 'k', Plaintext: 'eA==', EncryptionContext: { a: true } }],
      ['Encrypt', { KeyId: 'k', Plaintext: 'eA==', EncryptionContext: { a: null } }],
      ['Encrypt', { KeyId: 'k', Plaintext: 'eA==', EncryptionContext: { a: { b: 'c' } } }],
      ['Encrypt', { KeyId: 'k', Plaintext: 'eA==', DryRun: 'true' }],
      ['Encrypt', { KeyId: 'k', Plaintext: 'eA==', GrantTokens: 'token' }],
      ['Encrypt', { KeyId: 'k', Plaintext: 'eA==', GrantTokens: [1] }],
      ['Encrypt', { KeyId: 'k', Plaintext: 'eA==', GrantTokens: [null] }],
      ['Encrypt', { KeyId: 'k', Plaintext: 'eA==', EncryptionAlgorithm: 1 }],
      ['CreateKey', { Tags: true }],
      ['CreateKey', { Tags: { TagKey: 'a', TagValue: 'b' } }],
      ['CreateKey', { Tags: ['a'] }],
      ['CreateKey', { Tags: [{ TagKey: 1, TagValue: 'b' }] }],
      ['CreateKey', { Tags: [null] }],
      ['CreateKey', { Description: 42 }],
      ['CreateKey', { MultiRegion: 'false' }],
      ['CreateKey', { KeySpec: ['SYMMETRIC_DEFAULT'] }],
      ['ListKeys', { Limit: '10' }],
      ['ListKeys', { Marker: 5 }],
      ['Decrypt', { CiphertextBlob: 7 }],
      ['Decrypt', { CiphertextBlob: { b: 'x' } }],
      ['Decrypt', { CiphertextBlob: 'AAAA', EncryptionContext: [] }],
    ];

    it.each(cases)('%s %j is a SerializationException', async (op, body) => {
      const res = await kmsCall(svc.app, op, body);
      expectAwsError(res, 'SerializationException', 400);
    });

    it('names the member and the JSON kind as AWS does', async () => {
      const res = await kmsCall(svc.app, 'GenerateRandom', { NumberOfBytes: '32' });
      expect(expectAwsError(res).message).toBe("STRING_VALUE can not be converted to Integer at 'numberOfBytes'");
    });

    it('a huge or a fractional NumberOfBytes is refused', async () => {
      for (const op of ['GenerateRandom', 'GenerateDataKey']) {
        for (const n of ['1e400', '-1e400', '1.5', '32.0001', '1e-7']) {
          const res = await call(op, `{"KeyId":"${keyId}","NumberOfBytes":${n}}`);
          expectAwsError(res);
        }
        // Integers far beyond the range are validation failures.
        for (const n of ['1e20', '9007199254740993', '-1', '0']) {
          const res = await call(op, `{"KeyId":"${keyId}","NumberOfBytes":${n}}`);
          expectAwsError(res, 'ValidationException');
        }
      }
    });
  });

  describe('blobs that are not base64', () => {
    const notBase64 = ['not base64!', 'eA=', 'e', '====', 'eA==eA==', 'e A==', 'eA==\n', '%%%%', 'ZXhhbXBsZQ==='];

    it('an invalid base64 Plaintext is refused', async () => {
      for (const value of notBase64) {
        const res = await kmsCall(svc.app, 'Encrypt', { KeyId: keyId, Plaintext: value });
        expectAwsError(res, 'SerializationException', 400);
      }
    });

    it('an invalid base64 CiphertextBlob is refused', async () => {
      for (const value of [...notBase64, `${ciphertext.slice(0, -4)}!!!!`]) {
        const res = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: value });
        expectAwsError(res, 'SerializationException', 400);
      }
    });

    it('base64 that decodes to nothing or to garbage is refused by validation or decryption', async () => {
      expectAwsError(await kmsCall(svc.app, 'Encrypt', { KeyId: keyId, Plaintext: '' }), 'ValidationException');
      expectAwsError(await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: '' }), 'ValidationException');
      expectAwsError(await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: b64('definitely not a ciphertext') }), 'InvalidCiphertextException');
      expectAwsError(await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: 'AAAA' }), 'InvalidCiphertextException');
    });
  });

  describe('the X-Amz-Target header', () => {
    it('an unknown operation is an UnknownOperationException', async () => {
      for (const target of ['Nope', 'encrypt', 'ENCRYPT', 'Encrypt.', '', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) {
        const res = await kmsCall(svc.app, target, {});
        expectAwsError(res, 'UnknownOperationException', 400);
      }
    });

    it('a missing target is refused', async () => {
      const res = await kmsCall(svc.app, null, { NumberOfBytes: 1 });
      expectAwsError(res, 'UnknownOperationException');
    });

    it("another service's target is refused", async () => {
      const body = Buffer.from('{}');
      for (const target of ['DynamoDB_20120810.ListTables', 'TrentServiceEncrypt', 'trentservice.Encrypt', 'TrentService', 'TrentService.', 'Encrypt']) {
        const headers = await signedHeaders(null, body);
        const res = await rawPost(svc.app, { ...headers, 'x-amz-target': target }, body);
        expectAwsError(res, 'UnknownOperationException');
      }
    });
  });

  describe('content types', () => {
    const body = JSON.stringify({ NumberOfBytes: 4 });

    it('application/json and text/plain are refused', async () => {
      for (const contentType of ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/x-amz-json-1.2', 'application/octet-stream', 'x-amz-json-1.1']) {
        // Sent as a string so the client does not re-serialise the body for a JSON content type.
        const headers = await signedHeaders('GenerateRandom', Buffer.from(body), { contentType });
        let req = request(svc.app).post('/');
        for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
        const res = await req.send(body);
        expectAwsError({ status: res.status, text: res.text, headers: res.headers as Record<string, string> });
      }
    });

    it('a missing content type is refused', async () => {
      const bytes = Buffer.from(body);
      const headers = await signExactly({ 'x-amz-target': 'TrentService.GenerateRandom' }, bytes);
      expect(Object.keys(headers).map((h) => h.toLowerCase())).not.toContain('content-type');
      const res = await rawPost(svc.app, headers, bytes);
      expectAwsError(res);
    });

    it('AWS JSON 1.0 and a charset parameter are accepted', async () => {
      for (const contentType of ['application/x-amz-json-1.0', 'application/x-amz-json-1.1; charset=utf-8', 'Application/X-Amz-Json-1.1']) {
        const res = await kmsCall(svc.app, 'GenerateRandom', { NumberOfBytes: 4 }, { contentType });
        expect(res.status).toBe(200);
      }
    });

    it('a compressed body is inflated only up to the body limit, and an unknown or broken encoding is refused.', async () => {
      const bytes = Buffer.from(body);
      for (const encoding of ['gzip', 'deflate', 'bogus']) {
        const headers = await signExactly({ 'content-type': 'application/x-amz-json-1.1', 'content-encoding': encoding, 'x-amz-target': 'TrentService.GenerateRandom' }, bytes);
        const res = await rawPost(svc.app, headers, bytes);
        expectAwsError(res);
      }
      // A well-formed gzip body within the limit is read as JSON.
      const zipped = gzipSync(bytes);
      const ok = await rawPost(svc.app, await signExactly({ 'content-type': 'application/x-amz-json-1.1', 'content-encoding': 'gzip', 'x-amz-target': 'TrentService.GenerateRandom' }, zipped), zipped);
      expect(ok.status).toBe(200);
      await expectServiceAlive();
    });
  });

  describe('prototype pollution', () => {
    afterEach(() => expectNotPolluted());

    it('a top-level __proto__ member is refused and pollutes nothing', async () => {
      for (const [op, raw] of [
        ['CreateKey', '{"__proto__": {"polluted": true}, "Description": "x"}'],
        ['GenerateRandom', '{"__proto__": {"polluted": true}, "NumberOfBytes": 4}'],
        ['ListKeys', '{"__proto__": {"polluted": true}}'],
        ['Encrypt', `{"KeyId": "${keyId}", "Plaintext": "eA==", "__proto__": {"polluted": true}}`],
      ] as const) {
        const res = await call(op, raw);
        expectAwsError(res, 'SerializationException', 400);
        expectNotPolluted();
      }
    });

    it('__proto__ nested in EncryptionContext and in Tags is refused and pollutes nothing', async () => {
      const bodies: [string, string][] = [
        ['Encrypt', `{"KeyId": "${keyId}", "Plaintext": "eA==", "EncryptionContext": {"__proto__": {"polluted": true}}}`],
        ['Encrypt', `{"KeyId": "${keyId}", "Plaintext": "eA==", "EncryptionContext": {"__proto__": "polluted"}}`],
        ['Decrypt', `{"CiphertextBlob": "${ciphertext}", "EncryptionContext": {"a": "b", "__proto__": {"polluted": true}}}`],
        ['GenerateDataKey', `{"KeyId": "${keyId}", "KeySpec": "AES_256", "EncryptionContext": {"__proto__": {"polluted": true}}}`],
        ['CreateKey', '{"Tags": [{"TagKey": "a", "TagValue": "b", "__proto__": {"polluted": true}}]}'],
        ['CreateKey', '{"Tags": [{"__proto__": {"polluted": true}}]}'],
        ['CreateKey', '{"Tags": {"__proto__": {"polluted": true}}}'],
        ['CreateKey', '{"Extra": {"deep": [{"__proto__": {"polluted": true}}]}}'],
      ];
      for (const [op, raw] of bodies) {
        const res = await call(op, raw);
        expectAwsError(res, 'SerializationException', 400);
        expectNotPolluted();
      }
    });

    it('constructor and prototype members are plain unknown members and pollute nothing', async () => {
      for (const raw of ['{"constructor": {"prototype": {"polluted": true}}, "NumberOfBytes": 4}', '{"prototype": {"polluted": true}, "NumberOfBytes": 4}']) {
        const res = await call('GenerateRandom', raw);
        expect(res.status).toBe(200);
        expectNotPolluted();
      }
    });

    it('constructor, prototype and toString work as ordinary encryption context keys', async () => {
      const context = { constructor: 'x', prototype: 'y', toString: 'z' };
      const enc = await kmsCall(svc.app, 'Encrypt', { KeyId: keyId, Plaintext: b64('context keys are data'), EncryptionContext: context });
      expect(enc.status).toBe(200);
      expectNotPolluted();
      const dec = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: enc.body.CiphertextBlob, EncryptionContext: { toString: 'z', prototype: 'y', constructor: 'x' } });
      expect(dec.status).toBe(200);
      expect(Buffer.from(dec.body.Plaintext, 'base64').toString()).toBe('context keys are data');
      // The keys are bound like any other: dropping one fails.
      const partial = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: enc.body.CiphertextBlob, EncryptionContext: { prototype: 'y', toString: 'z' } });
      expectAwsError(partial, 'InvalidCiphertextException');
      const none = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: enc.body.CiphertextBlob });
      expectAwsError(none, 'InvalidCiphertextException');
      // And a data key bound to such a context decrypts with it.
      const dk = await kmsCall(svc.app, 'GenerateDataKey', { KeyId: keyId, NumberOfBytes: 16, EncryptionContext: { hasOwnProperty: 'h', valueOf: 'v' } });
      expect(dk.status).toBe(200);
      const dkDec = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: dk.body.CiphertextBlob, EncryptionContext: { valueOf: 'v', hasOwnProperty: 'h' } });
      expect(dkDec.body.Plaintext).toBe(dk.body.Plaintext);
    });

    it('constructor and prototype work as tag keys', async () => {
      const res = await kmsCall(svc.app, 'CreateKey', { Tags: [{ TagKey: 'constructor', TagValue: 'x' }, { TagKey: 'prototype', TagValue: 'y' }, { TagKey: 'toString', TagValue: 'z' }] });
      expect(res.status).toBe(200);
      const stored = await svc.store.keys.get({ accountId: res.body.KeyMetadata.AWSAccountId, region: REGION }, res.body.KeyMetadata.KeyId);
      expect(stored?.tags).toEqual([{ TagKey: 'constructor', TagValue: 'x' }, { TagKey: 'prototype', TagValue: 'y' }, { TagKey: 'toString', TagValue: 'z' }]);
    });
  });

  describe('null, unknown and missing members', () => {
    it('null for an optional member is treated as absent', async () => {
      const enc = await kmsCall(svc.app, 'Encrypt', { KeyId: keyId, Plaintext: b64('nulls'), EncryptionContext: null, GrantTokens: null, EncryptionAlgorithm: null, DryRun: null });
      expect(enc.status).toBe(200);
      const dec = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: enc.body.CiphertextBlob, KeyId: null, EncryptionContext: null });
      expect(dec.status).toBe(200);
      expect(Buffer.from(dec.body.Plaintext, 'base64').toString()).toBe('nulls');
      expect((await kmsCall(svc.app, 'ListKeys', { Limit: null, Marker: null })).status).toBe(200);
      expect((await kmsCall(svc.app, 'CreateKey', { Description: null, Tags: null, KeySpec: null, Policy: null })).status).toBe(200);
      const dk = await kmsCall(svc.app, 'GenerateDataKey', { KeyId: keyId, KeySpec: 'AES_128', NumberOfBytes: null });
      expect(dk.status).toBe(200);
      expect(Buffer.from(dk.body.Plaintext, 'base64').length).toBe(16);
    });

    it('null for a required member is the same as missing', async () => {
      const res = await kmsCall(svc.app, 'Encrypt', { KeyId: null, Plaintext: b64('x') });
      expect(expectAwsError(res, 'ValidationException', 400).message)
        .toBe("1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");
    });

    it('unknown extra members are ignored, as AWS does', async () => {
      for (const op of operationNames) {
        const res = await kmsCall(svc.app, op, { ...validBodies()[op], Unknown: 'x', Nested: { a: [1, 2, { b: null }] }, keyid: 5, plaintext: {} });
        expect(res.status).toBe(200);
      }
    });

    it('a missing required member is a ValidationException in AWS words', async () => {
      const res = await kmsCall(svc.app, 'Encrypt', { Plaintext: b64('x') });
      expect(expectAwsError(res, 'ValidationException', 400).message)
        .toBe("1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");
      const dk = await kmsCall(svc.app, 'GenerateDataKey', { KeySpec: 'AES_256' });
      expect(expectAwsError(dk, 'ValidationException').message)
        .toBe("1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");
      const random = await kmsCall(svc.app, 'GenerateRandom', {});
      expectAwsError(random, 'ValidationException');
    });

    it('two violations at once are reported together', async () => {
      const res = await kmsCall(svc.app, 'Encrypt', {});
      expect(expectAwsError(res, 'ValidationException', 400).message).toBe(
        "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; "
        + "Value null at 'plaintext' failed to satisfy constraint: Member must not be null",
      );
      const mixed = await kmsCall(svc.app, 'ListKeys', { Limit: 0, Marker: '' });
      expect(expectAwsError(mixed, 'ValidationException').message).toBe(
        "2 validation errors detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1; "
        + "Value '' at 'marker' failed to satisfy constraint: Member must have length greater than or equal to 1",
      );
    });
  });

  describe('strings that are not valid Unicode', () => {
    // JSON may escape a lone surrogate ("\ud800"), which has no UTF-8 encoding. Either the
    // service refuses it, or two different such contexts must stay different: an encryption
    // context is bound to the ciphertext exactly, never "up to replacement characters".
    it('an encryption context with a lone surrogate is refused or bound exactly', async () => {
      const enc = await call('Encrypt', `{"KeyId":"${keyId}","Plaintext":"eA==","EncryptionContext":{"a":"\\ud800"}}`);
      if (enc.status !== 200) {
        expectAwsError(enc);
        return;
      }
      for (const other of ['\\udfff', '\\ufffd', '\\ud801']) {
        const dec = await call('Decrypt', `{"CiphertextBlob":"${enc.body.CiphertextBlob}","EncryptionContext":{"a":"${other}"}}`);
        expectAwsError(dec, 'InvalidCiphertextException');
      }
    });
  });

  describe('key ids that name Object.prototype members', () => {
    it('are ordinary unknown keys and aliases', async () => {
      for (const id of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'alias/constructor', 'alias/__proto__', `arn:aws:kms:${REGION}:111122223333:alias/constructor`]) {
        const res = await kmsCall(svc.app, 'DescribeKey', { KeyId: id });
        expectAwsError(res, 'NotFoundException', 400);
        const enc = await kmsCall(svc.app, 'Encrypt', { KeyId: id, Plaintext: b64('x') });
        expectAwsError(enc, 'NotFoundException', 400);
      }
      expectNotPolluted();
    });
  });

  describe('connections that misbehave', () => {
    it('a client that disconnects in the middle of a body does not hurt the service', async () => {
      const server = svc.app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      try {
        const { port } = server.address() as AddressInfo;
        for (let i = 0; i < 5; i++) {
          const socket = connect(port, '127.0.0.1');
          await once(socket, 'connect');
          socket.write('POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-amz-json-1.1\r\n'
            + 'X-Amz-Target: TrentService.GenerateRandom\r\nContent-Length: 1000\r\n\r\n{"NumberOfBytes":');
          await new Promise((r) => setTimeout(r, 20));
          socket.destroy();
        }
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
      await expectServiceAlive();
    });

    it('a compressed body that inflates beyond the limit is refused', async () => {
      const bomb = gzipSync(Buffer.from(`{"NumberOfBytes":1,"Padding":"${'0'.repeat(2 * 1024 * 1024)}"}`));
      expect(bomb.length).toBeLessThan(64 * 1024);
      const headers = await signExactly({ 'content-type': 'application/x-amz-json-1.1', 'content-encoding': 'gzip', 'x-amz-target': 'TrentService.GenerateRandom' }, bomb);
      const res = await rawPost(svc.app, headers, bomb);
      expectAwsError(res, 'RequestEntityTooLargeException', 413);
      await expectServiceAlive();
    });
  });

  describe('other requests that do not reach an operation', () => {
    it('other methods and paths get a 4xx in the AWS shape', async () => {
      const responses = [
        await request(svc.app).get('/'),
        await request(svc.app).put('/').send('{}'),
        await request(svc.app).post('/other').set('content-type', 'application/x-amz-json-1.1').send('{}'),
        await request(svc.app).post('/?x=1'),
      ];
      for (const res of responses) {
        expectAwsError({ status: res.status, text: res.text, headers: res.headers as Record<string, string> });
      }
    });

    it('a query-string signature or an unsigned request is a 4xx', async () => {
      const res = await request(svc.app).post('/?X-Amz-Signature=00').set('content-type', 'application/x-amz-json-1.1').set('x-amz-target', 'TrentService.ListKeys').send('{}');
      expectAwsError({ status: res.status, text: res.text, headers: res.headers as Record<string, string> });
      const unsigned = await request(svc.app).post('/').set('content-type', 'application/x-amz-json-1.1').set('x-amz-target', 'TrentService.ListKeys').send('{}');
      expectAwsError({ status: unsigned.status, text: unsigned.text, headers: unsigned.headers as Record<string, string> }, 'MissingAuthenticationTokenException', 403);
    });
  });

  describe('under concurrency', () => {
    it('50 malformed requests in parallel all get a 4xx, and a valid request succeeds afterwards', async () => {
      const malformed: (() => Promise<RawResponse>)[] = [
        () => call('Encrypt', '{'),
        () => call('CreateKey', '[]'),
        () => kmsCall(svc.app, 'GenerateRandom', { NumberOfBytes: '1' }),
        () => kmsCall(svc.app, 'Decrypt', { CiphertextBlob: 'not base64!' }),
        () => kmsCall(svc.app, 'Decrypt', { CiphertextBlob: b64('garbage ciphertext') }),
        () => kmsCall(svc.app, 'Nope', {}),
        () => call('GenerateDataKey', `{"KeyId":"${keyId}","__proto__":{"polluted":true}}`),
        () => kmsCall(svc.app, 'Encrypt', {}),
        () => call('ListKeys', '{"Limit": 1e400}'),
        () => call('GenerateRandom', '['.repeat(10_000)),
      ];
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => malformed[i % malformed.length]!()));
      for (const res of results) expectAwsError(res);
      expectNotPolluted();
      for (const op of operationNames) {
        const res = await kmsCall(svc.app, op, validBodies()[op]);
        expect(res.status).toBe(200);
      }
    });
  });
});

describe('oversized bodies', () => {
  let small: TestService;
  beforeAll(async () => { small = await startTestService({ maxBodyBytes: 4096 }); });
  afterAll(async () => { await small.close(); });

  it('a body over the limit is a 413 RequestEntityTooLargeException and the service still answers', async () => {
    const big = JSON.stringify({ NumberOfBytes: 8, Padding: 'x'.repeat(8192) });
    const res = await kmsCall(small.app, 'GenerateRandom', Buffer.from(big));
    expectAwsError(res as unknown as RawResponse, undefined, 413);
    expect(res.body.__type).toBe('RequestEntityTooLargeException');
    await expectServiceAlive(small.app);
  });

  it('a body just under the limit is read', async () => {
    const prefix = '{"NumberOfBytes":8,"Padding":"';
    const fits = `${prefix}${'x'.repeat(4096 - prefix.length - 2)}"}`;
    expect(Buffer.byteLength(fits)).toBe(4096);
    const res = await kmsCall(small.app, 'GenerateRandom', Buffer.from(fits));
    expect(res.status).toBe(200);
  });

  it('an oversized chunked body (no Content-Length) is refused, not hung', async () => {
    const big = Buffer.from(JSON.stringify({ NumberOfBytes: 8, Padding: 'y'.repeat(8192) }));
    const headers = await signedHeaders('GenerateRandom', big);
    const server = small.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const res = await new Promise<RawResponse>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/', headers }, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (c: Buffer) => chunks.push(c));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString(), headers: response.headers as Record<string, string> }));
        });
        // The server may answer and stop reading before the last chunk; that is not a failure.
        req.on('error', (e: NodeJS.ErrnoException) => { if (e.code !== 'EPIPE' && e.code !== 'ECONNRESET') reject(e); });
        for (let i = 0; i < big.length; i += 1024) req.write(big.subarray(i, i + 1024));
        req.end();
      });
      expectAwsError(res, 'RequestEntityTooLargeException', 413);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await expectServiceAlive(small.app);
  });
});
