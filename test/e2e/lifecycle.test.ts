// Key lifecycle through the unmodified AWS SDK: enable, disable, describe, schedule and
// cancel deletion, and concurrent state changes that must all land.
import {
  CancelKeyDeletionCommand, CreateKeyCommand, DescribeKeyCommand, DisableKeyCommand, DisabledException, EnableKeyCommand,
  EncryptCommand, KMSClient, KMSInvalidStateException, ScheduleKeyDeletionCommand, UpdateKeyDescriptionCommand,
} from '@aws-sdk/client-kms';
import { REGION, ROOT, startTestService, type TestService, sdkClient } from '../support/service';

let svc: TestService;
let kms: KMSClient;
beforeAll(async () => {
  svc = await startTestService({ listen: true });
  kms = sdkClient(svc, ROOT);
});
afterAll(async () => {
  kms.destroy();
  await svc.close();
});

async function newKey() {
  return (await kms.send(new CreateKeyCommand({ Description: 'lifecycle' }))).KeyMetadata!;
}

it('disables, refuses encryption with DisabledException, and enables again', async () => {
  const key = await newKey();
  await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
  expect((await kms.send(new DescribeKeyCommand({ KeyId: key.Arn }))).KeyMetadata).toMatchObject({ KeyState: 'Disabled', Enabled: false });
  await expect(kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }))).rejects.toBeInstanceOf(DisabledException);
  await kms.send(new EnableKeyCommand({ KeyId: key.Arn }));
  expect((await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }))).CiphertextBlob).toBeDefined();
});

it('schedules deletion with a DeletionDate the SDK parses, and cancels it into Disabled', async () => {
  const key = await newKey();
  const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
  expect(scheduled.KeyId).toBe(key.Arn);
  expect(scheduled.KeyState).toBe('PendingDeletion');
  expect(scheduled.PendingWindowInDays).toBe(7);
  expect(scheduled.DeletionDate).toBeInstanceOf(Date);
  expect(Math.round((scheduled.DeletionDate!.getTime() - Date.now()) / 86_400_000)).toBe(7);
  const described = (await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!;
  expect(described.DeletionDate?.getTime()).toBe(scheduled.DeletionDate!.getTime());
  await expect(kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }))).rejects.toBeInstanceOf(KMSInvalidStateException);
  expect((await kms.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId }))).KeyId).toBe(key.Arn);
  expect((await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata).toMatchObject({ KeyState: 'Disabled' });
});

it('concurrent state changes to one key all land, none lost and none half-applied', async () => {
  for (let round = 0; round < 5; round++) {
    const key = await newKey();
    await Promise.all([
      kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.KeyId, Description: `round ${round}` })),
      kms.send(new DisableKeyCommand({ KeyId: key.KeyId })),
      kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 20 })).catch((e: Error) => e),
    ]);
    const meta = (await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!;
    expect(meta.Description).toBe(`round ${round}`);
    // Disable and schedule-deletion may land in either order; whichever came last decides,
    // and the key is never left with a deletion date but not pending deletion, or vice versa.
    if (meta.KeyState === 'PendingDeletion') expect(meta.DeletionDate).toBeInstanceOf(Date);
    else {
      expect(meta.KeyState).toBe('Disabled');
      expect(meta.DeletionDate).toBeUndefined();
    }
  }
});

it('twenty concurrent description updates and toggles leave one consistent record', async () => {
  const key = await newKey();
  await Promise.all(Array.from({ length: 20 }, (_, i) =>
    i % 2 === 0
      ? kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.KeyId, Description: `d${i}` }))
      : kms.send(i % 4 === 1 ? new DisableKeyCommand({ KeyId: key.KeyId }) : new EnableKeyCommand({ KeyId: key.KeyId }))));
  const stored = (await svc.store.keys.get({ accountId: key.AWSAccountId!, region: REGION }, key.KeyId!))!;
  // Every one of the 20 changes was applied exactly once: each bumps the revision.
  expect(stored.revision).toBe(1 + 20);
  expect(stored.description).toMatch(/^d\d+$/);
});
