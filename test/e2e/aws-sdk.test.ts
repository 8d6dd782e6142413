// The unmodified AWS SDK for JavaScript v3 against a listening service: what users run.
import {
  CreateKeyCommand, DecapsulateCommand, DecryptCommand, DescribeKeyCommand, EncapsulateCommand, EncryptCommand, GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand, GenerateRandomCommand, IncorrectKeyException, InvalidCiphertextException,
  InvalidMarkerException, KMSClient, ListKeysCommand, NotFoundException, ReEncryptCommand,
  paginateListKeys, UnsupportedOperationException,
} from '@aws-sdk/client-kms';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ACCOUNT, ALICE, REGION, ROOT, startTestService, type TestService } from '../support/service';
import { rejection } from '../support/sdk-rejection';

let svc: TestService;
const clients: KMSClient[] = [];

function client(credentials: { accessKeyId: string; secretAccessKey: string }): KMSClient {
  // maxAttempts 1: an error must surface as it is, not after retries.
  const c = new KMSClient({ endpoint: svc.url, region: REGION, credentials, maxAttempts: 1 });
  clients.push(c);
  return c;
}

let kms: KMSClient;

beforeAll(async () => {
  svc = await startTestService({ listen: true });
  kms = client(ROOT);
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await svc.close();
});

const text = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString();

async function createKey(description?: string) {
  const out = await kms.send(new CreateKeyCommand(description ? { Description: description } : {}));
  return out.KeyMetadata!;
}


describe('CreateKey and DescribeKey', () => {
  it('creates a key with a description and tags; the SDK parses the metadata, CreationDate as a Date', async () => {
    const before = Date.now();
    const out = await kms.send(new CreateKeyCommand({ Description: 'sdk orders', Tags: [{ TagKey: 'team', TagValue: 'pay' }] }));
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(out.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const meta = out.KeyMetadata!;
    expect(meta).toMatchObject({
      AWSAccountId: ACCOUNT, Description: 'sdk orders', Enabled: true, KeyState: 'Enabled', KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT', EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'], KeyManager: 'CUSTOMER', Origin: 'AWS_KMS', MultiRegion: false,
    });
    expect(meta.Arn).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${meta.KeyId}`);
    expect(meta.CreationDate).toBeInstanceOf(Date);
    // CreationDate travels as epoch seconds, possibly with a fraction.
    expect(meta.CreationDate!.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(meta.CreationDate!.getTime()).toBeLessThanOrEqual(Date.now());
    // No API reads tags back yet (ListResourceTags): look in the store.
    const stored = await svc.store.keys.get({ accountId: ACCOUNT, region: REGION }, meta.KeyId!);
    expect(stored?.tags).toEqual([{ TagKey: 'team', TagValue: 'pay' }]);
  });

  it('describes a key by id and by ARN', async () => {
    const meta = await createKey('describe me');
    for (const KeyId of [meta.KeyId!, meta.Arn!]) {
      const out = await kms.send(new DescribeKeyCommand({ KeyId }));
      expect(out.KeyMetadata).toEqual(meta);
    }
  });
});

describe('ListKeys', () => {
  it('pages with Limit and Marker, and through paginateListKeys', async () => {
    const created = [];
    for (let i = 0; i < 3; i++) created.push((await createKey()).KeyId!);

    const byHand: string[] = [];
    let Marker: string | undefined;
    let pages = 0;
    do {
      const out = await kms.send(new ListKeysCommand({ Limit: 2, Marker }));
      expect(out.Keys!.length).toBeLessThanOrEqual(2);
      expect(out.Truncated).toBe(out.NextMarker !== undefined);
      for (const k of out.Keys!) expect(k.KeyArn).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${k.KeyId}`);
      byHand.push(...out.Keys!.map((k) => k.KeyId!));
      Marker = out.NextMarker;
      pages++;
    } while (Marker);
    expect(pages).toBeGreaterThan(1);
    expect(new Set(byHand).size).toBe(byHand.length);
    expect(byHand).toEqual(expect.arrayContaining(created));

    const paged: string[] = [];
    let paginatorPages = 0;
    for await (const page of paginateListKeys({ client: kms, pageSize: 1 }, {})) {
      paginatorPages++;
      paged.push(...(page.Keys ?? []).map((k) => k.KeyId!));
    }
    expect(paged).toEqual(byHand);
    expect(paginatorPages).toBeGreaterThanOrEqual(byHand.length);
  });

  it('refuses a bad Marker with InvalidMarkerException', async () => {
    const e = await rejection(kms.send(new ListKeysCommand({ Marker: 'not-a-marker' })));
    expect(e).toBeInstanceOf(InvalidMarkerException);
    expect(e.$metadata.httpStatusCode).toBe(400);
  });
});

