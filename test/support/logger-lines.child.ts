// Child process: makes loggers as the test suites and the CLI do, closes most of them, and
// leaves one line pending at exit. Its stdout is what the loggers wrote, then one JSON summary.
import { createLogger, stdoutStreamsAwaitingExit } from '../../src/log/logger';

const loggers = Array.from({ length: 50 }, () => createLogger({ level: 'info' }));
const opened = stdoutStreamsAwaitingExit();
for (const [i, logger] of loggers.entries()) {
  logger.info(`line ${i}`);
  // Both ways a logger is closed: the service's end() and winston's close().
  if (i > 0 && i % 2 === 0) logger.end();
  else if (i > 0) logger.close();
}
setTimeout(() => {
  const afterClose = stdoutStreamsAwaitingExit();
  // Pending when the process exits in the same turn: the exit listener writes it.
  loggers[0]!.info('at exit');
  process.stdout.write(`${JSON.stringify({ opened, afterClose })}\n`);
  process.exit(0);
}, 100);
