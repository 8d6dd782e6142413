// Imported key material (BYOK) through the HTTP API on a real token (SoftHSM) and the embedded
// store, with a clock the tests move: CreateKey Origin=EXTERNAL, GetParametersForImport,
// ImportKeyMaterial with every wrapping algorithm (material wrapped offline by node:crypto),
// DeleteImportedKeyMaterial and re-import, expiry by the scheduler (also across a restart),
// import tokens, crash safety, and custody of the imported objects checked with raw PKCS#11.
import { createHmac, createPublicKey, generateKeyPairSync, randomBytes, verify as nodeVerify, constants, publicEncrypt } from 'node:crypto';
import * as pkcs11js from 'pkcs11js';
import { SOFTHSM_MODULE } from '../../src/config';
import type { KeyRecord, KeyScope } from '../../src/core/model';
import { runMaintenance } from '../../src/core/jobs/maintenance';
import { importKeyMaterial } from '../../src/core/import/key-import';
import { runImportUpkeep } from '../../src/core/import/upkeep';
import { FakeClock } from '../support/clock';
import { wrapKeyMaterial, wrappingAlgorithmNames, type WrappingAlgorithmName } from '../support/import-wrap';
import { kmsCall } from '../support/signed';
import { ACCOUNT, REGION, startTestService, type TestService } from '../support/service';
import { inspectObjectsById } from '../support/softhsm';

const DAY = 24 * 60 * 60 * 1000;
const scope: KeyScope = { accountId: ACCOUNT, region: REGION };
const b64 = (b: Buffer) => b.toString('base64');

let clock: FakeClock;
let svc: TestService;
let lib: pkcs11js.PKCS11;
beforeAll(async () => {
  clock = new FakeClock(new Date('2026-05-01T12:00:00Z'));
  svc = await startTestService({ clock });
  lib = new pkcs11js.PKCS11();
  lib.load(SOFTHSM_MODULE);
});
afterAll(async () => { await svc.close(); });
afterEach(() => { jest.restoreAllMocks(); });

interface Meta { KeyId: string; Arn: string; [field: string]: unknown }

async function createExternalKey(params: Record<string, unknown> = {}, app = svc.app): Promise<Meta> {
  const res = await kmsCall(app, 'CreateKey', { Origin: 'EXTERNAL', ...params });
  expect(res.status).toBe(200);
  return res.body.KeyMetadata as Meta;
}
const describe_ = async (keyId: string, app = svc.app) => (await kmsCall(app, 'DescribeKey', { KeyId: keyId })).body.KeyMetadata as Meta;
const stored = async (keyId: string) => (await svc.store.keys.get(scope, keyId))!;

interface Parameters { token: string; publicKey: Buffer; validTo: number; body: Record<string, unknown> }
async function parameters(keyId: string, algorithm: WrappingAlgorithmName = 'RSAES_OAEP_SHA_256', spec = 'RSA_2048', app = svc.app): Promise<Parameters> {
  const res = await kmsCall(app, 'GetParametersForImport', { KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: spec });
  expect({ status: res.status, type: res.body.__type }).toEqual({ status: 200, type: undefined });
  return { token: res.body.ImportToken as string, publicKey: Buffer.from(res.body.PublicKey as string, 'base64'), validTo: res.body.ParametersValidTo as number, body: res.body };
}

async function importMaterial(
  keyId: string, material: Buffer, options: { algorithm?: WrappingAlgorithmName; extra?: Record<string, unknown>; params?: Parameters; app?: typeof svc.app } = {},
) {
  const algorithm = options.algorithm ?? 'RSAES_OAEP_SHA_256';
  const app = options.app ?? svc.app;
  const params = options.params ?? await parameters(keyId, algorithm, 'RSA_2048', app);
  return kmsCall(app, 'ImportKeyMaterial', {
    KeyId: keyId, ImportToken: params.token, EncryptedKeyMaterial: b64(wrapKeyMaterial(params.publicKey, algorithm, material)),
    ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ...options.extra,
  });
}

async function encrypt(keyId: string, text = 'imported', app = svc.app) {
  return kmsCall(app, 'Encrypt', { KeyId: keyId, Plaintext: b64(Buffer.from(text)) });
}
async function decrypt(blob: string, app = svc.app) {
  return kmsCall(app, 'Decrypt', { CiphertextBlob: blob });
}
const pendingImport = (arn: string) => ({ __type: 'KMSInvalidStateException', message: `${arn} is pending import.` });

/** Every token object the key's record names exists; nothing else the test saw does. */
async function tokenHas(objectId: string): Promise<boolean> {
  return svc.defaultStore.keyObjects.hasKey(objectId);
}

