// Composition root: config → pkcs11 → store → core → http → listen. Nothing imports this file.
import type { Server } from 'node:http';
import { ConfigError, loadConfig, redactedConfig, type Config } from './config';
import type { CoreDeps } from './core/deps';
import { systemClock } from './core/ports';
import { runMaintenance, type MaintenanceReport } from './core/maintenance';
import { createApp } from './http/app';
import { BearerAuthenticator } from './http/auth/bearer';
import { PrincipalDirectory } from './http/auth/principals';
import { createLogger, type Logger } from './log/logger';
import { KeyStoreRegistry } from './core/key-stores/registry';
import { openDefaultToken } from './pkcs11';
import { openMetadataStore } from './store';

/** How often the deletion worker and crash recovery run. */
const MAINTENANCE_INTERVAL_MS = 60_000;

/** The root alone, or the root and KMS_CREDENTIALS_FILE, reloaded whenever the file changes. */
function principalsFrom(config: Config, logger: Logger): { current(): PrincipalDirectory; stop(): void } {
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

async function start(config: Readonly<Config>, logger: Logger): Promise<() => Promise<void>> {
  const defaultToken = openDefaultToken({
    modulePath: config.pkcs11Module,
    tokenLabel: config.tokenLabel,
    pin: config.pin,
    poolSize: config.sessionPoolSize,
    acquireTimeoutMs: 10_000,
    reconnectDelayMs: { initial: 100, max: 10_000 },
    profileVendor: config.hsmProfile,
    moduleEnvironment: config.softhsmConf ? { SOFTHSM2_CONF: config.softhsmConf } : undefined,
  });
  logger.info('token ready', { token: config.tokenLabel, profile: defaultToken.profile.vendor });
  const keyStores = new KeyStoreRegistry(defaultToken);
  const store = openMetadataStore(config.metadataUri, config.dataDir);
  await store.init();
  const deps: CoreDeps = { store, keyStores, clock: systemClock };

  // Internal events get a log line each, named as CloudTrail names them.
  const report = (r: MaintenanceReport) => {
    if (r.recovered > 0) logger.warn('recovered interrupted key changes', { count: r.recovered });
    for (const keyId of r.deleted) logger.info('key deleted', { keyId, event: 'DeleteKey' });
    for (const keyId of r.rotations.rotated) logger.info('key rotated', { keyId, event: 'RotateKey' });
    for (const failure of r.rotations.failed) logger.error('automatic rotation failed', { keyId: failure.keyId, detail: failure.detail });
    for (const keyId of r.imports.expired) logger.info('imported key material expired', { keyId, event: 'DeleteExpiredKeyMaterial' });
    for (const failure of r.imports.failed) logger.error('import upkeep failed', { keyId: failure.keyId, detail: failure.detail });
  };
  report(await runMaintenance(deps, { atStartup: true }));
  const sweep = setInterval(() => {
    runMaintenance(deps, { atStartup: false }).then(report, (e: unknown) => logger.error('maintenance failed', { detail: String(e) }));
  }, MAINTENANCE_INTERVAL_MS);
  sweep.unref();

  const principals = principalsFrom(config, logger);
  const bearer = config.jwtIssuers ? new BearerAuthenticator(config.jwtIssuers, { defaultRegion: config.region }) : undefined;
  const app = createApp({
    deps, principals: () => principals.current(), bearer, logger, signatureClock: systemClock, maxBodyBytes: config.maxBodyBytes,
    jwks: { accountId: config.accountId, region: config.region },
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
  });
  const address = server.address();
  logger.info('listening', { host: config.host, port: typeof address === 'object' && address ? address.port : config.port });

  return async () => {
    clearInterval(sweep);
    principals.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
    await keyStores.close();
  };
}

async function main(): Promise<void> {
  let config: Readonly<Config>;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`configuration error: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger({ level: config.logLevel, file: config.logFile });
  logger.info('starting', { config: redactedConfig(config) });
  const stop = await start(config, logger);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    stop().then(() => process.exit(0), (e: unknown) => {
      logger.error('shutdown failed', { detail: String(e) });
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((e: unknown) => {
  console.error(`hsm-kms failed to start: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
