// Start-up recovery with worker processes (KMS_WORKERS): only an instance that is alone recovers
// at once. The first worker of a service, started before its siblings, may take the heartbeats
// of the service's earlier processes for its own leftovers; a live heartbeat of anyone else, or
// of a sibling when it is not the first, makes it wait out the grace periods like any instance.
import { heartbeat, INSTANCE_LEASE_TTL_MS, leftoverInstances, retire, runMaintenance } from '../../src/core/jobs/maintenance';
import { processesOf, workerInstanceId } from '../../src/workers';
import { newCoreDeps } from '../support/core-harness';

/** Whether a start-up run of `instanceId` recovered at once (it destroys half-made token objects only then). */
async function recoversAtOnce(alive: string[], instanceId: string, predecessors?: (id: string) => boolean): Promise<boolean> {
  const { deps, token } = await newCoreDeps();
  for (const id of alive) await heartbeat(deps, id);
  const destroyUnnamed = jest.spyOn(token, 'destroyUnnamed');
  await runMaintenance(deps, { atStartup: true, instanceId, ...(predecessors ? { predecessors } : {}) });
  return destroyUnnamed.mock.calls.length > 0;
}

it('names workers <instance id>#<index> and knows them, and the single process, as the same service', () => {
  expect(workerInstanceId('kms-a:8080', 3)).toBe('kms-a:8080#3');
  const ours = processesOf('kms-a:8080');
  expect(['kms-a:8080', 'kms-a:8080#0', 'kms-a:8080#12'].every(ours)).toBe(true);
  expect(['kms-a:80801', 'kms-a:8080#', 'kms-a:8080#x', 'kms-b:8080#0', 'kms-a:8080#0#1'].some(ours)).toBe(false);
});

it('the first worker recovers at once over the heartbeats its service left, and only over those', async () => {
  const first = workerInstanceId('svc', 0);
  // Its own earlier heartbeat and its siblings' from the previous run: alone.
  expect(await recoversAtOnce(['svc#0', 'svc#1', 'svc'], first, processesOf('svc'))).toBe(true);
  // Another instance on the same store is alive: wait.
  expect(await recoversAtOnce(['svc#1', 'other:8080'], first, processesOf('svc'))).toBe(false);
});

it('a worker started beside its siblings, or restarted, never recovers at once', async () => {
  expect(await recoversAtOnce(['svc#0', 'svc#1'], 'svc#1')).toBe(false);
  // The heartbeat it finds is its own only: alone, as a single process restarting.
  expect(await recoversAtOnce(['svc#1'], 'svc#1')).toBe(true);
});

describe('reading every token object for half-made ones, only after an unclean stop', () => {
  /** A start-up of 'svc' alone, after `before` heartbeats were left; whether it read the token's objects. */
  async function startAfter(before: { id: string; retired: boolean }[]): Promise<{ swept: boolean; leftAfter: string[] }> {
    const { deps, token, clock } = await newCoreDeps();
    for (const { id, retired } of before) {
      await heartbeat(deps, id);
      if (retired) await retire(deps, id);
    }
    // Long enough that every heartbeat left has lapsed: those instances are gone.
    clock.advance(INSTANCE_LEASE_TTL_MS + 1);
    const destroyUnnamed = jest.spyOn(token, 'destroyUnnamed');
    const leftovers = await leftoverInstances(deps);
    await heartbeat(deps, 'svc');
    await runMaintenance(deps, { atStartup: true, instanceId: 'svc', leftoverInstances: leftovers });
    return { swept: destroyUnnamed.mock.calls.length > 0, leftAfter: await leftoverInstances(deps) };
  }

  it('after a clean stop (every instance retired) the objects are not read', async () => {
    expect(await startAfter([{ id: 'svc', retired: true }, { id: 'old:8080', retired: true }])).toEqual({ swept: false, leftAfter: ['svc'] });
    expect((await startAfter([])).swept).toBe(false);
  });

  it('after a kill (a heartbeat never retired) they are, and the dead heartbeat is then forgotten', async () => {
    expect(await startAfter([{ id: 'svc', retired: false }])).toEqual({ swept: true, leftAfter: ['svc'] });
    expect(await startAfter([{ id: 'svc', retired: true }, { id: 'old:8080', retired: false }])).toEqual({ swept: true, leftAfter: ['svc'] });
  });
});
