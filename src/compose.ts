// The composition root as functions: the server (main.ts), the tests and a future admin CLI
// wire the service the same way, each handing in only what it has (a store, a default key
// store, a clock, a logger) and taking only the parts it needs.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import cluster from 'node:cluster';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import { workerRoleFrom, type Config, type ConfigOf } from './config';
import type { CallObserver } from './core/calls/event';
import { CoreService } from './core/calls/service';
import { AuditTrail } from './core/audit/trail';
import type { CoreDeps } from './core/deps';
import type { KeyStoreConnectors } from './core/key-stores/connectors';
import { Pkcs11TokenClusters } from './pkcs11/clusters';
import { XksHttpConnector } from './xks-client';
import type { KeyStore } from './core/key-stores/port';
import { DEFAULT_KEY_STORE_ID, KeyStoreRegistry } from './core/key-stores/registry';
import { KmsError, messages } from './core/errors';
import { heartbeat, leftoverInstances, maintenanceEvents, PROCESS_INSTANCE, retire, runMaintenance } from './core/jobs/maintenance';
import { Readiness } from './core/jobs/readiness';
import { systemClock, type Clock, type MetadataStore } from './core/ports';
import { createApp, requestListener, type AppOptions } from './http/app';
import { BearerAuthenticator } from './http/auth/bearer';
import { PrincipalDirectory } from './http/auth/principals';
import { WatchedFile } from './http/auth/watched-file';
import { cloudTrailErrorFor } from './http/cloudtrail/errors';
import { httpStatusFor } from './http/kms/errors';
import { createXksApp } from './http/xks/app';
import { xksHttpStatusFor } from './http/xks/errors';
import { XksKeyStores } from './http/xks/key-stores';
import { listenXks } from './http/xks/listener';
import { reloadingHttpsServer } from './http/tls-files';
import { ServiceMetrics } from './metrics';
import { serveMetrics } from './metrics/serve';
import { timedAppends } from './metrics/audit';
import type { Logger } from './log/logger';
import { requestLog } from './log/request-log';
import { openDefaultToken, type Pkcs11Token } from './pkcs11';
import { PinRefusedError, type TokenOperationObserver } from './pkcs11/sessions';
import { EmbeddedStore, MongoStore, MongoStoreSetupError, openMetadataStore } from './store';
import { XksHealthMonitor } from './core/xks-proxy/health';
import { parseXksProxyConfig } from './xks-config';
import { startAuditUpkeep, type AuditUpkeep } from './audit-upkeep';
import { applySeedFile, readSeedFile, SeedFileError } from './seed';

/** How often the deletion worker, rotation scheduler, import upkeep and crash recovery run. */
export const MAINTENANCE_INTERVAL_MS = 60_000;
/** How often an instance says it is alive (well inside INSTANCE_LEASE_TTL_MS). */
export const HEARTBEAT_INTERVAL_MS = 10_000;

