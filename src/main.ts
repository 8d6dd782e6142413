// The server's entry point: configuration, logger, then the composition root. Nothing imports this file.
// KMS_WORKERS 1: this process is the server. More: this process is a small primary that forks
// that many workers (src/workers.ts), and each worker runs this file again as a server of its own.
import cluster from 'node:cluster';
import path from 'node:path';
import type { RunningServer, ServerOptions } from './compose';
import { ConfigError, loadConfig, redactedConfig, workerRoleFrom, type Config } from './config';
import { ensureDevCertificate, type DevCertificate } from './dev-certificate';
import { createLogger, type Logger } from './log/logger';
import { consoleLogLevel, onTerminal, readyLine, TERMINAL_ENV } from './ready-line';
import { processesOf, reportToPrimary, runPrimary, workerInstanceId } from './workers';

/** A start-up failure as the line to print and the exit code to leave with. */
class Failure extends Error {
  constructor(readonly line: string, readonly exitCode: number) {
    super(line);
  }
}

function configuration(): Readonly<Config> {
  try {
    return loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) throw new Failure(`configuration error: ${e.message}`, 2);
    throw e;
  }
}

/**
 * Starts the server with signals handled from the start: one that comes while starting stops the
 * service once it is up. Resolves with the running server, or undefined when a signal stops it.
 */
async function serve(config: Readonly<Config>, logger: Logger, options: ServerOptions): Promise<RunningServer | undefined> {
  const running: { stop?: () => Promise<void> } = {};
  let stopping: string | undefined;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = signal;
    if (running.stop) finish(running.stop, signal);
  };
  const finish = (stopService: () => Promise<void>, signal: string) => {
    logger.info('shutting down', { signal });
    stopService().then(() => process.exit(0), (e: unknown) => {
      logger.error('shutdown failed', { detail: String(e) });
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // Loaded here, not above: a primary never loads the token, the store or the HTTP layer.
  const { startServer, StartupError } = await import('./compose');
  let server: RunningServer;
  try {
    server = await startServer(config, logger, options);
  } catch (e) {
    if (e instanceof StartupError) throw new Failure(`hsm-kms failed to start: ${e.message}`, e.exitCode);
    throw e;
  }
  running.stop = server.stop;
  if (stopping) {
    finish(server.stop, stopping);
    return undefined;
  }
  return server;
}

async function main(): Promise<void> {
  const config = configuration();
  const logger = createLogger({ level: config.logLevel, consoleLevel: consoleLogLevel(config), file: config.logFile });
  // The start-up recovery of a lone process may take the heartbeats of this service's earlier processes for its own leftovers.
  const predecessors = processesOf(config.instanceId);
  if (cluster.isWorker) {
    const role = workerRoleFrom();
    const instanceId = workerInstanceId(config.instanceId, role.index);
    const server = await serve(Object.freeze({ ...config, instanceId }), logger.child({ instance: instanceId }), role.startsAlone ? { predecessors } : {});
    if (server) await reportToPrimary({ hsmKms: 'ready', port: server.port });
    return;
  }
  logger.info('starting', { config: redactedConfig(config) });
  // Made here, before any worker starts, so workers never race to write it.
  if (config.tlsDevCert && config.tls) {
    let dev: DevCertificate;
    try {
      dev = ensureDevCertificate(path.dirname(config.tls.certFile), config.tls);
    } catch (e) {
      throw new Failure(`hsm-kms failed to start: ${(e as Error).message}`, 1);
    }
    logger.info(dev.created ? 'TLS development certificate created' : 'TLS development certificate in use', { certFile: dev.certFile, caBundle: dev.caBundle });
    console.log(`hsm-kms: development TLS certificate for localhost and 127.0.0.1; give clients the CA bundle ${dev.caBundle} (aws --ca-bundle, AWS_CA_BUNDLE)`);
  }
  if (config.workers > 1) {
    if (onTerminal()) process.env[TERMINAL_ENV] = '1';
    runPrimary(config, logger.child({ role: 'primary' }), (port) => { if (onTerminal()) console.log(readyLine(config, port)); });
    return;
  }
  const server = await serve(config, logger, { predecessors });
  if (server && onTerminal()) console.log(readyLine(config, server.port));
}

main().catch((e: unknown) => {
  const failure = e instanceof Failure ? e : new Failure(`hsm-kms failed to start: ${e instanceof Error ? e.message : String(e)}`, 1);
  // A worker's primary prints the line and leaves with the code, as a single process does.
  const told = cluster.isWorker ? reportToPrimary({ hsmKms: 'failed', line: failure.line, exitCode: failure.exitCode }) : Promise.resolve(false);
  void told.then((sent) => {
    if (!sent) console.error(failure.line);
    process.exit(failure.exitCode);
  });
});
