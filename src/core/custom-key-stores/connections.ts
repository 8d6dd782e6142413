// Connections to custom key stores. The record in the metadata store is the truth every
// instance shares: ConnectCustomKeyStore moves it to CONNECTING and connects in the
// background (CONNECTED, or FAILED with a ConnectionErrorCode); each instance then opens its
// own connection when it first needs the store, and drops it once the record no longer says
// CONNECTED with the generation it opened. A connection is therefore never used after a
// disconnect or an update another instance made.
import { randomUUID } from 'node:crypto';
import type { CallEvent } from '../calls/event';
import type { CoreDeps } from '../deps';
import { KmsError, messages as kmsMessages } from '../errors';
import { KeyStoreConnectionError } from '../key-stores/connectors';
import type { KeyStore } from '../key-stores/port';
import type { KeyStoreRegistry } from '../key-stores/registry';
import type { ConnectionErrorCode, CustomKeyStoreRecord, KeyRecord, KeyState } from '../model';
import { changeCustomKeyStore } from './custom-key-store';
import { checkProxyHealth, ExternalKeyStore } from './external-key-store';
import { openSecret } from './secrets';
import { connectionErrorCodes } from './xks-failures';

/** A connection state a custom key store reached without an API call: its internal event. */
export interface ConnectionChange {
  customKeyStoreId: string;
  accountId: string;
  region: string;
  connectionState: CustomKeyStoreRecord['connectionState'];
  connectionErrorCode?: ConnectionErrorCode;
}

function changeOf(record: CustomKeyStoreRecord): ConnectionChange {
  return {
    customKeyStoreId: record.customKeyStoreId, accountId: record.accountId, region: record.region, connectionState: record.connectionState,
    ...(record.connectionErrorCode ? { connectionErrorCode: record.connectionErrorCode } : {}),
  };
}

/**
 * The internal event of a connection change, named after the API call whose work it finishes
 * (AWS logs no such event; this service records them so the trail shows every state change).
 */
export function connectionChangeEvent(change: ConnectionChange, at: Date, requestId: string): CallEvent {
  const operation = change.connectionState === 'DISCONNECTED' ? 'DisconnectCustomKeyStore' : 'ConnectCustomKeyStore';
  return {
    source: 'internal', operation, requestId, accountId: change.accountId, region: change.region, resources: [], startedAt: at, latencyMs: 0,
    attributes: {
      customKeyStoreId: change.customKeyStoreId, connectionState: change.connectionState,
      ...(change.connectionErrorCode ? { connectionErrorCode: change.connectionErrorCode } : {}),
    },
    ...(change.connectionState === 'FAILED' ? { outcome: 'failure', errorCode: 'CustomKeyStoreInvalidStateException' } : { outcome: 'success' }),
  };
}

/** A CONNECTING or DISCONNECTING record older than this was left by a process that died; recovery settles it. */
export const INTERRUPTED_CONNECTION_MS = 2 * 60 * 1000;

/** The record without a connection error code (cleared on every state but FAILED). */
function withoutErrorCode(record: CustomKeyStoreRecord): CustomKeyStoreRecord {
  const { connectionErrorCode: _cleared, ...rest } = record;
  return rest;
}

