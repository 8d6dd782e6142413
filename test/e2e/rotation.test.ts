// Rotation through the unmodified AWS SDK against a listening server: ciphertexts from before
// each of several rotations still decrypt, new ones use the newest version, ListKeyRotations
// lists the rotations, the on-demand limit holds, a scheduled rotation happens on a fake
// clock, and a crash injected mid-rotation leaves a consistent key.
import {
  CreateKeyCommand, DecryptCommand, DescribeKeyCommand, DisableKeyRotationCommand, EnableKeyRotationCommand, EncryptCommand,
  GenerateDataKeyCommand, GetKeyRotationStatusCommand, KMSClient, KMSInternalException, LimitExceededException,
  ListKeyRotationsCommand, paginateListKeyRotations, ReEncryptCommand, RotateKeyOnDemandCommand, type RotationsListEntry,
} from '@aws-sdk/client-kms';
import { parseCiphertext } from '../../src/core/crypto/ciphertext';
import { runMaintenance } from '../../src/core/jobs/maintenance';
import { FakeClock } from '../support/clock';
import { ACCOUNT, REGION, ROOT, startTestService, type TestService, sdkClient } from '../support/service';

const DAY = 24 * 60 * 60 * 1000;
let clock: FakeClock;
let svc: TestService;
let kms: KMSClient;
beforeAll(async () => {
  clock = new FakeClock(new Date('2026-04-01T00:00:00Z'));
  svc = await startTestService({ listen: true, clock });
  kms = sdkClient(svc, ROOT);
});
afterAll(async () => {
  kms.destroy();
  await svc.close();
});
afterEach(() => { jest.restoreAllMocks(); });

async function newKey() {
  return (await kms.send(new CreateKeyCommand({ Description: 'rotation' }))).KeyMetadata!;
}
const encrypt = async (keyId: string, text: string) => (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(text) }))).CiphertextBlob!;
const decrypt = async (blob: Uint8Array) => Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString();
const versionIn = (blob: Uint8Array) => parseCiphertext(Buffer.from(blob)).keyMaterialId;
const currentVersion = async (keyId: string) => (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.CurrentKeyMaterialId!;

async function allRotations(keyId: string, pageSize: number): Promise<RotationsListEntry[]> {
  const entries: RotationsListEntry[] = [];
  for await (const page of paginateListKeyRotations({ client: kms, pageSize }, { KeyId: keyId })) entries.push(...(page.Rotations ?? []));
  return entries;
}

it('ciphertexts from before each of several rotations still decrypt; new ones use the newest version', async () => {
  const key = await newKey();
  const ciphertexts: { blob: Uint8Array; text: string }[] = [];
  for (let round = 0; round < 4; round++) {
    const text = `before rotation ${round}`;
    ciphertexts.push({ blob: await encrypt(key.KeyId!, text), text });
    clock.advanceDays(1);
    expect((await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.Arn }))).KeyId).toBe(key.KeyId);
    const newest = await currentVersion(key.KeyId!);
    expect(versionIn(await encrypt(key.KeyId!, 'after'))).toBe(newest);
    const dataKey = await kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256' }));
    expect(versionIn(dataKey.CiphertextBlob!)).toBe(newest);
  }
  for (const { blob, text } of ciphertexts) expect(await decrypt(blob)).toBe(text);
  expect(new Set(ciphertexts.map(({ blob }) => versionIn(blob))).size).toBe(4);
  const reEncrypted = await kms.send(new ReEncryptCommand({ CiphertextBlob: ciphertexts[0]!.blob, DestinationKeyId: key.KeyId }));
  expect(versionIn(reEncrypted.CiphertextBlob!)).toBe(await currentVersion(key.KeyId!));
  expect(await decrypt(reEncrypted.CiphertextBlob!)).toBe('before rotation 0');

  const rotations = await allRotations(key.KeyId!, 3);
  expect(rotations).toHaveLength(4);
  expect(rotations.map((r) => r.RotationType)).toEqual(['ON_DEMAND', 'ON_DEMAND', 'ON_DEMAND', 'ON_DEMAND']);
  expect(rotations.every((r) => r.RotationDate instanceof Date && r.KeyId === key.KeyId)).toBe(true);
  expect(rotations.map((r) => r.RotationDate!.getTime())).toEqual([...rotations.map((r) => r.RotationDate!.getTime())].sort((a, b) => a - b));
  expect(rotations.map((r) => r.KeyMaterialState)).toEqual(['NON_CURRENT', 'NON_CURRENT', 'NON_CURRENT', 'CURRENT']);
  expect(rotations[3]!.KeyMaterialId).toBe(await currentVersion(key.KeyId!));
  const withFirst = await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }));
  expect(withFirst.Rotations![0]).toEqual({ KeyId: key.KeyId, KeyMaterialId: key.CurrentKeyMaterialId, KeyMaterialState: 'NON_CURRENT' });
});

