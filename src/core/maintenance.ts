// Background upkeep, run at start-up (catching up on anything due while the service was
// down) and then periodically: finish or undo interrupted work, delete keys whose time has
// come, rotate keys whose automatic rotation is due, and expire imported key material.
import type { CoreDeps } from './deps';
import { deleteDueKeys } from './deletion';
import { runImportUpkeep, type ImportUpkeepReport } from './key-import';
import { recoverIncompleteKeys, INCOMPLETE_GRACE_MS } from './recovery';
import { recoverInterruptedRotations, rotateDueKeys, PENDING_VERSION_GRACE_MS, type ScheduledRotations } from './rotation';

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
