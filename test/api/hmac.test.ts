// HMAC keys through the HTTP API on SoftHSM: CreateKey for each HMAC spec (a sensitive,
// non-extractable generic secret in the token), GenerateMac and VerifyMac with AWS's answers.
// The key cannot be read, so MACs are checked for length, determinism and key separation,
// and VerifyMac against every kind of tampering.
import * as pkcs11js from 'pkcs11js';
import { SOFTHSM_MODULE } from '../../src/config';
import { kmsCall } from '../support/signed';
import { ACCOUNT, REGION, startTestService, type TestService } from '../support/service';
import { inspectObjectsById } from '../support/softhsm';

let svc: TestService;
let lib: pkcs11js.PKCS11;
beforeAll(async () => {
  svc = await startTestService();
  lib = new pkcs11js.PKCS11();
  lib.load(SOFTHSM_MODULE);
});
afterAll(async () => { await svc.close(); });

const b64 = (b: Buffer | string) => (typeof b === 'string' ? Buffer.from(b) : b).toString('base64');
type Meta = Record<string, unknown> & { KeyId: string; Arn: string };
const specs = [['HMAC_224', 'HMAC_SHA_224', 28], ['HMAC_256', 'HMAC_SHA_256', 32], ['HMAC_384', 'HMAC_SHA_384', 48], ['HMAC_512', 'HMAC_SHA_512', 64]] as const;

async function hmacKey(KeySpec: string): Promise<Meta> {
  const res = await kmsCall(svc.app, 'CreateKey', { KeySpec, KeyUsage: 'GENERATE_VERIFY_MAC', Description: 'mac key' });
  expect(res.status).toBe(200);
  return res.body.KeyMetadata as Meta;
}

describe.each(specs)('%s', (spec, MacAlgorithm, macBytes) => {
  let key: Meta;
  beforeAll(async () => { key = await hmacKey(spec); });

  it('is created as AWS describes it, as a sensitive non-extractable secret in the token', async () => {
    expect(key).toMatchObject({ KeySpec: spec, CustomerMasterKeySpec: spec, KeyUsage: 'GENERATE_VERIFY_MAC', MacAlgorithms: [MacAlgorithm], KeyState: 'Enabled', Description: 'mac key' });
    for (const absent of ['EncryptionAlgorithms', 'SigningAlgorithms', 'KeyAgreementAlgorithms', 'CurrentKeyMaterialId']) expect(key).not.toHaveProperty(absent);
    const stored = await svc.store.keys.get({ accountId: ACCOUNT, region: REGION }, key.KeyId);
    expect(inspectObjectsById(lib, svc.token, stored!.versions[0]!.id)).toEqual([{ sensitive: true, extractable: false, token: true, valueReadError: 'CKR_ATTRIBUTE_SENSITIVE' }]);
  });

  it('GenerateMac and VerifyMac', async () => {
    const Message = b64('some important message');
    const generated = await kmsCall(svc.app, 'GenerateMac', { KeyId: key.KeyId, Message, MacAlgorithm });
    expect(generated.status).toBe(200);
    expect(Object.keys(generated.body).sort()).toEqual(['KeyId', 'Mac', 'MacAlgorithm']);
    expect(generated.body).toMatchObject({ KeyId: key.Arn, MacAlgorithm });
    expect(Buffer.from(generated.body.Mac, 'base64')).toHaveLength(macBytes);
    // HMAC is deterministic.
    expect((await kmsCall(svc.app, 'GenerateMac', { KeyId: key.Arn, Message, MacAlgorithm })).body.Mac).toBe(generated.body.Mac);
    const verified = await kmsCall(svc.app, 'VerifyMac', { KeyId: key.KeyId, Message, MacAlgorithm, Mac: generated.body.Mac });
    expect(verified.body).toEqual({ KeyId: key.Arn, MacValid: true, MacAlgorithm });
  });
});

