// Rotation through the HTTP API on a real token (SoftHSM) and the embedded store, with a clock
// the tests move: the rotation operations, the scheduler (also across a restart), and crashes
// injected between the store and the token at every step of a rotation.
import * as pkcs11js from 'pkcs11js';
import { SOFTHSM_MODULE } from '../../src/config';
import { parseCiphertext } from '../../src/core/crypto/ciphertext';
import type { KeyRecord, KeyScope } from '../../src/core/model';
import type { MetadataStore } from '../../src/core/ports';
import { deleteDueKeys } from '../../src/core/jobs/deletion';
import { runMaintenance } from '../../src/core/jobs/maintenance';
import { recoverInterruptedRotations, rotateDueKeys } from '../../src/core/rotation/rotation';
import { FakeClock } from '../support/clock';
import { kmsCall } from '../support/signed';
import { ACCOUNT, ALICE, REGION, startTestService, type TestService } from '../support/service';
import { inspectObjectsById } from '../support/softhsm';
import { FaultyStore } from '../support/faulty-store';

const DAY = 24 * 60 * 60 * 1000;
const scope: KeyScope = { accountId: ACCOUNT, region: REGION };
const PLAINTEXT = Buffer.from('rotate me').toString('base64');

let clock: FakeClock;
let svc: TestService;
let faulty: FaultyStore;
beforeAll(async () => {
  clock = new FakeClock(new Date('2026-03-01T12:00:00Z'));
  svc = await startTestService({ clock, wrapStore: (store) => (faulty = new FaultyStore(store)).store });
});
afterAll(async () => { await svc.close(); });
afterEach(() => {
  jest.restoreAllMocks();
  faulty.disarm();
});

async function createKey(app = svc.app): Promise<{ KeyId: string; Arn: string; CurrentKeyMaterialId: string }> {
  return (await kmsCall(app, 'CreateKey', {})).body.KeyMetadata;
}
const stored = async (keyId: string, store: MetadataStore = svc.store) => (await store.keys.get(scope, keyId))!;
const encrypt = async (keyId: string, app = svc.app) => (await kmsCall(app, 'Encrypt', { KeyId: keyId, Plaintext: PLAINTEXT })).body.CiphertextBlob as string;
const versionIn = (blob: string) => parseCiphertext(Buffer.from(blob, 'base64')).keyMaterialId;
const status = async (keyId: string, app = svc.app) => (await kmsCall(app, 'GetKeyRotationStatus', { KeyId: keyId })).body;
const decrypts = async (blob: string, app = svc.app) => (await kmsCall(app, 'Decrypt', { CiphertextBlob: blob })).body.Plaintext === PLAINTEXT;

/** Records every object id the token is asked to generate, and still generates it. */
function watchGenerations(): string[] {
  const generated: string[] = [];
  const token = svc.defaultStore;
  const real = token.keyObjects.generateAesKey.bind(token.keyObjects);
  jest.spyOn(token.keyObjects, 'generateAesKey').mockImplementation(async (objectId, label) => {
    generated.push(objectId);
    return real(objectId, label);
  });
  return generated;
}

/** The key is usable with exactly one current, ACTIVE version whose object exists, and old ciphertexts open. */
async function expectConsistent(keyId: string, oldCiphertexts: string[]): Promise<KeyRecord> {
  const key = await stored(keyId);
  const current = key.versions.find((v) => v.id === key.currentVersionId);
  expect(current?.status).toBe('ACTIVE');
  expect(await svc.defaultStore.keyObjects.hasKey(current!.id)).toBe(true);
  const fresh = await encrypt(keyId);
  expect(versionIn(fresh)).toBe(key.currentVersionId);
  for (const blob of [...oldCiphertexts, fresh]) expect(await decrypts(blob)).toBe(true);
  return key;
}

