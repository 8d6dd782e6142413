// Key import in core, with fakes (an in-memory store, a token on node:crypto, a clock the tests
// move): the host-side helpers (AES-KWP, PKCS #8 checks, check values), and the import flows,
// upkeep and crash leftovers.
import { createCipheriv, createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { RequestContext } from '../../src/core/api/context';
import type { CoreDeps } from '../../src/core/deps';
import { KmsError } from '../../src/core/errors';
import {
  assertSecretLength, CHECK_VALUE_BLOCK, checkValueOf, kwpPlaintextRange, readPrivateKeyMaterial, splitRsaAesKeyWrap, unwrapKwpOnHost,
} from '../../src/pkcs11/import-material';
import { IMPORT_PARAMETERS_VALID_MS } from '../../src/core/import/import-state';
import { runImportUpkeep } from '../../src/core/import/upkeep';
import { tokenObjectsOf, type KeyRecord } from '../../src/core/model';
import { FakeClock } from '../support/clock';
import { FakeToken } from '../support/fake-token';
import { kwpWrap, wrapKeyMaterial, type WrappingAlgorithmName } from '../support/import-wrap';
import { callOperation, kmsFailure, newCoreDeps, type Loose, type OperationName } from '../support/core-harness';
import { MemoryStore } from '../support/memory-store';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const scope = { accountId: ACCOUNT, region: REGION };
const root: RequestContext = { principal: { arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, policies: [] }, region: REGION, requestId: 'r' };
const DAY = 24 * 60 * 60 * 1000;

function error(fn: () => unknown): KmsError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KmsError) return e;
    throw e;
  }
  throw new Error('expected a KmsError');
}

