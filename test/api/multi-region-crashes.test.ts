// Crashes injected into the updates that span the members of a multi-Region set, through the
// HTTP API on a real token (SoftHSM) and the embedded store: ReplicateKey, UpdatePrimaryRegion and
// the rotation of a primary (its copy to the replica) die at each of their store writes in turn
// (the write and everything after it never happen, as after a kill -9), and a restart's recovery
// must leave a set that is whole: never two primaries, never a replica without material, nothing
// stuck in Creating or Updating. Replies lost after the write landed are covered too (the caller
// sees an error, its clean-up runs).
import type { KeyRecord } from '../../src/core/model';
import { runMaintenance } from '../../src/core/jobs/maintenance';
import { INCOMPLETE_GRACE_MS } from '../../src/core/jobs/recovery';
import { FakeClock } from '../support/clock';
import { kmsCall } from '../support/signed';
import { ACCOUNT, REGION, startTestService, type TestService } from '../support/service';
import { FaultyStore } from '../support/faulty-store';

const US = REGION;
const EU = 'eu-west-1';
const PLAINTEXT = Buffer.from('multi-Region crash').toString('base64');
/** One service that restarts on the same token and data directory, with a FaultyStore each time. */
class Harness {
  svc!: TestService;
  faulty!: FaultyStore;
  constructor(readonly clock: FakeClock) {}
  async start(restartOf?: TestService): Promise<void> {
    this.svc = await startTestService({
      clock: this.clock,
      wrapStore: (store) => (this.faulty = new FaultyStore(store)).store,
      ...(restartOf ? { restartOf: { token: restartOf.token, dir: restartOf.dir } } : {}),
    });
  }
  /** As after a kill -9: a new process on the same token and store, which runs its start-up maintenance. */
  async restart(): Promise<number> {
    this.faulty.disarm();
    const old = this.svc;
    await old.close({ keepData: true });
    await this.start(old);
    return (await runMaintenance(this.svc.deps, { atStartup: true })).recovered;
  }
  /** Recovery by the periodic maintenance of a service that kept running (another instance's work), once the grace period has passed. */
  async recoverLater(): Promise<number> {
    this.faulty.disarm();
    this.clock.advance(INCOMPLETE_GRACE_MS + 1000);
    return (await runMaintenance(this.svc.deps, { atStartup: false })).recovered;
  }
  call(op: string, body: unknown, region = US) {
    return kmsCall(this.svc.app, op, body, { region });
  }
  async members(keyId: string): Promise<KeyRecord[]> {
    return this.svc.store.keys.listRelated(ACCOUNT, keyId);
  }
  async encrypt(keyId: string, region: string): Promise<string> {
    const res = await this.call('Encrypt', { KeyId: keyId, Plaintext: PLAINTEXT }, region);
    expect({ region, status: res.status, error: res.body.__type }).toEqual({ region, status: 200, error: undefined });
    return res.body.CiphertextBlob as string;
  }
  async decrypts(blob: string, region: string): Promise<boolean> {
    const res = await this.call('Decrypt', { CiphertextBlob: blob }, region);
    return res.status === 200 && res.body.Plaintext === PLAINTEXT;
  }
  async multiRegionKey(): Promise<{ KeyId: string; Arn: string }> {
    const res = await this.call('CreateKey', { MultiRegion: true });
    expect(res.status).toBe(200);
    return res.body.KeyMetadata;
  }
  async objectIds(keyId: string, region: string): Promise<string[]> {
    const key = await this.svc.store.keys.get({ accountId: ACCOUNT, region }, keyId);
    return key!.versions.map((v) => (v.backing.kind === 'pkcs11' ? v.backing.objectId : ''));
  }
}

const arnIn = (region: string, keyId: string) => `arn:aws:kms:${region}:${ACCOUNT}:key/${keyId}`;
const primaries = (members: KeyRecord[]) => members.filter((m) => m.multiRegionKeyType === 'PRIMARY').map((m) => m.region);

/**
 * Runs `attempt` with a fault at write 1, 2, … until a run makes every write without one (`attempt`
 * answers whether its fault was injected); returns how many writes a whole run makes.
 */