describe('CreateKey with Origin EXTERNAL', () => {
  it('makes a key without material, PendingImport and not Enabled, as AWS records it', async () => {
    const meta = await createExternalKey({ Description: 'byok' });
    expect(meta).toMatchObject({
      Enabled: false, KeyState: 'PendingImport', Origin: 'EXTERNAL', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'], KeyManager: 'CUSTOMER', MultiRegion: false, Description: 'byok',
    });
    expect(meta).not.toHaveProperty('CurrentKeyMaterialId');
    expect(meta).not.toHaveProperty('ExpirationModel');
    expect(await describe_(meta.KeyId)).toEqual(meta);
    expect((await stored(meta.KeyId)).versions).toEqual([]);
    // Recorded: Encrypt before the import.
    expect((await encrypt(meta.KeyId)).body).toEqual(pendingImport(meta.Arn));
  });

  it('takes every spec a token holds, with the usual KeyUsage rules', async () => {
    for (const [KeySpec, KeyUsage] of [['HMAC_224', 'GENERATE_VERIFY_MAC'], ['ECC_NIST_P256', 'SIGN_VERIFY'], ['RSA_4096', 'ENCRYPT_DECRYPT'], ['ECC_NIST_P384', 'KEY_AGREEMENT']]) {
      expect(await createExternalKey({ KeySpec, KeyUsage })).toMatchObject({ KeySpec, KeyUsage, KeyState: 'PendingImport', Enabled: false });
    }
    expect((await kmsCall(svc.app, 'CreateKey', { Origin: 'EXTERNAL', KeySpec: 'HMAC_256' })).body.__type).toBe('ValidationException');
    // AWS_CLOUDHSM needs the CloudHSM key store to create the key in.
    expect((await kmsCall(svc.app, 'CreateKey', { Origin: 'AWS_CLOUDHSM' })).body.__type).toBe('ValidationException');
  });

  it('an EXTERNAL key does not rotate: the rotation operations answer as AWS does for imported material', async () => {
    const meta = await createExternalKey();
    expect((await kmsCall(svc.app, 'EnableKeyRotation', { KeyId: meta.KeyId })).body).toEqual({
      __type: 'UnsupportedOperationException', message: `${meta.Arn} origin is EXTERNAL which is not valid for this operation.`,
    });
  });
});