describe('host-side helpers', () => {
  it('AES-KWP material unwrapped on the host must authenticate under the AES key of the import.', () => {
    const kek = randomBytes(32);
    const material = randomBytes(28);
    const wrapped = kwpWrap(kek, material);
    expect(wrapped).toHaveLength(40);
    expect(unwrapKwpOnHost(kek, wrapped).equals(material)).toBe(true);
    const tampered = Buffer.from(wrapped);
    tampered[20]! ^= 1;
    for (const [key, blob] of [[kek, tampered], [randomBytes(32), wrapped], [kek, wrapped.subarray(0, 32)], [kek.subarray(0, 16), wrapped]] as const) {
      const e = error(() => unwrapKwpOnHost(key, blob));
      expect({ code: e.code, message: e.message }).toEqual({ code: 'InvalidCiphertextException', message: '' });
    }
  });

  it('an imported private key must be a two-prime RSA or named-curve EC key of the spec of the KMS key, in PKCS #8.', () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const read = readPrivateKeyMaterial(p256.privateKey.export({ type: 'pkcs8', format: 'der' }), 'ECC_NIST_P256');
    const spki = p256.publicKey.export({ type: 'spki', format: 'der' });
    expect(read.publicKeySpki.equals(spki)).toBe(true);
    expect(read.checkValue).toBe(createHash('sha256').update(spki).digest().subarray(0, 16).toString('hex'));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(readPrivateKeyMaterial(rsa.export({ type: 'pkcs8', format: 'der' }), 'RSA_2048').jwk.kty).toBe('RSA');
    const refusals: [Buffer, Parameters<typeof readPrivateKeyMaterial>[1]][] = [
      [Buffer.from(threePrimeRsa2048Pkcs8, 'base64'), 'RSA_2048'],
      [p256.privateKey.export({ type: 'pkcs8', format: 'der' }), 'ECC_SECG_P256K1'],
      [rsa.export({ type: 'pkcs8', format: 'der' }), 'RSA_4096'],
      [rsa.export({ type: 'pkcs1', format: 'der' }), 'RSA_2048'],
      [generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'der' }), 'RSA_2048'],
      [generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' }), 'ECC_NIST_P256'],
      [Buffer.alloc(0), 'ECC_NIST_P256'],
    ];
    for (const [pkcs8, spec] of refusals) {
      const e = error(() => readPrivateKeyMaterial(pkcs8, spec));
      expect({ spec, code: e.code }).toEqual({ spec, code: 'IncorrectKeyMaterialException' });
      expect(e.message).toMatch(new RegExp(`^Imported key material for key spec ${spec} must be a (two-prime RSA|named-curve EC) private key`));
    }
    // The three-prime key parses; only the check that p·q = n refuses it.
    expect(error(() => readPrivateKeyMaterial(Buffer.from(threePrimeRsa2048Pkcs8, 'base64'), 'RSA_2048')).detail).toBe('RSA key with more than two primes');
  });

  it('secret lengths, KWP sizes and check values', () => {
    expect(() => assertSecretLength({ kind: 'AES', bytes: 32 }, 32)).not.toThrow();
    expect(error(() => assertSecretLength({ kind: 'HMAC', bytes: 48, hash: 'SHA_384' }, 47)).message)
      .toBe('Imported key material for key spec HMAC_384 must be 48 bytes (384 bits) long.');
    expect(kwpPlaintextRange(40)).toEqual({ min: 25, max: 32 });
    expect(kwpPlaintextRange(24)).toEqual({ min: 9, max: 16 });
    expect(error(() => splitRsaAesKeyWrap(Buffer.alloc(256 + 12), 256)).code).toBe('InvalidCiphertextException');
    expect(error(() => splitRsaAesKeyWrap(Buffer.alloc(256 + 8), 256)).code).toBe('InvalidCiphertextException');
    expect(splitRsaAesKeyWrap(Buffer.alloc(256 + 16), 256).kwp).toHaveLength(16);
    // Not E_K(0^128), GCM's hash subkey; 16 bytes; 16 hex bytes of check value.
    expect(CHECK_VALUE_BLOCK).toHaveLength(16);
    expect(CHECK_VALUE_BLOCK.equals(Buffer.alloc(16))).toBe(false);
    expect(checkValueOf(Buffer.from('x'))).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('import flows on fakes', () => {
  let deps: CoreDeps;
  let token: FakeToken;
  let store: MemoryStore;
  let clock: FakeClock;
  beforeEach(async () => {
    ({ deps, token, store, clock } = await newCoreDeps());
  });
  function call(name: OperationName, body: object): Promise<Loose> {
    return callOperation(deps, root, name, body);
  }
  const failure = kmsFailure;
  const stored = async (keyId: string): Promise<KeyRecord> => (await store.keys.get(scope, keyId))!;
  async function importInto(keyId: string, material: Buffer, algorithm: WrappingAlgorithmName = 'RSAES_OAEP_SHA_256', extra: object = {}) {
    const p = await call('GetParametersForImport', { KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: 'RSA_2048' });
    const encrypted = wrapKeyMaterial(Buffer.from(p.PublicKey as string, 'base64'), algorithm, material);
    return call('ImportKeyMaterial', { KeyId: keyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: encrypted.toString('base64'), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ...extra });
  }

  it('import, encrypt, delete, re-import and decrypt; the token holds exactly the objects the record names', async () => {
    const key = (await call('CreateKey', { Origin: 'EXTERNAL' })).KeyMetadata as Loose;
    const material = randomBytes(32);
    const imported = await importInto(key.KeyId, material, 'RSA_AES_KEY_WRAP_SHA_1');
    const blob = (await call('Encrypt', { KeyId: key.KeyId, Plaintext: Buffer.from('fake').toString('base64') })).CiphertextBlob as string;
    // The fake holds the very bytes: a ciphertext from it opens with them.
    const record = await stored(key.KeyId);
    expect(tokenObjectsOf(record)).toHaveLength(1);
    await call('DeleteImportedKeyMaterial', { KeyId: key.KeyId });
    expect(tokenObjectsOf(await stored(key.KeyId))).toEqual([]);
    expect(await token.hasKey(record.versions[0]!.backing.kind === 'pkcs11' ? record.versions[0]!.backing.objectId : '')).toBe(false);
    expect((await importInto(key.KeyId, material)).KeyMaterialId).toBe(imported.KeyMaterialId);
    expect(Buffer.from((await call('Decrypt', { CiphertextBlob: blob })).Plaintext as string, 'base64').toString()).toBe('fake');
  });

  it('keeps the KeyMaterialDescription of the last import that gave one, across deletion and re-import', async () => {
    const key = (await call('CreateKey', { Origin: 'EXTERNAL' })).KeyMetadata as Loose;
    const material = randomBytes(32);
    await importInto(key.KeyId, material, 'RSAES_OAEP_SHA_256', { KeyMaterialDescription: 'first' });
    expect((await stored(key.KeyId)).imported!.keyMaterialDescription).toBe('first');
    await importInto(key.KeyId, material);
    await call('DeleteImportedKeyMaterial', { KeyId: key.KeyId });
    expect((await stored(key.KeyId)).imported!.keyMaterialDescription).toBe('first');
    await importInto(key.KeyId, material, 'RSAES_OAEP_SHA_256', { KeyMaterialDescription: '' });
    expect((await stored(key.KeyId)).imported!.keyMaterialDescription).toBe('');
  });

  it('upkeep expires material, retires spent parameters, and keeps objects of a token that is not configured on record', async () => {
    const key = (await call('CreateKey', { Origin: 'EXTERNAL' })).KeyMetadata as Loose;
    await importInto(key.KeyId, randomBytes(32), 'RSAES_OAEP_SHA_1', { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: (clock.now().getTime() + 2 * DAY) / 1000 });
    await call('GetParametersForImport', { KeyId: key.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' });
    let record = await stored(key.KeyId);
    expect(record.imported!.upkeepAt).toEqual(new Date(clock.now().getTime() + IMPORT_PARAMETERS_VALID_MS));
    // An object on a token this instance does not have (a custom key store elsewhere).
    await store.keys.replace({ ...record, imported: { ...record.imported!, retiredObjects: [{ tokenId: 'elsewhere', objectId: 'ab'.repeat(32), retiredAt: clock.now() }] } });
    expect((await runImportUpkeep(deps)).expired).toEqual([]);
    record = await stored(key.KeyId);
    expect(record.imported!.retiredObjects.map((o) => o.tokenId)).toEqual(['elsewhere']);
    clock.advance(IMPORT_PARAMETERS_VALID_MS);
    await runImportUpkeep(deps);
    record = await stored(key.KeyId);
    expect(record.imported!.parameters).toEqual([]);
    expect(record.state).toBe('Enabled');
    clock.advance(DAY);
    expect((await runImportUpkeep(deps)).expired).toEqual([key.KeyId]);
    record = await stored(key.KeyId);
    expect({ state: record.state, versions: record.versions, retired: record.imported!.retiredObjects.map((o) => o.tokenId) })
      .toEqual({ state: 'PendingImport', versions: [], retired: ['elsewhere'] });
    expect(record.imported!.upkeepAt).toEqual(record.imported!.retiredObjects[0]!.retiredAt);
    // Nothing due: upkeep leaves the key alone.
    const again = await runImportUpkeep(deps);
    expect(again).toEqual({ expired: [], failed: [] });
  });

  it('a token failure during the import leaves neither object nor PENDING version, and releases the import token', async () => {
    const key = (await call('CreateKey', { Origin: 'EXTERNAL' })).KeyMetadata as Loose;
    const p = await call('GetParametersForImport', { KeyId: key.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' });
    const encrypted = wrapKeyMaterial(Buffer.from(p.PublicKey as string, 'base64'), 'RSAES_OAEP_SHA_1', randomBytes(32)).toString('base64');
    const real = token.importKeyMaterial.bind(token);
    const spy = jest.spyOn(token, 'importKeyMaterial').mockImplementationOnce(async (request) => {
      await real(request);
      throw new KmsError('KMSInternalException', 'token failed');
    });
    const body = { KeyId: key.KeyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: encrypted, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' };
    expect((await failure(call('ImportKeyMaterial', body))).code).toBe('KMSInternalException');
    const record = await stored(key.KeyId);
    expect({ versions: record.versions, retired: record.imported!.retiredObjects, used: record.imported!.parameters[0]!.usedAt }).toEqual({ versions: [], retired: [], used: undefined });
    const made = spy.mock.calls[0]![0].target!.objectId;
    expect(await token.hasKey(made)).toBe(false);
    spy.mockRestore();
    expect((await call('ImportKeyMaterial', body)).KeyId).toBe(key.KeyId);
  });

  it('a key pending deletion cannot import; the state is checked after the origin', async () => {
    const key = (await call('CreateKey', { Origin: 'EXTERNAL' })).KeyMetadata as Loose;
    const p = await call('GetParametersForImport', { KeyId: key.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' });
    await call('ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 7 });
    const encrypted = wrapKeyMaterial(Buffer.from(p.PublicKey as string, 'base64'), 'RSAES_OAEP_SHA_1', randomBytes(32)).toString('base64');
    expect(await failure(call('ImportKeyMaterial', { KeyId: key.KeyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: encrypted, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' })))
      .toEqual({ code: 'KMSInvalidStateException', message: `${key.Arn} is pending deletion.` });
  });

  it('the check value of AES material is the documented one, computed independently', async () => {
    const key = (await call('CreateKey', { Origin: 'EXTERNAL' })).KeyMetadata as Loose;
    const material = randomBytes(32);
    await importInto(key.KeyId, material);
    const cipher = createCipheriv('aes-256-ecb', material, null).setAutoPadding(false);
    const expected = createHash('sha256').update(Buffer.concat([cipher.update(CHECK_VALUE_BLOCK), cipher.final()])).digest().subarray(0, 16).toString('hex');
    expect((await stored(key.KeyId)).imported!.checkValue).toBe(expected);
  });
});

/** A 2048-bit RSA key with three primes (openssl genpkey -pkeyopt rsa_keygen_primes:3), PKCS #8: AWS imports two-prime keys only. Test-only. */
const threePrimeRsa2048Pkcs8 = 'MIIE8wIBADANBgkqhkiG9w0BAQEFAASCBN0wggTZAgEBAoIBAQCjgoUSp+1W2qLAMtriKamyVZ1SXn+EiD/i53uZEtFR6VRfZ8d7nap2cGddEOR8MCO2qcvaqOkytqAFA5bYfiQemsvf1SkPPycC3KS0bRsYrO2PP2fD4NXyGQFzMMq5G9EytLfxkdBts+KXUhyGWWoHMDYevvbQAuSBg67Qpz5Ed/lUqqMiikpc8C/SeI2o/GcbubDFlg9zqIGL4YO2n6fyXAESFajjaZKEGzYuS/iUi8Iokvck1AxUI9J1v9ozeviaIZikzKR4Zl4P/lzojTGDjLuEb5eif36XKXkKDSeCgrs+RS47Xzi4knGhlsYw8LvsJZYDgQsp5uVYLXKMf7sdAgMBAAECggEASetrta9tQOK+yR00jyI+sXy7Ds3h4EyodTApVF6Jevp9RlRofp4cvka6s/w7D1nEC4RfwI60PlUJqrqgq2b7dUqN+LcpRNdMD6MoYtkgctta2nPTuTP69MuuaAQt+T+0hZr6fx1fBYEwgPJ2+7lk/tIlQqr1wJlDsfXTqy6QzPaMHS1XiYIMrgmf1bMYoG7n+rv0da8vixeIxtokEdN363gMqurqkv8wEZQT6dUItZ7MfqybEHvIXWnILWCcNDeEgJwcTCBLm8zF7mLz8fXcNZRb6DDTLJEfhgn6qBH99q/HKjyQrUP+Ni07abJB732DhZuAJAro+l7nnXHBLgBfQQJWBvrJdp5pH65M5hW9XOq2hu9aoLO53LzDTGYzS27s6ENkfYobRJxfssfzip0e007RbE8W/oSupPI5ZY/mgLJPLjdRhGwgra4OR4ujKf1ZlD5zhPAryesCVgZBEIBq34B83l1k7FlZhMUn2obVRRWChBmdfFyLyudB+3BWCkEeWB/K2HbNbGWG4fxfoUNyoWcUzvxl9HtXtdzn08SbEctHLj/veWF1LmT9r7cJ6ogdAlYCVJ0OkYhyfqXIsfuf2fOGjMeLH1fxP8pKaVm5V1mdmFsmnAXM3BYMQT2tzBbt4cSF0MbRx4X1J7hIlEsYL/HGccwzVlN3CsZT12ls7N6LZGr4OaW1bwJWBDFtQdvlezy8zTsT5xfIl3KP5aRpS/GUZaQbs+SZphCr5nYZK+2PQcl69bPmf+895jmrYhAhvH3MBJbKokN9D91yMreQ54wSqxUAeWHaOCWJwJtqXdUCVgU4Ea27CoaHs+iHoF4X+IxENraxYDo2E+cFnwOueh+3YIGRg79ODt2bwX5Lzi4XIr4gp+ESiM9vr/6RPX5N0oecF/DFX/Pydqz13c7BHjU9JbpjlFV1MIIBDDCCAQgCVgO+62w18vA7Pqokf1PVY7J0Zprw0k6eRI2k0/oX7rP8tEAPj+ph2FVQdA/XhS41MhLSVFFn8VHo9+SGMwPB8GX6oo63KrX4s7tAM2Fkl4hvAC1QKwPDAlYBZrJjyQ52JIM9W+exMVpYz8ft33Wb6QIVxflxTPCCrV2ztN6Nu0oUJ8MyhdkQvt9bQQg/Z1VS4YWRG04L8sj9LLMQFZ5JcZ2xxsMxhFJWu8biLGHaxwJWAfDrDrRoU92XEnsa8xtsPzya62ABUSb2Yr+cy63GUFUmkhUFGsvtduqKGYvLpdFjnic5LORuyHmYH0l1l1xj0FVFPtJR3tgdvS2SW9tW/ngr4A/ouoA=';
