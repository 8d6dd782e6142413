// Imported key material through the unmodified AWS SDK against a listening server: material
// wrapped offline by node:crypto (OAEP SHA-1 and SHA-256, RSA-AES key wrap with SHA-1 and
// SHA-256) imports and encrypts; DeleteImportedKeyMaterial and re-import of the same material
// restore decryption; different material is refused; expiry happens on a fake clock; import
// tokens expire and serve once; the imported objects are sensitive and non-extractable.
import {
  CreateKeyCommand, DecryptCommand, DeleteImportedKeyMaterialCommand, DescribeKeyCommand, EncryptCommand, ExpiredImportTokenException,
  GenerateMacCommand, GetParametersForImportCommand, GetPublicKeyCommand, ImportKeyMaterialCommand, IncorrectKeyMaterialException,
  InvalidCiphertextException, InvalidImportTokenException, KMSClient, KMSInvalidStateException, SignCommand, UnsupportedOperationException,
  type AlgorithmSpec, type ExpirationModelType,
} from '@aws-sdk/client-kms';
import { createHmac, createPublicKey, generateKeyPairSync, randomBytes, verify as nodeVerify } from 'node:crypto';
import * as pkcs11js from 'pkcs11js';
import { SOFTHSM_MODULE } from '../../src/config';
import { runMaintenance } from '../../src/core/jobs/maintenance';
import { FakeClock } from '../support/clock';
import { wrapKeyMaterial, wrappingAlgorithmNames, type WrappingAlgorithmName } from '../support/import-wrap';
import { ACCOUNT, REGION, ROOT, startTestService, type TestService, sdkClient } from '../support/service';
import { inspectObjectsById } from '../support/softhsm';

const DAY = 24 * 60 * 60 * 1000;
let clock: FakeClock;
let svc: TestService;
let kms: KMSClient;
beforeAll(async () => {
  clock = new FakeClock(new Date('2026-07-01T00:00:00Z'));
  svc = await startTestService({ listen: true, clock });
  kms = sdkClient(svc, ROOT);
});
afterAll(async () => {
  kms.destroy();
  await svc.close();
});

async function rejection(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

async function externalKey(params: { KeySpec?: 'SYMMETRIC_DEFAULT' | 'HMAC_256' | 'ECC_NIST_P384'; KeyUsage?: 'ENCRYPT_DECRYPT' | 'GENERATE_VERIFY_MAC' | 'SIGN_VERIFY' } = {}) {
  return (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL', Description: 'byok e2e', ...params }))).KeyMetadata!;
}

async function wrapped(keyId: string, algorithm: WrappingAlgorithmName, material: Buffer) {
  const params = await kms.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: algorithm as AlgorithmSpec, WrappingKeySpec: 'RSA_2048' }));
  return { params, encrypted: wrapKeyMaterial(Buffer.from(params.PublicKey!), algorithm, material) };
}

async function importInto(keyId: string, algorithm: WrappingAlgorithmName, material: Buffer, expiration: { ExpirationModel: ExpirationModelType; ValidTo?: Date } = { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }) {
  const { params, encrypted } = await wrapped(keyId, algorithm, material);
  return kms.send(new ImportKeyMaterialCommand({ KeyId: keyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: encrypted, ...expiration }));
}

const encrypt = async (keyId: string, text: string) => (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(text) }))).CiphertextBlob!;
const decrypt = async (blob: Uint8Array) => Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString();
const describeKey = async (keyId: string) => (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;

for (const algorithm of wrappingAlgorithmNames) {
  it(`${algorithm}: material wrapped offline by node:crypto imports and encrypts; deletion and re-import of the same material restore decryption`, async () => {
    const key = await externalKey();
    expect(key).toMatchObject({ KeyState: 'PendingImport', Enabled: false, Origin: 'EXTERNAL' });
    const material = randomBytes(32);
    const imported = await importInto(key.KeyId!, algorithm, material);
    expect(imported.KeyId).toBe(key.KeyId);
    expect(await describeKey(key.KeyId!)).toMatchObject({ KeyState: 'Enabled', Enabled: true, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', CurrentKeyMaterialId: imported.KeyMaterialId });
    const blob = await encrypt(key.KeyId!, `sealed under ${algorithm}`);
    expect(await decrypt(blob)).toBe(`sealed under ${algorithm}`);

    const deleted = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.KeyId }));
    expect(deleted).toMatchObject({ KeyId: key.Arn, KeyMaterialId: imported.KeyMaterialId });
    expect(await describeKey(key.KeyId!)).toMatchObject({ KeyState: 'PendingImport', Enabled: false });
    const refused = await rejection(decrypt(blob));
    expect(refused).toBeInstanceOf(KMSInvalidStateException);
    expect(refused.message).toBe(`${key.Arn} is pending import.`);

    const other = algorithm === 'RSAES_OAEP_SHA_1' ? 'RSA_AES_KEY_WRAP_SHA_256' : 'RSAES_OAEP_SHA_1';
    expect(await rejection(importInto(key.KeyId!, other, randomBytes(32)))).toBeInstanceOf(IncorrectKeyMaterialException);
    expect((await importInto(key.KeyId!, other, material)).KeyMaterialId).toBe(imported.KeyMaterialId);
    expect(await decrypt(blob)).toBe(`sealed under ${algorithm}`);
  });
}

