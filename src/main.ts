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
  const stop = await startServer(config, logger);
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
  process.exit(e instanceof StartupError ? e.exitCode : 1);
});