export interface CoreParts {
  store: MetadataStore;
  /** Absent for commands that need the store alone: any use of a key store then fails as KeyUnavailableException. */
  defaultKeyStore?: KeyStore;
  clock?: Clock;
  logger: Logger;
  /** Observers beside the request log and the audit trail (metrics). */
  observers?: CallObserver[];
  /** Record every call in the store's audit trail before answering it (KMS_AUDIT); on unless false. */
  audit?: boolean;
  /** Told each audit append's duration (metrics). */
  onAuditAppend?: (seconds: number) => void;
  /** This instance's id among those sharing the store; the process's own unless given. */
  instanceId?: string;
  /** Serve the XKS proxy API's operations. */
  xksProxy?: XksProxyParts;
  /** How custom key stores are reached: declared tokens and XKS proxies. */
  connectors?: KeyStoreConnectors;
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
export function composeCore(parts: CoreParts): { deps: CoreDeps; service: CoreService; readiness: Readiness; instanceId: string } {
  const deps: CoreDeps = {
    store: parts.store, keyStores: new KeyStoreRegistry(parts.defaultKeyStore ?? new NoTokenOpen()), clock: parts.clock ?? systemClock,
    ...(parts.connectors ? { connectors: parts.connectors } : {}),
  };
  if (parts.xksProxy) {
    const { fleetSize, healthCacheMs, tokenTimeoutMs } = parts.xksProxy;
    const health = new XksHealthMonitor(deps.keyStores, deps.clock, { cacheMs: healthCacheMs, degradedAfterMs: XKS_DEGRADED_AFTER_MS, timeoutMs: XKS_HEALTH_TIMEOUT_MS });
    deps.xksProxy = { health, fleetSize, tokenTimeoutMs };
  }
  // Each event's status comes from the table of the protocol that answered it.
  const log = requestLog(parts.logger, (event) => {
    if (event.outcome === 'success') return 200;
    const code = event.errorCode ?? 'KMSInternalException';
    if (event.source === 'xks') return xksHttpStatusFor(code);
    return event.source === 'cloudtrail' ? cloudTrailErrorFor[code].status : httpStatusFor[code];
  });
  const instanceId = parts.instanceId ?? PROCESS_INSTANCE;
  // After the request log, so a call whose record cannot be written is still logged with its outcome.
  const trail = parts.onAuditAppend ? timedAppends(parts.store.audit, parts.onAuditAppend) : parts.store.audit;
  const audit = parts.audit === false ? [] : [new AuditTrail(trail).observer];
  const service = new CoreService(deps, [log, ...audit, ...(parts.observers ?? [])]);
  deps.internalEvents = (event) => service.emit(event);
  return { deps, service, readiness: new Readiness(deps, instanceId), instanceId };
}

/** One maintenance run, its work emitted as internal events through the seam. `predecessors`: see MaintenanceOptions. */
export async function maintain(
  service: CoreService, logger: Logger, atStartup: boolean, instanceId = PROCESS_INSTANCE, predecessors?: (instanceId: string) => boolean, leftovers?: readonly string[],
): Promise<void> {
  const report = await runMaintenance(service.deps, { atStartup, instanceId, ...(predecessors ? { predecessors } : {}), ...(leftovers ? { leftoverInstances: leftovers } : {}) });
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

/** A start-up failure an operator must fix: one plain sentence, and the exit code to leave with. */
export class StartupError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'StartupError';
  }
}

/** Exit code after a refused PIN: a configuration error (EX_CONFIG). */
export const EXIT_PIN_REFUSED = 78;
export const PIN_REFUSED_MARKER = 'pin-refused';

/**
 * The default token, unless a PIN was refused before: then nothing is tried until an operator
 * removes the marker, so a restart policy can never lock a real HSM partition by retrying.
 */
function openTokenOnce(config: Readonly<Config>, metrics?: ServiceMetrics): Pkcs11Token {
  const marker = path.join(config.dataDir, PIN_REFUSED_MARKER);
  if (existsSync(marker)) {
    throw new StartupError(`token '${config.tokenLabel}' refused the PIN at an earlier start; fix KMS_PIN or KMS_PIN_FILE, then delete ${marker}`, EXIT_PIN_REFUSED);
  }
  try {
    return openTokenFrom(config, metrics?.tokenOperations(DEFAULT_KEY_STORE_ID));
  } catch (e) {
    if (!(e instanceof PinRefusedError)) throw e;
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(marker, `${new Date().toISOString()} token '${config.tokenLabel}' refused the PIN (${e.code})\n`, { mode: 0o600 });
    throw new StartupError(`token '${config.tokenLabel}' refused the PIN (${e.code}); fix KMS_PIN or KMS_PIN_FILE, then delete ${marker} (it stops further attempts)`, EXIT_PIN_REFUSED);
  }
}

/** Runs a step of seeding, turning a SeedFileError (its message names the file, line and reason) into a StartupError. */
function seedFileOrStartupError<T>(step: () => T): T {
  const asStartupError = (e: unknown) => (e instanceof SeedFileError ? new StartupError(e.message) : e);
  try {
    const result = step();
    return (result instanceof Promise ? result.catch((e: unknown) => { throw asStartupError(e); }) : result) as T;
  } catch (e) {
    throw asStartupError(e);
  }
}

