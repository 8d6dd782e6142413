// AWS_CLOUDHSM custom key stores on SoftHSM: further tokens declared as clusters, connected with
// their own PIN beside the default token, in this one process (and one module instance).
import { randomBytes } from 'node:crypto';
import * as pkcs11js from 'pkcs11js';
import { SOFTHSM_MODULE, type HsmClusterDeclaration } from '../../src/config';
import { KeyStoreConnectionError } from '../../src/core/key-stores/connectors';
import type { KeyStore } from '../../src/core/key-stores/port';
import { requireCapability } from '../../src/core/key-stores/registry';
import { Pkcs11Token } from '../../src/pkcs11';
import { ClusterKeyStore, Pkcs11TokenClusters } from '../../src/pkcs11/clusters';
import { createTestToken, openTestToken, type TestToken } from '../support/softhsm';

const A = 'cluster-aaaaaaaaaaa';
const B = 'cluster-bbbbbbbbbbbbbbbb';
const NO_TOKEN = 'cluster-n0t0ken2222';
const NO_MODULE = 'cluster-n0m0du1e222';
const NO_CONF = 'cluster-n0c0nf22222';

let defaultToken: Pkcs11Token;
let defaultTestToken: TestToken;
let tokenA: TestToken;
let tokenB: TestToken;
let clusters: Pkcs11TokenClusters;
const opened: KeyStore[] = [];

const newId = () => randomBytes(32).toString('hex');
const call = { operation: 'Encrypt', requestId: 'r', principalArn: 'arn:aws:iam::111122223333:root', keyArn: 'arn:aws:kms:us-east-1:111122223333:key/k' };

async function connect(clusterId: string, pin: string, storeId = `cks-${randomBytes(8).toString('hex')}`): Promise<KeyStore> {
  const store = await clusters.connect(storeId, clusterId, pin);
  opened.push(store);
  return store;
}

/** The connection error of a connect that must fail. */
async function connectError(clusterId: string, pin: string, on = clusters): Promise<KeyStoreConnectionError> {
  const error = await on.connect('cks-1234567890abcdef0', clusterId, pin).then(
    (store) => { opened.push(store); throw new Error('connected'); },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeyStoreConnectionError);
  return error as KeyStoreConnectionError;
}

/** Runs `fn` on a raw session of the module instance the default token uses, as an auditor (or an intruder with the PIN) would. */
function withRawSession<T>(token: TestToken, fn: (lib: pkcs11js.PKCS11, session: pkcs11js.Handle) => T): T {
  const lib = defaultToken.connection.lib;
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === token.label);
  if (slot === undefined) throw new Error(`token ${token.label} not visible`);
  const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  try {
    return fn(lib, session);
  } finally {
    lib.C_CloseSession(session);
  }
}

function findById(lib: pkcs11js.PKCS11, session: pkcs11js.Handle, objectId: string): pkcs11js.Handle[] {
  lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_ID, value: Buffer.from(objectId, 'hex') }]);
  try {
    return lib.C_FindObjects(session, 10);
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}

/** Deletes every object under `objectId` behind the service's back (the token is logged in, so private objects are visible). */
function deleteBehindTheBack(token: TestToken, objectId: string): number {
  return withRawSession(token, (lib, session) => {
    const handles = findById(lib, session, objectId);
    for (const h of handles) lib.C_DestroyObject(session, h);
    return handles.length;
  });
}

async function roundTrip(store: KeyStore, objectId: string, text: string): Promise<string> {
  const sealed = await store.encrypt(objectId, Buffer.from('aad'), Buffer.from(text), call);
  return (await store.decrypt(objectId, Buffer.from('aad'), sealed, call)).toString();
}

beforeAll(() => {
  defaultTestToken = createTestToken('cks-default');
  tokenA = createTestToken('cks-a');
  tokenB = createTestToken('cks-b');
  // The default token first: the clusters join its module instance (A) or get one of their own (B, its own SOFTHSM2_CONF setting).
  defaultToken = openTestToken(defaultTestToken);
  const declarations: HsmClusterDeclaration[] = [
    { id: A, module: SOFTHSM_MODULE, tokenLabel: tokenA.label },
    { id: B, module: SOFTHSM_MODULE, tokenLabel: tokenB.label, softhsmConf: process.env.SOFTHSM2_CONF! },
    { id: NO_TOKEN, module: SOFTHSM_MODULE, tokenLabel: 'no-such-token' },
    { id: NO_MODULE, module: '/nonexistent/lib/libpkcs11-missing.so', tokenLabel: tokenA.label },
    { id: NO_CONF, module: SOFTHSM_MODULE, tokenLabel: tokenA.label, softhsmConf: '/nonexistent/softhsm2.conf' },
  ];
  clusters = new Pkcs11TokenClusters(declarations, { poolSize: 2, acquireTimeoutMs: 5000, reconnectDelayMs: { initial: 10, max: 200 } });
});

afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

afterAll(async () => {
  await defaultToken?.close();
});

it('knows the declared clusters', () => {
  expect(clusters.has(A)).toBe(true);
  expect(clusters.has('cluster-zzzzzzzzzzz')).toBe(false);
});

it('connects to a declared token with its PIN and round-trips AES-GCM under a key made there', async () => {
  const store = await connect(A, tokenA.pin, 'cks-0123456789abcdef0');
  expect(store.id).toBe('cks-0123456789abcdef0');
  expect(await store.isHealthy()).toBe(true);
  const id = newId();
  await store.keyObjects!.generateAesKey(id, 'kms:cks-roundtrip');
  expect(await store.keyObjects!.hasKey(id)).toBe(true);
  expect(await roundTrip(store, id, 'in the custom key store')).toBe('in the custom key store');
  // A GCM tag that does not verify is still InvalidCiphertextException.
  const sealed = await store.encrypt(id, Buffer.alloc(0), Buffer.from('x'), call);
  await expect(store.decrypt(id, Buffer.alloc(0), { ...sealed, tag: Buffer.alloc(16) }, call)).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
  expect(await store.keyObjects!.destroyKey(id)).toBe(true);
  expect(await store.keyObjects!.destroyKey(id)).toBe(false);
});

it('makes keys in the cluster token sensitive, non-extractable, on the token and labelled as asked', async () => {
  const store = await connect(A, tokenA.pin);
  const id = newId();
  await store.keyObjects!.generateAesKey(id, 'kms:cks-custody');
  const objects = withRawSession(tokenA, (lib, session) => findById(lib, session, id).map((h) => {
    const [label, sensitive, extractable, onToken, cls] = lib.C_GetAttributeValue(session, h, [
      { type: pkcs11js.CKA_LABEL }, { type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE }, { type: pkcs11js.CKA_TOKEN }, { type: pkcs11js.CKA_CLASS },
    ]).map((a) => a.value as Buffer);
    let valueRead = 'readable';
    try {
      lib.C_GetAttributeValue(session, h, [{ type: pkcs11js.CKA_VALUE }]);
    } catch (e) {
      valueRead = (e as Error).message;
    }
    return { label: label!.toString(), sensitive: sensitive![0] === 1, extractable: extractable![0] === 1, token: onToken![0] === 1, secretKey: cls!.readUInt32LE(0) === pkcs11js.CKO_SECRET_KEY, valueRead };
  }));
  expect(objects).toEqual([{ label: 'kms:cks-custody', sensitive: true, extractable: false, token: true, secretKey: true, valueRead: 'CKR_ATTRIBUTE_SENSITIVE' }]);
  // Only in the cluster's token, not in the default one.
  expect(withRawSession(defaultTestToken, (lib, session) => findById(lib, session, id))).toHaveLength(0);
  await store.keyObjects!.destroyKey(id);
});

it('gives random bytes from the token', async () => {
  const store = await connect(A, tokenA.pin);
  const [r1, r2] = [await store.randomBytes(32), await store.randomBytes(32)];
  expect(r1).toHaveLength(32);
  expect(r1.equals(r2)).toBe(false);
});

it('offers key objects and AES-GCM only: core refuses key pairs, HMAC, import and external keys for its keys', async () => {
  const store = await connect(A, tokenA.pin);
  for (const name of ['keyPairs', 'hmacKeys', 'keyImport', 'externalKeys'] as const) {
    expect(name in store).toBe(false);
    expect(() => requireCapability(store, name)).toThrow(expect.objectContaining({ code: 'UnsupportedOperationException' }));
  }
  expect(Object.keys(store.keyObjects!).sort()).toEqual(['destroyKey', 'destroyUnnamed', 'generateAesKey', 'hasKey']);
  expect(requireCapability(store, 'keyObjects')).toBe(store.keyObjects);
  // Not the token itself, nor anything that leads to it.
  expect(store).toBeInstanceOf(ClusterKeyStore);
  expect(Object.values(store).some((v) => v instanceof Pkcs11Token)).toBe(false);
});

