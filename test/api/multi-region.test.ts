// Multi-Region keys through the HTTP API on a real token (SoftHSM) and the embedded store, with a
// clock the tests move: CreateKey MultiRegion, ReplicateKey into two more regions, ciphertexts and
// signatures crossing regions (signatures checked with node:crypto), rotation copied to every
// replica, UpdatePrimaryRegion, deletion in the right order (PendingReplicaDeletion) with the
// shared token objects destroyed only with the last member, and imported material.
import { createPublicKey, randomBytes, verify as verifySignature } from 'node:crypto';
import { deleteDueKeys } from '../../src/core/jobs/deletion';
import { parseCiphertext } from '../../src/core/crypto/ciphertext';
import { FakeClock } from '../support/clock';
import { oaepWrap } from '../support/import-wrap';
import { kmsCall } from '../support/signed';
import { ACCOUNT, REGION, startTestService, type TestService } from '../support/service';

const EU = 'eu-west-1';
const AP = 'ap-southeast-2';
const DAY = 24 * 60 * 60 * 1000;
const PLAINTEXT = Buffer.from('multi-Region secret').toString('base64');

let clock: FakeClock;
let svc: TestService;
beforeAll(async () => {
  clock = new FakeClock(new Date('2026-05-01T12:00:00Z'));
  svc = await startTestService({ clock });
});
afterAll(async () => { await svc.close(); });

const call = (op: string, body: unknown, region = REGION) => kmsCall(svc.app, op, body, { region });
const arnIn = (region: string, keyId: string) => `arn:aws:kms:${region}:${ACCOUNT}:key/${keyId}`;
const stored = async (region: string, keyId: string) => svc.store.keys.get({ accountId: ACCOUNT, region }, keyId);
const objectIdsOf = async (region: string, keyId: string) => (await stored(region, keyId))!.versions.map((v) => (v.backing.kind === 'pkcs11' ? v.backing.objectId : ''));
const decrypts = async (blob: string, region: string) => (await call('Decrypt', { CiphertextBlob: blob }, region)).body.Plaintext === PLAINTEXT;
const encryptIn = async (keyId: string, region: string) => {
  const res = await call('Encrypt', { KeyId: keyId, Plaintext: PLAINTEXT }, region);
  expect(res.status).toBe(200);
  return res.body.CiphertextBlob as string;
};

async function multiRegionKey(body: Record<string, unknown> = {}): Promise<{ KeyId: string; Arn: string }> {
  const res = await call('CreateKey', { MultiRegion: true, ...body });
  expect(res.status).toBe(200);
  return res.body.KeyMetadata;
}

async function replicate(keyId: string, region: string, body: Record<string, unknown> = {}) {
  const res = await call('ReplicateKey', { KeyId: keyId, ReplicaRegion: region, ...body });
  expect({ status: res.status, error: res.body.__type }).toEqual({ status: 200, error: undefined });
  return res.body;
}

/** A primary in REGION with replicas in EU and AP. */
async function keyInThreeRegions(): Promise<{ KeyId: string; Arn: string }> {
  const key = await multiRegionKey();
  await replicate(key.KeyId, EU);
  await replicate(key.KeyId, AP);
  return key;
}

