// The test-suite reset (KMS_DEV_RESET): every key, alias, grant, custom key store and audit record
// of the service goes, in every account and region, and the keys' token objects are destroyed the
// way the deletion worker destroys them. The service's own objects stay: the audit signing key and
// the health keys live in the token without a key record, and leases are no one's data. The XKS
// proxy's external keys are the proxy operator's, not KMS keys, and stay too.
import { destroyUnnamedObjects } from './recovery';
import type { CoreDeps } from '../deps';
import { RevisionConflictError } from '../errors';
import { withDigestLease } from '../audit/digests';
import { dropConnection } from '../custom-key-stores/connections';
import { destroySecretKey } from '../custom-key-stores/secrets';
import { connectionStates, type KeyRecord } from '../model';
import { destroyClaimedKey } from './deletion';

export interface ResetReport {
  keysDeleted: number;
  /** Keys whose objects are on a token this instance has not configured: recorded until they can be destroyed. */
  keysKept: number;
  customKeyStoresDeleted: number;
}

const PAGE = 100;
/** A key changed by a request between our read and our claim is read again, this many times at most. */
const CLAIM_ATTEMPTS = 5;
/** How long the reset waits for the digest lease while another instance signs a digest. */
const DIGEST_LEASE_WAIT_MS = 10_000;
const DIGEST_LEASE_POLL_MS = 50;

/** The reset running in each service, so that two resets in one process run one after the other. */
const running = new WeakMap<CoreDeps, Promise<ResetReport>>();

/** Resets the service; `owner` names this instance for the digest lease. A reset already running here finishes first. */
export async function resetService(deps: CoreDeps, owner: string): Promise<ResetReport> {
  const before = running.get(deps) ?? Promise.resolve(undefined);
  const run = before.catch(() => undefined).then(() => resetOnce(deps, owner));
  running.set(deps, run);
  try {
    return await run;
  } finally {
    if (running.get(deps) === run) running.delete(deps);
  }
}

async function resetOnce(deps: CoreDeps, owner: string): Promise<ResetReport> {
  const report: ResetReport = { keysDeleted: 0, keysKept: 0, customKeyStoresDeleted: 0 };
  // Keys first: a custom key store's keys need its connection to destroy their objects.
  for (let after: KeyRecord | undefined; ;) {
    const page = await deps.store.keys.listEvery(after, PAGE);
    for (const key of page) {
      const claimed = await claim(deps, key);
      if (!claimed) continue;
      if (await destroyClaimedKey(deps, claimed)) report.keysDeleted += 1;
      else report.keysKept += 1;
    }
    if (page.length < PAGE) break;
    after = page.at(-1);
  }
  for (const store of await deps.store.customKeyStores.listInStates(connectionStates)) {
    await dropConnection(deps.keyStores, store.customKeyStoreId);
    if (await deps.store.customKeyStores.delete(store, store.customKeyStoreId)) {
      await destroySecretKey(deps, store.secretKeyObjectId).catch(() => undefined);
      report.customKeyStoresDeleted += 1;
    }
  }
  // A key destroyed while its generation was still running left SoftHSM a half-written object
  // with no id or label. The adapter now waits for a generation in this process before
  // destroying its key. A generation in another instance can still leave one, which SoftHSM
  // shows only to a process that initialises afresh; this sweep removes any this process sees.
  await destroyUnnamedObjects(deps);
  await clearAuditTrail(deps, owner);
  return report;
}

/**
 * Marks the key incomplete (compare-and-set), as the deletion worker claims a key: from then on no
 * API sees it, and a request that changed it meanwhile makes us read it again. Undefined when it is gone.
 */
async function claim(deps: CoreDeps, key: KeyRecord): Promise<KeyRecord | undefined> {
  let current: KeyRecord | undefined = key;
  for (let attempt = 1; current; attempt++) {
    try {
      return await deps.store.keys.replace({ ...current, incomplete: true, updatedAt: deps.clock.now() });
    } catch (e) {
      if (!(e instanceof RevisionConflictError) || attempt >= CLAIM_ATTEMPTS) throw e;
    }
    current = await deps.store.keys.get(current, current.keyId);
  }
  return undefined;
}

/**
 * Records and digests go together, holding the digest lease so that no digest of the old chain is
 * signed after the clear (it would vouch for records that are gone). The next record is 1 again.
 */
async function clearAuditTrail(deps: CoreDeps, owner: string): Promise<void> {
  const deadline = Date.now() + DIGEST_LEASE_WAIT_MS;
  for (;;) {
    const cleared = await withDigestLease(deps, owner, async () => {
      await deps.store.audit.clear();
      return true;
    });
    if (cleared) return;
    if (Date.now() >= deadline) throw new Error('the audit trail was not cleared: another instance held the digest lease throughout');
    await new Promise((resolve) => setTimeout(resolve, DIGEST_LEASE_POLL_MS));
  }
}
