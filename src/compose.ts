// The composition root as functions: the server (main.ts), the tests and a future admin CLI
// wire the service the same way, each handing in only what it has (a store, a default key
// store, a clock, a logger) and taking only the parts it needs.
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Config, ConfigOf } from './config';
import type { CallObserver } from './core/calls/event';
import { CoreService } from './core/calls/service';
import type { CoreDeps } from './core/deps';
import type { KeyStore } from './core/key-stores/port';
import { DEFAULT_KEY_STORE_ID, KeyStoreRegistry } from './core/key-stores/registry';
import { KmsError, messages } from './core/errors';
import { maintenanceEvents, runMaintenance } from './core/jobs/maintenance';
import { systemClock, type Clock, type MetadataStore } from './core/ports';
import { createApp, type AppOptions } from './http/app';
import { BearerAuthenticator } from './http/auth/bearer';
import { PrincipalDirectory } from './http/auth/principals';
import { WatchedFile } from './http/auth/watched-file';
import { httpStatusFor } from './http/kms/errors';
import { createXksApp } from './http/xks/app';
import { xksHttpStatusFor } from './http/xks/errors';
import { XksKeyStores } from './http/xks/key-stores';
import { listenXks } from './http/xks/listener';
import type { Logger } from './log/logger';
import { requestLog } from './log/request-log';
import { openDefaultToken } from './pkcs11';
import { openMetadataStore } from './store';
import { XksHealthMonitor } from './core/xks-proxy/health';
import { parseXksProxyConfig } from './xks-config';

/** How often the deletion worker, rotation scheduler, import upkeep and crash recovery run. */
export const MAINTENANCE_INTERVAL_MS = 60_000;

export interface CoreParts {
  store: MetadataStore;
  /** Absent for commands that need the store alone: any use of a key store then fails as KeyUnavailableException. */
  defaultKeyStore?: KeyStore;
  clock?: Clock;
  logger: Logger;
  /** Observers beside the request log (audit, metrics). */
  observers?: CallObserver[];
  /** Serve the XKS proxy API's operations. */
  xksProxy?: XksProxyParts;
}

export interface XksProxyParts {
  fleetSize: () => number;
  healthCacheMs: number;
  tokenTimeoutMs: number;
}

/** The default key store of a process that opened no token (a command that needs the store alone). */
class NoTokenOpen implements KeyStore {
  readonly id = DEFAULT_KEY_STORE_ID;
  private unavailable(): never {
    throw new KmsError('KeyUnavailableException', messages.keyUnavailable, 'this command opened no token');
  }
  async encrypt(): Promise<never> { return this.unavailable(); }
  async decrypt(): Promise<never> { return this.unavailable(); }
  async randomBytes(): Promise<never> { return this.unavailable(); }
  async isHealthy(): Promise<boolean> { return false; }
  async close(): Promise<void> {}
}

/** A token health check slower than this reports DEGRADED. */
const XKS_DEGRADED_AFTER_MS = 100;
/** A token health check that has not answered by then reports UNAVAILABLE. */
const XKS_HEALTH_TIMEOUT_MS = 1000;

/** Core with its seam: the key store registry, the deps, and the request log observing every call. */
export function composeCore(parts: CoreParts): { deps: CoreDeps; service: CoreService } {
  const deps: CoreDeps = { store: parts.store, keyStores: new KeyStoreRegistry(parts.defaultKeyStore ?? new NoTokenOpen()), clock: parts.clock ?? systemClock };
  if (parts.xksProxy) {
    const { fleetSize, healthCacheMs, tokenTimeoutMs } = parts.xksProxy;
    const health = new XksHealthMonitor(deps.keyStores, deps.clock, { cacheMs: healthCacheMs, degradedAfterMs: XKS_DEGRADED_AFTER_MS, timeoutMs: XKS_HEALTH_TIMEOUT_MS });
    deps.xksProxy = { health, fleetSize, tokenTimeoutMs };
  }
  // Each event's status comes from the table of the protocol that answered it.
  const log = requestLog(parts.logger, (event) => {
    if (event.outcome === 'success') return 200;
    const code = event.errorCode ?? 'KMSInternalException';
    return event.source === 'xks' ? xksHttpStatusFor(code) : httpStatusFor[code];
  });
  return { deps, service: new CoreService(deps, [log, ...(parts.observers ?? [])]) };
}

/** One maintenance run, its work emitted as internal events through the seam. */
export async function maintain(service: CoreService, logger: Logger, atStartup: boolean): Promise<void> {
  const report = await runMaintenance(service.deps, { atStartup });
  if (report.recovered > 0) logger.warn('recovered interrupted key changes', { count: report.recovered });
  for (const event of maintenanceEvents(report, service.deps.clock.now(), randomUUID)) await service.emit(event);
}

/** The root alone, or the root and KMS_CREDENTIALS_FILE, reloaded whenever the file changes. */
export function principalsFrom(config: Pick<Config, 'root' | 'accountId' | 'credentialsFile' | 'credentialsPollMs'>, logger: Logger): { current(): PrincipalDirectory; stop(): void } {
  const root = { ...config.root, accountId: config.accountId };
  if (!config.credentialsFile) {
    const fixed = new PrincipalDirectory(root);
    return { current: () => fixed, stop: () => {} };
  }
  return PrincipalDirectory.watch(config.credentialsFile, root, {
    intervalMs: config.credentialsPollMs,
    onError: (detail) => logger.error('credentials file refused', { file: config.credentialsFile, detail }),
    onReload: ({ principals }) => logger.info('credentials file reloaded', { file: config.credentialsFile, principals }),
  });
}