/** Every object the token made is named by a version of the key, or no longer exists. */
async function expectNoOrphans(keyId: string, generated: string[]): Promise<void> {
  const named = new Set((await stored(keyId)).versions.map((v) => v.id));
  for (const objectId of generated) {
    if (!named.has(objectId)) expect(await svc.defaultStore.keyObjects.hasKey(objectId)).toBe(false);
  }
}

describe('EnableKeyRotation, DisableKeyRotation and GetKeyRotationStatus', () => {
  it('enables with the default 365-day period, the first rotation one period after the call', async () => {
    const key = await createKey();
    expect(await status(key.KeyId)).toEqual({ KeyId: key.KeyId, KeyRotationEnabled: false });
    const res = await kmsCall(svc.app, 'EnableKeyRotation', { KeyId: key.KeyId });
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: {} });
    expect(await status(key.Arn)).toEqual({
      KeyId: key.KeyId, KeyRotationEnabled: true, RotationPeriodInDays: 365, NextRotationDate: (clock.now().getTime() + 365 * DAY) / 1000,
    });
  });

  it('takes a period of 90 to 2560 days; enabling again restarts the clock with the new period', async () => {
    const key = await createKey();
    expect((await kmsCall(svc.app, 'EnableKeyRotation', { KeyId: key.KeyId, RotationPeriodInDays: 89 })).body).toEqual({
      __type: 'ValidationException',
      message: "1 validation error detected: Value '89' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value greater than or equal to 90",
    });
    expect((await kmsCall(svc.app, 'EnableKeyRotation', { KeyId: key.KeyId, RotationPeriodInDays: 2561 })).body.message).toBe(
      "1 validation error detected: Value '2561' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value less than or equal to 2560",
    );
    expect((await kmsCall(svc.app, 'EnableKeyRotation', { KeyId: key.KeyId, RotationPeriodInDays: '90' })).body.__type).toBe('SerializationException');
    await kmsCall(svc.app, 'EnableKeyRotation', { KeyId: key.KeyId, RotationPeriodInDays: 2560 });
    expect((await status(key.KeyId)).RotationPeriodInDays).toBe(2560);
    clock.advanceDays(3);
    await kmsCall(svc.app, 'EnableKeyRotation', { KeyId: key.KeyId, RotationPeriodInDays: 90 });
    expect(await status(key.KeyId)).toMatchObject({ RotationPeriodInDays: 90, NextRotationDate: (clock.now().getTime() + 90 * DAY) / 1000 });
  });

  it('disabling drops the period and the date; disabling twice is allowed', async () => {
    const key = await createKey();
    await kmsCall(svc.app, 'EnableKeyRotation', { KeyId: key.KeyId, RotationPeriodInDays: 180 });
    expect((await kmsCall(svc.app, 'DisableKeyRotation', { KeyId: key.Arn })).status).toBe(200);
    expect((await kmsCall(svc.app, 'DisableKeyRotation', { KeyId: key.KeyId })).status).toBe(200);
    expect(await status(key.KeyId)).toEqual({ KeyId: key.KeyId, KeyRotationEnabled: false });
  });

  it('refuses to change the setting of a disabled key or one pending deletion, and reports false while pending deletion', async () => {
    const key = await createKey();
    await kmsCall(svc.app, 'EnableKeyRotation', { KeyId: key.KeyId, RotationPeriodInDays: 90 });
    const enabled = await status(key.KeyId);
    await kmsCall(svc.app, 'DisableKey', { KeyId: key.KeyId });
    expect((await kmsCall(svc.app, 'DisableKeyRotation', { KeyId: key.KeyId })).body).toEqual({ __type: 'DisabledException', message: `${key.Arn} is disabled.` });
    expect((await kmsCall(svc.app, 'EnableKeyRotation', { KeyId: key.KeyId })).body).toEqual({ __type: 'DisabledException', message: `${key.Arn} is disabled.` });
    // A disabled key keeps its setting.
    expect(await status(key.KeyId)).toEqual(enabled);
    await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 7 });
    expect((await kmsCall(svc.app, 'EnableKeyRotation', { KeyId: key.KeyId })).body).toEqual({ __type: 'KMSInvalidStateException', message: `${key.Arn} is pending deletion.` });
    expect(await status(key.KeyId)).toEqual({ KeyId: key.KeyId, KeyRotationEnabled: false });
    // CancelKeyDeletion restores the setting, as AWS does.
    await kmsCall(svc.app, 'CancelKeyDeletion', { KeyId: key.KeyId });
    expect(await status(key.KeyId)).toEqual(enabled);
  });

  it('takes key ids and ARNs only, and refuses other principals', async () => {
    const key = await createKey();
    await svc.store.aliases.insert({ ...scope, aliasName: 'alias/rotation', targetKeyId: key.KeyId, createdAt: clock.now(), updatedAt: clock.now() });
    for (const op of ['EnableKeyRotation', 'DisableKeyRotation', 'GetKeyRotationStatus', 'RotateKeyOnDemand', 'ListKeyRotations']) {
      expect((await kmsCall(svc.app, op, { KeyId: 'alias/rotation' })).body).toEqual({ __type: 'NotFoundException', message: "Invalid keyId 'alias/rotation'" });
      expect((await kmsCall(svc.app, op, { KeyId: key.Arn }, { credentials: ALICE })).body.__type).toBe('AccessDeniedException');
      expect((await kmsCall(svc.app, op, {})).body).toEqual({
        __type: 'ValidationException', message: "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
      });
    }
    const missing = `arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-4000-8000-000000000000`;
    expect((await kmsCall(svc.app, 'RotateKeyOnDemand', { KeyId: missing })).body).toEqual({ __type: 'NotFoundException', message: `Key '${missing}' does not exist` });
  });
});