/** Opens this instance's connection to a store: its token logged in, or its XKS proxy checked healthy. */
async function openKeyStore(deps: CoreDeps, record: CustomKeyStoreRecord, requestId: string): Promise<KeyStore> {
  if (record.cloudHsm) {
    const clusters = deps.connectors?.tokenClusters;
    if (!clusters?.has(record.cloudHsm.clusterId)) throw new KeyStoreConnectionError('CLUSTER_NOT_FOUND', `cluster ${record.cloudHsm.clusterId} is not declared on this instance`);
    const pin = await openSecret(deps, record, 'KeyStorePassword', record.cloudHsm.keyStorePassword);
    return clusters.connect(record.customKeyStoreId, record.cloudHsm.clusterId, pin);
  }
  if (!record.xks) throw new KeyStoreConnectionError('INTERNAL_ERROR', `custom key store ${record.customKeyStoreId} has neither a cluster nor a proxy`);
  const proxies = deps.connectors?.xksProxies;
  if (!proxies) throw new KeyStoreConnectionError('XKS_PROXY_NOT_REACHABLE', 'this instance has no XKS client');
  const rawSecretAccessKey = await openSecret(deps, record, 'RawSecretAccessKey', record.xks.rawSecretAccessKey);
  const client = proxies.open({ uriEndpoint: record.xks.uriEndpoint, uriPath: record.xks.uriPath, accessKeyId: record.xks.accessKeyId, rawSecretAccessKey, region: record.region });
  const { outcome, detail } = await checkProxyHealth(client, requestId, 'ConnectCustomKeyStore');
  if (outcome) {
    await client.close();
    throw new KeyStoreConnectionError(connectionErrorCodes[outcome], `${outcome}: ${detail}`);
  }
  return new ExternalKeyStore(record.customKeyStoreId, client);
}