describe('Encrypt, Decrypt and ReEncrypt', () => {
  it('round-trips with an encryption context; Decrypt finds the key without KeyId', async () => {
    const meta = await createKey();
    const ctx = { purpose: 'e2e', 'tenant id': 'ü-42' };
    const enc = await kms.send(new EncryptCommand({ KeyId: meta.KeyId, Plaintext: Buffer.from('attack at dawn'), EncryptionContext: ctx }));
    expect(enc.KeyId).toBe(meta.Arn);
    expect(enc.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
    expect(enc.CiphertextBlob).toBeInstanceOf(Uint8Array);

    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { 'tenant id': 'ü-42', purpose: 'e2e' } }));
    expect(text(dec.Plaintext)).toBe('attack at dawn');
    expect(dec.KeyId).toBe(meta.Arn);
    expect(dec.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');

    const withKeyId = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ctx, KeyId: meta.Arn }));
    expect(text(withKeyId.Plaintext)).toBe('attack at dawn');
  });

  it('surfaces a changed context as InvalidCiphertextException and another key as IncorrectKeyException', async () => {
    const one = await createKey();
    const two = await createKey();
    const enc = await kms.send(new EncryptCommand({ KeyId: one.KeyId, Plaintext: Buffer.from('x'), EncryptionContext: { a: '1' } }));

    const badContext = await rejection(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: '2' } })));
    expect(badContext).toBeInstanceOf(InvalidCiphertextException);
    expect(badContext.name).toBe('InvalidCiphertextException');
    expect(badContext.$fault).toBe('client');
    expect(badContext.$metadata.httpStatusCode).toBe(400);

    const otherKey = await rejection(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: '1' }, KeyId: two.KeyId })));
    expect(otherKey).toBeInstanceOf(IncorrectKeyException);
    expect(otherKey.$metadata.httpStatusCode).toBe(400);
  });

  it('re-encrypts under another key and context', async () => {
    const source = await createKey();
    const destination = await createKey();
    const enc = await kms.send(new EncryptCommand({ KeyId: source.Arn, Plaintext: Buffer.from('moving'), EncryptionContext: { v: '1' } }));
    const re = await kms.send(new ReEncryptCommand({
      CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: { v: '1' },
      DestinationKeyId: destination.KeyId, DestinationEncryptionContext: { v: '2' },
    }));
    expect(re).toMatchObject({ SourceKeyId: source.Arn, KeyId: destination.Arn, SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, EncryptionContext: { v: '2' } }));
    expect(dec.KeyId).toBe(destination.Arn);
    expect(text(dec.Plaintext)).toBe('moving');
  });
});

describe('data keys and random bytes', () => {
  it('GenerateDataKey by KeySpec and by NumberOfBytes returns a key its ciphertext decrypts to', async () => {
    const meta = await createKey();
    for (const [spec, length] of [[{ KeySpec: 'AES_256' as const }, 32], [{ KeySpec: 'AES_128' as const }, 16], [{ NumberOfBytes: 64 }, 64]] as const) {
      const out = await kms.send(new GenerateDataKeyCommand({ KeyId: meta.KeyId, EncryptionContext: { k: 'v' }, ...spec }));
      expect(out.KeyId).toBe(meta.Arn);
      expect(out.Plaintext).toHaveLength(length);
      const dec = await kms.send(new DecryptCommand({ CiphertextBlob: out.CiphertextBlob, EncryptionContext: { k: 'v' } }));
      expect(Buffer.from(dec.Plaintext!).equals(Buffer.from(out.Plaintext!))).toBe(true);
    }
  });

  it('GenerateDataKeyWithoutPlaintext returns only the sealed key', async () => {
    const meta = await createKey();
    const out = await kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: meta.Arn, KeySpec: 'AES_256' }));
    expect(out.KeyId).toBe(meta.Arn);
    expect((out as { Plaintext?: unknown }).Plaintext).toBeUndefined();
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: out.CiphertextBlob }));
    expect(dec.Plaintext).toHaveLength(32);
  });

  it('GenerateRandom returns the bytes asked for, different each time', async () => {
    const a = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 32 }));
    const b = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 32 }));
    expect(a.Plaintext).toHaveLength(32);
    expect(Buffer.from(a.Plaintext!).equals(Buffer.from(b.Plaintext!))).toBe(false);
  });
});

