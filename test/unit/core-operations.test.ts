// Core operations with fakes (an in-memory store and a token on node:crypto): the security
// preconditions of core, each in a test named after its `// Precondition:` sentence.
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { parseCiphertext } from '../../src/core/crypto/ciphertext';
import type { RequestContext } from '../../src/core/api/context';
import type { CoreDeps } from '../../src/core/deps';
import { KmsError } from '../../src/core/errors';
import { assertStateAllows, keyStateTable } from '../../src/core/keys/key-state';
import { keyStates } from '../../src/core/model';
import { decodeMarker, encodeMarker } from '../../src/core/api/page-marker';
import { callOperation, type OperationName } from '../support/core-harness';
import { FakeToken, fakeKeyStores } from '../support/fake-token';
import { MemoryStore } from '../support/memory-store';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const root: RequestContext = { principal: { arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, policies: [] }, region: REGION, requestId: 'r' };
const bob: RequestContext = { ...root, principal: { arn: `arn:aws:iam::${ACCOUNT}:user/bob`, accountId: ACCOUNT, policies: [] } };
const otherRoot: RequestContext = { ...root, principal: { arn: 'arn:aws:iam::444455556666:root', accountId: '444455556666', policies: [] } };

let deps: CoreDeps;
let token: FakeToken;
beforeEach(async () => {
  token = new FakeToken();
  const store = new MemoryStore();
  await store.init();
  deps = { store, keyStores: fakeKeyStores(token), clock: { now: () => new Date('2026-01-01T00:00:00Z') } };
});

// Results are loosely typed here: tests read a few fields and pass blobs back in.
type Loose = Record<string, string>;

async function call(name: OperationName, ctx: RequestContext, body: object): Promise<Loose> {
  // Inputs go through the same decoding as on the wire; outputs are put back on the wire.
  return await callOperation(deps, ctx, name, body) as Loose;
}

async function rejectCode(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof KmsError)) throw new Error(`expected a KmsError, got ${String(error)}`);
  return error.code;
}