describe('connection errors carry the ConnectionErrorCode AWS would report', () => {
  it('a wrong PIN is INVALID_CREDENTIALS, and the PIN appears nowhere in the error', async () => {
    const wrongPin = `wrong-${randomBytes(6).toString('hex')}`;
    const error = await connectError(A, wrongPin);
    expect(error.code).toBe('INVALID_CREDENTIALS');
    expect(error.detail).toContain('CKR_PIN_INCORRECT');
    for (const text of [error.message, error.detail, error.stack ?? '', JSON.stringify(error)]) {
      expect(text).not.toContain(wrongPin);
      expect(text).not.toContain(tokenA.pin);
    }
    // Nothing was left logged in: the right PIN connects at once.
    await connect(A, tokenA.pin);
  });

  it('a token this process is logged in to already is USER_LOGGED_IN (the PIN is not enough to share it)', async () => {
    await connect(A, tokenA.pin);
    const error = await connectError(A, tokenA.pin);
    expect(error.code).toBe('USER_LOGGED_IN');
    expect(error.detail).not.toContain(tokenA.pin);
  });

  it('an unknown token label, a missing module or a missing SoftHSM configuration is CLUSTER_NOT_FOUND', async () => {
    for (const clusterId of [NO_TOKEN, NO_MODULE, NO_CONF, 'cluster-und3c1ared22']) {
      const error = await connectError(clusterId, tokenA.pin);
      expect({ clusterId, code: error.code }).toEqual({ clusterId, code: 'CLUSTER_NOT_FOUND' });
      expect(error.detail).not.toContain(tokenA.pin);
    }
    expect((await connectError(NO_TOKEN, tokenA.pin)).detail).toContain("no token labelled \"no-such-token\"");
    expect((await connectError(NO_MODULE, tokenA.pin)).detail).toContain('cannot load the module');
  });

  it('a token that does not answer in time is NETWORK_ERRORS', async () => {
    const impatient = new Pkcs11TokenClusters([{ id: A, module: SOFTHSM_MODULE, tokenLabel: tokenA.label }], { connectTimeoutMs: 1 });
    const started = Date.now();
    const error = await connectError(A, tokenA.pin, impatient);
    expect(error.code).toBe('NETWORK_ERRORS');
    expect(error.detail).toMatch(/did not answer within 1 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
    // Nothing half-open stays behind.
    await connect(A, tokenA.pin);
  });
});

describe('a backing key deleted from the token behind the service', () => {
  it('is KMSInvalidStateException for encrypt and decrypt, every time, while the store and the default token keep working', async () => {
    const store = await connect(A, tokenA.pin);
    const [gone, kept] = [newId(), newId()];
    await store.keyObjects!.generateAesKey(gone, 'kms:cks-gone');
    await store.keyObjects!.generateAesKey(kept, 'kms:cks-kept');
    const sealed = await store.encrypt(gone, Buffer.alloc(0), Buffer.from('before'), call);
    const defaultId = newId();
    await defaultToken.keyObjects.generateAesKey(defaultId, 'kms:default');
    const defaultSealed = await defaultToken.encrypt(defaultId, Buffer.alloc(0), Buffer.from('default'));

    expect(deleteBehindTheBack(tokenA, gone)).toBe(1);
    // Twice in a row: the second comes within the window in which the token's view is not re-read again.
    for (let i = 0; i < 2; i++) {
      const encrypting = await store.encrypt(gone, Buffer.alloc(0), Buffer.from('after'), call).catch((e: unknown) => e);
      expect(encrypting).toMatchObject({ code: 'KMSInvalidStateException', message: expect.stringMatching(/key material .* missing from the token of custom key store/) });
      await expect(store.decrypt(gone, Buffer.alloc(0), sealed, call)).rejects.toMatchObject({ code: 'KMSInvalidStateException' });
    }
    // The token is not taken for unavailable: other keys, random bytes and health are fine.
    expect(await roundTrip(store, kept, 'still here')).toBe('still here');
    expect(await store.randomBytes(8)).toHaveLength(8);
    expect(await store.isHealthy()).toBe(true);
    expect(await store.keyObjects!.hasKey(gone)).toBe(false);
    // Telling a missing object from an outage re-initialised the module instance the default token
    // shares, which hands out the same session numbers again: the default token logs in afresh
    // rather than use a number that is now the cluster's session, so its new key lands in its own token.
    const madeAfter = newId();
    await defaultToken.keyObjects.generateAesKey(madeAfter, 'kms:default-after');
    expect(withRawSession(defaultTestToken, (lib, session) => findById(lib, session, madeAfter))).toHaveLength(1);
    expect(withRawSession(tokenA, (lib, session) => findById(lib, session, madeAfter))).toHaveLength(0);
    await defaultToken.keyObjects.destroyKey(madeAfter);
    expect((await defaultToken.decrypt(defaultId, Buffer.alloc(0), defaultSealed)).toString()).toBe('default');
    expect(await roundTrip(defaultToken, defaultId, 'default again')).toBe('default again');
    await defaultToken.keyObjects.destroyKey(defaultId);
    await store.keyObjects!.destroyKey(kept);
  });

  it('is KMSInvalidStateException even when the store health key went with it (it is made again)', async () => {
    const store = await connect(A, tokenA.pin);
    const id = newId();
    await store.keyObjects!.generateAesKey(id, 'kms:cks-gone-too');
    const { HEALTH_KEY_ID } = await import('../../src/pkcs11/token-objects');
    expect(deleteBehindTheBack(tokenA, HEALTH_KEY_ID)).toBe(1);
    deleteBehindTheBack(tokenA, id);
    await expect(store.encrypt(id, Buffer.alloc(0), Buffer.from('x'), call)).rejects.toMatchObject({ code: 'KMSInvalidStateException' });
    expect(await store.isHealthy()).toBe(true);
  });
});

it('close logs out and closes the sessions, is idempotent, and a closed store fails cleanly', async () => {
  const store = await connect(A, tokenA.pin);
  const id = newId();
  await store.keyObjects!.generateAesKey(id, 'kms:cks-close');
  const sealed = await store.encrypt(id, Buffer.alloc(0), Buffer.from('x'), call);
  await store.close();
  await store.close();
  expect(await store.isHealthy()).toBe(false);
  for (const use of [
    () => store.encrypt(id, Buffer.alloc(0), Buffer.from('x'), call),
    () => store.decrypt(id, Buffer.alloc(0), sealed, call),
    () => store.randomBytes(8),
    () => store.keyObjects!.hasKey(id),
    () => store.keyObjects!.generateAesKey(newId(), 'kms:late'),
  ]) {
    await expect(use()).rejects.toMatchObject({ code: 'KMSInvalidStateException', message: expect.stringContaining('is not connected') });
  }
  // Logged out: a raw session of this process is a public one (CKS_RW_PUBLIC_SESSION, not CKS_RW_USER_FUNCTIONS).
  const CKS_RW_PUBLIC_SESSION = 2;
  expect(withRawSession(tokenA, (lib, session) => lib.C_GetSessionInfo(session).state)).toBe(CKS_RW_PUBLIC_SESSION);
  // And it connects again; the key is still in the token.
  const again = await connect(A, tokenA.pin);
  expect((await again.decrypt(id, Buffer.alloc(0), sealed, call)).toString()).toBe('x');
  await again.keyObjects!.destroyKey(id);
});

it('two clusters on two tokens and the default token work at once, and closing one leaves the others working', async () => {
  const a = await connect(A, tokenA.pin);
  const b = await connect(B, tokenB.pin);
  // One object id in all three tokens, each its own key.
  const id = newId();
  await a.keyObjects!.generateAesKey(id, 'kms:cks-two-a');
  await b.keyObjects!.generateAesKey(id, 'kms:cks-two-b');
  await defaultToken.keyObjects.generateAesKey(id, 'kms:cks-two-default');
  const sealedA = await a.encrypt(id, Buffer.alloc(0), Buffer.from('a'), call);
  const sealedB = await b.encrypt(id, Buffer.alloc(0), Buffer.from('b'), call);
  const sealedDefault = await defaultToken.encrypt(id, Buffer.alloc(0), Buffer.from('default'));
  // A ciphertext of one token does not decrypt in another.
  await expect(b.decrypt(id, Buffer.alloc(0), sealedA, call)).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
  await expect(defaultToken.decrypt(id, Buffer.alloc(0), sealedB)).rejects.toMatchObject({ code: 'InvalidCiphertextException' });

  await a.close();
  expect((await b.decrypt(id, Buffer.alloc(0), sealedB, call)).toString()).toBe('b');
  expect((await defaultToken.decrypt(id, Buffer.alloc(0), sealedDefault)).toString()).toBe('default');
  expect(await defaultToken.isHealthy()).toBe(true);
  await b.close();
  expect(await roundTrip(defaultToken, id, 'default alone')).toBe('default alone');

  const again = await connect(A, tokenA.pin);
  expect((await again.decrypt(id, Buffer.alloc(0), sealedA, call)).toString()).toBe('a');
  await again.keyObjects!.destroyKey(id);
  const bAgain = await connect(B, tokenB.pin);
  await bAgain.keyObjects!.destroyKey(id);
  await defaultToken.keyObjects.destroyKey(id);
});