describe('keys that do not rotate', () => {
  it('asymmetric and HMAC keys: UnsupportedOperationException with the empty message AWS sends, and status false', async () => {
    for (const spec of [{ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }, { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }, { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }]) {
      const key = (await kmsCall(svc.app, 'CreateKey', spec)).body.KeyMetadata as { KeyId: string };
      for (const op of ['EnableKeyRotation', 'DisableKeyRotation', 'RotateKeyOnDemand', 'ListKeyRotations']) {
        const res = await kmsCall(svc.app, op, { KeyId: key.KeyId });
        expect({ spec, op, status: res.status, body: res.body }).toEqual({ spec, op, status: 400, body: { __type: 'UnsupportedOperationException', message: '' } });
      }
      expect(await status(key.KeyId)).toEqual({ KeyId: key.KeyId, KeyRotationEnabled: false });
      expect((await stored(key.KeyId)).versions).toHaveLength(1);
    }
  });

  it('a key with imported material: the origin message', async () => {
    const key = await createKey();
    await svc.store.keys.replace({ ...(await stored(key.KeyId)), origin: 'EXTERNAL' });
    for (const op of ['EnableKeyRotation', 'DisableKeyRotation', 'GetKeyRotationStatus', 'RotateKeyOnDemand', 'ListKeyRotations']) {
      expect((await kmsCall(svc.app, op, { KeyId: key.KeyId })).body).toEqual({
        __type: 'UnsupportedOperationException', message: `${key.Arn} origin is EXTERNAL which is not valid for this operation.`,
      });
    }
  });
});