describe('errors as the SDK surfaces them', () => {
  it('NotFoundException for a key that does not exist', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const e = await rejection(kms.send(new DescribeKeyCommand({ KeyId: id })));
    expect(e).toBeInstanceOf(NotFoundException);
    expect(e.message).toBe(`Key 'arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}' does not exist`);
    expect(e.$metadata.httpStatusCode).toBe(400);
    expect(e.$metadata.requestId).toBeDefined();
  });

  it('ValidationException (not modelled by the SDK) keeps its name, message and status', async () => {
    const e = await rejection(kms.send(new GenerateRandomCommand({ NumberOfBytes: 1025 })));
    expect(e.name).toBe('ValidationException');
    expect(e.message).toBe("1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024");
    expect(e.$metadata.httpStatusCode).toBe(400);
  });

  it('AccessDeniedException for a principal without a policy', async () => {
    const meta = await createKey();
    const alice = client(ALICE);
    const e = await rejection(alice.send(new EncryptCommand({ KeyId: meta.Arn, Plaintext: Buffer.from('x') })));
    expect(e.name).toBe('AccessDeniedException');
    expect(e.message).toBe(`User: ${ALICE.principalArn} is not authorized to perform: kms:Encrypt on resource: ${meta.Arn} because no resource-based policy allows the kms:Encrypt action`);
    expect(e.$metadata.httpStatusCode).toBe(400);
  });

  it('InvalidSignatureException for a wrong secret key', async () => {
    const wrong = client({ accessKeyId: ROOT.accessKeyId, secretAccessKey: `${ROOT.secretAccessKey}x` });
    const e = await rejection(wrong.send(new ListKeysCommand({})));
    expect(e.name).toBe('InvalidSignatureException');
    expect(e.$metadata.httpStatusCode).toBe(400);
  });

  it('UnrecognizedClientException for an unknown access key', async () => {
    const unknown = client({ accessKeyId: 'AKIAUNKNOWN000000001', secretAccessKey: ROOT.secretAccessKey });
    const e = await rejection(unknown.send(new ListKeysCommand({})));
    expect(e.name).toBe('UnrecognizedClientException');
    expect(e.$metadata.httpStatusCode).toBe(400);
  });
});

describe('Encapsulate and Decapsulate', () => {
  it('answer UnsupportedOperationException with the reason (no ML-KEM key can live in the token), never as unknown operations', async () => {
    const key = await createKey();
    for (const command of [
      new EncapsulateCommand({ KeyId: key.KeyId!, EncapsulationAlgorithm: 'ML_KEM' }),
      new DecapsulateCommand({ KeyId: key.KeyId!, EncapsulationAlgorithm: 'ML_KEM', SharedSecretCiphertextBlob: new Uint8Array(1088) }),
    ]) {
      const error = await rejection(kms.send(command as EncapsulateCommand));
      expect(error).toBeInstanceOf(UnsupportedOperationException);
      expect(error.message).toMatch(/capsulate is not supported by this service: it needs an ML-KEM key .*no mechanism in PKCS#11/);
    }
    // An unknown key is still NotFoundException, as AWS answers it.
    const missing = await rejection(kms.send(new EncapsulateCommand({ KeyId: '00000000-0000-0000-0000-000000000000', EncapsulationAlgorithm: 'ML_KEM' })));
    expect(missing).toBeInstanceOf(NotFoundException);
  });
});

describe('AWS_ENDPOINT_URL_KMS', () => {
  it('points the JS SDK and the AWS CLI at the service with no endpoint in code or on the command line', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_KMS;
    process.env.AWS_ENDPOINT_URL_KMS = svc.url!;
    try {
      const viaEnvironment = new KMSClient({ region: REGION, credentials: ROOT, maxAttempts: 1 });
      clients.push(viaEnvironment);
      const key = await createKey('endpoint from the environment');
      expect((await viaEnvironment.send(new DescribeKeyCommand({ KeyId: key.KeyId! }))).KeyMetadata?.Description).toBe('endpoint from the environment');
      const { stdout } = await promisify(execFile)('aws', ['kms', 'describe-key', '--key-id', key.KeyId!, '--output', 'json'], {
        env: {
          PATH: process.env.PATH, HOME: process.env.HOME, AWS_ENDPOINT_URL_KMS: svc.url!, AWS_ACCESS_KEY_ID: ROOT.accessKeyId,
          AWS_SECRET_ACCESS_KEY: ROOT.secretAccessKey, AWS_DEFAULT_REGION: REGION, AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
        },
      });
      expect((JSON.parse(stdout) as { KeyMetadata: { Arn: string } }).KeyMetadata.Arn).toBe(key.Arn);
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_KMS;
      else process.env.AWS_ENDPOINT_URL_KMS = saved;
    }
  });
});