it('the imported object is sensitive and non-extractable in the token (raw PKCS#11)', async () => {
  const lib = new pkcs11js.PKCS11();
  lib.load(SOFTHSM_MODULE);
  const key = await externalKey();
  await importInto(key.KeyId!, 'RSA_AES_KEY_WRAP_SHA_1', randomBytes(32));
  const version = (await svc.store.keys.get({ accountId: ACCOUNT, region: REGION }, key.KeyId!))!.versions[0]!;
  const objectId = version.backing.kind === 'pkcs11' ? version.backing.objectId : '';
  expect(inspectObjectsById(lib, svc.token, objectId)).toEqual([{ sensitive: true, extractable: false, token: true, valueReadError: 'CKR_ATTRIBUTE_SENSITIVE' }]);
});

it('material expires on the fake clock: the scheduler deletes it, and the same material brings the key back', async () => {
  const key = await externalKey();
  const material = randomBytes(32);
  const validTo = new Date(clock.now().getTime() + 3 * DAY);
  await importInto(key.KeyId!, 'RSAES_OAEP_SHA_256', material, { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: validTo });
  expect(await describeKey(key.KeyId!)).toMatchObject({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: validTo });
  const blob = await encrypt(key.KeyId!, 'until it expires');
  clock.advanceDays(3);
  expect((await runMaintenance(svc.deps, { atStartup: false })).imports.expired).toEqual([key.KeyId]);
  expect(await describeKey(key.KeyId!)).toMatchObject({ KeyState: 'PendingImport', Enabled: false });
  expect(await rejection(encrypt(key.KeyId!, 'x'))).toBeInstanceOf(KMSInvalidStateException);
  await importInto(key.KeyId!, 'RSA_AES_KEY_WRAP_SHA_256', material);
  expect(await decrypt(blob)).toBe('until it expires');
});

it('errors as the SDK surfaces them: expired and spent import tokens, material that does not unwrap, expiration rules, AWS_KMS keys', async () => {
  const key = await externalKey();
  const material = randomBytes(32);
  const { params, encrypted } = await wrapped(key.KeyId!, 'RSAES_OAEP_SHA_1', material);
  const send = (EncryptedKeyMaterial: Uint8Array, ImportToken = params.ImportToken) =>
    kms.send(new ImportKeyMaterialCommand({ KeyId: key.KeyId, ImportToken, EncryptedKeyMaterial, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));

  const missingValidTo = await rejection(kms.send(new ImportKeyMaterialCommand({ KeyId: key.KeyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: encrypted, ExpirationModel: 'KEY_MATERIAL_EXPIRES' })));
  expect(missingValidTo.name).toBe('ValidationException');
  expect(missingValidTo.message).toBe('A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES');
  const damaged = Buffer.from(encrypted);
  damaged[17]! ^= 4;
  const bad = await rejection(send(damaged));
  expect(bad).toBeInstanceOf(InvalidCiphertextException);
  expect(bad.$metadata?.httpStatusCode).toBe(400);
  expect((await send(encrypted)).KeyId).toBe(key.KeyId);
  expect(await rejection(send(encrypted))).toBeInstanceOf(InvalidImportTokenException);

  const later = await wrapped(key.KeyId!, 'RSAES_OAEP_SHA_1', material);
  clock.advance(DAY);
  const expired = await rejection(send(later.encrypted, later.params.ImportToken));
  expect(expired).toBeInstanceOf(ExpiredImportTokenException);
  expect(expired.$metadata?.httpStatusCode).toBe(400);

  const plain = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
  const notExternal = await rejection(kms.send(new GetParametersForImportCommand({ KeyId: plain.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_4096' })));
  expect(notExternal).toBeInstanceOf(UnsupportedOperationException);
  expect(notExternal.message).toBe(`${plain.Arn} origin is AWS_KMS which is not valid for this operation.`);
});

it('HMAC and ECC material import too: GenerateMac matches node:crypto, GetPublicKey is the original key, Sign verifies', async () => {
  const hmacKey = await externalKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
  const secret = randomBytes(32);
  await importInto(hmacKey.KeyId!, 'RSAES_OAEP_SHA_256', secret);
  const mac = await kms.send(new GenerateMacCommand({ KeyId: hmacKey.KeyId, Message: Buffer.from('mac me'), MacAlgorithm: 'HMAC_SHA_256' }));
  expect(Buffer.from(mac.Mac!).equals(createHmac('sha256', secret).update('mac me').digest())).toBe(true);

  const eccKey = await externalKey({ KeySpec: 'ECC_NIST_P384', KeyUsage: 'SIGN_VERIFY' });
  const pair = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  await importInto(eccKey.KeyId!, 'RSA_AES_KEY_WRAP_SHA_256', pair.privateKey.export({ type: 'pkcs8', format: 'der' }));
  const publicKey = await kms.send(new GetPublicKeyCommand({ KeyId: eccKey.KeyId }));
  expect(Buffer.from(publicKey.PublicKey!).equals(pair.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
  const signed = await kms.send(new SignCommand({ KeyId: eccKey.KeyId, Message: Buffer.from('sign me'), SigningAlgorithm: 'ECDSA_SHA_384' }));
  const verifyKey = createPublicKey({ key: Buffer.from(publicKey.PublicKey!), format: 'der', type: 'spki' });
  expect(nodeVerify('sha384', Buffer.from('sign me'), verifyKey, Buffer.from(signed.Signature!))).toBe(true);
});
