// A custom key store's record: its id, the view DescribeCustomKeyStores returns, the lookup
// every operation starts with, and the compare-and-set every change goes through.
import { randomBytes } from 'node:crypto';
import { callerScope, type RequestContext } from '../api/context';
import type { CoreDeps } from '../deps';
import { KmsError, RevisionConflictError } from '../errors';
import type { CustomKeyStoreRecord } from '../model';

/** AWS: 10 custom key stores per account and region. */
export const MAX_CUSTOM_KEY_STORES = 10;

/** "cks-" and 17 lowercase hex characters, as AWS makes them. */
export function newCustomKeyStoreId(): string {
  return `cks-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

export const messages = {
  notFound: (id: string) => `Custom key store '${id}' does not exist.`,
  notFoundByName: (name: string) => `Custom key store with name '${name}' does not exist.`,
  nameInUse: (name: string) => `Custom key store name '${name}' is already in use.`,
  notConnected: (id: string) => `Custom key store '${id}' is not connected.`,
} as const;

/** One entry of DescribeCustomKeyStores. Secrets never appear: only the XKS access key id, as AWS shows it. */
export function customKeyStoreView(record: CustomKeyStoreRecord) {
  return {
    CustomKeyStoreId: record.customKeyStoreId,
    CustomKeyStoreName: record.name,
    CustomKeyStoreType: record.type,
    ...(record.cloudHsm ? { CloudHsmClusterId: record.cloudHsm.clusterId, TrustAnchorCertificate: record.cloudHsm.trustAnchorCertificate } : {}),
    ConnectionState: record.connectionState,
    ...(record.connectionErrorCode ? { ConnectionErrorCode: record.connectionErrorCode } : {}),
    CreationDate: record.createdAt,
    ...(record.xks
      ? {
        XksProxyConfiguration: {
          Connectivity: record.xks.connectivity,
          AccessKeyId: record.xks.accessKeyId,
          UriEndpoint: record.xks.uriEndpoint,
          UriPath: record.xks.uriPath,
          ...(record.xks.vpcEndpointServiceName ? { VpcEndpointServiceName: record.xks.vpcEndpointServiceName } : {}),
        },
      }
      : {}),
  };
}

// Precondition: a custom key store id names a store of the caller's account and region, or CustomKeyStoreNotFoundException.
export async function existingCustomKeyStore(deps: CoreDeps, ctx: RequestContext, customKeyStoreId: string): Promise<CustomKeyStoreRecord> {
  const record = await deps.store.customKeyStores.get(callerScope(ctx), customKeyStoreId);
  if (!record) throw new KmsError('CustomKeyStoreNotFoundException', messages.notFound(customKeyStoreId));
  return record;
}

const MAX_CONFLICT_RETRIES = 16;

/**
 * Applies `change` by compare-and-set on the record's revision, re-reading on a conflict, so
 * two instances changing one store never lose an update. `change` makes its checks on every
 * attempt; it returns undefined to leave the record as it is.
 */
export async function changeCustomKeyStore(
  deps: CoreDeps,
  record: CustomKeyStoreRecord,
  change: (current: CustomKeyStoreRecord) => CustomKeyStoreRecord | undefined,
): Promise<CustomKeyStoreRecord> {
  let current = record;
  for (let attempt = 0; ; attempt++) {
    const next = change(current);
    if (!next) return current;
    try {
      return await deps.store.customKeyStores.replace({ ...next, updatedAt: deps.clock.now() });
    } catch (e) {
      if (!(e instanceof RevisionConflictError) || attempt >= MAX_CONFLICT_RETRIES) throw e;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 ** Math.min(attempt, 6)));
      const fresh = await deps.store.customKeyStores.get(current, current.customKeyStoreId);
      if (!fresh) throw new KmsError('CustomKeyStoreNotFoundException', messages.notFound(current.customKeyStoreId));
      current = fresh;
    }
  }
}