describe('CreateKey MultiRegion and ReplicateKey', () => {
  it('makes a primary with an mrk- key id, and replicas with the same key id and material in two more regions', async () => {
    const key = await multiRegionKey({ Description: 'primary' });
    expect(key.KeyId).toMatch(/^mrk-[0-9a-f]{32}$/);
    const described = (await call('DescribeKey', { KeyId: key.KeyId })).body.KeyMetadata;
    expect(described).toMatchObject({
      MultiRegion: true,
      MultiRegionConfiguration: { MultiRegionKeyType: 'PRIMARY', PrimaryKey: { Arn: key.Arn, Region: REGION }, ReplicaKeys: [] },
    });

    const replica = await replicate(key.KeyId, EU, { Description: 'in Europe', Tags: [{ TagKey: 'team', TagValue: 'eu' }] });
    // Answered as AWS does: the replica as created, with its own (default) policy and its tags.
    expect(replica.ReplicaKeyMetadata).toMatchObject({
      KeyId: key.KeyId, Arn: arnIn(EU, key.KeyId), KeyState: 'Creating', Enabled: false, Description: 'in Europe', MultiRegion: true,
      MultiRegionConfiguration: { MultiRegionKeyType: 'REPLICA', PrimaryKey: { Arn: key.Arn, Region: REGION }, ReplicaKeys: [{ Arn: arnIn(EU, key.KeyId), Region: EU }] },
    });
    expect(JSON.parse(replica.ReplicaPolicy as string)).toMatchObject({ Statement: [{ Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*' }] });
    expect(replica.ReplicaTags).toEqual([{ TagKey: 'team', TagValue: 'eu' }]);
    await replicate(key.Arn, AP);

    const inEu = (await call('DescribeKey', { KeyId: key.KeyId }, EU)).body.KeyMetadata;
    expect(inEu).toMatchObject({ KeyState: 'Enabled', Enabled: true, Description: 'in Europe', MultiRegionConfiguration: { MultiRegionKeyType: 'REPLICA' } });
    const replicaKeys = [{ Arn: arnIn(AP, key.KeyId), Region: AP }, { Arn: arnIn(EU, key.KeyId), Region: EU }];
    for (const region of [REGION, EU, AP]) {
      expect((await call('DescribeKey', { KeyId: arnIn(region, key.KeyId) }, region)).body.KeyMetadata.MultiRegionConfiguration.ReplicaKeys).toEqual(replicaKeys);
    }
    // Independent properties: the primary keeps its description and has no tags.
    expect((await call('ListResourceTags', { KeyId: key.KeyId })).body.Tags).toEqual([]);
    expect((await call('ListResourceTags', { KeyId: key.KeyId }, EU)).body.Tags).toEqual([{ TagKey: 'team', TagValue: 'eu' }]);
    // One token for every region: the members name the same token objects.
    const objects = await objectIdsOf(REGION, key.KeyId);
    expect(objects).toHaveLength(1);
    expect(await objectIdsOf(EU, key.KeyId)).toEqual(objects);
    expect(await objectIdsOf(AP, key.KeyId)).toEqual(objects);

    // A ciphertext made in any region decrypts in every other.
    for (const from of [REGION, EU, AP]) {
      const blob = await encryptIn(key.KeyId, from);
      for (const to of [REGION, EU, AP]) expect(await decrypts(blob, to)).toBe(true);
    }

    // As AWS logs it, each ReplicateKey is also a CreateKey in the replica's region, once.
    const created = (await svc.store.audit.lookup({ attribute: { key: 'EventName', value: 'CreateKey' } }, { limit: 50 })).items
      .map((r) => JSON.parse(r.event) as { awsRegion: string; eventType: string; resources: { ARN: string }[] })
      .filter((e) => e.eventType === 'AwsServiceEvent' && e.resources[0]?.ARN.endsWith(key.KeyId));
    expect(created.map((e) => [e.awsRegion, e.resources[0]!.ARN]).sort()).toEqual([[AP, arnIn(AP, key.KeyId)], [EU, arnIn(EU, key.KeyId)]]);
  });

  it('refuses what AWS refuses, with a 4xx in AWS\'s shape', async () => {
    const key = await multiRegionKey();
    await replicate(key.KeyId, EU);
    const single = (await call('CreateKey', {})).body.KeyMetadata;
    const refusals: [Record<string, unknown>, string, number, string?][] = [
      [{ KeyId: key.KeyId, ReplicaRegion: EU }, 'AlreadyExistsException', 400, `Key ${arnIn(EU, key.KeyId)} already exists.`],
      [{ KeyId: key.KeyId, ReplicaRegion: REGION }, 'ValidationException', 400],
      [{ KeyId: key.KeyId, ReplicaRegion: 'not a region' }, 'ValidationException', 400],
      [{ KeyId: key.KeyId }, 'ValidationException', 400],
      [{ KeyId: single.KeyId, ReplicaRegion: EU }, 'UnsupportedOperationException', 400],
      [{ KeyId: 'mrk-00000000000000000000000000000000', ReplicaRegion: EU }, 'NotFoundException', 400],
    ];
    for (const [body, type, status, message] of refusals) {
      const res = await call('ReplicateKey', body);
      expect({ status: res.status, type: res.body.__type }).toEqual({ status, type });
      if (message) expect(res.body.message).toBe(message);
    }
    // A replica is not replicated, and a shared property is not changed on it.
    const fromReplica = await call('ReplicateKey', { KeyId: key.KeyId, ReplicaRegion: AP }, EU);
    expect(fromReplica.body.__type).toBe('UnsupportedOperationException');
    for (const op of ['EnableKeyRotation', 'DisableKeyRotation', 'RotateKeyOnDemand']) {
      expect((await call(op, { KeyId: key.KeyId }, EU)).body.__type).toBe('UnsupportedOperationException');
    }
    // A disabled primary is not replicated.
    await call('DisableKey', { KeyId: key.KeyId });
    expect((await call('ReplicateKey', { KeyId: key.KeyId, ReplicaRegion: AP })).body).toEqual({ __type: 'DisabledException', message: `${key.Arn} is disabled.` });
    expect(await stored(AP, key.KeyId)).toBeUndefined();
    // Enabled state is independent: the replica still works.
    await encryptIn(key.KeyId, EU);
  });

  it('makes multi-Region keys of every key spec the token holds: a signature made in one region verifies with the other\'s public key', async () => {
    const key = await multiRegionKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    expect(key.KeyId).toMatch(/^mrk-/);
    await replicate(key.KeyId, EU);
    const signature = (await call('Sign', { KeyId: key.KeyId, Message: PLAINTEXT, SigningAlgorithm: 'ECDSA_SHA_256' }, EU)).body.Signature as string;
    const primaryPublic = (await call('GetPublicKey', { KeyId: key.KeyId })).body.PublicKey as string;
    expect((await call('GetPublicKey', { KeyId: key.KeyId }, EU)).body.PublicKey).toBe(primaryPublic);
    const publicKey = createPublicKey({ key: Buffer.from(primaryPublic, 'base64'), format: 'der', type: 'spki' });
    expect(verifySignature('sha256', Buffer.from(PLAINTEXT, 'base64'), publicKey, Buffer.from(signature, 'base64'))).toBe(true);
    expect(verifySignature('sha256', Buffer.from('other'), publicKey, Buffer.from(signature, 'base64'))).toBe(false);
    expect((await call('Verify', { KeyId: key.KeyId, Message: PLAINTEXT, SigningAlgorithm: 'ECDSA_SHA_256', Signature: signature })).body.SignatureValid).toBe(true);

    const hmac = await multiRegionKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    await replicate(hmac.KeyId, AP);
    const mac = (await call('GenerateMac', { KeyId: hmac.KeyId, Message: PLAINTEXT, MacAlgorithm: 'HMAC_SHA_256' })).body.Mac as string;
    expect((await call('VerifyMac', { KeyId: hmac.KeyId, Message: PLAINTEXT, MacAlgorithm: 'HMAC_SHA_256', Mac: mac }, AP)).body.MacValid).toBe(true);

    const rsa = await multiRegionKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    const replicaRsa = await replicate(rsa.KeyId, EU);
    expect(replicaRsa.ReplicaKeyMetadata.EncryptionAlgorithms).toEqual(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
    const blob = (await call('Encrypt', { KeyId: rsa.KeyId, Plaintext: PLAINTEXT, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }, EU)).body.CiphertextBlob as string;
    expect((await call('Decrypt', { KeyId: rsa.KeyId, CiphertextBlob: blob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })).body.Plaintext).toBe(PLAINTEXT);
  });

  it('is refused in a custom key store', async () => {
    const res = await call('CreateKey', { MultiRegion: true, Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: 'cks-1234567890abcdef0' });
    expect(res.status).toBe(400);
    expect(res.body.__type).toBe('UnsupportedOperationException');
  });
});

describe('rotation of a multi-Region key', () => {
  it('copies new material to every replica before the primary uses it; old and new ciphertexts decrypt in every region', async () => {
    const key = await keyInThreeRegions();
    const before = await encryptIn(key.KeyId, AP);
    const firstMaterial = parseCiphertext(Buffer.from(before, 'base64')).keyMaterialId;

    expect((await call('RotateKeyOnDemand', { KeyId: key.KeyId })).status).toBe(200);
    const primary = (await stored(REGION, key.KeyId))!;
    expect(primary.currentVersionId).not.toBe(firstMaterial);
    expect(primary.multiRegionWork).toBeUndefined();
    for (const region of [EU, AP]) {
      const replica = (await stored(region, key.KeyId))!;
      expect(replica.currentVersionId).toBe(primary.currentVersionId);
      expect(replica.versions.map((v) => [v.id, v.status, v.backing])).toEqual(primary.versions.map((v) => [v.id, v.status, v.backing]));
    }
    for (const from of [REGION, EU, AP]) {
      const after = await encryptIn(key.KeyId, from);
      expect(parseCiphertext(Buffer.from(after, 'base64')).keyMaterialId).toBe(primary.currentVersionId);
      for (const to of [REGION, EU, AP]) {
        expect(await decrypts(after, to)).toBe(true);
        expect(await decrypts(before, to)).toBe(true);
      }
    }
    // Automatic rotation is set on the primary and shared.
    expect((await call('EnableKeyRotation', { KeyId: key.KeyId, RotationPeriodInDays: 90 })).status).toBe(200);
    expect((await call('GetKeyRotationStatus', { KeyId: key.KeyId }, EU)).body).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 90 });
    // The propagation is in the audit trail as SynchronizeMultiRegionKey, in each replica's region.
    const records = await svc.store.audit.lookup({ attribute: { key: 'EventName', value: 'SynchronizeMultiRegionKey' } }, { limit: 50 });
    const events = records.items.map((r) => JSON.parse(r.event) as { awsRegion: string; resources: { ARN: string }[]; eventType: string });
    const regions = events.filter((e) => e.resources[0]?.ARN.endsWith(key.KeyId)).map((e) => e.awsRegion);
    expect(new Set(regions)).toEqual(new Set([EU, AP]));
    expect(events.every((e) => e.eventType === 'AwsServiceEvent')).toBe(true);
  });
});

describe('UpdatePrimaryRegion', () => {
  it('swaps the primary and a replica; the old primary is then a replica', async () => {
    const key = await keyInThreeRegions();
    const before = await encryptIn(key.KeyId, REGION);
    const res = await call('UpdatePrimaryRegion', { KeyId: key.KeyId, PrimaryRegion: EU });
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: {} });
    for (const region of [REGION, EU, AP]) {
      const meta = (await call('DescribeKey', { KeyId: key.KeyId }, region)).body.KeyMetadata;
      expect(meta).toMatchObject({
        KeyState: 'Enabled',
        MultiRegionConfiguration: {
          MultiRegionKeyType: region === EU ? 'PRIMARY' : 'REPLICA',
          PrimaryKey: { Arn: arnIn(EU, key.KeyId), Region: EU },
          ReplicaKeys: [{ Arn: arnIn(AP, key.KeyId), Region: AP }, { Arn: arnIn(REGION, key.KeyId), Region: REGION }],
        },
      });
      expect(await decrypts(before, region)).toBe(true);
    }
    // Only the new primary is replicated, rotated and handed over now.
    expect((await call('UpdatePrimaryRegion', { KeyId: key.KeyId, PrimaryRegion: AP })).body.__type).toBe('UnsupportedOperationException');
    expect((await call('RotateKeyOnDemand', { KeyId: key.KeyId }, EU)).status).toBe(200);
    expect(await decrypts(await encryptIn(key.KeyId, REGION), AP)).toBe(true);
    // The region named must hold a replica, and both keys must be usable.
    expect((await call('UpdatePrimaryRegion', { KeyId: key.KeyId, PrimaryRegion: 'sa-east-1' }, EU)).body).toEqual({
      __type: 'NotFoundException', message: `Key '${arnIn('sa-east-1', key.KeyId)}' does not exist`,
    });
    await call('DisableKey', { KeyId: key.KeyId }, AP);
    expect((await call('UpdatePrimaryRegion', { KeyId: key.KeyId, PrimaryRegion: AP }, EU)).body).toEqual({ __type: 'DisabledException', message: `${arnIn(AP, key.KeyId)} is disabled.` });
    expect((await stored(EU, key.KeyId))!).toMatchObject({ state: 'Enabled', multiRegionKeyType: 'PRIMARY' });
    expect((await stored(EU, key.KeyId))!.multiRegionWork).toBeUndefined();
    // And back.
    expect((await call('UpdatePrimaryRegion', { KeyId: key.KeyId, PrimaryRegion: REGION }, EU)).status).toBe(200);
    expect((await stored(REGION, key.KeyId))!.multiRegionKeyType).toBe('PRIMARY');
  });
});

describe('deletion', () => {
  it('a primary with replicas waits in PendingReplicaDeletion; its window starts when the last replica is deleted, and the token objects go with the last member', async () => {
    const key = await keyInThreeRegions();
    const [objectId] = await objectIdsOf(REGION, key.KeyId);

    const scheduled = await call('ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 7 });
    expect(scheduled.body).toEqual({ KeyId: key.Arn, KeyState: 'PendingReplicaDeletion', PendingWindowInDays: 7 });
    const meta = (await call('DescribeKey', { KeyId: key.KeyId })).body.KeyMetadata;
    expect(meta).toMatchObject({ KeyState: 'PendingReplicaDeletion', Enabled: false });
    expect(meta.DeletionDate).toBeUndefined();
    expect((await call('Encrypt', { KeyId: key.KeyId, Plaintext: PLAINTEXT })).body).toEqual({ __type: 'KMSInvalidStateException', message: `${key.Arn} is pending deletion.` });
    expect((await call('ReplicateKey', { KeyId: key.KeyId, ReplicaRegion: 'sa-east-1' })).body.__type).toBe('KMSInvalidStateException');

    expect((await call('ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 7 }, EU)).body.KeyState).toBe('PendingDeletion');
    clock.advance(8 * DAY);
    expect(await deleteDueKeys(svc.deps)).toEqual([key.KeyId]);
    expect(await stored(EU, key.KeyId)).toBeUndefined();
    // Still one replica: the primary waits, and the objects stay for the replica.
    expect((await stored(REGION, key.KeyId))!.state).toBe('PendingReplicaDeletion');
    expect(await svc.defaultStore.keyObjects.hasKey(objectId!)).toBe(true);
    const blob = await encryptIn(key.KeyId, AP);
    expect(await decrypts(blob, AP)).toBe(true);

    expect((await call('ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 7 }, AP)).status).toBe(200);
    clock.advance(8 * DAY);
    expect(await deleteDueKeys(svc.deps)).toEqual([key.KeyId]);
    const primary = (await stored(REGION, key.KeyId))!;
    expect(primary.state).toBe('PendingDeletion');
    expect(primary.deletionDate).toEqual(new Date(clock.now().getTime() + 7 * DAY));
    expect(await svc.defaultStore.keyObjects.hasKey(objectId!)).toBe(true);

    clock.advance(7 * DAY + 1000);
    expect(await deleteDueKeys(svc.deps)).toEqual([key.KeyId]);
    expect(await stored(REGION, key.KeyId)).toBeUndefined();
    expect(await svc.defaultStore.keyObjects.hasKey(objectId!)).toBe(false);
  });

  it('CancelKeyDeletion brings a primary back from PendingReplicaDeletion, Disabled', async () => {
    const key = await multiRegionKey();
    await replicate(key.KeyId, EU);
    await call('ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 7 });
    expect((await call('CancelKeyDeletion', { KeyId: key.KeyId })).status).toBe(200);
    expect((await stored(REGION, key.KeyId))!.state).toBe('Disabled');
  });
});

describe('imported key material', () => {
  async function importInto(keyId: string, region: string, material: Buffer) {
    const params = (await call('GetParametersForImport', { KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }, region)).body;
    const wrapped = oaepWrap(Buffer.from(params.PublicKey as string, 'base64'), 'sha256', material);
    return call('ImportKeyMaterial', {
      KeyId: keyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: wrapped.toString('base64'), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    }, region);
  }

  it('the replica waits for the same material; different material is refused', async () => {
    const key = await multiRegionKey({ Origin: 'EXTERNAL' });
    const material = randomBytes(32);
    // Not replicated before it has material (PendingImport).
    expect((await call('ReplicateKey', { KeyId: key.KeyId, ReplicaRegion: EU })).body).toEqual({ __type: 'KMSInvalidStateException', message: `${key.Arn} is pending import.` });
    expect((await importInto(key.KeyId, REGION, material)).status).toBe(200);
    const replica = await replicate(key.KeyId, EU);
    expect(replica.ReplicaKeyMetadata).toMatchObject({ Origin: 'EXTERNAL', KeyState: 'Creating' });
    expect((await call('DescribeKey', { KeyId: key.KeyId }, EU)).body.KeyMetadata.KeyState).toBe('PendingImport');

    const refused = await importInto(key.KeyId, EU, randomBytes(32));
    expect(refused.status).toBe(400);
    expect(refused.body.__type).toBe('IncorrectKeyMaterialException');
    expect((await call('DescribeKey', { KeyId: key.KeyId }, EU)).body.KeyMetadata.KeyState).toBe('PendingImport');

    expect((await importInto(key.KeyId, EU, material)).status).toBe(200);
    // Each member has its own token object for the material (imported into each, not shared).
    expect(await objectIdsOf(EU, key.KeyId)).not.toEqual(await objectIdsOf(REGION, key.KeyId));
    const blob = await encryptIn(key.KeyId, REGION);
    expect(await decrypts(blob, EU)).toBe(true);
    expect(await decrypts(await encryptIn(key.KeyId, EU), REGION)).toBe(true);
  });
});

describe('preconditions', () => {
  it('only a multi-Region primary key is replicated.', async () => {
    const single = (await call('CreateKey', {})).body.KeyMetadata;
    expect((await call('ReplicateKey', { KeyId: single.KeyId, ReplicaRegion: EU })).body).toEqual({
      __type: 'UnsupportedOperationException', message: `${single.Arn} is not a multi-Region key. Only multi-Region primary keys can be replicated.`,
    });
    const key = await multiRegionKey();
    await replicate(key.KeyId, EU);
    expect((await call('ReplicateKey', { KeyId: key.KeyId, ReplicaRegion: AP }, EU)).body).toEqual({
      __type: 'UnsupportedOperationException', message: `${arnIn(EU, key.KeyId)} is a multi-Region replica key. Only multi-Region primary keys can be replicated.`,
    });
  });

  it('a replica is made in another region than its primary\'s.', async () => {
    const key = await multiRegionKey();
    const res = await call('ReplicateKey', { KeyId: key.KeyId, ReplicaRegion: REGION });
    expect(res.status).toBe(400);
    expect(res.body.__type).toBe('ValidationException');
    expect((await call('DescribeKey', { KeyId: key.KeyId })).body.KeyMetadata.MultiRegionConfiguration.ReplicaKeys).toEqual([]);
  });

  it('a set has at most one member per region.', async () => {
    const key = await multiRegionKey();
    await replicate(key.KeyId, EU);
    const before = await stored(EU, key.KeyId);
    expect((await call('ReplicateKey', { KeyId: key.KeyId, ReplicaRegion: EU, Description: 'again' })).body).toEqual({
      __type: 'AlreadyExistsException', message: `Key ${arnIn(EU, key.KeyId)} already exists.`,
    });
    expect(await stored(EU, key.KeyId)).toEqual(before);
  });

  it('material moves between members only within one token.', async () => {
    const key = await multiRegionKey();
    // As if the primary's material were on another token than the one every region uses here.
    const record = (await stored(REGION, key.KeyId))!;
    await svc.store.keys.replace({ ...record, versions: record.versions.map((v) => ({ ...v, backing: { kind: 'pkcs11' as const, tokenId: 'cks-0123456789abcdef0', objectId: 'ab' } })) });
    const res = await call('ReplicateKey', { KeyId: key.KeyId, ReplicaRegion: EU });
    expect(res.status).toBe(400);
    expect(res.body.__type).toBe('UnsupportedOperationException');
    expect(res.body.message).toContain('does not move key material between tokens');
    expect(await stored(EU, key.KeyId)).toBeUndefined();
    const changed = (await stored(REGION, key.KeyId))!;
    await svc.store.keys.replace({ ...changed, versions: record.versions });
  });

  it('a shared property of a multi-Region key is changed on its primary only.', async () => {
    const key = await multiRegionKey();
    await replicate(key.KeyId, EU);
    for (const op of ['EnableKeyRotation', 'DisableKeyRotation', 'RotateKeyOnDemand']) {
      expect((await call(op, { KeyId: key.KeyId }, EU)).body).toEqual({
        __type: 'UnsupportedOperationException', message: `${arnIn(EU, key.KeyId)} is a multi-Region replica key. ${op} can be called on its primary key only.`,
      });
    }
    expect((await stored(EU, key.KeyId))!.versions).toHaveLength(1);
    expect((await call('GetKeyRotationStatus', { KeyId: key.KeyId }, EU)).body.KeyRotationEnabled).toBe(false);
  });

  it('UpdatePrimaryRegion starts from a multi-Region primary key.', async () => {
    const single = (await call('CreateKey', {})).body.KeyMetadata;
    expect((await call('UpdatePrimaryRegion', { KeyId: single.KeyId, PrimaryRegion: EU })).body).toEqual({
      __type: 'UnsupportedOperationException', message: `${single.Arn} is not a multi-Region key.`,
    });
    const key = await multiRegionKey();
    await replicate(key.KeyId, EU);
    const res = await call('UpdatePrimaryRegion', { KeyId: key.KeyId, PrimaryRegion: REGION }, EU);
    expect(res.body.__type).toBe('UnsupportedOperationException');
    expect((await stored(REGION, key.KeyId))!.multiRegionKeyType).toBe('PRIMARY');
  });

  it('the new primary region holds a replica of the key.', async () => {
    const key = await multiRegionKey();
    expect((await call('UpdatePrimaryRegion', { KeyId: key.KeyId, PrimaryRegion: EU })).body).toEqual({
      __type: 'NotFoundException', message: `Key '${arnIn(EU, key.KeyId)}' does not exist`,
    });
    expect((await stored(REGION, key.KeyId))!).toMatchObject({ state: 'Enabled', multiRegionKeyType: 'PRIMARY' });
  });

  it('the new primary region is another region than the current primary\'s.', async () => {
    const key = await multiRegionKey();
    const res = await call('UpdatePrimaryRegion', { KeyId: key.KeyId, PrimaryRegion: REGION });
    expect(res.status).toBe(400);
    expect(res.body.__type).toBe('ValidationException');
  });
});
