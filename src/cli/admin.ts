#!/usr/bin/env node
// The operator's command: `npm run admin -- xks <command> [options]` (or the hsm-kms-admin bin).
// It reads the same environment as the server (only the sections each command needs: listing
// keys never asks for the token's PIN), goes through the core seam like every other caller, and
// prints JSON on stdout; its request log lines go to stderr (and KMS_LOG_FILE when set).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { composeCommand } from '../compose';
import { operatorPrincipal } from './command';
import { ConfigError, loadConfigSections } from '../config';
import type { DispatchableOperation } from '../core/api/operation';
import type { RequestContext } from '../core/api/context';
import { KmsError } from '../core/errors';
import { createExternalKey } from '../core/xks-proxy/create-external-key';
import { deleteExternalKey } from '../core/xks-proxy/delete-external-key';
import { disableExternalKey } from '../core/xks-proxy/disable-external-key';
import { enableExternalKey } from '../core/xks-proxy/enable-external-key';
import { externalKeyUsages, type ExternalKeyUsage } from '../core/xks-proxy/external-key';
import { listExternalKeys } from '../core/xks-proxy/list-external-keys';
import { createLogger } from '../log/logger';
import { consoleConfiguration, generateXksCredential, parseXksProxyConfig, type XksProxyConfig } from '../xks-config';

export const usage = `usage: npm run admin -- xks <command> [options]

  create          --prefix P --id ID [--usage ENCRYPT,DECRYPT | ENCRYPT | DECRYPT | none] [--disabled] [--token T]
                  make an AES-256 external key in the token (usage defaults to ENCRYPT,DECRYPT)
  list            [--prefix P]             the external keys, of one key store or all
  enable          --prefix P --id ID       the key serves Encrypt and Decrypt (at once, on every instance)
  disable         --prefix P --id ID       Encrypt and Decrypt answer InvalidStateException; metadata says DISABLED
  delete          --prefix P --id ID       destroy a disabled key in the token, then its metadata (irreversible)
  console-config  --prefix P [--access-key-id ID]
                  the JSON file the AWS KMS console accepts for this key store (it holds the secret)
  new-credential  a fresh access key id and secret access key for the configuration file

P is the key store's URI path prefix as in KMS_XKS_CONFIG_FILE ('' for none).`;

export class UsageError extends Error {}