async function newKey(): Promise<{ KeyId: string; Arn: string }> {
  return ((await call('CreateKey', root, {})) as unknown as { KeyMetadata: { KeyId: string; Arn: string } }).KeyMetadata;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

it('only the root principal of the key\'s own account is allowed.', async () => {
  const key = await newKey();
  expect(await rejectCode(call('Encrypt', bob, { KeyId: key.KeyId, Plaintext: b64('x') }))).toBe('AccessDeniedException');
  expect(await rejectCode(call('Encrypt', otherRoot, { KeyId: key.Arn, Plaintext: b64('x') }))).toBe('AccessDeniedException');
  expect(await rejectCode(call('ListKeys', bob, {}))).toBe('AccessDeniedException');
  await expect(call('Encrypt', root, { KeyId: key.Arn, Plaintext: b64('x') })).resolves.toBeDefined();
});

it('a key whose creation has not completed does not exist for any API.', async () => {
  const key = await newKey();
  const stored = (await deps.store.keys.get({ accountId: ACCOUNT, region: REGION }, key.KeyId))!;
  await deps.store.keys.replace({ ...stored, incomplete: true });
  expect(await rejectCode(call('DescribeKey', root, { KeyId: key.KeyId }))).toBe('NotFoundException');
  expect(await rejectCode(call('Encrypt', root, { KeyId: key.KeyId, Plaintext: b64('x') }))).toBe('NotFoundException');
});

it('an ARN in another region than the request\'s is not found.', async () => {
  const key = await newKey();
  const error = await call('DescribeKey', root, { KeyId: key.Arn.replace(REGION, 'ap-south-1') }).catch((e: KmsError) => e);
  expect(error).toMatchObject({ code: 'NotFoundException', message: 'Invalid arn ap-south-1' });
});

it('a key is used only for operations its KeyUsage allows.', async () => {
  const key = await newKey();
  const stored = (await deps.store.keys.get({ accountId: ACCOUNT, region: REGION }, key.KeyId))!;
  await deps.store.keys.replace({ ...stored, keyUsage: 'SIGN_VERIFY' });
  const error = await call('Encrypt', root, { KeyId: key.KeyId, Plaintext: b64('x') }).catch((e: KmsError) => e);
  expect(error).toMatchObject({ code: 'InvalidKeyUsageException', message: `${key.Arn} key usage is SIGN_VERIFY which is not valid for Encrypt.` });
});

it('a symmetric key only takes the SYMMETRIC_DEFAULT algorithm.', async () => {
  const key = await newKey();
  expect(await rejectCode(call('Encrypt', root, { KeyId: key.KeyId, Plaintext: b64('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))).toBe('InvalidKeyUsageException');
  await expect(call('Encrypt', root, { KeyId: key.KeyId, Plaintext: b64('x'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' })).resolves.toBeDefined();
});

it('a KeyId given with a ciphertext must be the key that made it.', async () => {
  const one = await newKey();
  const two = await newKey();
  const { CiphertextBlob } = await call('Encrypt', root, { KeyId: one.KeyId, Plaintext: b64('x') });
  expect(await rejectCode(call('Decrypt', root, { CiphertextBlob, KeyId: two.KeyId }))).toBe('IncorrectKeyException');
  await expect(call('Decrypt', root, { CiphertextBlob, KeyId: one.Arn })).resolves.toBeDefined();
});

it('the ciphertext names a key version that belongs to the key.', async () => {
  const key = await newKey();
  const { CiphertextBlob } = await call('Encrypt', root, { KeyId: key.KeyId, Plaintext: b64('x') });
  const blob = Buffer.from(CiphertextBlob!, 'base64');
  blob.fill(0xab, 19, 51); // another key material id
  expect(await rejectCode(call('Decrypt', root, { CiphertextBlob: blob.toString('base64') }))).toBe('InvalidCiphertextException');
});

it('a blob that is not a well-formed v1 ciphertext is rejected before any key lookup.', async () => {
  const lookups = jest.spyOn(deps.store.keys, 'get');
  for (const blob of [Buffer.alloc(0), Buffer.alloc(10), Buffer.alloc(200, 0x02), Buffer.concat([Buffer.from([1, 1, 9]), Buffer.alloc(100)])]) {
    expect(() => parseCiphertext(blob)).toThrow(KmsError);
  }
  expect(await rejectCode(call('Decrypt', root, { CiphertextBlob: Buffer.alloc(100, 7).toString('base64') }))).toBe('InvalidCiphertextException');
  expect(lookups).not.toHaveBeenCalled();
});

it('an operation runs only in the key states the key-state table allows.', () => {
  const arn = 'arn:aws:kms:us-east-1:111122223333:key/k';
  const expected: Record<string, [string, string] | undefined> = {
    Enabled: undefined,
    Disabled: ['DisabledException', `${arn} is disabled.`],
    PendingDeletion: ['KMSInvalidStateException', `${arn} is pending deletion.`],
    PendingReplicaDeletion: ['KMSInvalidStateException', `${arn} is pending deletion.`],
    PendingImport: ['KMSInvalidStateException', `${arn} is pending import.`],
    Unavailable: ['KMSInvalidStateException', `${arn} is unavailable.`],
    Creating: ['KMSInvalidStateException', `${arn} is creating.`],
    Updating: undefined,
  };
  for (const operation of ['Encrypt', 'Decrypt', 'ReEncrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext'] as const) {
    for (const state of keyStates) {
      const outcome = expected[state];
      if (!outcome) expect(() => assertStateAllows(operation, state, arn)).not.toThrow();
      else expect(() => assertStateAllows(operation, state, arn)).toThrow(expect.objectContaining({ code: outcome[0], message: outcome[1] }));
    }
  }
  for (const state of keyStates) expect(() => assertStateAllows('DescribeKey', state, arn)).not.toThrow();
  // test/api/key-state-table.test.ts checks every cell of every row through the API.
  expect(Object.keys(keyStateTable)).toContain('Encrypt');
});

it('strings must be well-formed Unicode.', async () => {
  const key = await newKey();
  const loneSurrogate = JSON.parse('"\\ud800"') as string;
  expect(await rejectCode(call('Encrypt', root, { KeyId: key.KeyId, Plaintext: b64('x'), EncryptionContext: { a: loneSurrogate } }))).toBe('SerializationException');
  expect(await rejectCode(call('Encrypt', root, { KeyId: key.KeyId, Plaintext: b64('x'), EncryptionContext: { [loneSurrogate]: 'a' } }))).toBe('SerializationException');
  expect(await rejectCode(call('CreateKey', root, { Description: `x${loneSurrogate}` }))).toBe('SerializationException');
  // Paired surrogates (an emoji) are ordinary text.
  await expect(call('Encrypt', root, { KeyId: key.KeyId, Plaintext: b64('x'), EncryptionContext: { a: '\u{1F511}' } })).resolves.toBeDefined();
});

it('a marker the service did not issue is refused with InvalidMarkerException.', () => {
  expect(decodeMarker('key', encodeMarker('key', 'abc'))).toBe('abc');
  for (const marker of ['garbage', encodeMarker('alias', 'abc'), encodeMarker('key', ''), '!!!!']) {
    expect(() => decodeMarker('key', marker)).toThrow(expect.objectContaining({ code: 'InvalidMarkerException' }));
  }
});

it('tag keys beginning with aws: (any case) are reserved.', async () => {
  for (const TagKey of ['aws:a', 'AWS:a', 'Aws:b']) {
    expect(await rejectCode(call('CreateKey', root, { Tags: [{ TagKey, TagValue: '' }] }))).toBe('TagException');
  }
  await expect(call('CreateKey', root, { Tags: [{ TagKey: 'awsx', TagValue: '' }] })).resolves.toBeDefined();
});

it('a request may not name the same tag key twice.', async () => {
  expect(await rejectCode(call('CreateKey', root, { Tags: [{ TagKey: 'a', TagValue: '1' }, { TagKey: 'a', TagValue: '1' }] }))).toBe('TagException');
  // Tag keys are case-sensitive, so these are two tags.
  await expect(call('CreateKey', root, { Tags: [{ TagKey: 'a', TagValue: '1' }, { TagKey: 'A', TagValue: '1' }] })).resolves.toBeDefined();
});

it('blob fields must be canonical base64.', async () => {
  const key = await newKey();
  for (const Plaintext of ['not base64!', 'aGk', 'a===', 'aGk=\n']) {
    expect(await rejectCode(call('Encrypt', root, { KeyId: key.KeyId, Plaintext }))).toBe('SerializationException');
  }
});

it('never stores key material: the record holds only a reference to the token object', async () => {
  const key = await newKey();
  const stored = (await deps.store.keys.get({ accountId: ACCOUNT, region: REGION }, key.KeyId))!;
  expect(stored.versions[0]!.backing).toEqual({ kind: 'pkcs11', tokenId: 'default', objectId: stored.versions[0]!.id });
  expect(await token.hasKey(stored.versions[0]!.id)).toBe(true);
});

describe('Ed25519 keys follow their token\'s capabilities', () => {
  it('a token that computes Ed25519ph lists ED25519_PH_SHA_512 and is handed the caller\'s SHA-512 digest as the message to prehash', async () => {
    token.ed25519Schemes = ['ED25519', 'ED25519_PH'];
    const meta = (await callOperation(deps, root, 'CreateKey', { KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' })).KeyMetadata as Record<string, unknown>;
    expect(meta.SigningAlgorithms).toEqual(['ED25519_SHA_512', 'ED25519_PH_SHA_512']);
    expect((await callOperation(deps, root, 'GetPublicKey', { KeyId: meta.KeyId })).SigningAlgorithms).toEqual(['ED25519_SHA_512', 'ED25519_PH_SHA_512']);
    const digest = Buffer.alloc(64, 7);
    const signing = jest.spyOn(token, 'signMessage').mockResolvedValueOnce(Buffer.alloc(64, 1));
    const signed = await call('Sign', root, { KeyId: meta.KeyId, Message: digest.toString('base64'), MessageType: 'DIGEST', SigningAlgorithm: 'ED25519_PH_SHA_512' });
    expect(signed.Signature).toBe(Buffer.alloc(64, 1).toString('base64'));
    expect(signing).toHaveBeenCalledWith(expect.any(String), 'ED25519_PH', digest);
    signing.mockRestore();
    // Pure Ed25519 signs the message itself, which node:crypto verifies with the public key.
    const message = Buffer.from('pure');
    const pure = await call('Sign', root, { KeyId: meta.KeyId, Message: message.toString('base64'), SigningAlgorithm: 'ED25519_SHA_512' });
    const publicKey = createPublicKey({ key: Buffer.from((await call('GetPublicKey', root, { KeyId: meta.KeyId as string })).PublicKey!, 'base64'), format: 'der', type: 'spki' });
    expect(nodeVerify(null, message, publicKey, Buffer.from(pure.Signature!, 'base64'))).toBe(true);
  });

  it('a token that stops running EdDSA lists no Ed25519 algorithm and refuses to sign, saying why', async () => {
    const meta = (await callOperation(deps, root, 'CreateKey', { KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' })).KeyMetadata as Record<string, string>;
    expect(meta.SigningAlgorithms).toEqual(['ED25519_SHA_512']);
    token.ed25519Schemes = [];
    expect(((await call('DescribeKey', root, { KeyId: meta.KeyId })).KeyMetadata as unknown as Record<string, unknown>).SigningAlgorithms).toEqual([]);
    const error = await callOperation(deps, root, 'Sign', { KeyId: meta.KeyId, Message: Buffer.from('m').toString('base64'), SigningAlgorithm: 'ED25519_SHA_512' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UnsupportedOperationException', message: expect.stringContaining('cannot compute Ed25519 signatures (its capability profile does not set eddsa)') });
    expect(await rejectCode(call('CreateKey', root, { KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' }))).toBe('UnsupportedOperationException');
  });
});
