// The composition root as functions: the server (main.ts), the tests and a future admin CLI
// wire the service the same way, each handing in only what it has (a store, a default key
// store, a clock, a logger) and taking only the parts it needs.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import type { Config } from './config';
import type { CallObserver } from './core/calls/event';
import { CoreService } from './core/calls/service';
import type { CoreDeps } from './core/deps';
import type { KeyStore } from './core/key-stores/port';
import { KeyStoreRegistry } from './core/key-stores/registry';
import { heartbeat, maintenanceEvents, PROCESS_INSTANCE, retire, runMaintenance } from './core/jobs/maintenance';
import { Readiness } from './core/jobs/readiness';
import { systemClock, type Clock, type MetadataStore } from './core/ports';
import { createApp, type AppOptions } from './http/app';
import { BearerAuthenticator } from './http/auth/bearer';
import { PrincipalDirectory } from './http/auth/principals';
import { httpStatusFor } from './http/kms/errors';
import type { Logger } from './log/logger';
import { requestLog } from './log/request-log';
import { openDefaultToken, type Pkcs11Token } from './pkcs11';
import { PinRefusedError } from './pkcs11/sessions';
import { openMetadataStore } from './store';

/** How often the deletion worker, rotation scheduler, import upkeep and crash recovery run. */
export const MAINTENANCE_INTERVAL_MS = 60_000;
/** How often an instance says it is alive (well inside INSTANCE_LEASE_TTL_MS). */
export const HEARTBEAT_INTERVAL_MS = 10_000;

export interface CoreParts {
  store: MetadataStore;
  defaultKeyStore: KeyStore;
  clock?: Clock;
  logger: Logger;
  /** Observers beside the request log (audit, metrics). */
  observers?: CallObserver[];
  /** This instance's id among those sharing the store; the process's own unless given. */
  instanceId?: string;
}

/** Core with its seam: the key store registry, the deps, and the request log observing every call. */
export function composeCore(parts: CoreParts): { deps: CoreDeps; service: CoreService; readiness: Readiness; instanceId: string } {
  const deps: CoreDeps = { store: parts.store, keyStores: new KeyStoreRegistry(parts.defaultKeyStore), clock: parts.clock ?? systemClock };
  const log = requestLog(parts.logger, (event) => (event.outcome === 'success' ? 200 : httpStatusFor[event.errorCode ?? 'KMSInternalException']));
  const instanceId = parts.instanceId ?? PROCESS_INSTANCE;
  return { deps, service: new CoreService(deps, [log, ...(parts.observers ?? [])]), readiness: new Readiness(deps, instanceId), instanceId };
}

/** One maintenance run, its work emitted as internal events through the seam. */
export async function maintain(service: CoreService, logger: Logger, atStartup: boolean, instanceId = PROCESS_INSTANCE): Promise<void> {
  const report = await runMaintenance(service.deps, { atStartup, instanceId });
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
const PIN_REFUSED_MARKER = 'pin-refused';

/**
 * The default token, unless a PIN was refused before: then nothing is tried until an operator
 * removes the marker, so a restart policy can never lock a real HSM partition by retrying.
 */
function openTokenOnce(config: Readonly<Config>): Pkcs11Token {
  const marker = path.join(config.dataDir, PIN_REFUSED_MARKER);
  if (existsSync(marker)) {
    throw new StartupError(`token '${config.tokenLabel}' refused the PIN at an earlier start; fix KMS_PIN or KMS_PIN_FILE, then delete ${marker}`, EXIT_PIN_REFUSED);
  }
  try {
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
  } catch (e) {
    if (!(e instanceof PinRefusedError)) throw e;
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(marker, `${new Date().toISOString()} token '${config.tokenLabel}' refused the PIN (${e.code})\n`, { mode: 0o600 });
    throw new StartupError(`token '${config.tokenLabel}' refused the PIN (${e.code}); fix KMS_PIN or KMS_PIN_FILE, then delete ${marker} (it stops further attempts)`, EXIT_PIN_REFUSED);
  }
}

/** Opens the metadata store, or says in one sentence which setting is wrong. */
async function openStore(config: Readonly<Config>): Promise<MetadataStore> {
  const store = openMetadataStore(config.metadataUri, config.dataDir);
  try {
    await store.init();
    return store;
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
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

/** Listens, or says the address is taken (or not ours to bind) and fails. */
function listen(app: ReturnType<typeof createApp>, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(app);
    server.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'is already in use' : e.code === 'EACCES' ? 'may not be bound by this user' : `cannot be bound (${e.code ?? e.message})`;
      reject(new StartupError(`KMS_HOST/KMS_PORT ${host}:${port} ${why}`));
    });
    server.listen(port, host, () => resolve(server));
  });
}

/** The server from configuration: token, store, core, maintenance, HTTP, listen. Returns its stop function. */
export async function startServer(config: Readonly<Config>, logger: Logger): Promise<() => Promise<void>> {
  const defaultKeyStore = openTokenOnce(config);
  logger.info('token ready', { token: config.tokenLabel, profile: defaultKeyStore.profile.vendor });
  let store: MetadataStore;
  try {
    store = await openStore(config);
  } catch (e) {
    await defaultKeyStore.close();
    throw e;
  }
  const { deps, service, readiness, instanceId } = composeCore({ store, defaultKeyStore, logger, instanceId: config.instanceId });

  // Alive before any job runs, so another instance's start-up recovery waits for our work.
  await heartbeat(deps, instanceId);
  const beat = setInterval(() => {
    heartbeat(deps, instanceId).catch((e: unknown) => logger.error('heartbeat failed', { detail: String(e) }));
  }, HEARTBEAT_INTERVAL_MS);
  beat.unref();
  await maintain(service, logger, true, instanceId);
  const sweep = setInterval(() => {
    maintain(service, logger, false, instanceId).catch((e: unknown) => logger.error('maintenance failed', { detail: String(e) }));
  }, MAINTENANCE_INTERVAL_MS);
  sweep.unref();

  const principals = principalsFrom(config, logger);
  const bearer = config.jwtIssuers ? new BearerAuthenticator(config.jwtIssuers, { defaultRegion: config.region }) : undefined;
  const app = createApp({
    service, readiness, logger, principals: () => principals.current(), bearer, signatureClock: systemClock, maxBodyBytes: config.maxBodyBytes,
    jwks: { accountId: config.accountId, region: config.region },
  });
  let server: Server | undefined;
  const stop = async () => {
    clearInterval(sweep);
    clearInterval(beat);
    principals.stop();
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    await retire(deps, instanceId).catch(() => undefined);
    await store.close();
    await deps.keyStores.close();
  };
  try {
    server = await listen(app, config.host, config.port);
  } catch (e) {
    await stop();
    throw e;
  }
  const address = server.address();
  logger.info('listening', { host: config.host, port: typeof address === 'object' && address ? address.port : config.port });
  return stop;
}
