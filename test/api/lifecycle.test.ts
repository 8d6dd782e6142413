// EnableKey, DisableKey, UpdateKeyDescription, ScheduleKeyDeletion, CancelKeyDeletion and
// the deletion worker, on a real token with a clock the tests move.
import { deleteDueKeys } from '../../src/core/jobs/deletion';
import { runMaintenance } from '../../src/core/jobs/maintenance';
import { FakeClock } from '../support/clock';
import { kmsCall } from '../support/signed';
import { ACCOUNT, ALICE, REGION, startTestService, type TestService } from '../support/service';

const DAY = 24 * 60 * 60 * 1000;
const scope = { accountId: ACCOUNT, region: REGION };
let clock: FakeClock;
let svc: TestService;
beforeAll(async () => {
  clock = new FakeClock(new Date('2026-03-01T12:00:00Z'));
  svc = await startTestService({ clock });
});
afterAll(async () => { await svc.close(); });

async function createKey(): Promise<{ KeyId: string; Arn: string; CurrentKeyMaterialId: string }> {
  return (await kmsCall(svc.app, 'CreateKey', {})).body.KeyMetadata;
}
const describe_ = async (keyId: string) => (await kmsCall(svc.app, 'DescribeKey', { KeyId: keyId })).body.KeyMetadata;
const encrypt = (keyId: string) => kmsCall(svc.app, 'Encrypt', { KeyId: keyId, Plaintext: 'aGVsbG8=' });

describe('EnableKey and DisableKey', () => {
  it('disable stops cryptographic use, enable restores it; both are idempotent', async () => {
    const key = await createKey();
    expect((await kmsCall(svc.app, 'DisableKey', { KeyId: key.KeyId })).status).toBe(200);
    expect(await describe_(key.KeyId)).toMatchObject({ KeyState: 'Disabled', Enabled: false });
    expect((await encrypt(key.KeyId)).body).toEqual({ __type: 'DisabledException', message: `${key.Arn} is disabled.` });
    expect((await kmsCall(svc.app, 'DisableKey', { KeyId: key.Arn })).status).toBe(200);
    expect((await kmsCall(svc.app, 'EnableKey', { KeyId: key.Arn })).status).toBe(200);
    expect(await describe_(key.KeyId)).toMatchObject({ KeyState: 'Enabled', Enabled: true });
    expect((await encrypt(key.KeyId)).status).toBe(200);
    expect((await kmsCall(svc.app, 'EnableKey', { KeyId: key.KeyId })).status).toBe(200);
  });

  it('takes key ids and ARNs only, not aliases', async () => {
    const key = await createKey();
    await svc.store.aliases.insert({ ...scope, aliasName: 'alias/lifecycle', targetKeyId: key.KeyId, createdAt: clock.now(), updatedAt: clock.now() });
    expect((await kmsCall(svc.app, 'DisableKey', { KeyId: 'alias/lifecycle' })).body).toEqual({ __type: 'NotFoundException', message: "Invalid keyId 'alias/lifecycle'" });
  });

  it('refuses other principals', async () => {
    const key = await createKey();
    expect((await kmsCall(svc.app, 'DisableKey', { KeyId: key.Arn }, { credentials: ALICE })).body.__type).toBe('AccessDeniedException');
  });
});

describe('UpdateKeyDescription', () => {
  it('replaces and clears the description', async () => {
    const key = await createKey();
    await kmsCall(svc.app, 'UpdateKeyDescription', { KeyId: key.KeyId, Description: 'new words' });
    expect((await describe_(key.KeyId)).Description).toBe('new words');
    await kmsCall(svc.app, 'UpdateKeyDescription', { KeyId: key.KeyId, Description: '' });
    expect((await describe_(key.KeyId)).Description).toBe('');
    expect((await kmsCall(svc.app, 'UpdateKeyDescription', { KeyId: key.KeyId })).body.message).toBe("1 validation error detected: Value null at 'description' failed to satisfy constraint: Member must not be null");
    expect((await kmsCall(svc.app, 'UpdateKeyDescription', { KeyId: key.KeyId, Description: 'x'.repeat(8193) })).body.__type).toBe('ValidationException');
  });
});