async function atEveryWrite(attempt: (n: number) => Promise<boolean>): Promise<number> {
  for (let n = 1; n <= 20; n++) {
    if (!(await attempt(n))) return n - 1;
  }
  throw new Error('the operation never finished without a fault');
}

describe('ReplicateKey interrupted at each store write', () => {
  const h = new Harness(new FakeClock(new Date('2026-06-01T12:00:00Z')));
  beforeAll(async () => { await h.start(); });
  afterAll(async () => { await h.svc.close(); });
  afterEach(() => { h.faulty.disarm(); });

  /** The set after recovery: the primary works, and a replica in EU is either absent or whole. Returns whether it exists. */
  async function expectWholeSet(keyId: string, primaryBlob: string, primaryObjects: string[]): Promise<boolean> {
    const members = await h.members(keyId);
    expect(members.filter((m) => m.incomplete).map((m) => m.region)).toEqual([]);
    expect(primaries(members)).toEqual([US]);
    for (const objectId of primaryObjects) expect(await h.svc.defaultStore.keyObjects.hasKey(objectId)).toBe(true);
    expect(await h.decrypts(primaryBlob, US)).toBe(true);
    expect(await h.decrypts(await h.encrypt(keyId, US), US)).toBe(true);

    const described = (await h.call('DescribeKey', { KeyId: keyId })).body.KeyMetadata;
    expect(described).toMatchObject({ KeyState: 'Enabled', MultiRegionConfiguration: { MultiRegionKeyType: 'PRIMARY', PrimaryKey: { Arn: arnIn(US, keyId), Region: US } } });
    const replicaKeys = described.MultiRegionConfiguration.ReplicaKeys as unknown[];
    const inEu = await h.call('DescribeKey', { KeyId: keyId }, EU);
    if (replicaKeys.length === 0) {
      expect(inEu.body.__type).toBe('NotFoundException');
      expect(members.map((m) => m.region)).toEqual([US]);
      return false;
    }
    expect(replicaKeys).toEqual([{ Arn: arnIn(EU, keyId), Region: EU }]);
    expect(inEu.body.KeyMetadata).toMatchObject({
      KeyState: 'Enabled', Enabled: true,
      MultiRegionConfiguration: { MultiRegionKeyType: 'REPLICA', PrimaryKey: { Arn: arnIn(US, keyId), Region: US }, ReplicaKeys: [{ Arn: arnIn(EU, keyId), Region: EU }] },
    });
    // The same material: each region opens the other's ciphertexts.
    expect(await h.objectIds(keyId, EU)).toEqual(primaryObjects);
    expect(await h.decrypts(primaryBlob, EU)).toBe(true);
    expect(await h.decrypts(await h.encrypt(keyId, EU), US)).toBe(true);
    return true;
  }

  /**
   * ReplicateKey with `fault` at each store write in turn, then `recover`: the primary is whole,
   * the replica absent or whole, and ReplicateKey then succeeds (or finds the replica). Returns
   * `write:status:replica|none` for each faulty run.
   */
  async function replicateAtEveryWrite(fault: 'crashAt' | 'loseReplyAt', recover: () => Promise<unknown>): Promise<string[]> {
    const outcomes: string[] = [];
    const writes = await atEveryWrite(async (n) => {
      const key = await h.multiRegionKey();
      const blob = await h.encrypt(key.KeyId, US);
      const objects = await h.objectIds(key.KeyId, US);
      h.faulty[fault](n);
      const res = await h.call('ReplicateKey', { KeyId: key.KeyId, ReplicaRegion: EU });
      if (!h.faulty.injected) {
        // Every write made: the operation is whole.
        expect(res.status).toBe(200);
        expect(await expectWholeSet(key.KeyId, blob, objects)).toBe(true);
        return false;
      }
      if (res.status !== 200) expect({ n, status: res.status, error: res.body.__type }).toEqual({ n, status: 500, error: 'KMSInternalException' });
      // Never two primaries, even before recovery.
      expect(primaries(await h.members(key.KeyId))).toEqual([US]);
      await recover();
      const replicated = await expectWholeSet(key.KeyId, blob, objects);
      outcomes.push(`${n}:${res.status}:${replicated ? 'replica' : 'none'}`);
      const again = await h.call('ReplicateKey', { KeyId: key.KeyId, ReplicaRegion: EU });
      expect({ status: again.status, error: again.body.__type }).toEqual(replicated ? { status: 400, error: 'AlreadyExistsException' } : { status: 200, error: undefined });
      expect(await expectWholeSet(key.KeyId, blob, objects)).toBe(true);
      return true;
    });
    // An incomplete replica inserted, the primary fenced, the replica completed.
    expect(writes).toBeGreaterThanOrEqual(3);
    return outcomes;
  }

  it('a crash at any write leaves the primary whole and a replica either gone or complete; ReplicateKey then succeeds', async () => {
    const outcomes = await replicateAtEveryWrite('crashAt', () => h.restart());
    // A crash before the replica is complete leaves no replica.
    expect(outcomes).toEqual(outcomes.map((_, i) => `${i + 1}:500:none`));
  });

  it('a crash before completion is undone by the periodic recovery of a running service, only after the grace period', async () => {
    const key = await h.multiRegionKey();
    const blob = await h.encrypt(key.KeyId, US);
    const objects = await h.objectIds(key.KeyId, US);
    h.faulty.crashAt(2);
    expect((await h.call('ReplicateKey', { KeyId: key.KeyId, ReplicaRegion: EU })).status).toBe(500);
    h.faulty.disarm();
    // The replica under creation is invisible in its region, and blocks a second ReplicateKey meanwhile.
    expect((await h.call('DescribeKey', { KeyId: key.KeyId }, EU)).body.__type).toBe('NotFoundException');
    expect((await h.call('ReplicateKey', { KeyId: key.KeyId, ReplicaRegion: EU })).body.__type).toBe('AlreadyExistsException');
    // Inside the grace period it may still be in flight: left alone.
    await runMaintenance(h.svc.deps, { atStartup: false });
    expect((await h.members(key.KeyId)).map((m) => [m.region, m.incomplete ?? false])).toEqual([[EU, true], [US, false]]);
    expect(await h.recoverLater()).toBeGreaterThanOrEqual(1);
    expect(await expectWholeSet(key.KeyId, blob, objects)).toBe(false);
    expect((await h.call('ReplicateKey', { KeyId: key.KeyId, ReplicaRegion: EU })).status).toBe(200);
    expect(await expectWholeSet(key.KeyId, blob, objects)).toBe(true);
  });

  it('a reply lost after any write leaves a set that is whole, at once or after recovery', async () => {
    const outcomes = await replicateAtEveryWrite('loseReplyAt', () => h.recoverLater());
    // Before the last write the call fails and leaves no replica; the last one's lost reply is
    // noticed (the replica is complete) and answered as a success, the replica kept.
    expect(outcomes).toEqual([...outcomes.slice(1).map((_, i) => `${i + 1}:500:none`), `${outcomes.length}:200:replica`]);
  });
});