/** Opens the metadata store, or says in one sentence which setting is wrong. */
async function openStore(config: Readonly<Config>, logger: Logger): Promise<MetadataStore> {
  const store = openMetadataStore(config.metadataUri, config.dataDir);
  try {
    await store.init();
    // A server commits on nearly every call (the audit trail): its WAL checkpoints go to a thread.
    if (store instanceof EmbeddedStore) store.checkpointInBackground();
    if (store instanceof MongoStore) {
      for (const index of store.unexpectedIndexes) logger.warn('MongoDB index not used by hsm-kms, left alone', { index });
    }
    return store;
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    // The server answered, but its indexes or the connection string's options are wrong: the message says what to fix.
    if (e instanceof MongoStoreSetupError) throw new StartupError(`KMS_METADATA_URI: ${e.message}`);
    if (config.metadataUri?.startsWith('mongodb')) {
      throw new StartupError(`KMS_METADATA_URI: no MongoDB server answered at ${mongoHosts(config.metadataUri)} (${(e as Error).name}: ${(e as Error).message.split('\n')[0]})`);
    }
    throw new StartupError(`KMS_DATA_DIR ${config.dataDir}: the metadata store cannot be opened or written there (${reason})`);
  }
}

/** The hosts of a MongoDB URI, without credentials or options. */
function mongoHosts(uri: string): string {
  return uri.replace(/^mongodb(\+srv)?:\/\//, '').replace(/^[^@/]*@/, '').split(/[/?]/)[0] ?? '';
}

/** The sentence for a certificate and key that do not load together (the message names files, never their content). */
function tlsPairRefused(tls: { certFile: string; keyFile: string }, e: unknown): StartupError {
  return new StartupError(`KMS_TLS_CERT_FILE ${tls.certFile} and KMS_TLS_KEY_FILE ${tls.keyFile} do not load as a matching PEM certificate and private key (${(e as Error).message})`);
}

/** Checked before the token and the store are opened, so a broken pair fails start-up at once. */
function checkTlsPair(tls: { certFile: string; keyFile: string } | undefined): void {
  if (!tls) return;
  try {
    // Precondition: the KMS endpoint refuses to start when its certificate and key do not load or do not match.
    createSecureContext({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) });
  } catch (e) {
    throw tlsPairRefused(tls, e);
  }
}

/**
 * The KMS endpoint: HTTPS when KMS_TLS_CERT_FILE/KMS_TLS_KEY_FILE are set (the pair polled and
 * reloaded), plain HTTP otherwise; the same request listener either way. Says plainly when the
 * pair does not load or the address is taken (or not ours to bind). Returns the server and the
 * stop function of its certificate watcher.
 */
function listen(app: ReturnType<typeof createApp>, config: ConfigOf<'server'>, logger: Logger): Promise<{ server: Server; stopWatching(): void }> {
  const { host, port, tls } = config;
  let server: Server;
  let stopWatching = () => {};
  if (tls) {
    try {
      const reloading = reloadingHttpsServer(tls, {
        what: 'KMS TLS certificate or key file',
        // AWS's endpoints accept TLS 1.2 and later; Node's default suites otherwise.
        context: { minVersion: 'TLSv1.2' },
        pollMs: config.tlsPollMs,
        onError: (detail) => logger.error('KMS TLS files refused', { detail }),
        onReload: () => logger.info('KMS TLS certificate reloaded', { certFile: tls.certFile }),
      }, {}, requestListener(app));
      server = reloading.server;
      stopWatching = reloading.stop;
    } catch (e) {
      return Promise.reject(tlsPairRefused(tls, e));
    }
  } else {
    server = createServer(requestListener(app));
  }
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      stopWatching();
      const why = e.code === 'EADDRINUSE' ? 'is already in use' : e.code === 'EACCES' ? 'may not be bound by this user' : `cannot be bound (${e.code ?? e.message})`;
      reject(new StartupError(`KMS_HOST/KMS_PORT ${host}:${port} ${why}`));
    });
    server.listen(port, host, () => resolve({ server, stopWatching }));
  });
}

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