describe('RotateKeyOnDemand', () => {
  it('makes a new current version per rotation; ciphertexts from before each rotation still decrypt', async () => {
    const key = await createKey();
    const ciphertexts: string[] = [await encrypt(key.KeyId)];
    const dataKey = (await kmsCall(svc.app, 'GenerateDataKey', { KeyId: key.KeyId, KeySpec: 'AES_256' })).body;
    for (let i = 0; i < 3; i++) {
      clock.advanceDays(1);
      const res = await kmsCall(svc.app, 'RotateKeyOnDemand', { KeyId: key.Arn });
      expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { KeyId: key.KeyId } });
      const current = (await kmsCall(svc.app, 'DescribeKey', { KeyId: key.KeyId })).body.KeyMetadata.CurrentKeyMaterialId as string;
      expect(ciphertexts.map(versionIn)).not.toContain(current);
      const blob = await encrypt(key.KeyId);
      expect(versionIn(blob)).toBe(current);
      ciphertexts.push(blob);
    }
    for (const blob of ciphertexts) expect(await decrypts(blob)).toBe(true);
    expect(new Set(ciphertexts.map(versionIn)).size).toBe(4);
    const current = versionIn(ciphertexts[3]!);
    // GenerateDataKey and ReEncrypt use the newest version too; the old data key still opens.
    expect(versionIn((await kmsCall(svc.app, 'GenerateDataKey', { KeyId: key.KeyId, KeySpec: 'AES_256' })).body.CiphertextBlob)).toBe(current);
    expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: dataKey.CiphertextBlob })).body.Plaintext).toBe(dataKey.Plaintext);
    const reEncrypted = (await kmsCall(svc.app, 'ReEncrypt', { CiphertextBlob: ciphertexts[0], DestinationKeyId: key.KeyId })).body;
    expect(versionIn(reEncrypted.CiphertextBlob)).toBe(current);
    expect(reEncrypted.SourceKeyId).toBe(key.Arn);
    // Key properties are unchanged by rotation.
    expect((await kmsCall(svc.app, 'DescribeKey', { KeyId: key.KeyId })).body.KeyMetadata).toMatchObject({ KeyId: key.KeyId, Arn: key.Arn, KeyState: 'Enabled' });
  });

  it('each new version is a sensitive, non-extractable token object whose value cannot be read', async () => {
    const key = await createKey();
    await kmsCall(svc.app, 'RotateKeyOnDemand', { KeyId: key.KeyId });
    const { currentVersionId, versions } = await stored(key.KeyId);
    expect(versions[1]).toEqual({ id: currentVersionId, backing: { kind: 'pkcs11', tokenId: 'default', objectId: currentVersionId }, createdAt: clock.now(), status: 'ACTIVE' });
    const lib = new pkcs11js.PKCS11();
    lib.load(SOFTHSM_MODULE);
    expect(inspectObjectsById(lib, svc.token, currentVersionId!)).toEqual([{ sensitive: true, extractable: false, token: true, valueReadError: 'CKR_ATTRIBUTE_SENSITIVE' }]);
  });

  it('refuses a disabled key, one pending deletion, and the eleventh rotation', async () => {
    const key = await createKey();
    await kmsCall(svc.app, 'DisableKey', { KeyId: key.KeyId });
    expect((await kmsCall(svc.app, 'RotateKeyOnDemand', { KeyId: key.KeyId })).body).toEqual({ __type: 'DisabledException', message: `${key.Arn} is disabled.` });
    await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 7 });
    expect((await kmsCall(svc.app, 'RotateKeyOnDemand', { KeyId: key.KeyId })).body).toEqual({ __type: 'KMSInvalidStateException', message: `${key.Arn} is pending deletion.` });

    const limited = await createKey();
    for (let i = 0; i < 10; i++) expect((await kmsCall(svc.app, 'RotateKeyOnDemand', { KeyId: limited.KeyId })).status).toBe(200);
    const res = await kmsCall(svc.app, 'RotateKeyOnDemand', { KeyId: limited.KeyId });
    expect({ status: res.status, body: res.body }).toEqual({
      status: 400,
      body: {
        __type: 'LimitExceededException',
        message: `The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: ${limited.Arn}`,
      },
    });
    expect((await stored(limited.KeyId)).versions).toHaveLength(11);
  });
});

