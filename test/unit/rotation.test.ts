// Rotation in core, with fakes (an in-memory store, a token on node:crypto, a clock the tests
// move): the rotation preconditions, the scheduler, concurrency, and the three-step protocol
// interrupted at each step.
import { parseCiphertext } from '../../src/core/crypto/ciphertext';
import type { RequestContext } from '../../src/core/api/context';
import type { CoreDeps } from '../../src/core/deps';
import type { KeyRecord } from '../../src/core/model';
import { recoverInterruptedRotations, rotateDueKeys } from '../../src/core/rotation/rotation';
import { FakeClock } from '../support/clock';
import { FakeToken } from '../support/fake-token';
import { callOperation, kmsFailure, newCoreDeps, type Loose, type OperationName } from '../support/core-harness';
import { MemoryStore } from '../support/memory-store';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const scope = { accountId: ACCOUNT, region: REGION };
const root: RequestContext = { principal: { arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, policies: [] }, region: REGION, requestId: 'r' };
const DAY = 24 * 60 * 60 * 1000;

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

async function newKey(): Promise<{ KeyId: string; Arn: string }> {
  return (await call('CreateKey', {})).KeyMetadata;
}

const stored = async (keyId: string): Promise<KeyRecord> => (await store.keys.get(scope, keyId))!;
const encrypt = async (keyId: string) => Buffer.from((await call('Encrypt', { KeyId: keyId, Plaintext: Buffer.from('secret').toString('base64') })).CiphertextBlob, 'base64');
const versionIn = (blob: Buffer) => parseCiphertext(blob).keyMaterialId;

/** A record of another kind, written directly: rotation refuses it before touching a token. */
async function otherKey(overrides: Partial<KeyRecord>): Promise<{ KeyId: string; Arn: string }> {
  const { KeyId, Arn } = await newKey();
  await store.keys.replace({ ...(await stored(KeyId)), ...overrides });
  return { KeyId, Arn };
}

/** Makes the token's next generateAesKey wait until the returned function is called. */
function holdNextGeneration(): { release: () => void; started: Promise<void> } {
  let release!: () => void;
  let started!: () => void;
  const startedPromise = new Promise<void>((resolve) => { started = resolve; });
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const real = token.generateAesKey.bind(token);
  jest.spyOn(token, 'generateAesKey').mockImplementationOnce(async (objectId, label) => {
    started();
    await gate;
    return real(objectId, label);
  });
  return { release, started: startedPromise };
}

it('a key is rotated on demand at most 10 times.', async () => {
  const key = await newKey();
  for (let i = 0; i < 10; i++) expect(await call('RotateKeyOnDemand', { KeyId: key.KeyId })).toEqual({ KeyId: key.KeyId });
  expect(await failure(call('RotateKeyOnDemand', { KeyId: key.Arn }))).toEqual({
    code: 'LimitExceededException',
    message: `The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: ${key.Arn}`,
  });
  expect((await stored(key.KeyId)).versions).toHaveLength(11);
  // Automatic rotations do not count against it.
  await call('EnableKeyRotation', { KeyId: key.KeyId, RotationPeriodInDays: 90 });
  clock.advanceDays(90);
  expect((await rotateDueKeys(deps)).rotated).toEqual([key.KeyId]);
});

it('rotations under way count against the on-demand limit', async () => {
  const key = await newKey();
  for (let i = 0; i < 9; i++) await call('RotateKeyOnDemand', { KeyId: key.KeyId });
  const held = holdNextGeneration();
  const tenth = call('RotateKeyOnDemand', { KeyId: key.KeyId });
  await held.started;
  expect((await failure(call('RotateKeyOnDemand', { KeyId: key.KeyId }))).code).toBe('LimitExceededException');
  held.release();
  await tenth;
  expect((await stored(key.KeyId)).rotation!.onDemandCount).toBe(10);
});

