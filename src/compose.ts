// The composition root as functions: the server (main.ts), the tests and a future admin CLI
// wire the service the same way, each handing in only what it has (a store, a default key
// store, a clock, a logger) and taking only the parts it needs.
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
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
import { openDefaultToken } from './pkcs11';
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

/** The server from configuration: token, store, core, maintenance, HTTP, listen. Returns its stop function. */
export async function startServer(config: Readonly<Config>, logger: Logger): Promise<() => Promise<void>> {
  const defaultKeyStore = openDefaultToken({
    modulePath: config.pkcs11Module,
    tokenLabel: config.tokenLabel,
    pin: config.pin,
    poolSize: config.sessionPoolSize,
    acquireTimeoutMs: 10_000,
    reconnectDelayMs: { initial: 100, max: 10_000 },
    profileVendor: config.hsmProfile,
    moduleEnvironment: config.softhsmConf ? { SOFTHSM2_CONF: config.softhsmConf } : undefined,
  });
  logger.info('token ready', { token: config.tokenLabel, profile: defaultKeyStore.profile.vendor });
  const store = openMetadataStore(config.metadataUri, config.dataDir);
  await store.init();
  const { deps, service, readiness, instanceId } = composeCore({ store, defaultKeyStore, logger });

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
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
  });
  const address = server.address();
  logger.info('listening', { host: config.host, port: typeof address === 'object' && address ? address.port : config.port });

  return async () => {
    clearInterval(sweep);
    clearInterval(beat);
    principals.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await retire(deps, instanceId).catch(() => undefined);
    await store.close();
    await deps.keyStores.close();
  };
}
