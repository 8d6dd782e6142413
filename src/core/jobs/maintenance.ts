// Background upkeep, run at start-up (catching up on anything due while the service was
// down) and then periodically: finish or undo interrupted work, delete keys whose time has
// come, rotate keys whose automatic rotation is due, and expire imported key material.
import type { CallEvent } from '../calls/event';
import { randomUUID } from 'node:crypto';
import type { CoreDeps } from '../deps';
import { connectionChangeEvent, reconcileConnections, type ConnectionChange } from '../custom-key-stores/connections';
import { deleteDueKeys } from './deletion';
import { runImportUpkeep, type ImportUpkeepReport } from '../import/upkeep';
import { destroyUnnamedObjects, recoverIncompleteKeys, INCOMPLETE_GRACE_MS } from './recovery';
import { recoverInterruptedRotations, rotateDueKeys, PENDING_VERSION_GRACE_MS, type ScheduledRotations } from '../rotation/rotation';
import { recoverMultiRegionWork } from '../multi-region/update-primary';

/** This process's instance id, when the caller names none. */
export const PROCESS_INSTANCE: string = randomUUID();

export interface MaintenanceReport {
  recovered: number;
  deleted: string[];
  /** Automatic rotations performed, and those that failed (retried at the next run). */
  rotations: ScheduledRotations;
  /** Imported material that expired, and keys whose import upkeep failed (retried at the next run). */
  imports: ImportUpkeepReport;
  /** The ARN of each key named above, so its internal event names the key's account and region. */
  keyArns: Map<string, string>;
  /** Connections to custom key stores that recovery settled (a crash left them half-way). */
  connections: ConnectionChange[];
}

/** Background jobs hold a lease while they run; one that dies leaves it to expire after this. */
export const JOB_LEASE_TTL_MS = 5 * 60 * 1000;
/** How long an instance counts as alive after its last heartbeat. */
export const INSTANCE_LEASE_TTL_MS = 30_000;
const INSTANCE_PREFIX = 'instance:';

/** Marks `instanceId` alive; call it more often than INSTANCE_LEASE_TTL_MS. */
export async function heartbeat(deps: CoreDeps, instanceId: string): Promise<void> {
  await deps.store.leases.acquire(`${INSTANCE_PREFIX}${instanceId}`, instanceId, deps.clock.now(), INSTANCE_LEASE_TTL_MS);
}

/** Says `instanceId` has stopped, so others need not wait for its heartbeat to lapse. */
export async function retire(deps: CoreDeps, instanceId: string): Promise<void> {
  await deps.store.leases.release(`${INSTANCE_PREFIX}${instanceId}`, instanceId);
}

/**
 * Instances that were alive on this store and never retired (crashed or killed), the first call
 * of a start-up: before this instance's own heartbeat. A clean stop retires, leaving none.
 */
export async function leftoverInstances(deps: CoreDeps): Promise<string[]> {
  // Expired heartbeats are kept until their instance retires or beats again: list them all.
  return (await deps.store.leases.listLive(INSTANCE_PREFIX, new Date(0))).map((lease) => lease.owner);
}

/** Destroys unnamed objects, then forgets the heartbeats that called for it (not this instance's own, nor a live one). */
async function destroyUnnamedLeftovers(deps: CoreDeps, owner: string, leftovers: readonly string[] | undefined): Promise<number> {
  const destroyed = await destroyUnnamedObjects(deps);
  const alive = new Set((await deps.store.leases.listLive(INSTANCE_PREFIX, deps.clock.now())).map((lease) => lease.owner));
  for (const id of leftovers ?? []) if (id !== owner && !alive.has(id)) await deps.store.leases.release(`${INSTANCE_PREFIX}${id}`, id);
  return destroyed;
}

/** Whether any instance but `instanceId` (and its `predecessors`) is alive on this store. */
async function othersAlive(deps: CoreDeps, instanceId: string, predecessors?: (owner: string) => boolean): Promise<boolean> {
  return (await deps.store.leases.listLive(INSTANCE_PREFIX, deps.clock.now()))
    .some((lease) => lease.owner !== instanceId && !predecessors?.(lease.owner));
}