describe('GenerateMac and VerifyMac errors', () => {
  it('a MAC that does not match is refused with KMSInvalidMacException.', async () => {
    const key = await hmacKey('HMAC_256');
    const other = await hmacKey('HMAC_256');
    const Message = b64('some important message');
    const mac = Buffer.from((await kmsCall(svc.app, 'GenerateMac', { KeyId: key.KeyId, Message, MacAlgorithm: 'HMAC_SHA_256' })).body.Mac, 'base64');
    const otherMac = (await kmsCall(svc.app, 'GenerateMac', { KeyId: other.KeyId, Message, MacAlgorithm: 'HMAC_SHA_256' })).body.Mac;
    expect(otherMac).not.toBe(b64(mac));
    const tampered = Buffer.from(mac);
    tampered[0] = tampered[0]! ^ 1;
    const invalid = { __type: 'KMSInvalidMacException', message: '' };
    for (const body of [
      { Message: b64('some different important message'), Mac: b64(mac) },
      { Message, Mac: b64(tampered) },
      { Message, Mac: otherMac },
      { Message, Mac: b64(mac.subarray(0, 16)) },
      { Message, Mac: b64(Buffer.concat([mac, Buffer.from([0])])) },
    ]) {
      const res = await kmsCall(svc.app, 'VerifyMac', { KeyId: key.KeyId, MacAlgorithm: 'HMAC_SHA_256', ...body });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(invalid);
    }
  });

  it('a MAC algorithm must be the one the HMAC key\'s spec names.', async () => {
    const key224 = await hmacKey('HMAC_224');
    const key256 = await hmacKey('HMAC_256');
    expect((await kmsCall(svc.app, 'GenerateMac', { KeyId: key224.KeyId, Message: b64('m'), MacAlgorithm: 'HMAC_SHA_256' })).body).toEqual({
      __type: 'InvalidKeyUsageException', message: 'Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224.',
    });
    expect((await kmsCall(svc.app, 'VerifyMac', { KeyId: key256.KeyId, Message: b64('m'), MacAlgorithm: 'HMAC_SHA_512', Mac: b64(Buffer.alloc(64)) })).body).toEqual({
      __type: 'InvalidKeyUsageException', message: 'Algorithm HMAC_SHA_512 is incompatible with key spec HMAC_256.',
    });
    for (const operation of ['GenerateMac', 'VerifyMac']) {
      const res = await kmsCall(svc.app, operation, { KeyId: key256.KeyId, Message: b64('m'), MacAlgorithm: 'INVALID', Mac: b64('x') });
      expect(res.body).toEqual({
        __type: 'ValidationException',
        message: "1 validation error detected: Value 'INVALID' at 'macAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [HMAC_SHA_384, HMAC_SHA_256, HMAC_SHA_224, HMAC_SHA_512]",
      });
    }
  });

  it('answers key usage and key id errors as AWS does', async () => {
    const symmetric = (await kmsCall(svc.app, 'CreateKey', {})).body.KeyMetadata as Meta;
    expect((await kmsCall(svc.app, 'GenerateMac', { KeyId: symmetric.KeyId, Message: b64('m'), MacAlgorithm: 'HMAC_SHA_256' })).body).toEqual({
      __type: 'InvalidKeyUsageException', message: `${symmetric.Arn} key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac.`,
    });
    const hmac = await hmacKey('HMAC_256');
    for (const [operation, body] of [['Encrypt', { Plaintext: b64('x') }], ['Sign', { Message: b64('x'), SigningAlgorithm: 'ECDSA_SHA_256' }], ['GenerateDataKey', { KeySpec: 'AES_256' }]] as const) {
      expect((await kmsCall(svc.app, operation, { KeyId: hmac.KeyId, ...body })).body).toEqual({
        __type: 'InvalidKeyUsageException', message: `${hmac.Arn} key usage is GENERATE_VERIFY_MAC which is not valid for ${operation}.`,
      });
    }
    for (const operation of ['GenerateMac', 'VerifyMac']) {
      expect((await kmsCall(svc.app, operation, { KeyId: 'key_id', Message: b64('m'), MacAlgorithm: 'HMAC_SHA_256', Mac: b64('x') })).body).toEqual({ __type: 'NotFoundException', message: "Invalid keyId 'key_id'" });
    }
  });

  it('validates message and MAC lengths, and honours DryRun without touching the token', async () => {
    const key = await hmacKey('HMAC_512');
    expect((await kmsCall(svc.app, 'GenerateMac', { KeyId: key.KeyId, Message: b64(Buffer.alloc(4097)), MacAlgorithm: 'HMAC_SHA_512' })).body.message)
      .toBe("1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length less than or equal to 4096");
    expect((await kmsCall(svc.app, 'GenerateMac', { KeyId: key.KeyId, Message: '', MacAlgorithm: 'HMAC_SHA_512' })).body.message)
      .toBe("1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length greater than or equal to 1");
    expect((await kmsCall(svc.app, 'VerifyMac', { KeyId: key.KeyId, Message: b64('m'), MacAlgorithm: 'HMAC_SHA_512', Mac: b64(Buffer.alloc(6145)) })).body.message)
      .toBe("1 validation error detected: Value at 'mac' failed to satisfy constraint: Member must have length less than or equal to 6144");
    const mac = (await kmsCall(svc.app, 'GenerateMac', { KeyId: key.KeyId, Message: b64(Buffer.alloc(4096, 1)), MacAlgorithm: 'HMAC_SHA_512' })).body.Mac;
    const spy = jest.spyOn(svc.defaultStore.hmacKeys, 'hmac');
    const verifySpy = jest.spyOn(svc.defaultStore.hmacKeys, 'verifyHmac');
    const dryRun = { __type: 'DryRunOperationException', message: 'The request would have succeeded, but the DryRun option is set.' };
    expect((await kmsCall(svc.app, 'GenerateMac', { KeyId: key.KeyId, Message: b64('m'), MacAlgorithm: 'HMAC_SHA_512', DryRun: true })).body).toEqual(dryRun);
    expect((await kmsCall(svc.app, 'VerifyMac', { KeyId: key.KeyId, Message: b64(Buffer.alloc(4096, 1)), MacAlgorithm: 'HMAC_SHA_512', Mac: mac, DryRun: true })).body).toEqual(dryRun);
    expect(spy).not.toHaveBeenCalled();
    expect(verifySpy).not.toHaveBeenCalled();
    spy.mockRestore();
    verifySpy.mockRestore();
  });
});