it('enforces the on-demand limit with LimitExceededException', async () => {
  const key = await newKey();
  for (let i = 0; i < 10; i++) await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }));
  const error = await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId })).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(LimitExceededException);
  expect((error as Error).message).toBe(
    `The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: ${key.Arn}`,
  );
  expect(await allRotations(key.KeyId!, 100)).toHaveLength(10);
});

it('a scheduled rotation happens on the fake clock, with the status the SDK parses', async () => {
  const key = await newKey();
  const before = await encrypt(key.KeyId!, 'scheduled');
  await kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 90 }));
  const enabled = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.Arn }));
  expect(enabled).toMatchObject({ KeyId: key.KeyId, KeyRotationEnabled: true, RotationPeriodInDays: 90 });
  expect(enabled.NextRotationDate!.getTime()).toBe(clock.now().getTime() + 90 * DAY);

  clock.advanceDays(90);
  const report = await runMaintenance(svc.deps, { atStartup: false });
  expect(report.rotations.rotated).toContain(key.KeyId);
  const [rotation] = await allRotations(key.KeyId!, 10);
  expect(rotation).toMatchObject({ KeyId: key.KeyId, RotationType: 'AUTOMATIC', KeyMaterialState: 'CURRENT' });
  expect(rotation!.RotationDate!.getTime()).toBe(clock.now().getTime());
  expect(versionIn(await encrypt(key.KeyId!, 'x'))).toBe(rotation!.KeyMaterialId);
  expect(await decrypt(before)).toBe('scheduled');
  expect((await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }))).NextRotationDate!.getTime()).toBe(clock.now().getTime() + 90 * DAY);

  await kms.send(new DisableKeyRotationCommand({ KeyId: key.KeyId }));
  const disabled = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
  expect(disabled).toMatchObject({ KeyId: key.KeyId, KeyRotationEnabled: false });
  expect(disabled.RotationPeriodInDays).toBeUndefined();
  expect(disabled.NextRotationDate).toBeUndefined();
  clock.advanceDays(400);
  expect((await runMaintenance(svc.deps, { atStartup: false })).rotations.rotated).not.toContain(key.KeyId);
});

it('an injected crash mid-rotation leaves a consistent key: the old version current, no orphaned object', async () => {
  const key = await newKey();
  const before = await encrypt(key.KeyId!, 'survives');
  const token = svc.defaultStore;
  const generated: string[] = [];
  const realGenerate = token.keyObjects.generateAesKey.bind(token.keyObjects);
  // The object is made, then the process "dies": the finishing write never happens, and
  // neither does the clean-up.
  jest.spyOn(token.keyObjects, 'generateAesKey').mockImplementationOnce(async (objectId, label) => {
    await realGenerate(objectId, label);
    generated.push(objectId);
    jest.spyOn(svc.store.keys, 'replace').mockRejectedValue(new Error('process gone'));
    jest.spyOn(svc.deps.store.keys, 'replace').mockRejectedValue(new Error('process gone'));
  });
  await expect(kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }))).rejects.toBeInstanceOf(KMSInternalException);
  jest.restoreAllMocks();

  // The key works with its old version; the half-made rotation shows as under way.
  expect(await currentVersion(key.KeyId!)).toBe(key.CurrentKeyMaterialId);
  expect(versionIn(await encrypt(key.KeyId!, 'during'))).toBe(key.CurrentKeyMaterialId);
  expect(await decrypt(before)).toBe('survives');
  const during = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
  expect(during.OnDemandRotationStartDate).toBeInstanceOf(Date);
  expect(await allRotations(key.KeyId!, 10)).toEqual([]);

  // Recovery, as at the next start, removes the PENDING version and destroys its object.
  await runMaintenance(svc.deps, { atStartup: true });
  expect(await token.keyObjects.hasKey(generated[0]!)).toBe(false);
  const stored = await svc.store.keys.get({ accountId: ACCOUNT, region: REGION }, key.KeyId!);
  expect(stored!.versions.map((v) => v.id)).toEqual([key.CurrentKeyMaterialId]);
  expect((await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }))).OnDemandRotationStartDate).toBeUndefined();
  expect(await decrypt(before)).toBe('survives');

  // And the key rotates normally afterwards.
  await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }));
  expect(await allRotations(key.KeyId!, 10)).toHaveLength(1);
  expect(await decrypt(before)).toBe('survives');
});
