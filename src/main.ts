// The server's entry point: configuration, logger, then the composition root. Nothing imports this file.
import { startServer, StartupError } from './compose';
import { ConfigError, loadConfig, redactedConfig, type Config } from './config';
import { createLogger } from './log/logger';

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
  // Signals are handled from the start: one that comes while starting stops the service once it is up.
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
  running.stop = await startServer(config, logger);
  if (stopping) finish(running.stop, stopping);
}

main().catch((e: unknown) => {
  console.error(`hsm-kms failed to start: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(e instanceof StartupError ? e.exitCode : 1);
});