describe('ScheduleKeyDeletion and CancelKeyDeletion', () => {
  it('schedules with the default 30-day window and answers like AWS', async () => {
    const key = await createKey();
    const res = await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: key.KeyId });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      KeyId: key.Arn, KeyState: 'PendingDeletion', PendingWindowInDays: 30,
      DeletionDate: (clock.now().getTime() + 30 * DAY) / 1000,
    });
    expect(await describe_(key.KeyId)).toMatchObject({ KeyState: 'PendingDeletion', Enabled: false, DeletionDate: res.body.DeletionDate });
    expect((await encrypt(key.KeyId)).body).toEqual({ __type: 'KMSInvalidStateException', message: `${key.Arn} is pending deletion.` });
    expect((await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: key.KeyId })).body).toEqual({ __type: 'KMSInvalidStateException', message: `${key.Arn} is pending deletion.` });
  });

  it('accepts 7 to 30 days only', async () => {
    const key = await createKey();
    expect((await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 6 })).body.message).toBe("1 validation error detected: Value '6' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value greater than or equal to 7");
    expect((await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 31 })).body.message).toBe("1 validation error detected: Value '31' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value less than or equal to 30");
    expect((await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 7 })).body.PendingWindowInDays).toBe(7);
  });

  it('cancelling leaves the key Disabled, and cancelling again is refused', async () => {
    const key = await createKey();
    await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 7 });
    const res = await kmsCall(svc.app, 'CancelKeyDeletion', { KeyId: key.KeyId });
    expect(res.body).toEqual({ KeyId: key.Arn });
    const meta = await describe_(key.KeyId);
    expect(meta).toMatchObject({ KeyState: 'Disabled', Enabled: false });
    expect(meta.DeletionDate).toBeUndefined();
    expect((await kmsCall(svc.app, 'CancelKeyDeletion', { KeyId: key.KeyId })).body).toEqual({ __type: 'KMSInvalidStateException', message: `${key.Arn} is not pending deletion.` });
  });
});

it('cancelling the deletion of an EXTERNAL key without material leaves it PendingImport', async () => {
  const key = (await kmsCall(svc.app, 'CreateKey', { Origin: 'EXTERNAL' })).body.KeyMetadata as { KeyId: string };
  expect((await describe_(key.KeyId)).KeyState).toBe('PendingImport');
  expect((await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 7 })).status).toBe(200);
  expect((await kmsCall(svc.app, 'CancelKeyDeletion', { KeyId: key.KeyId })).status).toBe(200);
  expect(await describe_(key.KeyId)).toMatchObject({ KeyState: 'PendingImport', Enabled: false });
});