const options = {
  prefix: { type: 'string' },
  id: { type: 'string' },
  usage: { type: 'string' },
  disabled: { type: 'boolean' },
  token: { type: 'string' },
  'access-key-id': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

function required(values: Values, name: 'prefix' | 'id'): string {
  const value = values[name];
  if (value === undefined) throw new UsageError(`--${name} is required`);
  return value;
}

function usageList(text: string | undefined): ExternalKeyUsage[] {
  if (text === undefined) return ['ENCRYPT', 'DECRYPT'];
  if (text.trim().toLowerCase() === 'none') return [];
  const usage = text.split(',').map((u) => u.trim().toUpperCase());
  const unknown = usage.find((u) => !(externalKeyUsages as readonly string[]).includes(u));
  if (unknown !== undefined) throw new UsageError(`--usage: '${unknown}' is not ENCRYPT, DECRYPT or none`);
  return usage as ExternalKeyUsage[];
}

type Env = Record<string, string | undefined>;

function readProxyConfig(env: Env): XksProxyConfig {
  const { xks } = loadConfigSections(['xks'], env);
  if (!xks.configFile) throw new ConfigError('set KMS_XKS_CONFIG_FILE to the XKS proxy configuration file');
  return parseXksProxyConfig(readFileSync(xks.configFile, 'utf8'), xks.configFile);
}

function consoleConfig(values: Values, env: Env): object {
  const prefix = required(values, 'prefix');
  const store = readProxyConfig(env).keyStores.find((s) => s.uriPathPrefix === prefix);
  if (!store) throw new UsageError(`no key store with uriPathPrefix '${prefix}' in KMS_XKS_CONFIG_FILE`);
  const wanted = values['access-key-id'];
  const credential = wanted === undefined ? store.credentials[0] : store.credentials.find((c) => c.accessKeyId === wanted);
  if (!credential) throw new UsageError(`key store '${prefix}' has no credential ${wanted}`);
  return consoleConfiguration(store, credential);
}

/** Runs one core operation through the seam, as the operator. */
async function runOperation(operation: DispatchableOperation, body: Record<string, unknown>, needsToken: boolean, env: Env): Promise<unknown> {
  const config = needsToken ? loadConfigSections(['store', 'token', 'logging', 'audit'], env) : loadConfigSections(['store', 'logging', 'audit'], env);
  const logger = createLogger({ level: config.logLevel, file: config.logFile, stderr: true });
  const { service, close } = await composeCommand(config, logger);
  const attributes: Record<string, string> = {};
  if (typeof body.keyStorePrefix === 'string') attributes.keyStorePrefix = body.keyStorePrefix;
  if (typeof body.externalKeyId === 'string') attributes.externalKeyId = body.externalKeyId;
  const ctx: RequestContext = {
    principal: { arn: operatorPrincipal(), accountId: '', policies: [] }, region: '', requestId: randomUUID(), attributes,
    userAgent: 'hsm-kms-cli',
  };
  try {
    return await service.invoke('cli', operation, ctx, body);
  } finally {
    await close();
    await new Promise<void>((resolve) => logger.on('finish', resolve).end());
  }
}

function warnIfNotConfigured(prefix: string, env: Env): void {
  let config: XksProxyConfig;
  try {
    config = readProxyConfig(env);
  } catch {
    return;
  }
  if (!config.keyStores.some((s) => s.uriPathPrefix === prefix)) {
    process.stderr.write(`warning: KMS_XKS_CONFIG_FILE has no key store with uriPathPrefix '${prefix}' yet: the key cannot be used until one is added\n`);
  }
}

/** Runs one admin command; resolves with what it prints. `env` stands for process.env. */
export async function runAdmin(argv: string[], env: Env = process.env): Promise<unknown> {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  const [area, command, ...rest] = positionals;
  if (values.help || area === undefined) throw new UsageError('');
  if (area !== 'xks') throw new UsageError(`unknown area '${area}'`);
  if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
  const key = () => ({ keyStorePrefix: required(values, 'prefix'), externalKeyId: required(values, 'id') });
  switch (command) {
    case 'create': {
      const body = { ...key(), usage: usageList(values.usage), ...(values.disabled ? { status: 'DISABLED' } : {}), ...(values.token ? { tokenId: values.token } : {}) };
      warnIfNotConfigured(body.keyStorePrefix, env);
      return runOperation(createExternalKey, body, true, env);
    }
    case 'list':
      return runOperation(listExternalKeys, values.prefix === undefined ? {} : { keyStorePrefix: values.prefix }, false, env);
    case 'enable':
      return runOperation(enableExternalKey, key(), false, env);
    case 'disable':
      return runOperation(disableExternalKey, key(), false, env);
    case 'delete':
      return runOperation(deleteExternalKey, key(), true, env);
    case 'console-config':
      return consoleConfig(values, env);
    case 'new-credential':
      return generateXksCredential();
    default:
      throw new UsageError(command === undefined ? 'a command is required' : `unknown command '${command}'`);
  }
}

/** JSON.stringify with Dates as ISO strings (their default) and Buffers never expected. */
function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

if (require.main === module) {
  runAdmin(process.argv.slice(2)).then(print, (e: unknown) => {
    if (e instanceof UsageError || (e instanceof TypeError && (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`${e.message ? `${e.message}\n\n` : ''}${usage}\n`);
      process.exitCode = 2;
    } else if (e instanceof KmsError) {
      process.stderr.write(`${e.code}: ${e.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`${e instanceof ConfigError ? 'configuration error' : 'failed'}: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    }
  });
}