describe('GetParametersForImport', () => {
  it('answers with the key ARN, an import token, the wrapping public key (DER SPKI, RSA of the spec) and ParametersValidTo 24 hours ahead', async () => {
    const meta = await createExternalKey();
    for (const spec of ['RSA_2048', 'RSA_3072']) {
      const p = await parameters(meta.KeyId, 'RSA_AES_KEY_WRAP_SHA_256', spec);
      expect(Object.keys(p.body).sort()).toEqual(['ImportToken', 'KeyId', 'ParametersValidTo', 'PublicKey']);
      expect(p.body.KeyId).toBe(meta.Arn);
      expect(p.validTo).toBe((clock.now().getTime() + DAY) / 1000);
      const key = createPublicKey({ key: p.publicKey, format: 'der', type: 'spki' });
      expect({ type: key.asymmetricKeyType, bits: key.asymmetricKeyDetails?.modulusLength }).toEqual({ type: 'rsa', bits: Number(spec.slice(4)) });
    }
    // Each call has its own wrapping key pair.
    const [a, b] = [await parameters(meta.KeyId), await parameters(meta.KeyId)];
    expect(a.publicKey.equals(b.publicKey)).toBe(false);
    expect(a.token).not.toBe(b.token);
  });

  it('an RSA_4096 wrapping key pair works too', async () => {
    const meta = await createExternalKey();
    const material = randomBytes(32);
    const p = await parameters(meta.KeyId, 'RSAES_OAEP_SHA_1', 'RSA_4096');
    expect(createPublicKey({ key: p.publicKey, format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength).toBe(4096);
    expect((await importMaterial(meta.KeyId, material, { algorithm: 'RSAES_OAEP_SHA_1', params: p })).status).toBe(200);
  }, 60_000);

  it('only keys of origin EXTERNAL take part in key import.', async () => {
    const plain = (await kmsCall(svc.app, 'CreateKey', {})).body.KeyMetadata as Meta;
    const expected = { __type: 'UnsupportedOperationException', message: `${plain.Arn} origin is AWS_KMS which is not valid for this operation.` };
    expect((await kmsCall(svc.app, 'GetParametersForImport', { KeyId: plain.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' })).body).toEqual(expected);
    expect((await kmsCall(svc.app, 'DeleteImportedKeyMaterial', { KeyId: plain.Arn })).body).toEqual(expected);
    const external = await createExternalKey();
    const p = await parameters(external.KeyId);
    expect((await kmsCall(svc.app, 'ImportKeyMaterial', {
      KeyId: plain.KeyId, ImportToken: p.token, EncryptedKeyMaterial: b64(randomBytes(256)), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    })).body).toEqual(expected);
    // Footnote 9: the origin decides before the state does.
    await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: plain.KeyId, PendingWindowInDays: 7 });
    expect((await kmsCall(svc.app, 'GetParametersForImport', { KeyId: plain.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' })).body).toEqual(expected);
  });

  it('import parameters are issued only for the wrapping algorithms and RSA key specs AWS still offers.', async () => {
    const meta = await createExternalKey();
    const call = (WrappingAlgorithm: string, WrappingKeySpec: string) => kmsCall(svc.app, 'GetParametersForImport', { KeyId: meta.KeyId, WrappingAlgorithm, WrappingKeySpec });
    for (const [algorithm, spec] of [['RSAES_PKCS1_V1_5', 'RSA_2048'], ['SM2PKE', 'SM2'], ['RSAES_OAEP_SHA_256', 'SM2']] as const) {
      expect((await call(algorithm, spec)).body.__type).toBe('UnsupportedOperationException');
    }
    expect((await call('RSAES_OAEP_SHA_512', 'RSA_2048')).body).toEqual({
      __type: 'ValidationException',
      message: "1 validation error detected: Value 'RSAES_OAEP_SHA_512' at 'wrappingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256, SM2PKE]",
    });
    expect((await kmsCall(svc.app, 'GetParametersForImport', { KeyId: meta.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1' })).body.message)
      .toBe("1 validation error detected: Value null at 'wrappingKeySpec' failed to satisfy constraint: Member must not be null");
    // Key ids and key ARNs only.
    await kmsCall(svc.app, 'CreateAlias', { AliasName: 'alias/byok', TargetKeyId: meta.KeyId });
    expect((await call('RSAES_OAEP_SHA_1', 'RSA_2048')).status).toBe(200);
    expect((await kmsCall(svc.app, 'GetParametersForImport', { KeyId: 'alias/byok', WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' })).body.__type).toBe('NotFoundException');
  });

  it('a key holds at most 10 unused, unexpired import tokens.', async () => {
    const meta = await createExternalKey();
    for (let i = 0; i < 10; i++) await parameters(meta.KeyId, 'RSAES_OAEP_SHA_1');
    const refused = await kmsCall(svc.app, 'GetParametersForImport', { KeyId: meta.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' });
    expect(refused.body.__type).toBe('LimitExceededException');
    // Expired ones no longer count, and upkeep destroys their wrapping keys.
    const wrappingIds = (await stored(meta.KeyId)).imported!.parameters.map((p) => p.id);
    clock.advance(DAY);
    expect((await kmsCall(svc.app, 'GetParametersForImport', { KeyId: meta.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' })).status).toBe(200);
    await runImportUpkeep(svc.deps);
    for (const id of wrappingIds) expect(await tokenHas(id)).toBe(false);
    expect((await stored(meta.KeyId)).imported!.parameters).toHaveLength(1);
    expect((await stored(meta.KeyId)).imported!.retiredObjects).toEqual([]);
  }, 60_000);
});

describe('ImportKeyMaterial', () => {
  for (const algorithm of wrappingAlgorithmNames) {
    it(`${algorithm}: symmetric material wrapped offline by node:crypto imports; the key is Enabled and encrypts and decrypts`, async () => {
      const meta = await createExternalKey();
      const material = randomBytes(32);
      const res = await importMaterial(meta.KeyId, material, { algorithm });
      expect(res.status).toBe(200);
      const keyMaterialId = (await stored(meta.KeyId)).currentVersionId;
      // Recorded: the key id (not the ARN) and the KeyMaterialId.
      expect(res.body).toEqual({ KeyId: meta.KeyId, KeyMaterialId: keyMaterialId });
      const after = await describe_(meta.KeyId);
      expect(after).toMatchObject({ Enabled: true, KeyState: 'Enabled', Origin: 'EXTERNAL', ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', CurrentKeyMaterialId: keyMaterialId });
      expect(after).not.toHaveProperty('ValidTo');
      const blob = (await encrypt(meta.KeyId, algorithm)).body.CiphertextBlob as string;
      expect(Buffer.from((await decrypt(blob)).body.Plaintext as string, 'base64').toString()).toBe(algorithm);
      const dataKey = await kmsCall(svc.app, 'GenerateDataKey', { KeyId: meta.KeyId, KeySpec: 'AES_256' });
      expect(Buffer.from((await decrypt(dataKey.body.CiphertextBlob as string)).body.Plaintext as string, 'base64').equals(Buffer.from(dataKey.body.Plaintext as string, 'base64'))).toBe(true);
    });
  }

  it('imported material on every path is a token object, sensitive and non-extractable, whose value cannot be read (raw PKCS#11)', async () => {
    for (const algorithm of wrappingAlgorithmNames) {
      const meta = await createExternalKey();
      await importMaterial(meta.KeyId, randomBytes(32), { algorithm });
      const version = (await stored(meta.KeyId)).versions[0]!;
      expect(version).toMatchObject({ status: 'ACTIVE', backing: { kind: 'pkcs11', tokenId: 'default' } });
      const objectId = version.backing.kind === 'pkcs11' ? version.backing.objectId : '';
      const objects = inspectObjectsById(lib, svc.token, objectId);
      expect({ algorithm, objects }).toEqual({ algorithm, objects: [{ sensitive: true, extractable: false, token: true, valueReadError: 'CKR_ATTRIBUTE_SENSITIVE' }] });
      // The wrapping key pair is gone once the import is done.
      const spent = JSON.stringify(await stored(meta.KeyId));
      expect(spent).not.toMatch(/"(value|material|keyBytes|secret|plaintext)"/i);
      expect((await stored(meta.KeyId)).imported).toMatchObject({ parameters: [], retiredObjects: [] });
    }
  });

  it('imported material expires at most 365 days ahead, and only with KEY_MATERIAL_EXPIRES.', async () => {
    const meta = await createExternalKey();
    const p = await parameters(meta.KeyId);
    const encrypted = b64(wrapKeyMaterial(p.publicKey, 'RSAES_OAEP_SHA_256', randomBytes(32)));
    const call = (extra: Record<string, unknown>) => kmsCall(svc.app, 'ImportKeyMaterial', { KeyId: meta.KeyId, ImportToken: p.token, EncryptedKeyMaterial: encrypted, ...extra });
    const now = clock.now().getTime() / 1000;
    // Recorded, with the model given or left to its default.
    const recorded = { __type: 'ValidationException', message: 'A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES' };
    expect((await call({ ExpirationModel: 'KEY_MATERIAL_EXPIRES' })).body).toEqual(recorded);
    expect((await call({})).body).toEqual(recorded);
    expect((await call({ ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ValidTo: now + 60 })).body.__type).toBe('ValidationException');
    expect((await call({ ValidTo: now - 1 })).body.__type).toBe('ValidationException');
    expect((await call({ ValidTo: now })).body.__type).toBe('ValidationException');
    expect((await call({ ValidTo: now + 365 * 86400 + 1 })).body.__type).toBe('ValidationException');
    expect((await call({ ValidTo: 'tomorrow' })).body).toEqual({ __type: 'SerializationException', message: "STRING_VALUE can not be converted to Timestamp at 'validTo'" });
    // The token survived every refusal; 365 days exactly is allowed.
    const ok = await call({ ValidTo: now + 365 * 86400 });
    expect(ok.status).toBe(200);
    expect(await describe_(meta.KeyId)).toMatchObject({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: now + 365 * 86400, KeyState: 'Enabled' });
  });

  it('an import token is accepted only for the key it was issued for, and only once.', async () => {
    const a = await createExternalKey();
    const b = await createExternalKey();
    const material = randomBytes(32);
    const p = await parameters(a.KeyId);
    const encrypted = b64(wrapKeyMaterial(p.publicKey, 'RSAES_OAEP_SHA_256', material));
    const call = (keyId: string, token: string) => kmsCall(svc.app, 'ImportKeyMaterial', {
      KeyId: keyId, ImportToken: token, EncryptedKeyMaterial: encrypted, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    });
    const onB = await call(b.KeyId, p.token);
    expect(onB.body.__type).toBe('InvalidImportTokenException');
    expect(onB.body.message).toContain(b.Arn);
    const tampered = Buffer.from(p.token, 'base64');
    tampered[tampered.length - 1]! ^= 1;
    for (const token of [b64(tampered), b64(randomBytes(82)), b64(Buffer.from('not a token'))]) {
      expect((await call(a.KeyId, token)).body.__type).toBe('InvalidImportTokenException');
    }
    expect((await call(a.KeyId, p.token)).status).toBe(200);
    expect((await call(a.KeyId, p.token)).body.__type).toBe('InvalidImportTokenException');
  });

  it('an expired import token is refused with ExpiredImportTokenException.', async () => {
    const meta = await createExternalKey();
    const p = await parameters(meta.KeyId);
    const wrappingId = (await stored(meta.KeyId)).imported!.parameters[0]!.id;
    clock.advance(DAY - 1);
    // Not yet: one millisecond before ParametersValidTo.
    const encrypted = b64(wrapKeyMaterial(p.publicKey, 'RSAES_OAEP_SHA_256', randomBytes(32)));
    const call = () => kmsCall(svc.app, 'ImportKeyMaterial', { KeyId: meta.KeyId, ImportToken: p.token, EncryptedKeyMaterial: encrypted, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
    clock.advance(1);
    const res = await call();
    expect(res.body.__type).toBe('ExpiredImportTokenException');
    expect(res.status).toBe(400);
    // The scheduler destroys the expired wrapping key; the token is then simply unknown.
    expect(await tokenHas(wrappingId)).toBe(true);
    await runMaintenance(svc.deps, { atStartup: false });
    expect(await tokenHas(wrappingId)).toBe(false);
    expect((await call()).body.__type).toBe('InvalidImportTokenException');
  });

  it('material that does not unwrap is InvalidCiphertextException; the import token stays usable', async () => {
    const meta = await createExternalKey();
    const p = await parameters(meta.KeyId, 'RSA_AES_KEY_WRAP_SHA_1');
    const good = wrapKeyMaterial(p.publicKey, 'RSA_AES_KEY_WRAP_SHA_1', randomBytes(32));
    const damaged = Buffer.from(good);
    damaged[good.length - 3]! ^= 0x10;
    const wrongHash = wrapKeyMaterial(p.publicKey, 'RSA_AES_KEY_WRAP_SHA_256', randomBytes(32));
    const otherKey = wrapKeyMaterial(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey, 'RSA_AES_KEY_WRAP_SHA_1', randomBytes(32));
    for (const bad of [damaged, wrongHash, otherKey, good.subarray(0, 200)]) {
      const res = await kmsCall(svc.app, 'ImportKeyMaterial', { KeyId: meta.KeyId, ImportToken: p.token, EncryptedKeyMaterial: b64(bad), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
      expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: { __type: 'InvalidCiphertextException', message: '' } });
    }
    const key = await stored(meta.KeyId);
    expect({ state: key.state, versions: key.versions, retired: key.imported!.retiredObjects }).toEqual({ state: 'PendingImport', versions: [], retired: [] });
    const ok = await kmsCall(svc.app, 'ImportKeyMaterial', { KeyId: meta.KeyId, ImportToken: p.token, EncryptedKeyMaterial: b64(good), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
    expect(ok.status).toBe(200);
  });

  it('material of the wrong length is IncorrectKeyMaterialException', async () => {
    const meta = await createExternalKey();
    for (const [algorithm, length] of [['RSAES_OAEP_SHA_256', 16], ['RSA_AES_KEY_WRAP_SHA_1', 24], ['RSA_AES_KEY_WRAP_SHA_1', 30], ['RSAES_OAEP_SHA_1', 64]] as const) {
      const res = await importMaterial(meta.KeyId, randomBytes(length), { algorithm });
      expect({ algorithm, length, body: res.body }).toEqual({
        algorithm, length, body: { __type: 'IncorrectKeyMaterialException', message: 'Imported key material for key spec SYMMETRIC_DEFAULT must be 32 bytes (256 bits) long.' },
      });
    }
    expect((await stored(meta.KeyId)).state).toBe('PendingImport');
  });

  it('only the same key material is ever imported into a key again.', async () => {
    const meta = await createExternalKey();
    const material = randomBytes(32);
    expect((await importMaterial(meta.KeyId, material)).status).toBe(200);
    const differentWhilePresent = await importMaterial(meta.KeyId, randomBytes(32), { algorithm: 'RSA_AES_KEY_WRAP_SHA_1' });
    expect(differentWhilePresent.body).toEqual({
      __type: 'IncorrectKeyMaterialException',
      message: `The key material does not match the key material that was previously imported into ${meta.Arn}. Only the same key material can be imported again.`,
    });
    await kmsCall(svc.app, 'DeleteImportedKeyMaterial', { KeyId: meta.KeyId });
    const objectsBefore = (await stored(meta.KeyId)).imported!.retiredObjects.length;
    const differentAfterDeletion = await importMaterial(meta.KeyId, randomBytes(32), { algorithm: 'RSAES_OAEP_SHA_1' });
    expect(differentAfterDeletion.body.__type).toBe('IncorrectKeyMaterialException');
    const key = await stored(meta.KeyId);
    expect({ state: key.state, versions: key.versions, retired: key.imported!.retiredObjects.length }).toEqual({ state: 'PendingImport', versions: [], retired: objectsBefore });
    expect((await importMaterial(meta.KeyId, material, { algorithm: 'RSA_AES_KEY_WRAP_SHA_256' })).status).toBe(200);
  });

  it('re-importing the same material while the key has it changes only the expiration, and keeps the token object', async () => {
    const meta = await createExternalKey();
    const material = randomBytes(32);
    await importMaterial(meta.KeyId, material);
    const before = await stored(meta.KeyId);
    const validTo = clock.now().getTime() / 1000 + 30 * 86400;
    const again = await importMaterial(meta.KeyId, material, { algorithm: 'RSA_AES_KEY_WRAP_SHA_1', extra: { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: validTo } });
    expect(again.body).toEqual({ KeyId: meta.KeyId, KeyMaterialId: before.currentVersionId });
    const after = await stored(meta.KeyId);
    expect(after.versions).toEqual(before.versions);
    expect(await describe_(meta.KeyId)).toMatchObject({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: validTo, KeyState: 'Enabled' });
    await importMaterial(meta.KeyId, material);
    expect(await describe_(meta.KeyId)).not.toHaveProperty('ValidTo');
  });

  it('ImportType and KeyMaterialId must fit the key material the key already has.', async () => {
    const meta = await createExternalKey();
    const material = randomBytes(32);
    const other = 'f'.repeat(64);
    expect((await importMaterial(meta.KeyId, material, { extra: { ImportType: 'EXISTING_KEY_MATERIAL' } })).body.__type).toBe('IncorrectKeyMaterialException');
    expect((await importMaterial(meta.KeyId, material, { extra: { ImportType: 'NEW_KEY_MATERIAL', KeyMaterialId: other } })).body.__type).toBe('ValidationException');
    expect((await importMaterial(meta.KeyId, material, { extra: { KeyMaterialId: other } })).body.__type).toBe('IncorrectKeyMaterialException');
    const first = await importMaterial(meta.KeyId, material, { extra: { ImportType: 'NEW_KEY_MATERIAL', KeyMaterialDescription: 'first' } });
    expect(first.status).toBe(200);
    const id = first.body.KeyMaterialId as string;
    expect((await importMaterial(meta.KeyId, material, { extra: { ImportType: 'NEW_KEY_MATERIAL' } })).body.__type).toBe('UnsupportedOperationException');
    expect((await importMaterial(meta.KeyId, material, { extra: { KeyMaterialId: other } })).body.__type).toBe('IncorrectKeyMaterialException');
    expect((await importMaterial(meta.KeyId, material, { extra: { ImportType: 'EXISTING_KEY_MATERIAL', KeyMaterialId: id } })).body).toEqual({ KeyId: meta.KeyId, KeyMaterialId: id });
  });

  it('one import of key material into a key at a time.', async () => {
    const meta = await createExternalKey();
    const material = randomBytes(32);
    const [p1, p2] = [await parameters(meta.KeyId), await parameters(meta.KeyId)];
    const results = await Promise.all([
      importMaterial(meta.KeyId, material, { params: p1 }), importMaterial(meta.KeyId, material, { params: p1 }), importMaterial(meta.KeyId, material, { params: p2 }),
    ]);
    const outcomes = results.map((r) => r.body.__type ?? 'ok').sort();
    // One wins; the same token again is spent; the other token proves the same material or meets the import in progress.
    expect(outcomes.filter((o) => o === 'ok').length).toBeGreaterThanOrEqual(1);
    for (const o of outcomes) expect(['ok', 'InvalidImportTokenException', 'KMSInvalidStateException']).toContain(o);
    expect(results.filter((r, i) => i < 2 && r.status === 200)).toHaveLength(1);
    const key = await stored(meta.KeyId);
    expect(key.versions.map((v) => v.status)).toEqual(['ACTIVE']);
    expect(key.state).toBe('Enabled');
  });

  it('a store failure mid-import leaves no token object unnamed and no PENDING version, and releases the import token', async () => {
    const meta = await createExternalKey();
    const material = randomBytes(32);
    const token = svc.defaultStore;
    const made: string[] = [];
    const realImport = token.keyImport.importKeyMaterial.bind(token.keyImport);
    jest.spyOn(token.keyImport, 'importKeyMaterial').mockImplementation(async (request) => {
      if (request.target) made.push(request.target.objectId);
      return realImport(request);
    });
    // The activation write fails (after the object exists): the import is undone.
    const realReplace = svc.store.keys.replace.bind(svc.store.keys);
    let calls = 0;
    jest.spyOn(svc.store.keys, 'replace').mockImplementation(async (key: KeyRecord) => {
      calls++;
      if (calls === 2) throw new Error('injected store failure');
      return realReplace(key);
    });
    const p = await parameters(meta.KeyId);
    calls = 0;
    const failed = await importMaterial(meta.KeyId, material, { params: p });
    expect(failed.body.__type).toBe('KMSInternalException');
    jest.spyOn(svc.store.keys, 'replace').mockRestore();
    expect(made).toHaveLength(1);
    expect(await tokenHas(made[0]!)).toBe(false);
    let key = await stored(meta.KeyId);
    expect({ state: key.state, versions: key.versions, retired: key.imported!.retiredObjects }).toEqual({ state: 'PendingImport', versions: [], retired: [] });
    // The token was released, and works now.
    expect((await importMaterial(meta.KeyId, material, { params: p })).status).toBe(200);
    key = await stored(meta.KeyId);
    expect(key.versions).toHaveLength(1);
    expect(await tokenHas(made[1]!)).toBe(true);
  });

  it('a process that dies mid-import leaves work that maintenance finishes: the PENDING version and its object go, the claimed wrapping key too', async () => {
    const meta = await createExternalKey();
    const p = await parameters(meta.KeyId);
    const token = svc.defaultStore;
    // The import stops for good once the token object exists.
    let objectId = '';
    const realImport = token.keyImport.importKeyMaterial.bind(token.keyImport);
    jest.spyOn(token.keyImport, 'importKeyMaterial').mockImplementation(async (request) => {
      await realImport(request);
      objectId = request.target!.objectId;
      return new Promise(() => undefined);
    });
    // Straight into core: an HTTP request left hanging would keep a socket open.
    const key0 = await stored(meta.KeyId);
    void importKeyMaterial(svc.deps, { key: key0, arn: meta.Arn, state: key0.state }, {
      importToken: Buffer.from(p.token, 'base64'), encryptedMaterial: wrapKeyMaterial(p.publicKey, 'RSAES_OAEP_SHA_256', randomBytes(32)), expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    jest.restoreAllMocks();
    const key = await stored(meta.KeyId);
    expect(key.versions.map((v) => v.status)).toEqual(['PENDING']);
    const wrappingId = key.imported!.parameters[0]!.id;
    expect(await tokenHas(objectId)).toBe(true);
    clock.advance(10 * 60 * 1000);
    await runMaintenance(svc.deps, { atStartup: false });
    const after = await stored(meta.KeyId);
    expect({ versions: after.versions, parameters: after.imported!.parameters, retired: after.imported!.retiredObjects, state: after.state }).toEqual({ versions: [], parameters: [], retired: [], state: 'PendingImport' });
    expect(await tokenHas(objectId)).toBe(false);
    expect(await tokenHas(wrappingId)).toBe(false);
    expect((await importMaterial(meta.KeyId, randomBytes(32))).status).toBe(200);
  });
});

describe('DeleteImportedKeyMaterial', () => {
  it('destroys the token object and returns the key to PendingImport; ciphertexts decrypt again once the same material is re-imported', async () => {
    const meta = await createExternalKey();
    const material = randomBytes(32);
    await importMaterial(meta.KeyId, material, { algorithm: 'RSAES_OAEP_SHA_1' });
    const imported = await stored(meta.KeyId);
    const keyMaterialId = imported.currentVersionId!;
    const objectId = imported.versions[0]!.backing.kind === 'pkcs11' ? imported.versions[0]!.backing.objectId : '';
    const blob = (await encrypt(meta.KeyId, 'kept')).body.CiphertextBlob as string;

    const res = await kmsCall(svc.app, 'DeleteImportedKeyMaterial', { KeyId: meta.Arn });
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { KeyId: meta.Arn, KeyMaterialId: keyMaterialId } });
    expect(await tokenHas(objectId)).toBe(false);
    const after = await describe_(meta.KeyId);
    // Recorded: Enabled false, PendingImport, CurrentKeyMaterialId still shown, no ExpirationModel.
    expect(after).toMatchObject({ Enabled: false, KeyState: 'PendingImport', CurrentKeyMaterialId: keyMaterialId });
    expect(after).not.toHaveProperty('ExpirationModel');
    expect((await encrypt(meta.KeyId)).body).toEqual(pendingImport(meta.Arn));
    expect((await decrypt(blob)).body).toEqual(pendingImport(meta.Arn));
    // Deleting again has no effect.
    expect((await kmsCall(svc.app, 'DeleteImportedKeyMaterial', { KeyId: meta.KeyId })).status).toBe(200);

    expect((await importMaterial(meta.KeyId, material, { algorithm: 'RSA_AES_KEY_WRAP_SHA_256' })).body).toEqual({ KeyId: meta.KeyId, KeyMaterialId: keyMaterialId });
    expect(Buffer.from((await decrypt(blob)).body.Plaintext as string, 'base64').toString()).toBe('kept');
    const reimported = await stored(meta.KeyId);
    expect(reimported.versions.map((v) => v.id)).toEqual([keyMaterialId]);
    expect(reimported.versions[0]!.backing).not.toEqual(imported.versions[0]!.backing);
  });

  it('a KeyMaterialId given to DeleteImportedKeyMaterial must be the key material of the key.', async () => {
    const meta = await createExternalKey();
    await importMaterial(meta.KeyId, randomBytes(32));
    expect((await kmsCall(svc.app, 'DeleteImportedKeyMaterial', { KeyId: meta.KeyId, KeyMaterialId: 'a'.repeat(64) })).body.__type).toBe('NotFoundException');
    expect((await describe_(meta.KeyId)).KeyState).toBe('Enabled');
    const id = (await stored(meta.KeyId)).currentVersionId;
    expect((await kmsCall(svc.app, 'DeleteImportedKeyMaterial', { KeyId: meta.KeyId, KeyMaterialId: id })).status).toBe(200);
    expect((await describe_(meta.KeyId)).KeyState).toBe('PendingImport');
  });

  it('a disabled key loses its material too and is PendingImport; a key pending deletion stays so', async () => {
    const disabled = await createExternalKey();
    await importMaterial(disabled.KeyId, randomBytes(32));
    await kmsCall(svc.app, 'DisableKey', { KeyId: disabled.KeyId });
    await kmsCall(svc.app, 'DeleteImportedKeyMaterial', { KeyId: disabled.KeyId });
    expect((await describe_(disabled.KeyId)).KeyState).toBe('PendingImport');
    const scheduled = await createExternalKey();
    await importMaterial(scheduled.KeyId, randomBytes(32));
    await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: scheduled.KeyId, PendingWindowInDays: 7 });
    expect((await kmsCall(svc.app, 'DeleteImportedKeyMaterial', { KeyId: scheduled.KeyId })).status).toBe(200);
    expect(await stored(scheduled.KeyId)).toMatchObject({ state: 'PendingDeletion', versions: [] });
  });

  it('the deletion worker destroys the material and any outstanding wrapping keys with the key', async () => {
    const meta = await createExternalKey();
    await importMaterial(meta.KeyId, randomBytes(32));
    await parameters(meta.KeyId);
    const key = await stored(meta.KeyId);
    const objects = [key.versions[0]!.backing.kind === 'pkcs11' ? key.versions[0]!.backing.objectId : '', key.imported!.parameters[0]!.id];
    // Outstanding parameters cannot be had once the key is pending deletion.
    await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: meta.KeyId, PendingWindowInDays: 7 });
    expect((await kmsCall(svc.app, 'GetParametersForImport', { KeyId: meta.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' })).body.__type).toBe('KMSInvalidStateException');
    clock.advanceDays(8);
    jest.spyOn(svc.store.keys, 'listDueForImportUpkeep').mockResolvedValue([]);
    const report = await runMaintenance(svc.deps, { atStartup: false });
    expect(report.deleted).toContain(meta.KeyId);
    for (const id of objects) expect(await tokenHas(id)).toBe(false);
  });
});

describe('expiry', () => {
  it('imported material is deleted once its ValidTo has passed.', async () => {
    const meta = await createExternalKey();
    const material = randomBytes(32);
    const validTo = clock.now().getTime() + DAY;
    await importMaterial(meta.KeyId, material, { extra: { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: validTo / 1000 } });
    const objectId = (await stored(meta.KeyId)).versions[0]!.backing;
    const blob = (await encrypt(meta.KeyId, 'expiring')).body.CiphertextBlob as string;
    clock.advance(DAY - 1);
    expect((await runMaintenance(svc.deps, { atStartup: false })).imports.expired).not.toContain(meta.KeyId);
    expect((await describe_(meta.KeyId)).KeyState).toBe('Enabled');
    clock.advance(1);
    expect((await runMaintenance(svc.deps, { atStartup: false })).imports.expired).toEqual([meta.KeyId]);
    expect(await describe_(meta.KeyId)).toMatchObject({ KeyState: 'PendingImport', Enabled: false });
    expect(await tokenHas(objectId.kind === 'pkcs11' ? objectId.objectId : '')).toBe(false);
    expect((await decrypt(blob)).body).toEqual(pendingImport(meta.Arn));
    // The same material brings the ciphertexts back.
    await importMaterial(meta.KeyId, material);
    expect(Buffer.from((await decrypt(blob)).body.Plaintext as string, 'base64').toString()).toBe('expiring');
  });

  it('expiry due while the service was down happens at the next start', async () => {
    const restartClock = new FakeClock(new Date('2026-06-01T00:00:00Z'));
    const first = await startTestService({ clock: restartClock });
    const meta = await createExternalKey({}, first.app);
    const material = randomBytes(32);
    await importMaterial(meta.KeyId, material, { app: first.app, extra: { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: (restartClock.now().getTime() + 2 * DAY) / 1000 } });
    const blob = (await encrypt(meta.KeyId, 'across a restart', first.app)).body.CiphertextBlob as string;
    await first.close({ keepData: true });

    restartClock.advanceDays(3);
    const second = await startTestService({ clock: restartClock, restartOf: { token: first.token, dir: first.dir } });
    try {
      const report = await runMaintenance(second.deps, { atStartup: true });
      expect(report.imports.expired).toEqual([meta.KeyId]);
      expect((await describe_(meta.KeyId, second.app)).KeyState).toBe('PendingImport');
      expect((await decrypt(blob, second.app)).body.__type).toBe('KMSInvalidStateException');
      await importMaterial(meta.KeyId, material, { app: second.app, algorithm: 'RSA_AES_KEY_WRAP_SHA_1' });
      expect(Buffer.from((await decrypt(blob, second.app)).body.Plaintext as string, 'base64').toString()).toBe('across a restart');
    } finally {
      await second.close();
    }
  });
});

describe('HMAC and asymmetric material', () => {
  it('HMAC material imports for every spec; GenerateMac equals node:crypto HMAC with the same bytes', async () => {
    for (const [spec, bytes, hash, algorithm] of [
      ['HMAC_224', 28, 'sha224', 'RSAES_OAEP_SHA_1'], ['HMAC_256', 32, 'sha256', 'RSAES_OAEP_SHA_256'],
      ['HMAC_384', 48, 'sha384', 'RSA_AES_KEY_WRAP_SHA_1'], ['HMAC_512', 64, 'sha512', 'RSA_AES_KEY_WRAP_SHA_256'],
    ] as const) {
      const meta = await createExternalKey({ KeySpec: spec, KeyUsage: 'GENERATE_VERIFY_MAC' });
      const material = randomBytes(bytes);
      expect((await importMaterial(meta.KeyId, material, { algorithm })).status).toBe(200);
      const after = await describe_(meta.KeyId);
      expect(after).toMatchObject({ KeyState: 'Enabled', ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', MacAlgorithms: [`HMAC_SHA_${spec.slice(5)}`] });
      // AWS shows CurrentKeyMaterialId for symmetric encryption keys only.
      expect(after).not.toHaveProperty('CurrentKeyMaterialId');
      const message = b64(Buffer.from('hmac message'));
      const mac = await kmsCall(svc.app, 'GenerateMac', { KeyId: meta.KeyId, Message: message, MacAlgorithm: `HMAC_SHA_${spec.slice(5)}` });
      expect(mac.body.Mac).toBe(b64(createHmac(hash, material).update('hmac message').digest()));
      expect((await kmsCall(svc.app, 'VerifyMac', { KeyId: meta.KeyId, Message: message, MacAlgorithm: `HMAC_SHA_${spec.slice(5)}`, Mac: mac.body.Mac })).body.MacValid).toBe(true);
      expect((await importMaterial(meta.KeyId, randomBytes(bytes), { algorithm })).body.__type).toBe('IncorrectKeyMaterialException');
    }
  });

  it('an ECC signing key imports through RSA-AES key wrap: GetPublicKey gives the original public key, and node:crypto verifies Sign', async () => {
    const meta = await createExternalKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pkcs8 = pair.privateKey.export({ type: 'pkcs8', format: 'der' });
    expect((await kmsCall(svc.app, 'GetPublicKey', { KeyId: meta.KeyId })).body).toEqual(pendingImport(meta.Arn));
    expect((await importMaterial(meta.KeyId, pkcs8, { algorithm: 'RSA_AES_KEY_WRAP_SHA_256' })).status).toBe(200);
    expect(await describe_(meta.KeyId)).toMatchObject({ KeyState: 'Enabled', Enabled: true, SigningAlgorithms: ['ECDSA_SHA_256'], ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
    const publicKey = (await kmsCall(svc.app, 'GetPublicKey', { KeyId: meta.KeyId })).body.PublicKey as string;
    expect(publicKey).toBe(b64(pair.publicKey.export({ type: 'spki', format: 'der' })));
    const signature = (await kmsCall(svc.app, 'Sign', { KeyId: meta.KeyId, Message: b64(Buffer.from('signed')), SigningAlgorithm: 'ECDSA_SHA_256' })).body.Signature as string;
    expect(nodeVerify('sha256', Buffer.from('signed'), pair.publicKey, Buffer.from(signature, 'base64'))).toBe(true);
    // Another key pair's material is refused; the same one again is fine (also through OAEP).
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'der' });
    expect((await importMaterial(meta.KeyId, other, { algorithm: 'RSA_AES_KEY_WRAP_SHA_1' })).body.__type).toBe('IncorrectKeyMaterialException');
    await kmsCall(svc.app, 'DeleteImportedKeyMaterial', { KeyId: meta.KeyId });
    expect(await describe_(meta.KeyId)).toMatchObject({ KeyState: 'PendingImport', Enabled: false, SigningAlgorithms: ['ECDSA_SHA_256'] });
    expect((await importMaterial(meta.KeyId, other, { algorithm: 'RSAES_OAEP_SHA_256' })).body.__type).toBe('IncorrectKeyMaterialException');
    expect((await importMaterial(meta.KeyId, pkcs8, { algorithm: 'RSAES_OAEP_SHA_256' })).status).toBe(200);
    expect((await kmsCall(svc.app, 'GetPublicKey', { KeyId: meta.KeyId })).body.PublicKey).toBe(publicKey);
  });

  it('an RSA encryption key imports; KMS decrypts what node:crypto encrypted with the original public key', async () => {
    const meta = await createExternalKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const res = await importMaterial(meta.KeyId, pair.privateKey.export({ type: 'pkcs8', format: 'der' }), { algorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
    expect(res.status).toBe(200);
    const ciphertext = publicEncrypt({ key: pair.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from('to KMS'));
    const plain = await kmsCall(svc.app, 'Decrypt', { KeyId: meta.KeyId, CiphertextBlob: b64(ciphertext), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' });
    expect(Buffer.from(plain.body.Plaintext as string, 'base64').toString()).toBe('to KMS');
    // The material of another spec is refused.
    const meta4096 = await createExternalKey({ KeySpec: 'RSA_3072', KeyUsage: 'SIGN_VERIFY' });
    expect((await importMaterial(meta4096.KeyId, pair.privateKey.export({ type: 'pkcs8', format: 'der' }), { algorithm: 'RSA_AES_KEY_WRAP_SHA_1' })).body.__type).toBe('IncorrectKeyMaterialException');
  });
});
