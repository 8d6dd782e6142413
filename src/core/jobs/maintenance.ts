// Background upkeep, run at start-up (catching up on anything due while the service was
// down) and then periodically: finish or undo interrupted work, delete keys whose time has
// come, rotate keys whose automatic rotation is due, and expire imported key material.
import type { CallEvent } from '../calls/event';
import type { CoreDeps } from '../deps';
import { deleteDueKeys } from './deletion';
import { runImportUpkeep, type ImportUpkeepReport } from '../import/upkeep';
import { recoverIncompleteKeys, INCOMPLETE_GRACE_MS } from './recovery';
import { recoverInterruptedRotations, rotateDueKeys, PENDING_VERSION_GRACE_MS, type ScheduledRotations } from '../rotation/rotation';

export interface MaintenanceReport {
  recovered: number;
  deleted: string[];
  /** Automatic rotations performed, and those that failed (retried at the next run). */
  rotations: ScheduledRotations;
  /** Imported material that expired, and keys whose import upkeep failed (retried at the next run). */
  imports: ImportUpkeepReport;
}

export async function runMaintenance(deps: CoreDeps, options: { atStartup: boolean }): Promise<MaintenanceReport> {
  // At start-up nothing of ours is in flight, so no grace period is needed.
  const recovered = await recoverIncompleteKeys(deps, options.atStartup ? 'none' : INCOMPLETE_GRACE_MS)
    + await recoverInterruptedRotations(deps, options.atStartup ? 'none' : PENDING_VERSION_GRACE_MS);
  const imports = await runImportUpkeep(deps);
  const deleted = await deleteDueKeys(deps);
  const rotations = await rotateDueKeys(deps);
  return { recovered, deleted, rotations, imports };
}

/** What a maintenance run did, as call events of the service's own (named as CloudTrail names them). */
export function maintenanceEvents(report: MaintenanceReport, at: Date, requestId: () => string): CallEvent[] {
  const event = (operation: string, keyId: string, failure?: string): CallEvent => ({
    source: 'internal', operation, requestId: requestId(), keyReference: keyId, resources: [], startedAt: at, latencyMs: 0,
    ...(failure ? { outcome: 'failure', errorCode: 'KMSInternalException', errorDetail: failure } : { outcome: 'success' }),
  });
  return [
    ...report.deleted.map((keyId) => event('DeleteKey', keyId)),
    ...report.rotations.rotated.map((keyId) => event('RotateKey', keyId)),
    ...report.rotations.failed.map((f) => event('RotateKey', f.keyId, f.detail)),
    ...report.imports.expired.map((keyId) => event('DeleteExpiredKeyMaterial', keyId)),
    ...report.imports.failed.map((f) => event('DeleteExpiredKeyMaterial', f.keyId, f.detail)),
  ];
}
