// What every hsm-kms command shares: its result (an exit code, words for people and a value for
// --json), usage errors, and opening the same store and token the server uses.
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { composeCommand } from '../compose';
import { loadConfigSections } from '../config';
import type { CallEvent } from '../core/calls/event';
import type { CoreService } from '../core/calls/service';
import type { CoreDeps } from '../core/deps';
import { KmsError } from '../core/errors';
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
  service: CoreService;
  close(): Promise<void>;
}

/** The operator, as the audit trail names an admin CLI caller: the local operating-system user. */
export function operatorPrincipal(): string {
  return `local-operator:${userInfo().username}`;
}

/** An admin CLI command as the audit trail records it (eventSource cli.hsm-kms). */
export interface CliCall {
  /** The event name: AuditVerify, AuditExport, Doctor, … */
  operation: string;
  /** Non-secret options the command was given. */
  parameters?: Record<string, unknown>;
}

/**
 * Appends the command's record. Awaited before the command reports: a record that cannot be
 * written fails the command (the trail fails closed for the CLI as for the API).
 */
export async function recordCliCall(service: CoreService, call: CliCall, startedAt: Date, outcome: { results?: Record<string, unknown> } | { error: unknown }): Promise<void> {
  const failure = 'error' in outcome;
  const error = failure && outcome.error instanceof KmsError ? outcome.error : undefined;
  const event: CallEvent = {
    source: 'cli', operation: call.operation, requestId: randomUUID(), principal: operatorPrincipal(), userAgent: 'hsm-kms-cli', resources: [],
    ...(call.parameters ? { parameters: call.parameters } : {}),
    ...(failure
      ? { outcome: 'failure', errorCode: error?.code ?? 'KMSInternalException', errorMessage: error ? error.message : String((outcome.error as Error)?.message ?? outcome.error) }
      : { outcome: 'success', ...(outcome.results ? { results: outcome.results } : {}) }),
    startedAt, latencyMs: Date.now() - startedAt.getTime(),
  };
  await service.emit(event);
}

/** The store, and the default token when `withToken`, as the server's configuration names them. */
export async function openCore(env: Env, withToken: boolean): Promise<Opened> {
  const config = withToken ? loadConfigSections(['store', 'token', 'logging', 'audit'], env) : loadConfigSections(['store', 'logging', 'audit'], env);
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
    service: composed.service,
    async close() {
      await composed.close();
      await new Promise<void>((resolve) => logger.on('finish', resolve).end());
    },
  };
}

/**
 * Runs `fn` on the opened core and always closes it. With `call`, the command is recorded in the
 * audit trail, success or failure; `resultsOf` picks the non-secret facts its record shows.
 */
export async function withCore<T>(
  env: Env, withToken: boolean, fn: (deps: CoreDeps) => Promise<T>, call?: CliCall, resultsOf?: (result: T) => Record<string, unknown> | undefined,
): Promise<T> {
  const opened = await openCore(env, withToken);
  const startedAt = new Date();
  try {
    let result: T;
    try {
      result = await fn(opened.deps);
    } catch (e) {
      if (call) await recordCliCall(opened.service, call, startedAt, { error: e }).catch(() => undefined);
      throw e;
    }
    if (call) {
      const results = resultsOf?.(result);
      await recordCliCall(opened.service, call, startedAt, results ? { results } : {});
    }
    return result;
  } finally {
    await opened.close();
  }
}