describe('ListKeyRotations', () => {
  it('lists completed rotations with their dates and types, paginated', async () => {
    const key = await createKey();
    expect((await kmsCall(svc.app, 'ListKeyRotations', { KeyId: key.KeyId })).body).toEqual({ Rotations: [], Truncated: false });
    const dates: number[] = [];
    for (let i = 0; i < 3; i++) {
      clock.advanceDays(2);
      await kmsCall(svc.app, 'RotateKeyOnDemand', { KeyId: key.KeyId });
      dates.push(clock.now().getTime() / 1000);
    }
    await kmsCall(svc.app, 'EnableKeyRotation', { KeyId: key.KeyId, RotationPeriodInDays: 90 });
    clock.advanceDays(90);
    expect((await rotateDueKeys(svc.deps)).rotated).toContain(key.KeyId);
    dates.push(clock.now().getTime() / 1000);
    const { versions, currentVersionId } = await stored(key.KeyId);

    const first = (await kmsCall(svc.app, 'ListKeyRotations', { KeyId: key.Arn, Limit: 3 })).body;
    expect(first.Truncated).toBe(true);
    expect(first.Rotations).toEqual(versions.slice(1, 4).map((v, i) => ({
      KeyId: key.KeyId, KeyMaterialId: v.id, KeyMaterialState: 'NON_CURRENT', RotationDate: dates[i], RotationType: 'ON_DEMAND',
    })));
    const second = (await kmsCall(svc.app, 'ListKeyRotations', { KeyId: key.KeyId, Limit: 3, Marker: first.NextMarker })).body;
    expect(second).toEqual({
      Rotations: [{ KeyId: key.KeyId, KeyMaterialId: currentVersionId, KeyMaterialState: 'CURRENT', RotationDate: dates[3], RotationType: 'AUTOMATIC' }],
      Truncated: false,
    });
    const all = (await kmsCall(svc.app, 'ListKeyRotations', { KeyId: key.KeyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' })).body;
    expect(all.Rotations[0]).toEqual({ KeyId: key.KeyId, KeyMaterialId: key.CurrentKeyMaterialId, KeyMaterialState: 'NON_CURRENT' });
    expect(all.Rotations).toHaveLength(5);
  });

  it('validates Limit, IncludeKeyMaterial and Marker', async () => {
    const key = await createKey();
    expect((await kmsCall(svc.app, 'ListKeyRotations', { KeyId: key.KeyId, Limit: 0 })).body.message).toBe(
      "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
    );
    expect((await kmsCall(svc.app, 'ListKeyRotations', { KeyId: key.KeyId, Limit: 1001 })).body.__type).toBe('ValidationException');
    expect((await kmsCall(svc.app, 'ListKeyRotations', { KeyId: key.KeyId, IncludeKeyMaterial: 'SOME' })).body.message).toBe(
      "1 validation error detected: Value 'SOME' at 'includeKeyMaterial' failed to satisfy constraint: Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]",
    );
    expect((await kmsCall(svc.app, 'ListKeyRotations', { KeyId: key.KeyId, Marker: 'bm90LWEtbWFya2Vy' })).body).toEqual({ __type: 'InvalidMarkerException', message: 'Marker is invalid' });
  });
});

describe('the rotation scheduler', () => {
  it('rotates a key when its rotation falls due on the fake clock, not a moment before, then every period', async () => {
    const key = await createKey();
    const before = await encrypt(key.KeyId);
    await kmsCall(svc.app, 'EnableKeyRotation', { KeyId: key.KeyId, RotationPeriodInDays: 90 });
    clock.advance(90 * DAY - 1);
    expect((await runMaintenance(svc.deps, { atStartup: false })).rotations.rotated).not.toContain(key.KeyId);
    expect((await stored(key.KeyId)).versions).toHaveLength(1);
    clock.advance(1);
    const report = await runMaintenance(svc.deps, { atStartup: false });
    expect(report.rotations.rotated).toContain(key.KeyId);
    expect(report.rotations.failed).toEqual([]);
    const rotated = await expectConsistent(key.KeyId, [before]);
    expect(rotated.currentVersionId).not.toBe(key.CurrentKeyMaterialId);
    expect(await status(key.KeyId)).toMatchObject({ NextRotationDate: (clock.now().getTime() + 90 * DAY) / 1000 });
    clock.advanceDays(90);
    await runMaintenance(svc.deps, { atStartup: false });
    expect((await stored(key.KeyId)).versions).toHaveLength(3);
  });

  it('leaves keys without rotation, disabled keys and keys pending deletion alone', async () => {
    const plain = await createKey();
    const disabled = await createKey();
    const doomed = await createKey();
    for (const key of [disabled, doomed]) await kmsCall(svc.app, 'EnableKeyRotation', { KeyId: key.KeyId, RotationPeriodInDays: 90 });
    await kmsCall(svc.app, 'DisableKey', { KeyId: disabled.KeyId });
    clock.advanceDays(80);
    await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: doomed.KeyId, PendingWindowInDays: 30 });
    clock.advanceDays(20);
    const report = await runMaintenance(svc.deps, { atStartup: false });
    for (const key of [plain, disabled, doomed]) {
      expect(report.rotations.rotated).not.toContain(key.KeyId);
      expect((await stored(key.KeyId)).versions).toHaveLength(1);
    }
    // After cancelling the deletion and enabling the key, the overdue rotation happens once.
    await kmsCall(svc.app, 'CancelKeyDeletion', { KeyId: doomed.KeyId });
    await kmsCall(svc.app, 'EnableKey', { KeyId: doomed.KeyId });
    expect((await runMaintenance(svc.deps, { atStartup: false })).rotations.rotated).toContain(doomed.KeyId);
    expect((await stored(doomed.KeyId)).versions).toHaveLength(2);
  });

  it('catches up at the next start with one rotation for a key that fell due while the service was down', async () => {
    const restartClock = new FakeClock(new Date('2026-06-01T00:00:00Z'));
    const first = await startTestService({ clock: restartClock });
    const key = await createKey(first.app);
    const before = await encrypt(key.KeyId, first.app);
    await kmsCall(first.app, 'EnableKeyRotation', { KeyId: key.KeyId, RotationPeriodInDays: 90 });
    await first.close({ keepData: true });

    restartClock.advanceDays(400);
    const second = await startTestService({ clock: restartClock, restartOf: { token: first.token, dir: first.dir } });
    try {
      const report = await runMaintenance(second.deps, { atStartup: true });
      expect(report.rotations.rotated).toEqual([key.KeyId]);
      const after = await stored(key.KeyId, second.store);
      expect(after.versions).toHaveLength(2);
      expect(after.rotation!.nextRotationDate).toEqual(new Date(restartClock.now().getTime() + 90 * DAY));
      expect(await decrypts(before, second.app)).toBe(true);
      expect(versionIn(await encrypt(key.KeyId, second.app))).toBe(after.currentVersionId);
      expect((await runMaintenance(second.deps, { atStartup: false })).rotations.rotated).toEqual([]);
    } finally {
      await second.close();
    }
  });
});

describe('a rotation interrupted at each step', () => {
  it('a token failure (before any object exists) leaves the key as it was', async () => {
    const key = await createKey();
    const before = await encrypt(key.KeyId);
    jest.spyOn(svc.defaultStore.keyObjects, 'generateAesKey').mockRejectedValueOnce(new Error('injected token failure'));
    const res = await kmsCall(svc.app, 'RotateKeyOnDemand', { KeyId: key.KeyId });
    expect(res.status).toBe(500);
    expect(res.body.__type).toBe('KMSInternalException');
    expect(res.body.message).not.toMatch(/injected/);
    const after = await expectConsistent(key.KeyId, [before]);
    expect(after.currentVersionId).toBe(key.CurrentKeyMaterialId);
    expect(after.versions).toHaveLength(1);
    expect(after.rotation!.inProgress).toEqual([]);
  });

  it('a store failure after the object is made destroys it; the old version stays current', async () => {
    const key = await createKey();
    const before = await encrypt(key.KeyId);
    const generated = watchGenerations();
    // Step 1 lands; step 3 fails; the compensation's writes go through.
    faulty.arm((n) => (n === 2 ? 'fail' : undefined), ['replace']);
    const res = await kmsCall(svc.app, 'RotateKeyOnDemand', { KeyId: key.KeyId });
    expect(res.status).toBe(500);
    expect(generated).toHaveLength(1);
    expect(await svc.defaultStore.keyObjects.hasKey(generated[0]!)).toBe(false);
    const after = await expectConsistent(key.KeyId, [before]);
    expect(after.currentVersionId).toBe(key.CurrentKeyMaterialId);
    expect(after.versions).toHaveLength(1);
    expect(after.rotation!).toMatchObject({ onDemandCount: 0, inProgress: [], history: [] });
  });

  it('a lost reply to the finishing write is a completed rotation', async () => {
    const key = await createKey();
    const generated = watchGenerations();
    faulty.arm((n) => (n === 2 ? 'loseReply' : undefined), ['replace']);
    const res = await kmsCall(svc.app, 'RotateKeyOnDemand', { KeyId: key.KeyId });
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { KeyId: key.KeyId } });
    const after = await expectConsistent(key.KeyId, []);
    expect(after.currentVersionId).toBe(generated[0]);
  });

  it('a crash after the object is made (nothing else runs) is undone by recovery at the next start', async () => {
    const restartClock = new FakeClock(new Date('2026-07-01T00:00:00Z'));
    let firstFaulty!: FaultyStore;
    const first = await startTestService({ clock: restartClock, wrapStore: (store) => (firstFaulty = new FaultyStore(store)).store });
    const key = await createKey(first.app);
    const before = await encrypt(key.KeyId, first.app);
    const generated: string[] = [];
    const realGenerate = first.defaultStore.keyObjects.generateAesKey.bind(first.defaultStore.keyObjects);
    jest.spyOn(first.defaultStore.keyObjects, 'generateAesKey').mockImplementationOnce(async (objectId, label) => {
      await realGenerate(objectId, label);
      generated.push(objectId);
      // The process dies here: the finishing write and every clean-up fail, as they would never run.
      firstFaulty.arm(() => 'fail', ['replace']);
      jest.spyOn(first.defaultStore.keyObjects, 'destroyKey').mockRejectedValue(new Error('process gone'));
    });
    restartClock.advance(1000);
    expect((await kmsCall(first.app, 'RotateKeyOnDemand', { KeyId: key.KeyId })).status).toBe(500);
    firstFaulty.disarm();
    jest.restoreAllMocks();
    const [objectId] = generated;

    // Meanwhile the key works with the old version, the PENDING version is never used, and the
    // rotation shows as under way.
    const leftover = await stored(key.KeyId, first.store);
    expect(leftover.versions.map((v) => [v.id, v.status])).toEqual([[key.CurrentKeyMaterialId, 'ACTIVE'], [objectId, 'PENDING']]);
    expect(await first.defaultStore.keyObjects.hasKey(objectId!)).toBe(true);
    expect(versionIn(await encrypt(key.KeyId, first.app))).toBe(key.CurrentKeyMaterialId);
    expect(await status(key.KeyId, first.app)).toEqual({ KeyId: key.KeyId, KeyRotationEnabled: false, OnDemandRotationStartDate: restartClock.now().getTime() / 1000 });
    // Inside the grace period the periodic recovery leaves it alone (it may still be in flight).
    expect(await recoverInterruptedRotations(first.deps)).toBe(0);
    await first.close({ keepData: true });

    const second = await startTestService({ clock: restartClock, restartOf: { token: first.token, dir: first.dir } });
    try {
      expect((await runMaintenance(second.deps, { atStartup: true })).recovered).toBe(1);
      expect(await second.defaultStore.keyObjects.hasKey(objectId!)).toBe(false);
      const after = await stored(key.KeyId, second.store);
      expect(after.versions.map((v) => v.id)).toEqual([key.CurrentKeyMaterialId]);
      expect(after.currentVersionId).toBe(key.CurrentKeyMaterialId);
      expect(after.rotation!).toMatchObject({ inProgress: [], history: [], onDemandCount: 0 });
      expect(await status(key.KeyId, second.app)).toEqual({ KeyId: key.KeyId, KeyRotationEnabled: false });
      expect(await decrypts(before, second.app)).toBe(true);
      // The key rotates normally afterwards.
      expect((await kmsCall(second.app, 'RotateKeyOnDemand', { KeyId: key.KeyId })).status).toBe(200);
      expect((await kmsCall(second.app, 'ListKeyRotations', { KeyId: key.KeyId })).body.Rotations).toHaveLength(1);
    } finally {
      await second.close();
    }
  });

  it('a crash after the PENDING version is recorded but before the object is made is undone by periodic recovery', async () => {
    const key = await createKey();
    const before = await encrypt(key.KeyId);
    const generated = watchGenerations();
    // The token call never happens (the process died first); the clean-up does not run either.
    jest.spyOn(svc.defaultStore.keyObjects, 'generateAesKey').mockImplementationOnce(async (objectId) => {
      generated.push(objectId);
      faulty.arm(() => 'fail', ['replace']);
      throw new Error('process gone');
    });
    expect((await kmsCall(svc.app, 'RotateKeyOnDemand', { KeyId: key.KeyId })).status).toBe(500);
    faulty.disarm();
    expect((await stored(key.KeyId)).versions.map((v) => v.status)).toEqual(['ACTIVE', 'PENDING']);
    await expectConsistent(key.KeyId, [before]);

    clock.advance(5 * 60 * 1000 + 1);
    expect((await runMaintenance(svc.deps, { atStartup: false })).recovered).toBeGreaterThanOrEqual(1);
    const after = await expectConsistent(key.KeyId, [before]);
    expect(after.versions.map((v) => v.id)).toEqual([key.CurrentKeyMaterialId]);
    await expectNoOrphans(key.KeyId, generated);
  });

  it('deleting a key destroys every version, a rotation left PENDING included', async () => {
    const key = await createKey();
    await kmsCall(svc.app, 'RotateKeyOnDemand', { KeyId: key.KeyId });
    const generated = watchGenerations();
    // Step 3 and the clean-up's writes fail: the PENDING version and its object stay behind.
    faulty.arm((n) => (n >= 2 ? 'fail' : undefined), ['replace']);
    jest.spyOn(svc.defaultStore.keyObjects, 'destroyKey').mockRejectedValueOnce(new Error('process gone'));
    expect((await kmsCall(svc.app, 'RotateKeyOnDemand', { KeyId: key.KeyId })).status).toBe(500);
    faulty.disarm();
    jest.restoreAllMocks();
    const versions = (await stored(key.KeyId)).versions;
    expect(versions.map((v) => v.status)).toEqual(['ACTIVE', 'ACTIVE', 'PENDING']);
    expect(await svc.defaultStore.keyObjects.hasKey(generated[0]!)).toBe(true);

    await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 7 });
    clock.advanceDays(8);
    // The deletion worker alone (recovery, which would also remove the PENDING version, does not run).
    expect(await deleteDueKeys(svc.deps)).toContain(key.KeyId);
    for (const v of versions) expect(await svc.defaultStore.keyObjects.hasKey(v.id)).toBe(false);
  });
});