export type HttpParts = Omit<AppOptions, 'service' | 'logger'>;

/** KMS_XKS_CONFIG_FILE, watched: a version that fails a check is refused whole and the one in force stays. */
export function xksKeyStoresFrom(config: ConfigOf<'xks'>, logger: Logger): WatchedFile<XksKeyStores> {
  const file = config.xks.configFile;
  if (!file) throw new Error('the XKS proxy needs KMS_XKS_CONFIG_FILE');
  return new WatchedFile([file], ([text]) => new XksKeyStores(parseXksProxyConfig(text!, file)), {
    what: 'XKS proxy configuration file',
    describe: (stores) => `${stores.size} key stores`,
    intervalMs: config.xks.pollMs,
    onError: (detail) => logger.error('XKS proxy configuration file refused', { file, detail }),
    onReload: (stores) => logger.info('XKS proxy configuration file reloaded', { file, keyStores: stores.size }),
  });
}

/** The XKS proxy's listener on its own port, over the core `service` (composed with xksProxy). Returns its stop function. */
export async function startXksProxy(config: ConfigOf<'xks'>, service: CoreService, keyStores: WatchedFile<XksKeyStores>, logger: Logger): Promise<() => Promise<void>> {
  const { xks } = config;
  if (xks.port === undefined) throw new Error('the XKS proxy needs KMS_XKS_PORT');
  const app = createXksApp({ service, logger, keyStores: () => keyStores.current(), signatureClock: systemClock, maxBodyBytes: xks.maxBodyBytes });
  const listener = await listenXks(app, {
    host: xks.host, port: xks.port, tls: xks.tls, pollMs: xks.pollMs,
    onError: (detail) => logger.error('XKS TLS files refused', { detail }),
    onReload: (message) => logger.info(message),
  });
  logger.info('XKS proxy listening', { url: listener.url, keyStores: keyStores.current().size, mtls: xks.tls?.clientCaFile !== undefined });
  return () => listener.close();
}

/** The default token from its configuration section. */
export function openTokenFrom(config: ConfigOf<'token'>) {
  return openDefaultToken({
    modulePath: config.pkcs11Module,
    tokenLabel: config.tokenLabel,
    pin: config.pin,
    poolSize: config.sessionPoolSize,
    acquireTimeoutMs: 10_000,
    reconnectDelayMs: { initial: 100, max: 10_000 },
    profileVendor: config.hsmProfile,
    moduleEnvironment: config.softhsmConf ? { SOFTHSM2_CONF: config.softhsmConf } : undefined,
  });
}

/**
 * Core for an operator's command (the admin CLI): the store, and the token only when the
 * command makes or destroys keys. No maintenance runs and nothing listens. Returns the seam and
 * a function that closes what it opened.
 */
export async function composeCommand(config: ConfigOf<'store'> & Partial<ConfigOf<'token'>>, logger: Logger): Promise<{ service: CoreService; close(): Promise<void> }> {
  const defaultKeyStore = config.pin !== undefined ? openTokenFrom(config as ConfigOf<'token'>) : undefined;
  const store = openMetadataStore(config.metadataUri, config.dataDir);
  try {
    await store.init();
  } catch (e) {
    await defaultKeyStore?.close();
    throw e;
  }
  const { deps, service } = composeCore({ store, defaultKeyStore, logger });
  return {
    service,
    async close() {
      await store.close();
      await deps.keyStores.close();
    },
  };
}

/** The server from configuration: token, store, core, maintenance, HTTP, listen. Returns its stop function. */
export async function startServer(config: Readonly<Config>, logger: Logger): Promise<() => Promise<void>> {
  const defaultKeyStore = openTokenFrom(config);
  logger.info('token ready', { token: config.tokenLabel, profile: defaultKeyStore.profile.vendor });
  const store = openMetadataStore(config.metadataUri, config.dataDir);
  await store.init();
  const xksKeyStores = config.xks.port !== undefined ? xksKeyStoresFrom(config, logger) : undefined;
  const { deps, service } = composeCore({
    store, defaultKeyStore, logger,
    xksProxy: xksKeyStores && { fleetSize: () => xksKeyStores.current().config.fleetSize, healthCacheMs: config.xks.healthCacheMs, tokenTimeoutMs: config.xks.tokenTimeoutMs },
  });

  await maintain(service, logger, true);
  const sweep = setInterval(() => {
    maintain(service, logger, false).catch((e: unknown) => logger.error('maintenance failed', { detail: String(e) }));
  }, MAINTENANCE_INTERVAL_MS);
  sweep.unref();

  const principals = principalsFrom(config, logger);
  const bearer = config.jwtIssuers ? new BearerAuthenticator(config.jwtIssuers, { defaultRegion: config.region }) : undefined;
  const app = createApp({
    service, logger, principals: () => principals.current(), bearer, signatureClock: systemClock, maxBodyBytes: config.maxBodyBytes,
    jwks: { accountId: config.accountId, region: config.region },
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
  });
  const address = server.address();
  logger.info('listening', { host: config.host, port: typeof address === 'object' && address ? address.port : config.port });
  const stopXks = xksKeyStores ? await startXksProxy(config, service, xksKeyStores, logger) : undefined;

  return async () => {
    clearInterval(sweep);
    principals.stop();
    xksKeyStores?.stop();
    await stopXks?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
    await deps.keyStores.close();
  };
}
