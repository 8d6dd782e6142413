// The KeyToken contract on SoftHSM, plus the adapter's own promises: a bounded session
// pool, reconnection after the sessions vanish underneath it, and custody attributes.
import * as pkcs11js from 'pkcs11js';
import { createTestToken, openTestTokens } from '../support/softhsm';
import { describeKeyTokenContract } from './key-token.contract';

describeKeyTokenContract('SoftHSM2 through pkcs11js', async () => {
  const directory = openTestTokens(createTestToken('contract'));
  return { token: directory.defaultToken, close: async () => directory.close() };
});

describe('PKCS#11 adapter on SoftHSM', () => {
  it('chooses the SoftHSM profile by manufacturer', () => {
    const directory = openTestTokens(createTestToken('profile'));
    try {
      expect(directory.defaultToken.profile.vendor).toBe('SoftHSM2');
    } finally {
      directory.close();
    }
  });

  it('never lends more sessions than the pool holds, and every caller is served', async () => {
    const directory = openTestTokens(createTestToken('pool'), { poolSize: 2 });
    const connection = directory.defaultToken.connection;
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
      directory.close();
    }
  });

  it('fails a caller that waits too long for a session with KMSInternalException', async () => {
    const directory = openTestTokens(createTestToken('starve'), { poolSize: 1, acquireTimeoutMs: 50 });
    const connection = directory.defaultToken.connection;
    try {
      let release!: () => void;
      const holder = connection.withSession(() => new Promise<void>((r) => { release = r; }));
      await expect(connection.withSession(async () => 'never')).rejects.toMatchObject({ code: 'KMSInternalException' });
      release();
      await holder;
      expect(await connection.withSession(async () => 'served')).toBe('served');
    } finally {
      directory.close();
    }
  });

  it('reconnects after its sessions are closed underneath it, and keeps serving', async () => {
    const testToken = createTestToken('reconnect');
    const directory = openTestTokens(testToken);
    const token = directory.defaultToken;
    try {
      const id = Buffer.alloc(32, 7).toString('hex');
      await token.generateAesKey(id, 'kms:reconnect');
      const sealed = await token.aesGcmEncrypt(id, Buffer.alloc(0), Buffer.from('before'));
      const generation = token.connection.generation;
      // Simulate a device reset: every session of the application on this slot disappears.
      const lib = token.connection.lib;
      const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === testToken.label)!;
      lib.C_CloseAllSessions(slot);
      // Idempotent operations retry once after the reconnect, so callers see no error.
      expect((await token.aesGcmDecrypt(id, Buffer.alloc(0), sealed)).toString()).toBe('before');
      expect(token.connection.generation).toBeGreaterThan(generation);
      expect(await token.isHealthy()).toBe(true);
      await token.destroyKey(id);
    } finally {
      directory.close();
    }
  });

  it('a GCM tag that does not verify is reported as InvalidCiphertextException.', async () => {
    const directory = openTestTokens(createTestToken('gcmtag'));
    const token = directory.defaultToken;
    try {
      const id = Buffer.alloc(32, 3).toString('hex');
      await token.generateAesKey(id, 'kms:gcm');
      const sealed = await token.aesGcmEncrypt(id, Buffer.from('aad'), Buffer.from('data'));
      const badTag = Buffer.from(sealed.tag);
      badTag[15] = badTag[15]! ^ 0x80;
      await expect(token.aesGcmDecrypt(id, Buffer.from('aad'), { ...sealed, tag: badTag })).rejects.toMatchObject({ code: 'InvalidCiphertextException', message: '' });
      // The session survives the failed decrypt and serves the next call.
      expect((await token.aesGcmDecrypt(id, Buffer.from('aad'), sealed)).toString()).toBe('data');
    } finally {
      directory.close();
    }
  });

  it('creates keys with CKA_TOKEN, CKA_SENSITIVE and no CKA_EXTRACTABLE', async () => {
    const directory = openTestTokens(createTestToken('attrs'));
    const token = directory.defaultToken;
    try {
      const id = Buffer.alloc(32, 9).toString('hex');
      await token.generateAesKey(id, 'kms:attrs');
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
      directory.close();
    }
  });

  it('the PKCS#11 module is loaded by absolute path only.', () => {
    expect(() => openTestTokensWithModule('libsofthsm2.so')).toThrow(/absolute/);
  });
});

function openTestTokensWithModule(modulePath: string) {
  const { Pkcs11TokenDirectory } = jest.requireActual<typeof import('../../src/pkcs11')>('../../src/pkcs11');
  return Pkcs11TokenDirectory.open({ modulePath, tokenLabel: 'x', pin: 'x', poolSize: 1, acquireTimeoutMs: 10, reconnectDelayMs: { initial: 1, max: 1 } });
}