/** Custom key stores: the declared tokens, and an XKS client speaking for this service's region. */
export function keyStoreConnectorsFrom(config: ConfigOf<'clusters' | 'xksClient' | 'identity'>, metrics?: ServiceMetrics): KeyStoreConnectors {
  let ca: string | undefined;
  if (config.xksClientCaFile !== undefined) {
    try {
      ca = readFileSync(config.xksClientCaFile, 'utf8');
    } catch (e) {
      throw new StartupError(`cannot read the XKS client CA file ${config.xksClientCaFile} (KMS_XKS_CLIENT_CA_FILE): ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  const xksProxies = new XksHttpConnector({ region: config.region, timeoutMs: config.xksClientTimeoutMs, ...(ca ? { ca } : {}) });
  return {
    tokenClusters: new Pkcs11TokenClusters(config.hsmClusters, metrics ? { operationObserverFor: metrics.tokenOperations } : {}),
    xksProxies: metrics ? metrics.instrumentXks(xksProxies) : xksProxies,
  };
}

/** The default token from its configuration section. */
export function openTokenFrom(config: ConfigOf<'token'>, observeOperation?: TokenOperationObserver) {
  return openDefaultToken({
    modulePath: config.pkcs11Module,
    tokenLabel: config.tokenLabel,
    pin: config.pin,
    poolSize: config.sessionPoolSize,
    acquireTimeoutMs: 10_000,
    reconnectDelayMs: { initial: 100, max: 10_000 },
    profileVendor: config.hsmProfile,
    moduleEnvironment: config.softhsmConf ? { SOFTHSM2_CONF: config.softhsmConf } : undefined,
    ...(observeOperation ? { observeOperation } : {}),
  });
}

/**
 * Core for an operator's command (the admin CLI): the store, and the token only when the
 * command makes or destroys keys. No maintenance runs and nothing listens. Returns the seam and
 * a function that closes what it opened.
 */
export async function composeCommand(config: ConfigOf<'store'> & Partial<ConfigOf<'token' | 'audit'>>, logger: Logger): Promise<{ service: CoreService; close(): Promise<void> }> {
  const defaultKeyStore = config.pin !== undefined ? openTokenFrom(config as ConfigOf<'token'>) : undefined;
  const store = openMetadataStore(config.metadataUri, config.dataDir);
  try {
    await store.init();
  } catch (e) {
    await defaultKeyStore?.close();
    throw e;
  }
  const { deps, service } = composeCore({ store, defaultKeyStore, logger, audit: config.audit?.enabled ?? true });
  return {
    service,
    async close() {
      await store.close();
      await deps.keyStores.close();
    },
  };
}

export interface ServerOptions {
  /**
   * Instances whose heartbeats this one's start-up recovery may take for its own leftovers (the
   * processes of an earlier run of the same service, none of which runs now).
   */
  predecessors?: (instanceId: string) => boolean;
}

/** A started server: the port it listens on (KMS_PORT 0 picks one) and its stop function. */
export interface RunningServer {
  port: number;
  /** The admin listener's port, when this process binds it (KMS_ADMIN_PORT with one process). */
  adminPort?: number;
  stop(): Promise<void>;
}

/** The server from configuration: token, store, core, maintenance, HTTP, listen. */
export async function startServer(config: Readonly<Config>, logger: Logger, options: ServerOptions = {}): Promise<RunningServer> {
  // Metrics only when something serves them: otherwise no observer costs a request anything.
  checkTlsPair(config.tls);
  // A seed file that cannot be used fails start-up before the token is opened.
  const seedEntries = config.seedFile !== undefined ? seedFileOrStartupError(() => readSeedFile(config.seedFile!)) : undefined;
  const metrics = config.adminPort !== undefined ? new ServiceMetrics() : undefined;
  const defaultKeyStore = openTokenOnce(config, metrics);
  logger.info('token ready', { token: config.tokenLabel, profile: defaultKeyStore.profile.vendor });
  let store: MetadataStore;
  try {
    store = await openStore(config, logger);
  } catch (e) {
    await defaultKeyStore.close();
    throw e;
  }
  const xksKeyStores = config.xks.port !== undefined ? xksKeyStoresFrom(config, logger) : undefined;
  const { deps, service, readiness, instanceId } = composeCore({
    store, defaultKeyStore, logger, instanceId: config.instanceId, connectors: keyStoreConnectorsFrom(config, metrics), observers: metrics ? [metrics.calls] : [],
    audit: config.audit.enabled, ...(metrics ? { onAuditAppend: metrics.audit.recordAppend } : {}),
    xksProxy: xksKeyStores && { fleetSize: () => xksKeyStores.current().config.fleetSize, healthCacheMs: config.xks.healthCacheMs, tokenTimeoutMs: config.xks.tokenTimeoutMs },
  });

  // Read before our own heartbeat: a heartbeat never retired means an instance was killed.
  const leftovers = await leftoverInstances(deps);
  // Alive before any job runs, so another instance's start-up recovery waits for our work.
  await heartbeat(deps, instanceId);
  const beat = setInterval(() => {
    heartbeat(deps, instanceId).catch((e: unknown) => logger.error('heartbeat failed', { detail: String(e) }));
  }, HEARTBEAT_INTERVAL_MS);
  beat.unref();
  await maintain(service, logger, true, instanceId, options.predecessors, leftovers);
  const auditUpkeep: AuditUpkeep | undefined = config.audit.enabled ? await startAuditUpkeep(deps, config, logger, instanceId) : undefined;
  const sweep = setInterval(() => {
    maintain(service, logger, false, instanceId).catch((e: unknown) => logger.error('maintenance failed', { detail: String(e) }));
  }, MAINTENANCE_INTERVAL_MS);
  sweep.unref();

  const principals = principalsFrom(config, logger);
  const bearer = config.jwtIssuers ? new BearerAuthenticator(config.jwtIssuers, { defaultRegion: config.region }) : undefined;
  const app = createApp({
    service, readiness, logger, principals: () => principals.current(), bearer, signatureClock: systemClock, maxBodyBytes: config.maxBodyBytes,
    jwks: { accountId: config.accountId, region: config.region }, anyCredentials: config.dev.anyCredentials, devReset: config.dev.reset,
  });
  if (config.dev.anyCredentials) logger.warn('KMS_DEV_ANY_CREDENTIALS is on: any access key id is accepted as the account root without checking its signature');
  if (config.dev.reset) logger.warn('KMS_DEV_RESET is on: POST /moto-api/reset and /hsm-kms/reset delete every key, alias, grant, custom key store and audit record');
  let server: Server | undefined;
  let stopTlsWatch: (() => void) | undefined;
  let stopXks: (() => Promise<void>) | undefined;
  let stopMetrics: (() => Promise<void>) | undefined;
  const stop = async () => {
    clearInterval(sweep);
    clearInterval(beat);
    principals.stop();
    xksKeyStores?.stop();
    stopTlsWatch?.();
    await stopMetrics?.();
    await stopXks?.();
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    // After the last call is answered: the shutdown digest covers every record.
    await auditUpkeep?.stop();
    await retire(deps, instanceId).catch(() => undefined);
    await store.close();
    await deps.keyStores.close();
  };
  try {
    // Seeded before listening: no client ever sees the service without its seed keys.
    if (seedEntries) await seedFileOrStartupError(() => applySeedFile(config.seedFile!, seedEntries, service, { accountId: config.accountId, region: config.region }, instanceId, logger));
    ({ server, stopWatching: stopTlsWatch } = await listen(app, config, logger));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    logger.info('listening', { host: config.host, port, tls: config.tls !== undefined });
    if (xksKeyStores) stopXks = await startXksProxy(config, service, xksKeyStores, logger);
    let adminPort: number | undefined;
    if (metrics && config.adminPort !== undefined) {
      metrics.watchKeyStores(() => deps.keyStores.all());
      // The store's gauges are the same from every worker: one worker reads them, the primary takes its answer.
      if (!cluster.isWorker || workerRoleFrom().index === 0) {
        metrics.watchStore(store, deps.clock);
        // Sequences start at 1 and pruning keeps them, so the head's sequence is the chain's length.
        metrics.audit.chainLengthFrom(async () => (await store.audit.head())?.sequence ?? 0);
      }
      const serving = await serveMetrics(metrics, () => readiness.check(), {
        host: config.adminHost, port: config.adminPort, inWorker: cluster.isWorker, instanceId,
        onError: (detail) => logger.error('admin listener failed to answer', { detail }),
      }).catch((e: NodeJS.ErrnoException) => {
        throw new StartupError(`KMS_ADMIN_HOST/KMS_ADMIN_PORT ${config.adminHost}:${config.adminPort} cannot be bound (${e.code ?? e.message})`);
      });
      stopMetrics = serving.stop;
      if (serving.url) {
        adminPort = Number(new URL(serving.url).port);
        logger.info('admin listening', { url: serving.url });
      }
    }
    return { port, ...(adminPort !== undefined ? { adminPort } : {}), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