describe('the deletion worker', () => {
  it('a key is destroyed only once its deletion date has passed.', async () => {
    // Every token object (all versions), the metadata and the aliases go, and not a moment before.
    const key = await createKey();
    const stored = (await svc.store.keys.get(scope, key.KeyId))!;
    // A second version, as rotation will add, must go too.
    const secondVersion = 'ab'.repeat(32);
    await svc.defaultStore.keyObjects.generateAesKey(secondVersion, `kms:${key.KeyId}`);
    await svc.store.keys.replace({ ...stored, versions: [...stored.versions, { id: secondVersion, backing: { kind: 'pkcs11', tokenId: 'default', objectId: secondVersion }, createdAt: clock.now(), status: 'ACTIVE' }] });
    await svc.store.aliases.insert({ ...scope, aliasName: 'alias/doomed', targetKeyId: key.KeyId, createdAt: clock.now(), updatedAt: clock.now() });
    await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 7 });

    clock.advance(7 * DAY - 1);
    expect(await deleteDueKeys(svc.deps)).not.toContain(key.KeyId);
    expect((await describe_(key.KeyId)).KeyState).toBe('PendingDeletion');
    expect(await svc.defaultStore.keyObjects.hasKey(key.CurrentKeyMaterialId)).toBe(true);

    clock.advance(1);
    expect(await deleteDueKeys(svc.deps)).toContain(key.KeyId);
    expect((await kmsCall(svc.app, 'DescribeKey', { KeyId: key.KeyId })).body.__type).toBe('NotFoundException');
    expect(await svc.defaultStore.keyObjects.hasKey(key.CurrentKeyMaterialId)).toBe(false);
    expect(await svc.defaultStore.keyObjects.hasKey(secondVersion)).toBe(false);
    expect(await svc.store.aliases.get(scope, 'alias/doomed')).toBeUndefined();
  });

  it('never deletes a key whose deletion was cancelled', async () => {
    const key = await createKey();
    await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 7 });
    await kmsCall(svc.app, 'CancelKeyDeletion', { KeyId: key.KeyId });
    clock.advanceDays(60);
    await deleteDueKeys(svc.deps);
    expect((await describe_(key.KeyId)).KeyState).toBe('Disabled');
    expect(await svc.defaultStore.keyObjects.hasKey(key.CurrentKeyMaterialId)).toBe(true);
  });

  it('loses to a CancelKeyDeletion that lands between its read and its claim', async () => {
    const key = await createKey();
    await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 7 });
    clock.advanceDays(8);
    const list = svc.store.keys.listDueForDeletion.bind(svc.store.keys);
    const spy = jest.spyOn(svc.deps.store.keys, 'listDueForDeletion').mockImplementationOnce(async (dueBy) => {
      const due = await list(dueBy);
      await kmsCall(svc.app, 'CancelKeyDeletion', { KeyId: key.KeyId });
      return due;
    });
    await deleteDueKeys(svc.deps);
    spy.mockRestore();
    expect((await describe_(key.KeyId)).KeyState).toBe('Disabled');
    expect(await svc.defaultStore.keyObjects.hasKey(key.CurrentKeyMaterialId)).toBe(true);
  });
});

describe('the deletion worker across a restart', () => {
  it('deletes at the next start a key that fell due while the service was down', async () => {
    const restartClock = new FakeClock(new Date('2026-05-01T00:00:00Z'));
    const first = await startTestService({ clock: restartClock });
    const key = (await kmsCall(first.app, 'CreateKey', {})).body.KeyMetadata as { KeyId: string; CurrentKeyMaterialId: string };
    await kmsCall(first.app, 'ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 7 });
    await first.close({ keepData: true });

    restartClock.advanceDays(10);
    const second = await startTestService({ clock: restartClock, restartOf: { token: first.token, dir: first.dir } });
    try {
      expect(await second.defaultStore.keyObjects.hasKey(key.CurrentKeyMaterialId)).toBe(true);
      const report = await runMaintenance(second.deps, { atStartup: true });
      expect(report.deleted).toEqual([key.KeyId]);
      expect(await second.defaultStore.keyObjects.hasKey(key.CurrentKeyMaterialId)).toBe(false);
      expect((await kmsCall(second.app, 'DescribeKey', { KeyId: key.KeyId })).body.__type).toBe('NotFoundException');
    } finally {
      await second.close();
    }
  });

  it('finishes a deletion that crashed between destroying the token objects and the record', async () => {
    const key = await createKey();
    await kmsCall(svc.app, 'ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 7 });
    clock.advanceDays(8);
    const spy = jest.spyOn(svc.deps.store.keys, 'delete').mockRejectedValueOnce(new Error('crash'));
    await expect(deleteDueKeys(svc.deps)).rejects.toThrow('crash');
    spy.mockRestore();
    expect(await svc.defaultStore.keyObjects.hasKey(key.CurrentKeyMaterialId)).toBe(false);
    // Claimed and invisible meanwhile; the next start's maintenance removes the record.
    expect((await kmsCall(svc.app, 'DescribeKey', { KeyId: key.KeyId })).body.__type).toBe('NotFoundException');
    await runMaintenance(svc.deps, { atStartup: true });
    expect(await svc.store.keys.get(scope, key.KeyId)).toBeUndefined();
  });
});