function connectionFailure(e: unknown): { code: ConnectionErrorCode; detail: string } {
  if (e instanceof KeyStoreConnectionError) return { code: e.code, detail: e.detail };
  return { code: 'INTERNAL_ERROR', detail: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
}

/**
 * ConnectCustomKeyStore's work after it has answered: connect, then record CONNECTED or
 * FAILED, unless a disconnect (or a newer connect) changed the record meanwhile.
 */
export async function completeConnection(deps: CoreDeps, connecting: CustomKeyStoreRecord, requestId: string): Promise<CustomKeyStoreRecord> {
  let store: KeyStore | undefined;
  let failure: { code: ConnectionErrorCode; detail: string } | undefined;
  try {
    store = await openKeyStore(deps, connecting, requestId);
  } catch (e) {
    failure = connectionFailure(e);
  }
  let applied = false;
  try {
    const settled = await changeCustomKeyStore(deps, connecting, (current) => {
      applied = false;
      if (current.connectionState !== 'CONNECTING' || current.stateChangedAt.getTime() !== connecting.stateChangedAt.getTime()) return undefined;
      applied = true;
      const now = deps.clock.now();
      if (failure) return { ...current, connectionState: 'FAILED', connectionErrorCode: failure.code, stateChangedAt: now };
      return { ...withoutErrorCode(current), connectionState: 'CONNECTED', connectionGeneration: current.connectionGeneration + 1, stateChangedAt: now };
    });
    if (store && applied) await deps.keyStores.attach(store, settled.connectionGeneration)?.close();
    else await store?.close();
    if (applied) await deps.internalEvents?.(connectionChangeEvent(changeOf(settled), deps.clock.now(), randomUUID()));
    return settled;
  } catch (e) {
    await store?.close();
    throw e;
  }
}

/** Closes this instance's connection to a store, if it has one. */
export async function dropConnection(registry: KeyStoreRegistry, customKeyStoreId: string): Promise<void> {
  await registry.remove(customKeyStoreId)?.close().catch(() => undefined);
}

const opening = new WeakMap<KeyStoreRegistry, Map<string, Promise<KeyStore>>>();

/**
 * This instance's connection to a store whose record says CONNECTED, opened on first use and
 * reopened when the record's generation moves on; undefined when the store is not connected.
 * KMSInvalidStateException when this instance cannot reach what the store names.
 */
export async function connectedKeyStore(deps: CoreDeps, record: CustomKeyStoreRecord): Promise<KeyStore | undefined> {
  const registry = deps.keyStores;
  const id = record.customKeyStoreId;
  if (record.connectionState !== 'CONNECTED') {
    await dropConnection(registry, id);
    return undefined;
  }
  if (registry.generationOf(id) === record.connectionGeneration) return registry.get(id);
  let pending = opening.get(registry);
  if (!pending) opening.set(registry, (pending = new Map()));
  const flight = `${id}#${record.connectionGeneration}`;
  let attempt = pending.get(flight);
  if (!attempt) {
    attempt = (async () => {
      try {
        const store = await openKeyStore(deps, record, 'connect-on-use');
        await registry.attach(store, record.connectionGeneration)?.close().catch(() => undefined);
        return store;
      } catch (e) {
        const { code, detail } = connectionFailure(e);
        throw new KmsError('KMSInvalidStateException', `KMS cannot connect to custom key store ${id} from this instance (${code}).`, detail);
      } finally {
        pending.delete(flight);
      }
    })();
    pending.set(flight, attempt);
  }
  return attempt;
}

/** The record of the custom key store holding `key`; undefined for keys in the default token. */
export async function customKeyStoreOf(deps: CoreDeps, key: KeyRecord): Promise<CustomKeyStoreRecord | undefined> {
  if (!key.customKeyStoreId) return undefined;
  return deps.store.customKeyStores.get(key, key.customKeyStoreId);
}

/**
 * The state a key answers with: a key in a custom key store that is not connected is
 * Unavailable, whatever it was; it returns to that state on reconnection. A key pending
 * deletion stays so, so that the deletion can still be cancelled (KMS-SPEC §3, note 13).
 */
export function effectiveKeyState(key: KeyRecord, store: CustomKeyStoreRecord | undefined): KeyState {
  if (!key.customKeyStoreId) return key.state;
  if (store?.connectionState === 'CONNECTED') return key.state;
  return key.state === 'Enabled' || key.state === 'Disabled' ? 'Unavailable' : key.state;
}

/** The key store holding a key's version, connecting to its custom key store where needed. */
export async function keyStoreHolding(deps: CoreDeps, key: KeyRecord, storeId: string, arn: string): Promise<KeyStore> {
  if (!key.customKeyStoreId || storeId !== key.customKeyStoreId) return deps.keyStores.storeFor(storeId === 'default' ? undefined : storeId);
  const record = await customKeyStoreOf(deps, key);
  const store = record && (await connectedKeyStore(deps, record));
  // Precondition: a key in a custom key store that is not connected is not used.
  if (!store) throw new KmsError('KMSInvalidStateException', kmsMessages.unavailable(arn));
  return store;
}

/** Connects this instance to the custom key store holding `key`, if it is CONNECTED and reachable; never throws. */
export async function reachCustomKeyStore(deps: CoreDeps, key: KeyRecord): Promise<boolean> {
  if (!key.customKeyStoreId) return false;
  const record = await customKeyStoreOf(deps, key).catch(() => undefined);
  return record !== undefined && (await connectedKeyStore(deps, record).catch(() => undefined)) !== undefined;
}

/** Maintenance: close connections whose record moved on, and settle connections a crash left half-way. */
export async function reconcileConnections(deps: CoreDeps, changes?: ConnectionChange[]): Promise<number> {
  const connected = await deps.store.customKeyStores.listInStates(['CONNECTED']);
  for (const store of deps.keyStores.all()) {
    const generation = deps.keyStores.generationOf(store.id);
    if (generation === undefined) continue;
    const record = connected.find((r) => r.customKeyStoreId === store.id);
    if (!record || record.connectionGeneration !== generation) await dropConnection(deps.keyStores, store.id);
  }
  let settled = 0;
  const before = deps.clock.now().getTime() - INTERRUPTED_CONNECTION_MS;
  for (const record of await deps.store.customKeyStores.listInStates(['CONNECTING', 'DISCONNECTING'])) {
    if (record.stateChangedAt.getTime() > before) continue;
    let applied = false;
    const settledRecord = await changeCustomKeyStore(deps, record, (current) => {
      applied = false;
      if (current.connectionState !== record.connectionState || current.stateChangedAt.getTime() > before) return undefined;
      applied = true;
      const now = deps.clock.now();
      return current.connectionState === 'CONNECTING'
        ? { ...current, connectionState: 'FAILED', connectionErrorCode: 'INTERNAL_ERROR', stateChangedAt: now }
        : { ...withoutErrorCode(current), connectionState: 'DISCONNECTED', stateChangedAt: now };
    });
    if (applied) changes?.push(changeOf(settledRecord));
    settled++;
  }
  return settled;
}
