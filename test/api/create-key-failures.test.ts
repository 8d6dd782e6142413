// CreateKey spans the token and the store. A failure between them, injected here, must
// leave neither a record without a token object nor a token object nobody references.
import type { KeyRecord, KeyScope } from '../../src/core/model';
import { recoverIncompleteKeys } from '../../src/core/jobs/recovery';
import { kmsCall } from '../support/signed';
import { ACCOUNT, REGION, startTestService, type TestService } from '../support/service';
import { FaultyStore } from '../support/faulty-store';

const scope: KeyScope = { accountId: ACCOUNT, region: REGION };

/** The next replace and the next delete fail, once each. */
function failNextReplaceAndDelete(): void {
  const failed = new Set<string>();
  faulty.arm((_n, write) => (failed.has(write) ? undefined : (failed.add(write), 'fail')), ['replace', 'delete']);
}

let svc: TestService;
let faulty: FaultyStore;
beforeAll(async () => {
  svc = await startTestService({ wrapStore: (store) => (faulty = new FaultyStore(store)).store });
});
afterAll(async () => { await svc.close(); });

/** Every token object the service made, found through the records of every key version. */
async function everyRecord(): Promise<KeyRecord[]> {
  const complete = (await svc.store.keys.list(scope, { limit: 1000 })).items;
  const incomplete = await svc.store.keys.listIncomplete(new Date(Date.now() + 3600_000));
  return [...complete, ...incomplete];
}

describe('CreateKey failure between the token and the store', () => {
  it('a store failure after the token object is made destroys the object and leaves no record', async () => {
    const generated: string[] = [];
    const realGenerate = svc.defaultStore.keyObjects.generateAesKey.bind(svc.defaultStore.keyObjects);
    const spy = jest.spyOn(svc.defaultStore.keyObjects, 'generateAesKey').mockImplementation(async (objectId, label) => {
      generated.push(objectId);
      return realGenerate(objectId, label);
    });
    faulty.arm((n) => (n === 1 ? 'fail' : undefined), ['replace']);
    const res = await kmsCall(svc.app, 'CreateKey', {});
    spy.mockRestore();
    expect(res.status).toBe(500);
    expect(res.body.__type).toBe('KMSInternalException');
    expect(res.body.message).not.toMatch(/injected/);
    expect(generated).toHaveLength(1);
    expect(await svc.defaultStore.keyObjects.hasKey(generated[0]!)).toBe(false);
    expect((await everyRecord()).some((k) => k.versions.some((v) => v.id === generated[0]))).toBe(false);
  });

  it('a token failure leaves no record', async () => {
    const before = (await everyRecord()).length;
    const spy = jest.spyOn(svc.defaultStore.keyObjects, 'generateAesKey').mockRejectedValueOnce(new Error('injected token failure'));
    const res = await kmsCall(svc.app, 'CreateKey', {});
    spy.mockRestore();
    expect(res.status).toBe(500);
    expect((await everyRecord()).length).toBe(before);
  });

  it('a crash after the token object is made (no compensation ran) is undone by recovery at the next start', async () => {
    const generated: string[] = [];
    const realGenerate = svc.defaultStore.keyObjects.generateAesKey.bind(svc.defaultStore.keyObjects);
    jest.spyOn(svc.defaultStore.keyObjects, 'generateAesKey').mockImplementationOnce(async (objectId, label) => {
      generated.push(objectId);
      return realGenerate(objectId, label);
    });
    // The process "dies" right after the token call: both the finishing write and the
    // compensating clean-up fail, as they would never run.
    failNextReplaceAndDelete();
    const destroy = jest.spyOn(svc.defaultStore.keyObjects, 'destroyKey').mockRejectedValueOnce(new Error('process gone'));
    const res = await kmsCall(svc.app, 'CreateKey', {});
    destroy.mockRestore();
    expect(res.status).toBe(500);
    const [objectId] = generated;
    expect(await svc.defaultStore.keyObjects.hasKey(objectId!)).toBe(true);
    const leftovers = await svc.store.keys.listIncomplete(new Date(Date.now() + 1000));
    expect(leftovers.map((k) => k.versions[0]!.id)).toContain(objectId);
    // The half-made key is invisible to every API meanwhile.
    const leftover = leftovers.find((k) => k.versions[0]!.id === objectId)!;
    expect((await kmsCall(svc.app, 'DescribeKey', { KeyId: leftover.keyId })).body.__type).toBe('NotFoundException');
    expect((await kmsCall(svc.app, 'ListKeys', {})).body.Keys.map((k: { KeyId: string }) => k.KeyId)).not.toContain(leftover.keyId);

    // Next start: recovery with no grace period (main.ts does this at start-up).
    expect(await recoverIncompleteKeys(svc.deps, 'none')).toBeGreaterThanOrEqual(1);
    expect(await svc.defaultStore.keyObjects.hasKey(objectId!)).toBe(false);
    expect(await svc.store.keys.listIncomplete(new Date(Date.now() + 1000))).toHaveLength(0);
  });

  it('recovery leaves a creation still inside its grace period alone', async () => {
    const generated: string[] = [];
    const realGenerate = svc.defaultStore.keyObjects.generateAesKey.bind(svc.defaultStore.keyObjects);
    jest.spyOn(svc.defaultStore.keyObjects, 'generateAesKey').mockImplementationOnce(async (objectId, label) => {
      generated.push(objectId);
      return realGenerate(objectId, label);
    });
    failNextReplaceAndDelete();
    jest.spyOn(svc.defaultStore.keyObjects, 'destroyKey').mockRejectedValueOnce(new Error('process gone'));
    await kmsCall(svc.app, 'CreateKey', {});
    expect(await recoverIncompleteKeys(svc.deps)).toBe(0);
    expect(await svc.defaultStore.keyObjects.hasKey(generated[0]!)).toBe(true);
    await recoverIncompleteKeys(svc.deps, 'none');
    expect(await svc.defaultStore.keyObjects.hasKey(generated[0]!)).toBe(false);
  });

  it('successful creations are untouched by recovery', async () => {
    const res = await kmsCall(svc.app, 'CreateKey', {});
    const objectId = res.body.KeyMetadata.CurrentKeyMaterialId as string;
    await recoverIncompleteKeys(svc.deps, 'none');
    expect(await svc.defaultStore.keyObjects.hasKey(objectId)).toBe(true);
    expect((await kmsCall(svc.app, 'Encrypt', { KeyId: res.body.KeyMetadata.KeyId, Plaintext: 'aGk=' })).status).toBe(200);
  });
});