it('a token failure does not use up an on-demand rotation', async () => {
  const key = await newKey();
  jest.spyOn(token, 'generateAesKey').mockRejectedValueOnce(new Error('token down'));
  await expect(call('RotateKeyOnDemand', { KeyId: key.KeyId })).rejects.toThrow('token down');
  const after = await stored(key.KeyId);
  expect(after.versions.map((v) => v.status)).toEqual(['ACTIVE']);
  expect(after.rotation!).toMatchObject({ onDemandCount: 0, inProgress: [], history: [] });
});

it('only symmetric encryption keys whose material the service generated are rotated.', async () => {
  const rsa = await otherKey({ keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' });
  const hmac = await otherKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
  const external = await otherKey({ origin: 'EXTERNAL' });
  const cloudHsm = await otherKey({ origin: 'AWS_CLOUDHSM' });
  for (const key of [rsa, hmac]) {
    for (const op of ['EnableKeyRotation', 'DisableKeyRotation', 'RotateKeyOnDemand', 'ListKeyRotations'] as const) {
      expect(await failure(call(op, { KeyId: key.KeyId }))).toEqual({ code: 'UnsupportedOperationException', message: '' });
    }
    // AWS answers false rather than refusing.
    expect(await call('GetKeyRotationStatus', { KeyId: key.KeyId })).toEqual({ KeyId: key.KeyId, KeyRotationEnabled: false });
  }
  for (const [key, origin] of [[external, 'EXTERNAL'], [cloudHsm, 'AWS_CLOUDHSM']] as const) {
    for (const op of ['EnableKeyRotation', 'DisableKeyRotation', 'GetKeyRotationStatus', 'RotateKeyOnDemand', 'ListKeyRotations'] as const) {
      expect(await failure(call(op, { KeyId: key.KeyId }))).toEqual({
        code: 'UnsupportedOperationException', message: `${key.Arn} origin is ${origin} which is not valid for this operation.`,
      });
    }
  }
  // Nothing was made or recorded for any of them.
  for (const key of [rsa, hmac, external, cloudHsm]) expect((await stored(key.KeyId)).versions).toHaveLength(1);
});

it('a key is rotated on schedule only while it is Enabled.', async () => {
  const key = await newKey();
  await call('EnableKeyRotation', { KeyId: key.KeyId, RotationPeriodInDays: 90 });
  await call('DisableKey', { KeyId: key.KeyId });
  clock.advanceDays(100);
  expect((await rotateDueKeys(deps)).rotated).toEqual([]);
  expect((await stored(key.KeyId)).versions).toHaveLength(1);
  // Enabled again and overdue: it rotates at the next run, once.
  await call('EnableKey', { KeyId: key.KeyId });
  expect((await rotateDueKeys(deps)).rotated).toEqual([key.KeyId]);
  expect((await rotateDueKeys(deps)).rotated).toEqual([]);
  const status = await call('GetKeyRotationStatus', { KeyId: key.KeyId });
  expect(status.NextRotationDate).toBe((clock.now().getTime() + 90 * DAY) / 1000);
});

it('catches up after downtime with one rotation, and schedules the next one period after it', async () => {
  const key = await newKey();
  const before = await encrypt(key.KeyId);
  await call('EnableKeyRotation', { KeyId: key.KeyId, RotationPeriodInDays: 90 });
  clock.advanceDays(1000);
  expect((await rotateDueKeys(deps)).rotated).toEqual([key.KeyId]);
  const after = await stored(key.KeyId);
  expect(after.rotation!.history).toEqual([{ keyMaterialId: after.currentVersionId, date: clock.now(), type: 'AUTOMATIC' }]);
  expect(after.rotation!.nextRotationDate).toEqual(new Date(clock.now().getTime() + 90 * DAY));
  expect(versionIn(await encrypt(key.KeyId))).toBe(after.currentVersionId);
  expect((await call('Decrypt', { CiphertextBlob: before.toString('base64') })).Plaintext).toBe(Buffer.from('secret').toString('base64'));
});

it('on-demand rotations leave the automatic schedule alone', async () => {
  const key = await newKey();
  await call('EnableKeyRotation', { KeyId: key.KeyId });
  const scheduled = (await stored(key.KeyId)).rotation!.nextRotationDate;
  clock.advanceDays(10);
  await call('RotateKeyOnDemand', { KeyId: key.KeyId });
  expect((await stored(key.KeyId)).rotation!.nextRotationDate).toEqual(scheduled);
  expect((await call('GetKeyRotationStatus', { KeyId: key.KeyId })).RotationPeriodInDays).toBe(365);
});

it('concurrent on-demand rotations all land; the last to finish is current', async () => {
  const key = await newKey();
  await Promise.all(Array.from({ length: 5 }, () => call('RotateKeyOnDemand', { KeyId: key.KeyId })));
  const after = await stored(key.KeyId);
  expect(after.versions).toHaveLength(6);
  expect(after.versions.every((v) => v.status === 'ACTIVE')).toBe(true);
  expect(after.rotation!.onDemandCount).toBe(5);
  expect(after.rotation!.history.map((h) => h.keyMaterialId)).toHaveLength(5);
  expect(after.currentVersionId).toBe(after.rotation!.history[4]!.keyMaterialId);
  for (const v of after.versions) expect(await token.hasKey(v.id)).toBe(true);
});

it('two schedulers running at once rotate a due key once', async () => {
  const key = await newKey();
  await call('EnableKeyRotation', { KeyId: key.KeyId, RotationPeriodInDays: 90 });
  clock.advanceDays(91);
  const [a, b] = await Promise.all([rotateDueKeys(deps), rotateDueKeys(deps)]);
  expect([...a.rotated, ...b.rotated]).toEqual([key.KeyId]);
  expect([...a.failed, ...b.failed]).toEqual([]);
  expect((await stored(key.KeyId)).versions).toHaveLength(2);
});

it('while a rotation is under way the old version stays current and the start date is reported', async () => {
  const key = await newKey();
  const original = (await stored(key.KeyId)).currentVersionId;
  const held = holdNextGeneration();
  clock.advance(1234);
  const rotation = call('RotateKeyOnDemand', { KeyId: key.KeyId });
  await held.started;
  expect(versionIn(await encrypt(key.KeyId))).toBe(original);
  expect((await call('DescribeKey', { KeyId: key.KeyId })).KeyMetadata.CurrentKeyMaterialId).toBe(original);
  expect(await call('GetKeyRotationStatus', { KeyId: key.KeyId })).toEqual({
    KeyId: key.KeyId, KeyRotationEnabled: false, OnDemandRotationStartDate: clock.now().getTime() / 1000,
  });
  expect((await call('ListKeyRotations', { KeyId: key.KeyId })).Rotations).toEqual([]);
  held.release();
  await rotation;
  expect((await call('GetKeyRotationStatus', { KeyId: key.KeyId })).OnDemandRotationStartDate).toBeUndefined();
  expect(versionIn(await encrypt(key.KeyId))).not.toBe(original);
});

it('recovery that claims a rotation still in its token step wins, and the late object is destroyed', async () => {
  const key = await newKey();
  const original = (await stored(key.KeyId)).currentVersionId;
  const generated: string[] = [];
  const held = holdNextGeneration();
  const spy = jest.spyOn(token, 'generateAesKey');
  const rotation = call('RotateKeyOnDemand', { KeyId: key.KeyId });
  await held.started;
  generated.push(spy.mock.calls[0]![0]);
  // The rotation has stalled past the grace period.
  clock.advance(10 * 60 * 1000);
  expect(await recoverInterruptedRotations(deps)).toBe(1);
  held.release();
  await expect(rotation).rejects.toThrow(/abandoned/);
  const after = await stored(key.KeyId);
  expect(after.currentVersionId).toBe(original);
  expect(after.versions.map((v) => v.id)).toEqual([original]);
  expect(after.rotation!.inProgress).toEqual([]);
  expect(await token.hasKey(generated[0]!)).toBe(false);
});

it('a finishing write whose reply was lost still counts as a completed rotation', async () => {
  const key = await newKey();
  const realReplace = store.keys.replace.bind(store.keys);
  let calls = 0;
  jest.spyOn(store.keys, 'replace').mockImplementation(async (record) => {
    const result = await realReplace(record);
    // The second write of the rotation is step 3: it lands, then the reply is lost.
    if (++calls === 2) throw new Error('connection reset');
    return result;
  });
  expect(await call('RotateKeyOnDemand', { KeyId: key.KeyId })).toEqual({ KeyId: key.KeyId });
  const after = await stored(key.KeyId);
  expect(after.versions.map((v) => v.status)).toEqual(['ACTIVE', 'ACTIVE']);
  expect(await token.hasKey(after.currentVersionId!)).toBe(true);
});

it('recovery leaves completed rotations and recent ones alone', async () => {
  const key = await newKey();
  await call('RotateKeyOnDemand', { KeyId: key.KeyId });
  const held = holdNextGeneration();
  const rotation = call('RotateKeyOnDemand', { KeyId: key.KeyId });
  await held.started;
  expect(await recoverInterruptedRotations(deps)).toBe(0);
  held.release();
  await rotation;
  expect(await recoverInterruptedRotations(deps, 'none')).toBe(0);
  expect((await stored(key.KeyId)).versions.map((v) => v.status)).toEqual(['ACTIVE', 'ACTIVE', 'ACTIVE']);
});

describe('ListKeyRotations pages', () => {
  it('pages through the rotations oldest first with the markers it issues', async () => {
    const key = await newKey();
    for (let i = 0; i < 5; i++) {
      clock.advanceDays(1);
      await call('RotateKeyOnDemand', { KeyId: key.KeyId });
    }
    const history = (await stored(key.KeyId)).rotation!.history;
    const seen: string[] = [];
    let marker: string | undefined;
    do {
      const page = await call('ListKeyRotations', { KeyId: key.KeyId, Limit: 2, ...(marker ? { Marker: marker } : {}) });
      expect(page.Truncated).toBe(page.NextMarker !== undefined);
      seen.push(...page.Rotations.map((r: Loose) => r.KeyMaterialId));
      marker = page.NextMarker;
    } while (marker);
    expect(seen).toEqual(history.map((h) => h.keyMaterialId));
    const all = await call('ListKeyRotations', { KeyId: key.KeyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' });
    expect(all.Rotations).toHaveLength(6);
    expect(all.Rotations[0]).toEqual({ KeyId: key.KeyId, KeyMaterialId: (await stored(key.KeyId)).versions[0]!.id, KeyMaterialState: 'NON_CURRENT' });
    expect(all.Rotations[5]).toMatchObject({ KeyMaterialState: 'CURRENT', RotationType: 'ON_DEMAND' });
  });

  it('refuses markers it did not issue, or issued for another key or list', async () => {
    const key = await newKey();
    const other = await newKey();
    for (let i = 0; i < 3; i++) {
      await call('RotateKeyOnDemand', { KeyId: key.KeyId });
      await call('RotateKeyOnDemand', { KeyId: other.KeyId });
    }
    const marker = (await call('ListKeyRotations', { KeyId: key.KeyId, Limit: 1 })).NextMarker as string;
    const forged = Buffer.from(`rotation:1:${'0'.repeat(64)}`).toString('base64url');
    for (const bad of ['nonsense', forged, `${marker}x`]) {
      expect(await failure(call('ListKeyRotations', { KeyId: key.KeyId, Marker: bad }))).toEqual({ code: 'InvalidMarkerException', message: 'Marker is invalid' });
    }
    expect((await failure(call('ListKeyRotations', { KeyId: other.KeyId, Marker: marker }))).code).toBe('InvalidMarkerException');
    expect((await failure(call('ListKeyRotations', { KeyId: key.KeyId, Marker: marker, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }))).code).toBe('InvalidMarkerException');
  });
});
