// The token key store contract on SoftHSM, plus the adapter's own promises: a bounded session
// pool, reconnection after the sessions vanish underneath it, and custody attributes.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as pkcs11js from 'pkcs11js';
import type { ImportedMaterialSpec } from '../../src/core/key-stores/port';
import type { Pkcs11Token } from '../../src/pkcs11';
import { importPlan } from '../../src/pkcs11/key-import';
import { CKK_EC_EDWARDS, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA, eddsa } from '../../src/pkcs11/mechanisms';
import { oaepWrap, wrapKeyMaterial, wrappingAlgorithmNames, type WrappingAlgorithmName } from '../support/import-wrap';
import { createTestToken, openTestToken } from '../support/softhsm';
import { listTokenObjects } from '../support/token-objects';
import { describeKeyTokenContract } from './key-token.contract';

describeKeyTokenContract('SoftHSM2 through pkcs11js', async () => {
  const token = openTestToken(createTestToken('contract'));
  return { token: token, nativeOaepHashes: token.profile.rsaOaepHashes, close: async () => token.close() };
});

describe('PKCS#11 adapter on SoftHSM', () => {
  it('chooses the SoftHSM profile by manufacturer', () => {
    const token = openTestToken(createTestToken('profile'));
    try {
      expect(token.profile.vendor).toBe('SoftHSM2');
    } finally {
      token.close();
    }
  });

  it('never lends more sessions than the pool holds, and every caller is served', async () => {
    const token = openTestToken(createTestToken('pool'), { poolSize: 2 });
    const connection = token.connection;
    let inFlight = 0;
    let peak = 0;
    try {
      await Promise.all(Array.from({ length: 20 }, () => connection.withSession(async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
      })));
      expect(peak).toBe(2);
    } finally {
      token.close();
    }
  });

  it('fails a caller that waits too long for a session with KMSInternalException', async () => {
    const token = openTestToken(createTestToken('starve'), { poolSize: 1, acquireTimeoutMs: 50 });
    const connection = token.connection;
    try {
      let release!: () => void;
      const holder = connection.withSession(() => new Promise<void>((r) => { release = r; }));
      await expect(connection.withSession(async () => 'never')).rejects.toMatchObject({ code: 'KMSInternalException' });
      release();
      await holder;
      expect(await connection.withSession(async () => 'served')).toBe('served');
    } finally {
      token.close();
    }
  });

  it('a PIN the token refused is never tried again automatically.', async () => {
    const testToken = createTestToken('pin-changed');
    const token = openTestToken(testToken);
    const lib = token.connection.lib;
    const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === testToken.label)!;
    try {
      // The PIN changes underneath the service (an operator, on another machine), then every session goes.
      const admin = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      lib.C_SetPIN(admin, testToken.pin, 'changed-pin-1234');
      const logins = jest.spyOn(lib, 'C_Login');
      lib.C_CloseAllSessions(slot);
      const id = randomBytes(32).toString('hex');
      // Making a key needs the login the closed sessions took with them: a reconnect logs in again.
      await expect(token.keyObjects.generateAesKey(id, 'kms:pin')).rejects.toMatchObject({ code: 'KMSInternalException' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await expect(token.keyObjects.generateAesKey(id, 'kms:pin')).rejects.toMatchObject({ code: 'KMSInternalException' });
      // One login with the old PIN was refused; none followed, however long the service runs.
      expect(logins.mock.calls.filter(([, , pin]) => pin === testToken.pin)).toHaveLength(1);
      expect(token.connection.refused?.code).toBe('CKR_PIN_INCORRECT');
      logins.mockRestore();
    } finally {
      await token.close();
    }
  });

  it('reconnects after its sessions are closed underneath it, and keeps serving', async () => {
    const testToken = createTestToken('reconnect');
    const token = openTestToken(testToken);
    try {
      const id = Buffer.alloc(32, 7).toString('hex');
      await token.keyObjects.generateAesKey(id, 'kms:reconnect');
      const sealed = await token.encrypt(id, Buffer.alloc(0), Buffer.from('before'));
      const generation = token.connection.generation;
      // Simulate a device reset: every session of the application on this slot disappears.
      const lib = token.connection.lib;
      const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === testToken.label)!;
      lib.C_CloseAllSessions(slot);
      // Idempotent operations retry once after the reconnect, so callers see no error.
      expect((await token.decrypt(id, Buffer.alloc(0), sealed)).toString()).toBe('before');
      expect(token.connection.generation).toBeGreaterThan(generation);
      expect(await token.isHealthy()).toBe(true);
      await token.keyObjects.destroyKey(id);
    } finally {
      token.close();
    }
  });

  it('health checks find the health key once, not on every probe, and survive its handle going stale', async () => {
    const token = openTestToken(createTestToken('probe'));
    try {
      const lib = token.connection.lib;
      expect(await token.checkHealth()).toBe(true);
      // SoftHSM's file store reads every object file on each search: a probe must not search.
      const searches = jest.spyOn(lib, 'C_FindObjectsInit');
      for (let i = 0; i < 5; i++) expect(await token.checkHealth()).toBe(true);
      expect(searches).not.toHaveBeenCalled();
      // Another process destroys and remakes the health key: the cached handle is stale, and the
      // probe looks the key up afresh instead of reporting the token unwell.
      const session = lib.C_OpenSession(lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === token.connection.info.label)!, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      try {
        lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: 'hsm-kms:health' }]);
        const healthKeys = lib.C_FindObjects(session, 4);
        lib.C_FindObjectsFinal(session);
        expect(healthKeys.length).toBe(1);
        lib.C_DestroyObject(session, healthKeys[0]!);
      } finally {
        lib.C_CloseSession(session);
      }
      expect(await token.checkHealth()).toBe(true);
      searches.mockRestore();
    } finally {
      token.close();
    }
  });

  it('a GCM tag that does not verify is reported as InvalidCiphertextException.', async () => {
    const token = openTestToken(createTestToken('gcmtag'));
    try {
      const id = Buffer.alloc(32, 3).toString('hex');
      await token.keyObjects.generateAesKey(id, 'kms:gcm');
      const sealed = await token.encrypt(id, Buffer.from('aad'), Buffer.from('data'));
      const badTag = Buffer.from(sealed.tag);
      badTag[15] = badTag[15]! ^ 0x80;
      await expect(token.decrypt(id, Buffer.from('aad'), { ...sealed, tag: badTag })).rejects.toMatchObject({ code: 'InvalidCiphertextException', message: '' });
      // The session survives the failed decrypt and serves the next call.
      expect((await token.decrypt(id, Buffer.from('aad'), sealed)).toString()).toBe('data');
    } finally {
      token.close();
    }
  });

  it('creates keys with CKA_TOKEN, CKA_SENSITIVE and no CKA_EXTRACTABLE', async () => {
    const token = openTestToken(createTestToken('attrs'));
    try {
      const id = Buffer.alloc(32, 9).toString('hex');
      await token.keyObjects.generateAesKey(id, 'kms:attrs');
      const value = await token.connection.withSession(async (session) => {
        const lib = token.connection.lib;
        lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_ID, value: Buffer.from(id, 'hex') }]);
        const [handle] = lib.C_FindObjects(session, 1);
        lib.C_FindObjectsFinal(session);
        return lib.C_GetAttributeValue(session, handle!, [
          { type: pkcs11js.CKA_TOKEN }, { type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE }, { type: pkcs11js.CKA_PRIVATE },
        ]).map((a) => (a.value as Buffer)[0]);
      });
      expect(value).toEqual([1, 1, 0, 1]);
    } finally {
      token.close();
    }
  });

  it('destroying a key while its generation is still running waits for it, leaving no nameless object that only a fresh process would see', async () => {
    const testToken = createTestToken('destroy-during-generation');
    const token = openTestToken(testToken, { poolSize: 8 });
    try {
      const generations: Array<(id: string) => Promise<unknown>> = [
        (id) => token.keyObjects.generateAesKey(id, 'kms:race'),
        (id) => token.hmacKeys.generateHmacKey(id, 'kms:race', 32),
        (id) => token.keyPairs.generateKeyPair(id, 'kms:race', 'ECC_NIST_P256', 'SIGN_VERIFY'),
      ];
      const failedGenerations: string[] = [];
      for (let round = 0; round < 60; round++) {
        const id = randomBytes(32).toString('hex');
        let generating = true;
        const generation = generations[round % generations.length]!(id).finally(() => { generating = false; });
        // Destroyed as soon as it can be found while the token is still generating: without the
        // wait, SoftHSM leaves the object's file half-written. With it, the first call destroys it.
        let destroyed = await token.keyObjects.destroyKey(id);
        while (!destroyed && generating) {
          await new Promise((resolve) => setImmediate(resolve)); // lets the generation's completion in
          destroyed = await token.keyObjects.destroyKey(id);
        }
        await generation.catch((e: Error) => failedGenerations.push(`round ${round}: ${e.message}`));
        if (!destroyed) await token.keyObjects.destroyKey(id);
      }
      // Without the wait, the generation itself can fail when its object goes under it.
      expect(failedGenerations).toEqual([]);
      const left = await listTokenObjects(testToken);
      expect(left.filter((o) => o.id === '' && o.label === '')).toEqual([]);
      expect(left.filter((o) => o.label === 'kms:race')).toEqual([]);
    } finally {
      token.close();
    }
  });

  it('two tokens of one module with different configurations coexist in one process', () => {
    // A second SoftHSM configuration with its own token directory, beside this run's.
    const root = mkdtempSync(path.join(tmpdir(), 'hsm-kms-second-conf-'));
    mkdirSync(path.join(root, 'tokens'));
    const conf = path.join(root, 'softhsm2.conf');
    writeFileSync(conf, `directories.tokendir = ${path.join(root, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    const second = { label: 'second-conf', pin: randomBytes(8).toString('hex'), conf };
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', second.label, '--so-pin', randomBytes(8).toString('hex'), '--pin', second.pin], { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'pipe' });
    try {
      // A real process: jest's sandboxed process.env never reaches a native module.
      const out = execFileSync(process.execPath, ['-r', path.join(__dirname, '../support/ts-register.cjs'), path.join(__dirname, '../support/coexisting-tokens.child.ts'),
        JSON.stringify([createTestToken('first-conf'), second])], { env: process.env, encoding: 'utf8', timeout: 60_000 });
      const result = JSON.parse(out) as Record<string, unknown>;
      expect(result.separateInstances).toBe(true);
      expect((result.labels as string[])[1]).toBe('second-conf');
      expect(result.roundTrips).toEqual(result.labels);
      // Each holds its own object under the same CKA_ID: destroying one leaves the other.
      expect(result).toMatchObject({ destroyedInSecond: true, stillInSecond: false, stillInFirst: true, environmentRestored: true });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('the PKCS#11 module is loaded by absolute path only.', () => {
    expect(() => openTestTokenWithModule('libsofthsm2.so')).toThrow(/absolute/);
  });
});

/** One object's class, label and flags; `secretReadError` is what reading its secret gave. */
interface RawObject {
  cls: string;
  label: string;
  secretReadError?: string;
  [flag: string]: string | boolean | undefined;
}

/** The token's objects under a CKA_ID, looked at with raw PKCS#11 calls. */
async function rawObjects(token: Pkcs11Token, objectId: string): Promise<RawObject[]> {
  const lib = token.connection.lib;
  return token.connection.withSession(async (session) => {
    lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_ID, value: Buffer.from(objectId, 'hex') }]);
    const handles = lib.C_FindObjects(session, 10);
    lib.C_FindObjectsFinal(session);
    return handles.map((handle): RawObject => {
      const flag = (type: number) => (lib.C_GetAttributeValue(session, handle, [{ type }])[0]!.value as Buffer)[0] === 1;
      const num = (type: number) => (lib.C_GetAttributeValue(session, handle, [{ type }])[0]!.value as Buffer).readUInt32LE(0);
      const readError = (type: number) => {
        try {
          lib.C_GetAttributeValue(session, handle, [{ type }]);
          return undefined;
        } catch (e) {
          return (e as Error).message;
        }
      };
      const cls = num(pkcs11js.CKA_CLASS);
      const common = {
        cls: cls === pkcs11js.CKO_PRIVATE_KEY ? 'private' : cls === pkcs11js.CKO_PUBLIC_KEY ? 'public' : 'secret',
        label: (lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_LABEL }])[0]!.value as Buffer).toString(),
        token: flag(pkcs11js.CKA_TOKEN),
        private: flag(pkcs11js.CKA_PRIVATE),
        modifiable: flag(pkcs11js.CKA_MODIFIABLE),
      };
      if (cls === pkcs11js.CKO_PUBLIC_KEY) {
        return { ...common, encrypt: flag(pkcs11js.CKA_ENCRYPT), verify: flag(pkcs11js.CKA_VERIFY), wrap: flag(pkcs11js.CKA_WRAP), verifyRecover: flag(pkcs11js.CKA_VERIFY_RECOVER) };
      }
      const keyType = num(pkcs11js.CKA_KEY_TYPE);
      const secretAttribute = keyType === pkcs11js.CKK_RSA ? pkcs11js.CKA_PRIVATE_EXPONENT : pkcs11js.CKA_VALUE;
      return {
        ...common,
        sensitive: flag(pkcs11js.CKA_SENSITIVE),
        extractable: flag(pkcs11js.CKA_EXTRACTABLE),
        alwaysSensitive: flag(pkcs11js.CKA_ALWAYS_SENSITIVE),
        neverExtractable: flag(pkcs11js.CKA_NEVER_EXTRACTABLE),
        sign: flag(pkcs11js.CKA_SIGN),
        decrypt: flag(pkcs11js.CKA_DECRYPT),
        derive: flag(pkcs11js.CKA_DERIVE),
        unwrap: flag(pkcs11js.CKA_UNWRAP),
        ...(cls === pkcs11js.CKO_PRIVATE_KEY ? { signRecover: flag(pkcs11js.CKA_SIGN_RECOVER) } : { encrypt: flag(pkcs11js.CKA_ENCRYPT), verify: flag(pkcs11js.CKA_VERIFY) }),
        secretReadError: readError(secretAttribute),
      };
    });
  });
}

/** Session objects (CKA_TOKEN false) visible to the adapter's sessions. */
async function sessionObjectCount(token: Pkcs11Token): Promise<number> {
  const lib = token.connection.lib;
  return token.connection.withSession(async (session) => {
    lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_TOKEN, value: false }]);
    const handles = lib.C_FindObjects(session, 100);
    lib.C_FindObjectsFinal(session);
    return handles.length;
  });
}

describe('asymmetric and HMAC keys on SoftHSM', () => {
  let token: Pkcs11Token;
  let testToken: ReturnType<typeof createTestToken>;
  beforeAll(() => {
    testToken = createTestToken('asymmetric');
    token = openTestToken(testToken);
  });
  afterAll(() => token.close());
  const newId = () => randomBytes(32).toString('hex');

  it('exposes the profile: native OAEP with SHA-1 only, EdDSA present, Ed25519ph absent', () => {
    expect(token.profile.rsaOaepHashes).toEqual(['SHA_1']);
    expect(token.profile.eddsa).toBe(true);
    expect(token.profile.eddsaPrehash).toBe(false);
    expect(token.keyPairs.ed25519Schemes).toEqual(['ED25519']);
  });

  it('SoftHSM ignores the Ed25519ph flag: its "prehash" signature is pure Ed25519 of the input, as the profile records (eddsaPrehash false)', async () => {
    const lib = token.connection.lib;
    await token.connection.withSession(async (session) => {
      // A session pair whose private half is readable, so node:crypto can sign with the same key.
      const pair = lib.C_GenerateKeyPair(session, { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN },
        [{ type: pkcs11js.CKA_TOKEN, value: false }, { type: pkcs11js.CKA_KEY_TYPE, value: CKK_EC_EDWARDS }, { type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from('06032b6570', 'hex') }, { type: pkcs11js.CKA_VERIFY, value: true }],
        [{ type: pkcs11js.CKA_TOKEN, value: false }, { type: pkcs11js.CKA_KEY_TYPE, value: CKK_EC_EDWARDS }, { type: pkcs11js.CKA_SIGN, value: true }, { type: pkcs11js.CKA_SENSITIVE, value: false }, { type: pkcs11js.CKA_EXTRACTABLE, value: true }]);
      try {
        const point = lib.C_GetAttributeValue(session, pair.publicKey, [{ type: pkcs11js.CKA_EC_POINT }])[0]!.value as Buffer;
        // CKA_EC_POINT: a DER OCTET STRING around the 32-byte public key.
        expect(point.subarray(0, 2).toString('hex')).toBe('0420');
        const seed = lib.C_GetAttributeValue(session, pair.privateKey, [{ type: pkcs11js.CKA_VALUE }])[0]!.value as Buffer;
        expect(seed).toHaveLength(32);
        const x = point.subarray(2).toString('base64url');
        const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
        const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x, d: seed.toString('base64url') }, format: 'jwk' });
        const digest = createHash('sha512').update('a message').digest();
        const sign = (mechanism: pkcs11js.Mechanism) => {
          lib.C_SignInit(session, mechanism, pair.privateKey);
          return Buffer.from(lib.C_Sign(session, digest, Buffer.alloc(64)));
        };
        const pure = sign(eddsa('ED25519'));
        expect(pure.equals(nodeSign(null, digest, privateKey))).toBe(true);
        // phFlag = TRUE is accepted and ignored: the result is the pure signature of the input,
        // which an Ed25519ph signature (RFC 8032's dom2 prefix) never is. If this starts to
        // fail, check the new behaviour against an independent Ed25519ph before setting eddsaPrehash.
        const prehashed = sign(eddsa('ED25519_PH'));
        expect(prehashed.equals(pure)).toBe(true);
        expect(nodeVerify(null, digest, publicKey, prehashed)).toBe(true);
        // EdDSA is single-part only.
        lib.C_SignInit(session, { mechanism: CKM_EDDSA }, pair.privateKey);
        expect(() => lib.C_SignUpdate(session, digest)).toThrow(/CKR_OPERATION_NOT_INITIALIZED|CKR_FUNCTION_NOT_SUPPORTED|CKR_MECHANISM_INVALID/);
      } finally {
        lib.C_DestroyObject(session, pair.privateKey);
        lib.C_DestroyObject(session, pair.publicKey);
      }
    });
  });

  it('an Ed25519 pair made by one connection is found by CKA_ID and used by another, whose handle cache is empty', async () => {
    const id = newId();
    const spki = await token.keyPairs.generateKeyPair(id, 'kms:ed25519', 'ECC_NIST_EDWARDS25519', 'SIGN_VERIFY');
    const raw = await rawObjects(token, id);
    expect(raw.map((o) => o.cls).sort()).toEqual(['private', 'public']);
    const second = openTestToken(testToken);
    try {
      // keyFor reads the key type and CKA_EC_PARAMS of each half afresh (SoftHSM names the curve on the private half).
      expect(await second.keyPairs.publicKey(id)).toEqual(spki);
      const message = Buffer.from('signed through a second connection');
      const signature = await second.keyPairs.signMessage(id, 'ED25519', message);
      expect(nodeVerify(null, message, createPublicKey({ key: spki, format: 'der', type: 'spki' }), signature)).toBe(true);
      expect(await second.keyPairs.verifyMessage(id, 'ED25519', message, signature)).toBe(true);
    } finally {
      second.close();
      await token.keyObjects.destroyKey(id);
    }
  });

  it('the token runs an Ed25519 scheme only where its capability profile says it can.', async () => {
    // The SoftHSM profile: pure Ed25519 only, so the Ed25519ph flag never reaches the token.
    const id = newId();
    await token.keyPairs.generateKeyPair(id, 'kms:ed25519', 'ECC_NIST_EDWARDS25519', 'SIGN_VERIFY');
    const signInit = jest.spyOn(token.connection.lib, 'C_SignInit');
    const verifyInit = jest.spyOn(token.connection.lib, 'C_VerifyInit');
    try {
      expect(await token.keyPairs.signMessage(id, 'ED25519', Buffer.from('m'))).toHaveLength(64);
      expect(signInit).toHaveBeenCalledTimes(1);
      signInit.mockClear();
      await expect(token.keyPairs.signMessage(id, 'ED25519_PH', Buffer.alloc(64, 1))).rejects.toMatchObject({ code: 'KMSInternalException' });
      await expect(token.keyPairs.verifyMessage(id, 'ED25519_PH', Buffer.alloc(64, 1), Buffer.alloc(64))).rejects.toMatchObject({ code: 'KMSInternalException' });
      expect(signInit).not.toHaveBeenCalled();
      expect(verifyInit).not.toHaveBeenCalled();
    } finally {
      signInit.mockRestore();
      verifyInit.mockRestore();
      await token.keyObjects.destroyKey(id);
    }
    // A token whose profile lacks EdDSA (the generic one) neither makes nor uses Ed25519 keys.
    const generic = openTestToken(createTestToken('generic-profile'), { profileVendor: 'generic PKCS#11 v2.40' });
    try {
      expect(generic.profile.eddsa).toBe(false);
      expect(generic.keyPairs.ed25519Schemes).toEqual([]);
      const other = newId();
      await expect(generic.keyPairs.generateKeyPair(other, 'kms:ed25519', 'ECC_NIST_EDWARDS25519', 'SIGN_VERIFY')).rejects.toMatchObject({ code: 'KMSInternalException' });
      expect(await generic.keyObjects.hasKey(other)).toBe(false);
      await expect(generic.keyPairs.generateDataKeyPair('ECC_NIST_EDWARDS25519')).rejects.toMatchObject({ code: 'KMSInternalException' });
      await expect(generic.keyPairs.signMessage(other, 'ED25519', Buffer.from('m'))).rejects.toMatchObject({ code: 'KMSInternalException' });
    } finally {
      generic.close();
    }
  });

  it('SoftHSM really lacks native OAEP-SHA256 and really has EdDSA, as the profile records', async () => {
    const lib = token.connection.lib;
    await token.connection.withSession(async (session) => {
      const rsa = lib.C_GenerateKeyPair(session, { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN },
        [{ type: pkcs11js.CKA_TOKEN, value: false }, { type: pkcs11js.CKA_MODULUS_BITS, value: 2048 }, { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) }],
        [{ type: pkcs11js.CKA_TOKEN, value: false }, { type: pkcs11js.CKA_DECRYPT, value: true }]);
      try {
        const oaep256 = { mechanism: pkcs11js.CKM_RSA_PKCS_OAEP, parameter: { type: pkcs11js.CK_PARAMS_RSA_OAEP, hashAlg: pkcs11js.CKM_SHA256, mgf: pkcs11js.CKG_MGF1_SHA256, source: 0 } as pkcs11js.RsaOAEP };
        // If this starts to pass, a newer SoftHSM supports it: add SHA_256 to hsm/profiles/softhsm2.json.
        expect(() => lib.C_DecryptInit(session, oaep256, rsa.privateKey)).toThrow(/CKR_ARGUMENTS_BAD|CKR_MECHANISM_PARAM_INVALID/);
      } finally {
        lib.C_DestroyObject(session, rsa.privateKey);
        lib.C_DestroyObject(session, rsa.publicKey);
      }
      const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
      const CKM_EDDSA = 0x1057;
      const ed = lib.C_GenerateKeyPair(session, { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN },
        [{ type: pkcs11js.CKA_TOKEN, value: false }, { type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from('06032b6570', 'hex') }, { type: pkcs11js.CKA_VERIFY, value: true }],
        [{ type: pkcs11js.CKA_TOKEN, value: false }, { type: pkcs11js.CKA_SIGN, value: true }]);
      try {
        lib.C_SignInit(session, { mechanism: CKM_EDDSA }, ed.privateKey);
        expect(lib.C_Sign(session, Buffer.from('m'), Buffer.alloc(64))).toHaveLength(64);
      } finally {
        lib.C_DestroyObject(session, ed.privateKey);
        lib.C_DestroyObject(session, ed.publicKey);
      }
    });
  });

  it('key pairs: both halves on the token under one CKA_ID and label; the private half private, sensitive, never extractable, its secret unreadable', async () => {
    for (const [spec, purpose] of [['RSA_2048', 'SIGN_VERIFY'], ['RSA_2048', 'ENCRYPT_DECRYPT'], ['ECC_NIST_P256', 'SIGN_VERIFY'], ['ECC_SECG_P256K1', 'KEY_AGREEMENT'], ['ECC_NIST_EDWARDS25519', 'SIGN_VERIFY']] as const) {
      const id = newId();
      await token.keyPairs.generateKeyPair(id, `kms:${spec}:${purpose}`, spec, purpose);
      const objects = await rawObjects(token, id);
      expect(objects.map((o) => o.cls).sort()).toEqual(['private', 'public']);
      const priv = objects.find((o) => o.cls === 'private')!;
      const pub = objects.find((o) => o.cls === 'public')!;
      for (const o of objects) {
        expect(o).toMatchObject({ label: `kms:${spec}:${purpose}`, token: true, private: true, modifiable: false });
      }
      expect(priv).toMatchObject({ sensitive: true, extractable: false, alwaysSensitive: true, neverExtractable: true, unwrap: false, signRecover: false });
      expect(priv.secretReadError).toMatch(/CKR_ATTRIBUTE_SENSITIVE/);
      expect(pub).toMatchObject({ wrap: false, verifyRecover: false });
      // Usage from the purpose, and nothing else.
      expect({ sign: priv.sign, decrypt: priv.decrypt, derive: priv.derive }).toEqual({ sign: purpose === 'SIGN_VERIFY', decrypt: purpose === 'ENCRYPT_DECRYPT', derive: purpose === 'KEY_AGREEMENT' });
      expect({ verify: pub.verify, encrypt: pub.encrypt }).toEqual({ verify: purpose === 'SIGN_VERIFY', encrypt: purpose === 'ENCRYPT_DECRYPT' });
      expect(await token.keyObjects.destroyKey(id)).toBe(true);
      expect(await rawObjects(token, id)).toEqual([]);
    }
  });

  it('HMAC keys: a generic secret on the token, sensitive, never extractable, CKA_VALUE unreadable, sign/verify only', async () => {
    const id = newId();
    await token.hmacKeys.generateHmacKey(id, 'kms:hmac', 64);
    const [key, ...rest] = await rawObjects(token, id);
    expect(rest).toEqual([]);
    expect(key).toMatchObject({
      cls: 'secret', label: 'kms:hmac', token: true, private: true, modifiable: false, sensitive: true, extractable: false,
      alwaysSensitive: true, neverExtractable: true, sign: true, verify: true, encrypt: false, decrypt: false, derive: false, unwrap: false,
    });
    expect(key!.secretReadError).toMatch(/CKR_ATTRIBUTE_SENSITIVE/);
    const lib = token.connection.lib;
    const valueLen = await token.connection.withSession(async (session) => {
      lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_ID, value: Buffer.from(id, 'hex') }]);
      const [handle] = lib.C_FindObjects(session, 1);
      lib.C_FindObjectsFinal(session);
      return (lib.C_GetAttributeValue(session, handle!, [{ type: pkcs11js.CKA_VALUE_LEN }])[0]!.value as Buffer).readUInt32LE(0);
    });
    expect(valueLen).toBe(64);
    await token.keyObjects.destroyKey(id);
  });

  it('data key pairs and ECDH secrets leave no object behind in the token', async () => {
    const before = await sessionObjectCount(token);
    await Promise.all([token.keyPairs.generateDataKeyPair('RSA_2048'), token.keyPairs.generateDataKeyPair('ECC_NIST_P521'), token.keyPairs.generateDataKeyPair('ECC_SECG_P256K1')]);
    const id = newId();
    const spki = await token.keyPairs.generateKeyPair(id, 'kms:ecdh', 'ECC_NIST_P384', 'KEY_AGREEMENT');
    const jwk = createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    expect(await token.keyPairs.deriveSharedSecret(id, point)).toHaveLength(48);
    expect(await sessionObjectCount(token)).toBe(before);
    expect((await rawObjects(token, id)).length).toBe(2);
    await token.keyObjects.destroyKey(id);
  });

  it('key pairs keep serving after the sessions vanish underneath (handles re-found after reconnect)', async () => {
    const id = newId();
    const spki = await token.keyPairs.generateKeyPair(id, 'kms:reconnect', 'ECC_NIST_P256', 'SIGN_VERIFY');
    const digest = createHash('sha256').update('m').digest();
    await token.keyPairs.signDigest(id, { kind: 'ECDSA', hash: 'SHA_256' }, digest);
    const lib = token.connection.lib;
    const generation = token.connection.generation;
    const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === token.connection.info.label)!;
    lib.C_CloseAllSessions(slot);
    const signature = await token.keyPairs.signDigest(id, { kind: 'ECDSA', hash: 'SHA_256' }, digest);
    expect(token.connection.generation).toBeGreaterThan(generation);
    expect(nodeVerify('sha256', Buffer.from('m'), { key: createPublicKey({ key: spki, format: 'der', type: 'spki' }), dsaEncoding: 'der' }, signature)).toBe(true);
    expect(await token.keyPairs.verifyDigest(id, { kind: 'ECDSA', hash: 'SHA_256' }, digest, signature)).toBe(true);
    await token.keyObjects.destroyKey(id);
  });

  it('a key destroyed behind the adapter\'s back is KeyUnavailableException, not a stale handle', async () => {
    const id = newId();
    await token.hmacKeys.generateHmacKey(id, 'kms:stale', 32);
    await token.hmacKeys.hmac(id, 'SHA_256', Buffer.from('m'));
    const lib = token.connection.lib;
    await token.connection.withSession(async (session) => {
      lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_ID, value: Buffer.from(id, 'hex') }]);
      for (const handle of lib.C_FindObjects(session, 10)) lib.C_DestroyObject(session, handle);
      lib.C_FindObjectsFinal(session);
    });
    await expect(token.hmacKeys.hmac(id, 'SHA_256', Buffer.from('m'))).rejects.toMatchObject({ code: 'KeyUnavailableException' });
    await expect(token.hmacKeys.hmac(id, 'SHA_256', Buffer.from('m'))).rejects.toMatchObject({ code: 'KeyUnavailableException' });
  });
});

describe('key import on SoftHSM', () => {
  let token: Pkcs11Token;
  const wrappingId = randomBytes(32).toString('hex');
  let wrappingSpki: Buffer;
  beforeAll(async () => {
    token = openTestToken(createTestToken('import'));
    wrappingSpki = await token.keyImport.generateWrappingKeyPair(wrappingId, 'kms-import:softhsm', 'RSA_2048');
  });
  afterAll(() => token.close());
  const newId = () => randomBytes(32).toString('hex');
  const aes: ImportedMaterialSpec = { kind: 'AES', bytes: 32 };
  const hmac256: ImportedMaterialSpec = { kind: 'HMAC', bytes: 32, hash: 'SHA_256' };
  const ec: ImportedMaterialSpec = { kind: 'PRIVATE_KEY', spec: 'ECC_NIST_P256', purpose: 'SIGN_VERIFY' };

  it('records its import paths in the profile: only AES-256 through RSA-AES key wrap unwraps in the token, where KWP length fixes the key length', () => {
    const plan = (algorithm: WrappingAlgorithmName, material: ImportedMaterialSpec, kwpLength?: number) => importPlan(token.profile, algorithm, material, kwpLength);
    expect(token.profile.keyImport).toMatchObject({ rsaOaepUnwrapHashes: ['SHA_1'], aesKeyWrapPadUnwrap: true, unwrapReportsValueLen: false });
    expect(plan('RSAES_OAEP_SHA_1', aes)).toEqual({ rsa: 'decrypt', material: 'host' });
    expect(plan('RSAES_OAEP_SHA_256', aes)).toEqual({ rsa: 'raw', material: 'host' });
    expect(plan('RSA_AES_KEY_WRAP_SHA_1', aes, 40)).toEqual({ rsa: 'unwrap', material: 'token' });
    expect(plan('RSA_AES_KEY_WRAP_SHA_256', aes, 40)).toEqual({ rsa: 'raw', material: 'token' });
    // A KWP length that leaves room for another length goes to the host, which sees the length.
    expect(plan('RSA_AES_KEY_WRAP_SHA_1', aes, 32)).toEqual({ rsa: 'decrypt', material: 'host' });
    expect(plan('RSA_AES_KEY_WRAP_SHA_1', hmac256, 40)).toEqual({ rsa: 'decrypt', material: 'host' });
    expect(plan('RSAES_OAEP_SHA_1', hmac256)).toEqual({ rsa: 'decrypt', material: 'host' });
    expect(plan('RSA_AES_KEY_WRAP_SHA_256', ec, 152)).toEqual({ rsa: 'raw', material: 'host' });
    // A token that reports CKA_VALUE_LEN would unwrap OAEP-SHA1 material in the token too.
    const reporting = { ...token.profile, keyImport: { ...token.profile.keyImport, unwrapReportsValueLen: true } };
    expect(importPlan(reporting, 'RSAES_OAEP_SHA_1', hmac256)).toEqual({ rsa: 'unwrap', material: 'token' });
    expect(importPlan(reporting, 'RSAES_OAEP_SHA_256', hmac256)).toEqual({ rsa: 'raw', material: 'host' });
  });

  it('SoftHSM really unwraps with OAEP-SHA1 only, records no CKA_VALUE_LEN, and refuses attributes after CKA_MODIFIABLE=false, as the profile records', async () => {
    const lib = token.connection.lib;
    const publicKey = createPublicKey({ key: wrappingSpki, format: 'der', type: 'spki' });
    await token.connection.withSession(async (session) => {
      lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_ID, value: Buffer.from(wrappingId, 'hex') }, { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }]);
      const [privateKey] = lib.C_FindObjects(session, 1);
      lib.C_FindObjectsFinal(session);
      const oaep1 = { mechanism: pkcs11js.CKM_RSA_PKCS_OAEP, parameter: { type: pkcs11js.CK_PARAMS_RSA_OAEP, hashAlg: pkcs11js.CKM_SHA_1, mgf: pkcs11js.CKG_MGF1_SHA1, source: 1 } as pkcs11js.RsaOAEP };
      const oaep256 = { mechanism: pkcs11js.CKM_RSA_PKCS_OAEP, parameter: { type: pkcs11js.CK_PARAMS_RSA_OAEP, hashAlg: pkcs11js.CKM_SHA256, mgf: pkcs11js.CKG_MGF1_SHA256, source: 1 } as pkcs11js.RsaOAEP };
      const template = (extra: pkcs11js.Template = [{ type: pkcs11js.CKA_TOKEN, value: false }]): pkcs11js.Template => [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY }, { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_SENSITIVE, value: true }, { type: pkcs11js.CKA_EXTRACTABLE, value: false }, ...extra,
      ];
      const short = oaepWrap(publicKey, 'sha1', randomBytes(20));
      const unwrapped = lib.C_UnwrapKey(session, oaep1, privateKey!, short, template());
      try {
        // If this starts to report 20, set keyImport.unwrapReportsValueLen in hsm/profiles/softhsm2.json.
        expect((lib.C_GetAttributeValue(session, unwrapped, [{ type: pkcs11js.CKA_VALUE_LEN }])[0]!.value as Buffer).readUInt32LE(0)).toBe(0);
      } finally {
        lib.C_DestroyObject(session, unwrapped);
      }
      // Templates apply in order: nothing may follow CKA_MODIFIABLE=false (persistTemplate puts it last).
      expect(() => lib.C_UnwrapKey(session, oaep1, privateKey!, short, template([{ type: pkcs11js.CKA_TOKEN, value: false }, { type: pkcs11js.CKA_MODIFIABLE, value: false }, { type: pkcs11js.CKA_LABEL, value: 'after' }]))).toThrow(/CKR_ATTRIBUTE_READ_ONLY/);
      // If this starts to pass, add SHA_256 to keyImport.rsaOaepUnwrapHashes.
      expect(() => lib.C_UnwrapKey(session, oaep256, privateKey!, oaepWrap(publicKey, 'sha256', randomBytes(32)), template())).toThrow(/CKR_ARGUMENTS_BAD|CKR_MECHANISM_PARAM_INVALID/);
    });
  });

  it('the wrapping key pair: on the token, its private half sensitive, never extractable, and able only to decrypt and unwrap', async () => {
    const objects = await rawObjects(token, wrappingId);
    const priv = objects.find((o) => o.cls === 'private')!;
    const pub = objects.find((o) => o.cls === 'public')!;
    expect(priv).toMatchObject({ label: 'kms-import:softhsm', token: true, private: true, modifiable: false, sensitive: true, extractable: false, neverExtractable: true, decrypt: true, unwrap: true, sign: false, derive: false, signRecover: false });
    expect(priv.secretReadError).toMatch(/CKR_ATTRIBUTE_SENSITIVE/);
    expect(pub).toMatchObject({ token: true, encrypt: false, verify: false, wrap: false, verifyRecover: false });
  });

  it('imported material on every path is a token object, private, unmodifiable, sensitive and non-extractable, and no staging object is left behind', async () => {
    const before = await sessionObjectCount(token);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'der' });
    const cases: [WrappingAlgorithmName, ImportedMaterialSpec, Buffer, string][] = [
      ...wrappingAlgorithmNames.map((a): [WrappingAlgorithmName, ImportedMaterialSpec, Buffer, string] => [a, aes, randomBytes(32), 'secret']),
      ['RSA_AES_KEY_WRAP_SHA_256', hmac256, randomBytes(32), 'secret'],
      ['RSA_AES_KEY_WRAP_SHA_1', { kind: 'PRIVATE_KEY', spec: 'RSA_2048', purpose: 'SIGN_VERIFY' }, rsa, 'pair'],
    ];
    for (const [algorithm, material, bytes, kind] of cases) {
      const id = newId();
      await token.keyImport.importKeyMaterial({ wrappingKeyId: wrappingId, algorithm, encryptedMaterial: wrapKeyMaterial(wrappingSpki, algorithm, bytes), material, target: { objectId: id, label: 'kms:imported' } });
      const objects = await rawObjects(token, id);
      expect(objects.map((o) => o.cls).sort()).toEqual(kind === 'pair' ? ['private', 'public'] : ['secret']);
      const secret = objects.find((o) => o.cls !== 'public')!;
      expect({ algorithm, ...secret }).toMatchObject({ algorithm, label: 'kms:imported', token: true, private: true, modifiable: false, sensitive: true, extractable: false });
      expect(secret.secretReadError).toMatch(/CKR_ATTRIBUTE_SENSITIVE/);
      // Material from outside was never "always sensitive"; the token says so honestly.
      expect(secret.neverExtractable).toBe(false);
      await token.keyObjects.destroyKey(id);
    }
    await token.keyImport.importKeyMaterial({ wrappingKeyId: wrappingId, algorithm: 'RSA_AES_KEY_WRAP_SHA_1', encryptedMaterial: wrapKeyMaterial(wrappingSpki, 'RSA_AES_KEY_WRAP_SHA_1', randomBytes(28)), material: aes, target: { objectId: newId(), label: 'x' } }).catch(() => undefined);
    expect(await sessionObjectCount(token)).toBe(before);
  });

  it('the RSA block of wrapped key material must be modulus-length and below the modulus.', async () => {
    const modulus = Buffer.from(createPublicKey({ key: wrappingSpki, format: 'der', type: 'spki' }).export({ format: 'jwk' }).n!, 'base64url');
    const good = wrapKeyMaterial(wrappingSpki, 'RSAES_OAEP_SHA_1', randomBytes(32));
    for (const encryptedMaterial of [good.subarray(2), Buffer.concat([Buffer.from([0]), good]), modulus, Buffer.concat([modulus, Buffer.alloc(40)])]) {
      const algorithm = encryptedMaterial.length > 256 ? 'RSA_AES_KEY_WRAP_SHA_1' as const : 'RSAES_OAEP_SHA_1' as const;
      await expect(token.keyImport.importKeyMaterial({ wrappingKeyId: wrappingId, algorithm, encryptedMaterial, material: aes })).rejects.toMatchObject({ code: 'InvalidCiphertextException', message: '' });
    }
  });

  it('material unwrapped in the token must fit its mechanism, as only a key of the right length does.', async () => {
    // 25 to 31 bytes fill a 40-byte KWP blob like 32 do, so they unwrap in the token, where AES-ECB refuses them.
    expect(importPlan(token.profile, 'RSA_AES_KEY_WRAP_SHA_1', aes, 40).material).toBe('token');
    for (const length of [25, 28, 31]) {
      const id = newId();
      const encryptedMaterial = wrapKeyMaterial(wrappingSpki, 'RSA_AES_KEY_WRAP_SHA_1', randomBytes(length));
      await expect(token.keyImport.importKeyMaterial({ wrappingKeyId: wrappingId, algorithm: 'RSA_AES_KEY_WRAP_SHA_1', encryptedMaterial, material: aes, target: { objectId: id, label: 'x' } }))
        .rejects.toMatchObject({ code: 'IncorrectKeyMaterialException', message: 'Imported key material for key spec SYMMETRIC_DEFAULT must be 32 bytes (256 bits) long.' });
      expect(await rawObjects(token, id)).toEqual([]);
    }
  });
});

describe('session hygiene', () => {
  it('a session left with an active operation is closed, not lent again', async () => {
    const token = openTestToken(createTestToken('suspect'), { poolSize: 1 });
    try {
      const id = randomBytes(32).toString('hex');
      await token.hmacKeys.generateHmacKey(id, 'kms:suspect', 32);
      const lib = token.connection.lib;
      // SoftHSM leaves the sign operation active after CKR_ARGUMENTS_BAD on empty input.
      await expect(token.connection.withSession(async (session) => {
        lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_ID, value: Buffer.from(id, 'hex') }]);
        const [handle] = lib.C_FindObjects(session, 1);
        lib.C_FindObjectsFinal(session);
        lib.C_SignInit(session, { mechanism: pkcs11js.CKM_SHA256_HMAC }, handle!);
        lib.C_SignUpdate(session, Buffer.alloc(0));
      })).rejects.toThrow(/CKR_ARGUMENTS_BAD/);
      // With one session in the pool, the next call would meet CKR_OPERATION_ACTIVE had it been kept.
      expect(await token.hmacKeys.hmac(id, 'SHA_256', Buffer.from('m'))).toHaveLength(32);
    } finally {
      token.close();
    }
  });
});

function openTestTokenWithModule(modulePath: string) {
  const { openDefaultToken } = jest.requireActual<typeof import('../../src/pkcs11')>('../../src/pkcs11');
  return openDefaultToken({ modulePath, tokenLabel: 'x', pin: 'x', poolSize: 1, acquireTimeoutMs: 10, reconnectDelayMs: { initial: 1, max: 1 } });
}
