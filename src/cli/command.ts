// What every hsm-kms command shares: its result (an exit code, words for people and a value for
// --json), usage errors, and opening the same store and token the server uses.
import { composeCommand } from '../compose';
import { loadConfigSections } from '../config';
import type { CoreDeps } from '../core/deps';
import { createLogger, type Logger } from '../log/logger';

/** 0: all well. 1: a problem was found (or the command failed). 2: the command line was wrong. */
export const EXIT_OK = 0;
export const EXIT_PROBLEM = 1;
export const EXIT_USAGE = 2;

export interface CommandResult {
  exitCode: typeof EXIT_OK | typeof EXIT_PROBLEM;
  /** What a person reads (ends without a newline). */
  text: string;
  /** What --json prints. */
  json: unknown;
}

export class UsageError extends Error {
  constructor(message: string, readonly usage: string) {
    super(message);
  }
}

export type Env = Record<string, string | undefined>;

export interface Opened {
  deps: CoreDeps;
  close(): Promise<void>;
}

/** The store, and the default token when `withToken`, as the server's configuration names them. */
export async function openCore(env: Env, withToken: boolean): Promise<Opened> {
  const config = withToken ? loadConfigSections(['store', 'token', 'logging'], env) : loadConfigSections(['store', 'logging'], env);
  const logger: Logger = createLogger({ level: config.logLevel, file: config.logFile, stderr: true });
  let composed: Awaited<ReturnType<typeof composeCommand>>;
  try {
    composed = await composeCommand(config, logger);
  } catch (e) {
    await new Promise<void>((resolve) => logger.on('finish', resolve).end());
    throw e;
  }
  return {
    deps: composed.service.deps,
    async close() {
      await composed.close();
      await new Promise<void>((resolve) => logger.on('finish', resolve).end());
    },
  };
}

/** Runs `fn` on the opened core and always closes it. */
export async function withCore<T>(env: Env, withToken: boolean, fn: (deps: CoreDeps) => Promise<T>): Promise<T> {
  const opened = await openCore(env, withToken);
  try {
    return await fn(opened.deps);
  } finally {
    await opened.close();
  }
}
