// What a person starting the service in a terminal reads: one plain line saying where it
// answers and where the credentials are, instead of a stream of JSON (which still goes to a
// pipe, a file or a log collector, where machines read it).
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from './config';

/** The line, for a service answering on `port`. */
export function readyLine(config: Readonly<Config>, port: number, env: Record<string, string | undefined> = process.env): string {
  const scheme = config.tls ? 'https' : 'http';
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const generated = path.join(config.dataDir, 'root-credentials.json');
  const credentials = env.KMS_ROOT_ACCESS_KEY_ID
    ? 'credentials: KMS_ROOT_ACCESS_KEY_ID and KMS_ROOT_SECRET_ACCESS_KEY'
    : existsSync(generated) ? `credentials: ${generated} (accessKeyId, secretAccessKey)` : 'credentials: see KMS_ROOT_ACCESS_KEY_ID';
  return `hsm-kms ready at ${scheme}://${host}:${port} (region ${config.region}, account ${config.accountId}; ${credentials})`;
}

/** Set by a primary on a terminal for its workers, whose own stdout is a pipe to it. */
export const TERMINAL_ENV = 'HSM_KMS_STDOUT_IS_TERMINAL';

export function onTerminal(env: Record<string, string | undefined> = process.env): boolean {
  return process.stdout.isTTY === true || env[TERMINAL_ENV] === '1';
}

/** On a terminal only warnings and errors are logged there, unless KMS_LOG_LEVEL asks for more; KMS_LOG_FILE keeps every line. */
export function consoleLogLevel(config: Readonly<Config>, env: Record<string, string | undefined> = process.env, terminal = onTerminal(env)): string {
  return terminal && !env.KMS_LOG_LEVEL ? 'warn' : config.logLevel;
}