describe('UpdatePrimaryRegion interrupted at each store write', () => {
  const h = new Harness(new FakeClock(new Date('2026-07-01T12:00:00Z')));
  beforeAll(async () => { await h.start(); });
  afterAll(async () => { await h.svc.close(); });
  afterEach(() => { h.faulty.disarm(); });

  /** A primary in US with a replica in EU, and a ciphertext made in each region. */
  async function replicatedKey(): Promise<{ keyId: string; blobs: string[] }> {
    const key = await h.multiRegionKey();
    const res = await h.call('ReplicateKey', { KeyId: key.KeyId, ReplicaRegion: EU });
    expect(res.status).toBe(200);
    return { keyId: key.KeyId, blobs: [await h.encrypt(key.KeyId, US), await h.encrypt(key.KeyId, EU)] };
  }

  /** Exactly one primary, both keys Enabled with no work left, both agreeing on the set, every ciphertext opening in both regions. Returns the primary's region. */
  async function expectWholeSet(keyId: string, blobs: string[]): Promise<string> {
    const members = await h.members(keyId);
    expect(members.map((m) => [m.region, m.state, m.incomplete ?? false, m.multiRegionWork])).toEqual([[EU, 'Enabled', false, undefined], [US, 'Enabled', false, undefined]]);
    const primary = primaries(members);
    expect(primary).toHaveLength(1);
    const primaryRegion = primary[0]!;
    const replicaRegion = primaryRegion === US ? EU : US;
    const configurations = [];
    for (const region of [US, EU]) {
      const described = (await h.call('DescribeKey', { KeyId: keyId }, region)).body.KeyMetadata;
      expect(described).toMatchObject({ KeyState: 'Enabled', Enabled: true });
      configurations.push(described.MultiRegionConfiguration);
    }
    const shared = { PrimaryKey: { Arn: arnIn(primaryRegion, keyId), Region: primaryRegion }, ReplicaKeys: [{ Arn: arnIn(replicaRegion, keyId), Region: replicaRegion }] };
    expect(configurations).toEqual([
      { MultiRegionKeyType: primaryRegion === US ? 'PRIMARY' : 'REPLICA', ...shared },
      { MultiRegionKeyType: primaryRegion === EU ? 'PRIMARY' : 'REPLICA', ...shared },
    ]);
    // The same material in both regions: every ciphertext opens in both.
    expect(await h.objectIds(keyId, EU)).toEqual(await h.objectIds(keyId, US));
    const fresh = [await h.encrypt(keyId, US), await h.encrypt(keyId, EU)];
    for (const blob of [...blobs, ...fresh]) {
      expect([await h.decrypts(blob, US), await h.decrypts(blob, EU)]).toEqual([true, true]);
    }
    return primaryRegion;
  }

  /** The set is not stuck: the primary hands over again, and back. */
  async function expectHandsOver(keyId: string, primaryRegion: string, blobs: string[]): Promise<void> {
    const other = primaryRegion === US ? EU : US;
    const res = await h.call('UpdatePrimaryRegion', { KeyId: keyId, PrimaryRegion: other }, primaryRegion);
    expect({ status: res.status, error: res.body.__type }).toEqual({ status: 200, error: undefined });
    expect(await expectWholeSet(keyId, blobs)).toBe(other);
  }

  /**
   * UpdatePrimaryRegion with `fault` at each store write in turn, then `recover`: the set is whole
   * and hands over again. Returns `write:primary region` for each faulty run.
   */
  async function handoverAtEveryWrite(fault: 'crashAt' | 'loseReplyAt', recover: () => Promise<unknown>): Promise<string[]> {
    const outcomes: string[] = [];
    const writes = await atEveryWrite(async (n) => {
      const { keyId, blobs } = await replicatedKey();
      h.faulty[fault](n);
      const res = await h.call('UpdatePrimaryRegion', { KeyId: keyId, PrimaryRegion: EU });
      if (!h.faulty.injected) {
        expect({ status: res.status, error: res.body.__type }).toEqual({ status: 200, error: undefined });
        expect(await expectWholeSet(keyId, blobs)).toBe(EU);
        return false;
      }
      expect({ n, status: res.status }).toEqual({ n, status: 500 });
      // Never two primaries, even before recovery.
      expect(primaries(await h.members(keyId)).length).toBeLessThanOrEqual(1);
      await recover();
      const primaryRegion = await expectWholeSet(keyId, blobs);
      outcomes.push(`${n}:${primaryRegion}`);
      await expectHandsOver(keyId, primaryRegion, blobs);
      return true;
    });
    expect(writes).toBeGreaterThanOrEqual(5);
    return outcomes;
  }
  /** Nothing written, or only step 1 (the work record): the primary stays. Once step 2 (the replica Updating) is written, the handover only goes forward. */
  const handoverOutcomes = (outcomes: string[]) => [`1:${US}`, `2:${US}`, ...Array.from({ length: outcomes.length - 2 }, (_, i) => `${i + 3}:${EU}`)];

  it('a crash at any write leaves, after a restart, exactly one primary and both keys Enabled', async () => {
    const outcomes = await handoverAtEveryWrite('crashAt', () => h.restart());
    expect(outcomes).toEqual(handoverOutcomes(outcomes));
  });

  it('a replica disabled or scheduled for deletion after a crash between steps 1 and 2 is never promoted: recovery keeps the old primary', async () => {
    for (const change of ['ScheduleKeyDeletion', 'DisableKey'] as const) {
      const { keyId } = await replicatedKey();
      h.faulty.crashAt(2);
      expect((await h.call('UpdatePrimaryRegion', { KeyId: keyId, PrimaryRegion: EU })).status).toBe(500);
      h.faulty.disarm();
      // The replica is still its own key to its callers: the handover never reached it.
      const changed = await h.call(change, change === 'ScheduleKeyDeletion' ? { KeyId: keyId, PendingWindowInDays: 7 } : { KeyId: keyId }, EU);
      expect({ change, status: changed.status, error: changed.body.__type }).toEqual({ change, status: 200, error: undefined });
      expect(await h.recoverLater()).toBeGreaterThanOrEqual(1);
      const expectedReplicaState = change === 'ScheduleKeyDeletion' ? 'PendingDeletion' : 'Disabled';
      expect((await h.members(keyId)).map((m) => [m.region, m.multiRegionKeyType, m.state, m.multiRegionWork])).toEqual([
        [EU, 'REPLICA', expectedReplicaState, undefined], [US, 'PRIMARY', 'Enabled', undefined],
      ]);
      expect((await h.call('DescribeKey', { KeyId: keyId }, US)).body.KeyMetadata).toMatchObject({ KeyState: 'Enabled', MultiRegionConfiguration: { MultiRegionKeyType: 'PRIMARY' } });
    }
  });

  it('a crash half-way is finished by the periodic recovery of a running service, only after the grace period', async () => {
    const { keyId, blobs } = await replicatedKey();
    // Step 4 (the new primary) never lands: the set has no primary for a moment, never two.
    h.faulty.crashAt(4);
    expect((await h.call('UpdatePrimaryRegion', { KeyId: keyId, PrimaryRegion: EU })).status).toBe(500);
    h.faulty.disarm();
    expect((await h.members(keyId)).map((m) => [m.region, m.multiRegionKeyType, m.state])).toEqual([[EU, 'REPLICA', 'Updating'], [US, 'REPLICA', 'Updating']]);
    // Another handover is refused meanwhile.
    expect((await h.call('UpdatePrimaryRegion', { KeyId: keyId, PrimaryRegion: US }, EU)).status).toBe(400);
    await runMaintenance(h.svc.deps, { atStartup: false });
    expect(primaries(await h.members(keyId))).toEqual([]);
    expect(await h.recoverLater()).toBeGreaterThanOrEqual(1);
    expect(await expectWholeSet(keyId, blobs)).toBe(EU);
    await expectHandsOver(keyId, EU, blobs);
  });

  it('a reply lost after any write leaves a set that is whole, at once or after recovery, never stuck in Updating', async () => {
    // Step 2's reply lost: the caller's clean-up undoes both steps itself (nothing had changed hands).
    const outcomes = await handoverAtEveryWrite('loseReplyAt', () => h.recoverLater());
    expect(outcomes).toEqual(handoverOutcomes(outcomes));
  });
});

