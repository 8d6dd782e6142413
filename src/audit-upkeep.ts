// The audit trail's background work in a server: sign the chain head at a fixed interval and on
// shutdown, prune past the retention period, and export to KMS_AUDIT_EXPORT_DIR. Each job holds
// its lease, so with several instances on one store each digest and each file is written once.
import { exportAuditTrail } from './audit-export/exporter';
import type { ConfigOf } from './config';
import { digestHead } from './core/audit/digests';
import { pruneExpiredRecords } from './core/audit/retention';
import { openAuditSigningKey } from './core/audit/signing-key';
import type { CoreDeps } from './core/deps';
import type { Logger } from './log/logger';

/** How often the export job looks for a full or old enough log file. */
const EXPORT_CHECK_MS = 60_000;

export interface AuditUpkeep {
  /** Stops the timers, then signs a last digest and exports what is pending. */
  stop(): Promise<void>;
}

export async function startAuditUpkeep(deps: CoreDeps, config: ConfigOf<'auditIntegrity' | 'account'>, logger: Logger, instanceId: string): Promise<AuditUpkeep> {
  const key = await openAuditSigningKey(deps, instanceId);
  logger.info('audit signing key ready', { signingKeyId: key.keyId });
  const audit = config.auditIntegrity;
  const exportOptions = (flush: boolean) => audit.exportDir === undefined ? undefined : {
    dir: audit.exportDir, accountId: config.accountId, region: config.region, maxFileBytes: audit.exportMaxFileBytes, maxFileSeconds: audit.exportMaxFileSeconds, flush,
  };
  const failed = (job: string) => (e: unknown) => logger.error(`audit ${job} failed`, { detail: String(e) });

  const sign = async () => {
    await digestHead(deps, key, instanceId);
    if (audit.retentionDays !== undefined) {
      const pruned = await pruneExpiredRecords(deps, key, audit.retentionDays, instanceId);
      if (pruned.pruned > 0) logger.info('audit records pruned', { ...pruned });
    }
  };
  const exportDue = async (flush: boolean) => {
    const options = exportOptions(flush);
    if (options) await exportAuditTrail(deps, key, instanceId, options);
  };
  const digestTimer = setInterval(() => void sign().catch(failed('digest')), audit.digestIntervalSeconds * 1000);
  digestTimer.unref();
  const exportTimer = audit.exportDir !== undefined ? setInterval(() => void exportDue(false).catch(failed('export')), EXPORT_CHECK_MS) : undefined;
  exportTimer?.unref();
  return {
    async stop() {
      clearInterval(digestTimer);
      if (exportTimer) clearInterval(exportTimer);
      await digestHead(deps, key, instanceId).catch(failed('shutdown digest'));
      await exportDue(true).catch(failed('shutdown export'));
    },
  };
}
