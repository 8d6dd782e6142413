// The symmetric operations through the HTTP layer, on a real SoftHSM token.
import { kmsCall } from '../support/signed';
import { ACCOUNT, ALICE, REGION, startTestService, type TestService } from '../support/service';

let svc: TestService;
beforeAll(async () => { svc = await startTestService(); });
afterAll(async () => { await svc.close(); });

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function createKey(body: object = {}) {
  const res = await kmsCall(svc.app, 'CreateKey', body);
  expect(res.status).toBe(200);
  return res.body.KeyMetadata as Record<string, unknown> & { KeyId: string; Arn: string };
}

describe('CreateKey and DescribeKey', () => {
  it('creates an enabled symmetric key with the full KeyMetadata', async () => {
    const meta = await createKey({ Description: 'orders', Tags: [{ TagKey: 'team', TagValue: 'pay' }] });
    expect(meta).toMatchObject({
      AWSAccountId: ACCOUNT, Description: 'orders', Enabled: true, KeyState: 'Enabled', KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT', CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT', EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      KeyManager: 'CUSTOMER', Origin: 'AWS_KMS', MultiRegion: false,
    });
    expect(meta.KeyId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(meta.Arn).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${meta.KeyId}`);
    expect(typeof meta.CreationDate).toBe('number');
    expect(Math.abs((meta.CreationDate as number) - Date.now() / 1000)).toBeLessThan(60);
    expect(meta.CurrentKeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('describes a key by id and by ARN, and stores its tags and default policy', async () => {
    const meta = await createKey({ Tags: [{ TagKey: 'a', TagValue: '' }] });
    for (const keyId of [meta.KeyId, meta.Arn]) {
      const res = await kmsCall(svc.app, 'DescribeKey', { KeyId: keyId });
      expect(res.status).toBe(200);
      expect(res.body.KeyMetadata).toEqual(meta);
    }
    const stored = await svc.store.keys.get({ accountId: ACCOUNT, region: REGION }, meta.KeyId);
    expect(stored?.tags).toEqual([{ TagKey: 'a', TagValue: '' }]);
    expect(JSON.parse(stored!.policy!).Statement[0].Principal.AWS).toBe(`arn:aws:iam::${ACCOUNT}:root`);
  });

  it('describes a key through an alias name and an alias ARN', async () => {
    const meta = await createKey();
    const now = new Date();
    await svc.store.aliases.insert({ accountId: ACCOUNT, region: REGION, aliasName: 'alias/orders', targetKeyId: meta.KeyId, createdAt: now, updatedAt: now });
    for (const keyId of ['alias/orders', `arn:aws:kms:${REGION}:${ACCOUNT}:alias/orders`]) {
      const res = await kmsCall(svc.app, 'DescribeKey', { KeyId: keyId });
      expect(res.body.KeyMetadata?.KeyId).toBe(meta.KeyId);
    }
    const missing = await kmsCall(svc.app, 'DescribeKey', { KeyId: 'alias/nope' });
    expect(missing.body).toEqual({ __type: 'NotFoundException', message: `Alias arn:aws:kms:${REGION}:${ACCOUNT}:alias/nope is not found.` });
  });

  it('answers NotFoundException as AWS words it', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    expect((await kmsCall(svc.app, 'DescribeKey', { KeyId: id })).body).toEqual({ __type: 'NotFoundException', message: `Key 'arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}' does not exist` });
    expect((await kmsCall(svc.app, 'DescribeKey', { KeyId: 'fake-key-id' })).body).toEqual({ __type: 'NotFoundException', message: "Invalid keyId 'fake-key-id'" });
    const meta = await createKey();
    const otherRegion = meta.Arn.replace(REGION, 'eu-west-1');
    expect((await kmsCall(svc.app, 'DescribeKey', { KeyId: otherRegion })).body).toEqual({ __type: 'NotFoundException', message: 'Invalid arn eu-west-1' });
    // The same key id asked for in another region's scope does not exist there.
    expect((await kmsCall(svc.app, 'DescribeKey', { KeyId: meta.KeyId }, { region: 'eu-west-1' })).body.__type).toBe('NotFoundException');
  });

  it('refuses key specs and features that later issues add, clearly', async () => {
    const sm2 = await kmsCall(svc.app, 'CreateKey', { KeySpec: 'SM2', KeyUsage: 'SIGN_VERIFY' });
    expect(sm2.status).toBe(400);
    expect(sm2.body.__type).toBe('UnsupportedOperationException');
    const usage = await kmsCall(svc.app, 'CreateKey', { KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'SIGN_VERIFY' });
    expect(usage.body).toEqual({ __type: 'ValidationException', message: 'KeyUsage SIGN_VERIFY is not compatible with KeySpec SYMMETRIC_DEFAULT' });
    const badSpec = await kmsCall(svc.app, 'CreateKey', { KeySpec: 'HMAC_random' });
    expect(badSpec.body.__type).toBe('ValidationException');
    expect(badSpec.body.message).toMatch(/^1 validation error detected: Value 'HMAC_random' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: \[RSA_2048, ECC_NIST_P384/);
  });

  it('validates tags as AWS does', async () => {
    expect((await kmsCall(svc.app, 'CreateKey', { Tags: [{ TagKey: 'aws:x', TagValue: 'v' }] })).body).toEqual({ __type: 'TagException', message: 'Tags beginning with aws: are reserved' });
    expect((await kmsCall(svc.app, 'CreateKey', { Tags: [{ TagKey: 'AWS:x', TagValue: 'v' }] })).body.__type).toBe('TagException');
    expect((await kmsCall(svc.app, 'CreateKey', { Tags: [{ TagKey: 'k', TagValue: '1' }, { TagKey: 'k', TagValue: '2' }] })).body).toEqual({ __type: 'TagException', message: 'Duplicate tag keys' });
    const many = Array.from({ length: 51 }, (_, i) => ({ TagKey: `k${i}`, TagValue: 'v' }));
    expect((await kmsCall(svc.app, 'CreateKey', { Tags: many })).body).toEqual({ __type: 'TagException', message: 'Too many tags' });
    const long = (await kmsCall(svc.app, 'CreateKey', { Tags: [{ TagKey: 'k', TagValue: 'v'.repeat(257) }] })).body;
    expect(long).toEqual({ __type: 'ValidationException', message: `1 validation error detected: Value '${'v'.repeat(257)}' at 'tags.1.member.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256` });
  });
});

describe('ListKeys', () => {
  it('pages through every key with Limit and Marker', async () => {
    for (let i = 0; i < 3; i++) await createKey();
    const all: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const res = await kmsCall(svc.app, 'ListKeys', { Limit: 2, ...(marker ? { Marker: marker } : {}) });
      expect(res.status).toBe(200);
      expect(res.body.Keys.length).toBeLessThanOrEqual(2);
      for (const k of res.body.Keys) expect(k.KeyArn).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${k.KeyId}`);
      all.push(...res.body.Keys.map((k: { KeyId: string }) => k.KeyId));
      expect(res.body.Truncated).toBe(res.body.NextMarker !== undefined);
      marker = res.body.NextMarker;
      pages++;
    } while (marker);
    expect(pages).toBeGreaterThan(1);
    expect(new Set(all).size).toBe(all.length);
    const unpaged = await kmsCall(svc.app, 'ListKeys', {});
    expect(unpaged.body.Keys.map((k: { KeyId: string }) => k.KeyId)).toEqual(all);
  });

  it('rejects an out-of-range Limit and a bad Marker', async () => {
    expect((await kmsCall(svc.app, 'ListKeys', { Limit: 0 })).body.message).toBe("1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1");
    expect((await kmsCall(svc.app, 'ListKeys', { Limit: 1001 })).body.__type).toBe('ValidationException');
    expect((await kmsCall(svc.app, 'ListKeys', { Marker: 'not-a-marker' })).body.__type).toBe('InvalidMarkerException');
  });
});

describe('Encrypt and Decrypt', () => {
  it('round-trips with an encryption context, and Decrypt finds the key itself', async () => {
    const meta = await createKey();
    const ctx = { purpose: 'test', 'tenant id': 'ü-42' };
    const enc = await kmsCall(svc.app, 'Encrypt', { KeyId: meta.KeyId, Plaintext: b64('attack at dawn'), EncryptionContext: ctx });
    expect(enc.status).toBe(200);
    expect(enc.body).toMatchObject({ KeyId: meta.Arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    const reordered = { 'tenant id': 'ü-42', purpose: 'test' };
    const dec = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: enc.body.CiphertextBlob, EncryptionContext: reordered });
    expect(dec.status).toBe(200);
    expect(Buffer.from(dec.body.Plaintext, 'base64').toString()).toBe('attack at dawn');
    expect(dec.body).toMatchObject({ KeyId: meta.Arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT', KeyMaterialId: meta.CurrentKeyMaterialId });
  });

  it('accepts 4096 bytes and refuses 4097 with AWS message', async () => {
    const meta = await createKey();
    expect((await kmsCall(svc.app, 'Encrypt', { KeyId: meta.KeyId, Plaintext: Buffer.alloc(4096, 1).toString('base64') })).status).toBe(200);
    const big = await kmsCall(svc.app, 'Encrypt', { KeyId: meta.KeyId, Plaintext: Buffer.alloc(4097, 1).toString('base64') });
    expect(big.body).toEqual({ __type: 'ValidationException', message: "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096" });
  });

  it('two encryptions of the same plaintext differ', async () => {
    const meta = await createKey();
    const a = await kmsCall(svc.app, 'Encrypt', { KeyId: meta.KeyId, Plaintext: b64('same') });
    const b = await kmsCall(svc.app, 'Encrypt', { KeyId: meta.KeyId, Plaintext: b64('same') });
    expect(a.body.CiphertextBlob).not.toBe(b.body.CiphertextBlob);
  });

  it('rejects any change to the encryption context', async () => {
    const meta = await createKey();
    const ctx = { a: '1', b: '2' };
    const blob = (await kmsCall(svc.app, 'Encrypt', { KeyId: meta.KeyId, Plaintext: b64('x'), EncryptionContext: ctx })).body.CiphertextBlob;
    for (const changed of [undefined, {}, { a: '1' }, { a: '1', b: '3' }, { a: '1', B: '2' }, { a: '1', b: '2', c: '3' }, { A: '1', b: '2' }]) {
      const res = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: blob, ...(changed ? { EncryptionContext: changed } : {}) });
      expect(res.body).toEqual({ __type: 'InvalidCiphertextException', message: '' });
    }
  });

  it('rejects a flip of any single byte of the header or the body', async () => {
    const meta = await createKey();
    const blob = Buffer.from((await kmsCall(svc.app, 'Encrypt', { KeyId: meta.KeyId, Plaintext: b64('tamper me') })).body.CiphertextBlob, 'base64');
    for (let i = 0; i < blob.length; i++) {
      const tampered = Buffer.from(blob);
      tampered[i] = tampered[i]! ^ 0x01;
      const res = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: tampered.toString('base64') });
      // A flip in the key id names another (absent) key; everywhere else the tag fails.
      expect(res.body.__type).toBe('InvalidCiphertextException');
    }
    const truncated = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: blob.subarray(0, 40).toString('base64') });
    expect(truncated.body.__type).toBe('InvalidCiphertextException');
  });

  it('rejects a ciphertext of another key: IncorrectKeyException when KeyId names a different key', async () => {
    const one = await createKey();
    const two = await createKey();
    const blob = (await kmsCall(svc.app, 'Encrypt', { KeyId: one.KeyId, Plaintext: b64('x') })).body.CiphertextBlob;
    expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: blob, KeyId: two.KeyId })).body).toEqual({ __type: 'IncorrectKeyException', message: 'The key ID in the request does not identify a CMK that can perform this operation.' });
    // Transplanting the body under the other key's header fails authentication.
    const raw = Buffer.from(blob, 'base64');
    const otherId = Buffer.from(two.KeyId.replace(/-/g, ''), 'hex');
    otherId.copy(raw, 3);
    expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: raw.toString('base64') })).body.__type).toBe('InvalidCiphertextException');
  });

  it('encrypts through an alias', async () => {
    const meta = await createKey();
    const now = new Date();
    await svc.store.aliases.insert({ accountId: ACCOUNT, region: REGION, aliasName: 'alias/enc', targetKeyId: meta.KeyId, createdAt: now, updatedAt: now });
    const enc = await kmsCall(svc.app, 'Encrypt', { KeyId: 'alias/enc', Plaintext: b64('via alias') });
    expect(enc.body.KeyId).toBe(meta.Arn);
    const dec = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: enc.body.CiphertextBlob, KeyId: 'alias/enc' });
    expect(Buffer.from(dec.body.Plaintext, 'base64').toString()).toBe('via alias');
  });

  it('refuses a non-symmetric algorithm on a symmetric key, and answers DryRun', async () => {
    const meta = await createKey();
    const alg = await kmsCall(svc.app, 'Encrypt', { KeyId: meta.KeyId, Plaintext: b64('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' });
    expect(alg.body.__type).toBe('InvalidKeyUsageException');
    const dry = await kmsCall(svc.app, 'Encrypt', { KeyId: meta.KeyId, Plaintext: b64('x'), DryRun: true });
    expect(dry.body).toEqual({ __type: 'DryRunOperationException', message: 'The request would have succeeded, but the DryRun option is set.' });
  });

  it('refuses a disabled key with DisabledException', async () => {
    const meta = await createKey();
    const scope = { accountId: ACCOUNT, region: REGION };
    const stored = (await svc.store.keys.get(scope, meta.KeyId))!;
    await svc.store.keys.replace({ ...stored, state: 'Disabled' });
    const res = await kmsCall(svc.app, 'Encrypt', { KeyId: meta.KeyId, Plaintext: b64('x') });
    expect(res.body).toEqual({ __type: 'DisabledException', message: `${meta.Arn} is disabled.` });
  });
});

describe('ReEncrypt', () => {
  it('moves a ciphertext to another key and context without revealing the plaintext', async () => {
    const source = await createKey();
    const destination = await createKey();
    const blob = (await kmsCall(svc.app, 'Encrypt', { KeyId: source.KeyId, Plaintext: b64('moving'), EncryptionContext: { v: '1' } })).body.CiphertextBlob;
    const re = await kmsCall(svc.app, 'ReEncrypt', { CiphertextBlob: blob, SourceEncryptionContext: { v: '1' }, DestinationKeyId: destination.Arn, DestinationEncryptionContext: { v: '2' } });
    expect(re.status).toBe(200);
    expect(re.body).toMatchObject({ SourceKeyId: source.Arn, KeyId: destination.Arn, SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    expect(re.body.Plaintext).toBeUndefined();
    const dec = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: re.body.CiphertextBlob, EncryptionContext: { v: '2' } });
    expect(dec.body.KeyId).toBe(destination.Arn);
    expect(Buffer.from(dec.body.Plaintext, 'base64').toString()).toBe('moving');
    const wrongSource = await kmsCall(svc.app, 'ReEncrypt', { CiphertextBlob: blob, SourceKeyId: destination.KeyId, SourceEncryptionContext: { v: '1' }, DestinationKeyId: destination.KeyId });
    expect(wrongSource.body.__type).toBe('IncorrectKeyException');
  });
});

describe('GenerateDataKey', () => {
  it('returns a data key whose ciphertext decrypts to it, by KeySpec or NumberOfBytes', async () => {
    const meta = await createKey();
    for (const [spec, length] of [[{ KeySpec: 'AES_256' }, 32], [{ KeySpec: 'AES_128' }, 16], [{ NumberOfBytes: 1 }, 1], [{ NumberOfBytes: 1024 }, 1024]] as const) {
      const res = await kmsCall(svc.app, 'GenerateDataKey', { KeyId: meta.KeyId, EncryptionContext: { k: 'v' }, ...spec });
      expect(res.status).toBe(200);
      const plaintext = Buffer.from(res.body.Plaintext, 'base64');
      expect(plaintext.length).toBe(length);
      expect(res.body.KeyId).toBe(meta.Arn);
      const dec = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: res.body.CiphertextBlob, EncryptionContext: { k: 'v' } });
      expect(Buffer.from(dec.body.Plaintext, 'base64').equals(plaintext)).toBe(true);
    }
  });

  it('requires exactly one of KeySpec and NumberOfBytes, within limits', async () => {
    const meta = await createKey();
    const neither = await kmsCall(svc.app, 'GenerateDataKey', { KeyId: meta.KeyId });
    const both = await kmsCall(svc.app, 'GenerateDataKey', { KeyId: meta.KeyId, KeySpec: 'AES_256', NumberOfBytes: 32 });
    for (const res of [neither, both]) expect(res.body).toEqual({ __type: 'ValidationException', message: 'Please specify either number of bytes or key spec.' });
    expect((await kmsCall(svc.app, 'GenerateDataKey', { KeyId: meta.KeyId, NumberOfBytes: 0 })).body.message).toBe("1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1");
    expect((await kmsCall(svc.app, 'GenerateDataKey', { KeyId: meta.KeyId, NumberOfBytes: 1025 })).body.message).toBe("1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024");
    expect((await kmsCall(svc.app, 'GenerateDataKey', { KeyId: meta.KeyId, KeySpec: 'AES_512' })).body.__type).toBe('ValidationException');
  });

  it('WithoutPlaintext returns only the sealed key', async () => {
    const meta = await createKey();
    const res = await kmsCall(svc.app, 'GenerateDataKeyWithoutPlaintext', { KeyId: meta.KeyId, KeySpec: 'AES_256' });
    expect(res.status).toBe(200);
    expect(res.body.Plaintext).toBeUndefined();
    const dec = await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: res.body.CiphertextBlob });
    expect(Buffer.from(dec.body.Plaintext, 'base64').length).toBe(32);
  });
});

describe('GenerateRandom', () => {
  it('returns 1 to 1024 random bytes and AWS errors outside', async () => {
    for (const n of [1, 12, 1024]) {
      const res = await kmsCall(svc.app, 'GenerateRandom', { NumberOfBytes: n });
      expect(Buffer.from(res.body.Plaintext, 'base64').length).toBe(n);
    }
    const a = (await kmsCall(svc.app, 'GenerateRandom', { NumberOfBytes: 32 })).body.Plaintext;
    const b = (await kmsCall(svc.app, 'GenerateRandom', { NumberOfBytes: 32 })).body.Plaintext;
    expect(a).not.toBe(b);
    expect((await kmsCall(svc.app, 'GenerateRandom', {})).body).toEqual({ __type: 'ValidationException', message: 'NumberOfBytes is required.' });
    expect((await kmsCall(svc.app, 'GenerateRandom', { NumberOfBytes: 1025 })).body.message).toBe("1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024");
  });
});

describe('principals other than root', () => {
  it('are refused everything with AccessDeniedException until policies arrive', async () => {
    const meta = await createKey();
    const res = await kmsCall(svc.app, 'Encrypt', { KeyId: meta.Arn, Plaintext: b64('x') }, { credentials: ALICE });
    expect(res.body).toEqual({
      __type: 'AccessDeniedException',
      message: `User: ${ALICE.principalArn} is not authorized to perform: kms:Encrypt on resource: ${meta.Arn} because no resource-based policy allows the kms:Encrypt action`,
    });
    const create = await kmsCall(svc.app, 'CreateKey', {}, { credentials: ALICE });
    expect(create.body.__type).toBe('AccessDeniedException');
  });
});

describe('GET /healthz', () => {
  it('answers 200 when the token and the store are usable', async () => {
    const request = (await import('supertest')).default;
    const res = await request(svc.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
  });
});
