// Retention: records older than the retention period go, oldest first, but only after a signed
// digest vouches for the chain value of the last one to go (prunedBefore). Verification then
// starts from that digest, so pruning never makes the trail unverifiable.
import type { CoreDeps } from '../deps';
import { signDigest, withDigestLease } from './digests';
import type { AuditRecord } from './record';
import type { AuditSigningKey } from './signing-key';

const DAY_MS = 24 * 60 * 60 * 1000;
const PAGE = 1000;

export interface PruneReport {
  pruned: number;
  /** The first record kept; absent when nothing was due. */
  prunedBefore?: number;
}

/**
 * The records the store's prune would delete: the prefix older than `olderThan`, up to the first
 * younger record. Returns the last of them, or undefined when none is due.
 */
async function lastOfExpiredPrefix(deps: CoreDeps, olderThan: Date): Promise<AuditRecord | undefined> {
  let last: AuditRecord | undefined;
  for (let from = 1; ;) {
    const page = await deps.store.audit.range(from, PAGE);
    for (const record of page) {
      if (record.eventTime.getTime() >= olderThan.getTime()) return last;
      last = record;
    }
    if (page.length < PAGE) return last;
    from = page.at(-1)!.sequence + 1;
  }
}

/** Deletes the records older than `retentionDays`, after signing the pruning digest. Holds the digest lease. */
export async function pruneExpiredRecords(deps: CoreDeps, key: AuditSigningKey, retentionDays: number, owner: string): Promise<PruneReport> {
  return await withDigestLease(deps, owner, async () => {
    const olderThan = new Date(deps.clock.now().getTime() - retentionDays * DAY_MS);
    const last = await lastOfExpiredPrefix(deps, olderThan);
    if (!last) return { pruned: 0 };
    const prunedBefore = last.sequence + 1;
    // Precondition: records are pruned only after a signed digest vouches for the chain value of the last one pruned
    await signDigest(deps, key, { sequence: last.sequence, chainValue: last.chainValue, prunedBefore });
    return { pruned: await deps.store.audit.prune(prunedBefore, olderThan), prunedBefore };
  }) ?? { pruned: 0 };
}