describe('RotateKeyOnDemand of a primary with a replica, interrupted at each store write', () => {
  const h = new Harness(new FakeClock(new Date('2026-08-01T12:00:00Z')));
  beforeAll(async () => { await h.start(); });
  afterAll(async () => { await h.svc.close(); });
  afterEach(() => {
    h.faulty.disarm();
    jest.restoreAllMocks();
  });

  /** Both members hold the same versions, all ACTIVE, the same one current, every object there; nothing under way; every ciphertext opens in both regions. */
  async function expectSameMaterial(keyId: string, blobs: string[]): Promise<KeyRecord[]> {
    const members = await h.members(keyId);
    expect(members.map((m) => [m.region, m.multiRegionKeyType, m.state, m.multiRegionWork])).toEqual([[EU, 'REPLICA', 'Enabled', undefined], [US, 'PRIMARY', 'Enabled', undefined]]);
    const [replica, primary] = members as [KeyRecord, KeyRecord];
    expect(primary.rotation?.inProgress ?? []).toEqual([]);
    expect(replica.currentVersionId).toBe(primary.currentVersionId);
    expect(replica.versions.map((v) => [v.id, v.status])).toEqual(primary.versions.map((v) => [v.id, 'ACTIVE']));
    expect(primary.versions.map((v) => v.status)).toEqual(primary.versions.map(() => 'ACTIVE'));
    for (const objectId of await h.objectIds(keyId, US)) expect(await h.svc.defaultStore.keyObjects.hasKey(objectId)).toBe(true);
    for (const blob of [...blobs, await h.encrypt(keyId, US), await h.encrypt(keyId, EU)]) {
      expect([await h.decrypts(blob, US), await h.decrypts(blob, EU)]).toEqual([true, true]);
    }
    return members;
  }

  it('a crash at any write leaves, after a restart, both members with the same material, and no object unnamed', async () => {
    const outcomes: string[] = [];
    const writes = await atEveryWrite(async (n) => {
      const key = await h.multiRegionKey();
      expect((await h.call('ReplicateKey', { KeyId: key.KeyId, ReplicaRegion: EU })).status).toBe(200);
      const blobs = [await h.encrypt(key.KeyId, US), await h.encrypt(key.KeyId, EU)];
      const generated: string[] = [];
      const token = h.svc.defaultStore.keyObjects;
      const generate = token.generateAesKey.bind(token);
      jest.spyOn(token, 'generateAesKey').mockImplementation(async (objectId, label) => {
        generated.push(objectId);
        return generate(objectId, label);
      });
      // A dead process destroys nothing either.
      jest.spyOn(token, 'destroyKey').mockRejectedValue(new Error('process gone'));
      h.faulty.crashAt(n);
      const res = await h.call('RotateKeyOnDemand', { KeyId: key.KeyId });
      const injected = h.faulty.injected;
      h.faulty.disarm();
      jest.restoreAllMocks();
      // The object is made after the first write (the PENDING version).
      expect(generated).toHaveLength(n === 1 ? 0 : 1);
      if (!injected) {
        expect(res.status).toBe(200);
        expect((await expectSameMaterial(key.KeyId, blobs))[1]!.currentVersionId).toBe(generated[0]);
        return false;
      }
      // Even before recovery: what the primary encrypts now opens in the replica's region.
      const now = await h.encrypt(key.KeyId, US);
      expect(await h.decrypts(now, EU)).toBe(true);
      expect(primaries(await h.members(key.KeyId))).toEqual([US]);
      await h.restart();
      const [, primary] = await expectSameMaterial(key.KeyId, [...blobs, now]);
      const rotated = generated.length > 0 && primary!.currentVersionId === generated[0];
      // Undone: the new object is gone; done: it is the current version of both.
      for (const objectId of rotated ? [] : generated) expect(await h.svc.defaultStore.keyObjects.hasKey(objectId)).toBe(false);
      outcomes.push(`${n}:${res.status}:${rotated ? 'rotated' : 'undone'}`);
      // The key rotates normally afterwards.
      expect((await h.call('RotateKeyOnDemand', { KeyId: key.KeyId })).status).toBe(200);
      await expectSameMaterial(key.KeyId, [...blobs, now]);
      return true;
    });
    expect(writes).toBeGreaterThanOrEqual(4);
    // Until the primary makes the new version current the rotation is undone; after, it stands
    // (the replicas' copy is finished by recovery; the caller was told it rotated).
    // Writes: 1 the PENDING version, 2 the replica holds it, 3 the primary makes it current, then the replica's copy and the end of the work.
    expect(outcomes).toEqual([
      '1:500:undone', '2:500:undone', '3:500:undone',
      ...Array.from({ length: writes - 3 }, (_, i) => `${i + 4}:200:rotated`),
    ]);
  });
});
