// Multi-Region keys through the unmodified AWS SDK, one client per region against one listening
// server: CreateKey MultiRegion, ReplicateKey into two more regions, encrypt in one region and
// decrypt in each other, sign in one and verify with another's public key (node:crypto), rotate
// the primary, UpdatePrimaryRegion, and the SDK's error classes for refusals.
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import {
  AlreadyExistsException, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GetPublicKeyCommand, KMSClient,
  ReplicateKeyCommand, RotateKeyOnDemandCommand, ScheduleKeyDeletionCommand, SignCommand, UnsupportedOperationException, UpdatePrimaryRegionCommand,
} from '@aws-sdk/client-kms';
import { rejection as rejectionOf } from '../support/sdk-rejection';
import { REGION, ROOT, startTestService, type TestService } from '../support/service';

const REGIONS = [REGION, 'eu-west-1', 'ap-southeast-2'] as const;
let svc: TestService;
const clients = new Map<string, KMSClient>();
const kms = (region: string) => clients.get(region)!;
beforeAll(async () => {
  svc = await startTestService({ listen: true });
  for (const region of REGIONS) clients.set(region, new KMSClient({ endpoint: svc.url, region, credentials: ROOT, maxAttempts: 1 }));
});
afterAll(async () => {
  for (const client of clients.values()) client.destroy();
  await svc.close();
});

const text = Buffer.from('across regions');

it('replicates into two more regions; each region decrypts what every other encrypted, before and after a rotation and a new primary', async () => {
  const primary = (await kms(REGION).send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!;
  expect(primary.KeyId).toMatch(/^mrk-[0-9a-f]{32}$/);
  for (const region of REGIONS.slice(1)) {
    const out = await kms(REGION).send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: region, Description: `replica in ${region}` }));
    expect(out.ReplicaKeyMetadata).toMatchObject({ KeyId: primary.KeyId, KeyState: 'Creating', MultiRegion: true });
  }
  expect(await rejectionOf(kms(REGION).send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'eu-west-1' })))).toBeInstanceOf(AlreadyExistsException);
  const described = (await kms('eu-west-1').send(new DescribeKeyCommand({ KeyId: primary.KeyId }))).KeyMetadata!;
  expect(described.MultiRegionConfiguration).toEqual({
    MultiRegionKeyType: 'REPLICA', PrimaryKey: { Arn: primary.Arn, Region: REGION },
    ReplicaKeys: [{ Arn: primary.Arn!.replace(REGION, 'ap-southeast-2'), Region: 'ap-southeast-2' }, { Arn: primary.Arn!.replace(REGION, 'eu-west-1'), Region: 'eu-west-1' }],
  });

  const crossCheck = async () => {
    for (const from of REGIONS) {
      const blob = (await kms(from).send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: text }))).CiphertextBlob!;
      for (const to of REGIONS) expect(Buffer.from((await kms(to).send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!)).toEqual(text);
    }
  };
  await crossCheck();
  const old = (await kms('ap-southeast-2').send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: text }))).CiphertextBlob!;
  await kms(REGION).send(new RotateKeyOnDemandCommand({ KeyId: primary.KeyId }));
  expect(await rejectionOf(kms('eu-west-1').send(new RotateKeyOnDemandCommand({ KeyId: primary.KeyId })))).toBeInstanceOf(UnsupportedOperationException);
  await crossCheck();
  for (const to of REGIONS) expect(Buffer.from((await kms(to).send(new DecryptCommand({ CiphertextBlob: old }))).Plaintext!)).toEqual(text);

  await kms(REGION).send(new UpdatePrimaryRegionCommand({ KeyId: primary.KeyId, PrimaryRegion: 'eu-west-1' }));
  expect((await kms(REGION).send(new DescribeKeyCommand({ KeyId: primary.KeyId }))).KeyMetadata!.MultiRegionConfiguration!.MultiRegionKeyType).toBe('REPLICA');
  expect((await kms('eu-west-1').send(new DescribeKeyCommand({ KeyId: primary.KeyId }))).KeyMetadata!.MultiRegionConfiguration!.MultiRegionKeyType).toBe('PRIMARY');
  await crossCheck();
  // The old primary deletes like a replica now; the new primary waits for its replicas.
  expect((await kms(REGION).send(new ScheduleKeyDeletionCommand({ KeyId: primary.KeyId, PendingWindowInDays: 7 }))).KeyState).toBe('PendingDeletion');
  const waiting = await kms('eu-west-1').send(new ScheduleKeyDeletionCommand({ KeyId: primary.KeyId, PendingWindowInDays: 7 }));
  expect(waiting.KeyState).toBe('PendingReplicaDeletion');
  expect(waiting.DeletionDate).toBeUndefined();
});

it('signs in one region; the signature verifies with another region\'s public key in node:crypto', async () => {
  const key = (await kms(REGION).send(new CreateKeyCommand({ MultiRegion: true, KeySpec: 'ECC_NIST_P384', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!;
  await kms(REGION).send(new ReplicateKeyCommand({ KeyId: key.KeyId, ReplicaRegion: 'ap-southeast-2' }));
  const signature = (await kms('ap-southeast-2').send(new SignCommand({ KeyId: key.KeyId, Message: text, SigningAlgorithm: 'ECDSA_SHA_384' }))).Signature!;
  const publicKey = (await kms(REGION).send(new GetPublicKeyCommand({ KeyId: key.KeyId }))).PublicKey!;
  const spki = createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' });
  expect(verifySignature('sha384', text, spki, Buffer.from(signature))).toBe(true);
  expect(verifySignature('sha384', Buffer.from('tampered'), spki, Buffer.from(signature))).toBe(false);
});