/** Runs `job` only while holding the lease `job:<name>`: with several instances on one store, one runs it at a time. */
async function underLease<T>(deps: CoreDeps, name: string, owner: string, job: () => Promise<T>): Promise<T | undefined> {
  const lease = `job:${name}`;
  if (!(await deps.store.leases.acquire(lease, owner, deps.clock.now(), JOB_LEASE_TTL_MS))) return undefined;
  try {
    return await job();
  } finally {
    await deps.store.leases.release(lease, owner).catch(() => undefined);
  }
}

export interface MaintenanceOptions {
  atStartup: boolean;
  instanceId?: string;
  /**
   * At start-up: instances whose heartbeat is a leftover of this one's own service, known not to
   * run now (the workers of an earlier run, when this worker starts before any sibling). Their
   * live heartbeats do not count as others alive, as this instance's own earlier heartbeat does not.
   */
  predecessors?: (instanceId: string) => boolean;
  /**
   * At start-up: the instances that stopped without retiring (leftoverInstances, read before this
   * one's first heartbeat). A creation may have been killed half-way only if there is one, and
   * only then is every token object read to find unnamed ones: on SoftHSM's file store that takes
   * seconds per 20,000 keys. Undefined: unknown, so the objects are read.
   */
  leftoverInstances?: readonly string[];
}

export async function runMaintenance(deps: CoreDeps, options: MaintenanceOptions): Promise<MaintenanceReport> {
  const owner = options.instanceId ?? PROCESS_INSTANCE;
  // At start-up, when no other instance is alive, nothing can be in flight: no grace period is
  // needed. Another live instance may be creating a key or rotating right now: wait as usual.
  const immediate = options.atStartup && !(await othersAlive(deps, owner, options.predecessors));
  const recovered = await underLease(deps, 'recovery', owner, async () =>
    await recoverIncompleteKeys(deps, immediate ? 'none' : INCOMPLETE_GRACE_MS)
    + await recoverInterruptedRotations(deps, immediate ? 'none' : PENDING_VERSION_GRACE_MS)
    // After the rotations: a multi-Region rotation that died has been abandoned before its replicas are synchronised.
    + await recoverMultiRegionWork(deps, immediate ? 'none' : INCOMPLETE_GRACE_MS)
    + (immediate && (options.leftoverInstances?.length ?? 1) > 0 ? await destroyUnnamedLeftovers(deps, owner, options.leftoverInstances) : 0)) ?? 0;
  // Every instance closes its own connections to custom key stores that another disconnected.
  const connections: ConnectionChange[] = [];
  await reconcileConnections(deps, connections);
  const keyArns = new Map<string, string>();
  const imports = await underLease(deps, 'import-upkeep', owner, () => runImportUpkeep(deps, keyArns)) ?? { expired: [], failed: [] };
  const deleted = await underLease(deps, 'deletion', owner, () => deleteDueKeys(deps, keyArns)) ?? [];
  const rotations = await underLease(deps, 'rotation', owner, () => rotateDueKeys(deps, keyArns)) ?? { rotated: [], failed: [] };
  return { recovered, deleted, rotations, imports, keyArns, connections };
}

/** What a maintenance run did, as call events of the service's own (named as CloudTrail names them). */
export function maintenanceEvents(report: MaintenanceReport, at: Date, requestId: () => string): CallEvent[] {
  const event = (operation: string, keyId: string, failure?: string): CallEvent => {
    const arn = report.keyArns.get(keyId);
    return {
      source: 'internal', operation, requestId: requestId(), keyReference: keyId, resources: arn ? [arn] : [], startedAt: at, latencyMs: 0,
      ...(failure ? { outcome: 'failure', errorCode: 'KMSInternalException', errorDetail: failure } : { outcome: 'success' }),
    };
  };
  return [
    ...report.deleted.map((keyId) => event('DeleteKey', keyId)),
    ...report.rotations.rotated.map((keyId) => event('RotateKey', keyId)),
    ...report.rotations.failed.map((f) => event('RotateKey', f.keyId, f.detail)),
    ...report.imports.expired.map((keyId) => event('DeleteExpiredKeyMaterial', keyId)),
    ...report.imports.failed.map((f) => event('DeleteExpiredKeyMaterial', f.keyId, f.detail)),
    ...report.connections.map((change) => connectionChangeEvent(change, at, requestId())),
  ];
}
