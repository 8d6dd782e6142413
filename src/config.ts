// The only reader of process.env. Values are validated once at start-up and frozen;
// secrets are redacted whenever the configuration is printed.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseJwtIssuers, type JwtIssuerConfig } from './auth-config';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
export const DEV_TOKEN_LABEL = 'hsm-kms-dev';

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** undefined selects the embedded SQLite store in dataDir. */
  metadataUri?: string;
  pkcs11Module: string;
  tokenLabel: string;
  pin: string;
  /** SoftHSM's configuration file, exported to the module as SOFTHSM2_CONF. */
  softhsmConf?: string;
  hsmProfile?: string;
  sessionPoolSize: number;
  accountId: string;
  region: string;
  root: { accessKeyId: string; secretAccessKey: string };
  credentialsFile?: string;
  /** How often credentialsFile is polled for changes. */
  credentialsPollMs: number;
  /** Issuers of accepted bearer JWTs; undefined turns bearer authentication off. */
  jwtIssuers?: JwtIssuerConfig[];
  logLevel: string;
  logFile?: string;
  maxBodyBytes: number;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new ConfigError(`${name} must be an integer between ${min} and ${max}`);
  return value;
}

function readSecretFile(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new ConfigError(`cannot read ${what} from ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

function rootCredentials(env: Env, dataDir: string): Config['root'] {
  const accessKeyId = env.KMS_ROOT_ACCESS_KEY_ID;
  const secretAccessKey = env.KMS_ROOT_SECRET_ACCESS_KEY;
  if (accessKeyId || secretAccessKey) {
    if (!accessKeyId || !secretAccessKey) throw new ConfigError('set both KMS_ROOT_ACCESS_KEY_ID and KMS_ROOT_SECRET_ACCESS_KEY, or neither');
    return { accessKeyId, secretAccessKey };
  }
  const generated = path.join(dataDir, 'root-credentials.json');
  if (!existsSync(generated)) throw new ConfigError(`no root credentials: set KMS_ROOT_ACCESS_KEY_ID/KMS_ROOT_SECRET_ACCESS_KEY or run 'npm start' once to generate ${generated}`);
  const parsed = JSON.parse(readSecretFile(generated, 'root credentials')) as Partial<Config['root']>;
  if (typeof parsed.accessKeyId !== 'string' || typeof parsed.secretAccessKey !== 'string') throw new ConfigError(`${generated} must hold accessKeyId and secretAccessKey`);
  return { accessKeyId: parsed.accessKeyId, secretAccessKey: parsed.secretAccessKey };
}

function tokenPin(env: Env, dataDir: string): string {
  if (env.KMS_PIN) return env.KMS_PIN;
  const file = env.KMS_PIN_FILE || path.join(dataDir, 'dev-token.pin');
  if (!env.KMS_PIN_FILE && !existsSync(file)) throw new ConfigError('no token PIN: set KMS_PIN or KMS_PIN_FILE (npm start creates a dev token and its PIN file)');
  return readSecretFile(file, 'the token PIN');
}

/** KMS_JWT_ISSUERS: inline JSON (starting with '[') or the absolute path of a JSON file. */
function jwtIssuers(env: Env): JwtIssuerConfig[] | undefined {
  const raw = env.KMS_JWT_ISSUERS?.trim();
  if (!raw) return undefined;
  let text = raw;
  if (!raw.startsWith('[')) {
    if (!path.isAbsolute(raw)) throw new ConfigError('KMS_JWT_ISSUERS must be a JSON array or the absolute path of a JSON file');
    text = readSecretFile(raw, 'the JWT issuers');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError('KMS_JWT_ISSUERS is not valid JSON');
  }
  try {
    return parseJwtIssuers(parsed);
  } catch (e) {
    throw new ConfigError(`KMS_JWT_ISSUERS: ${(e as Error).message}`);
  }
}

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const dataDir = path.resolve(env.KMS_DATA_DIR || './data');
  const pkcs11Module = env.KMS_PKCS11_MODULE || SOFTHSM_MODULE;
  if (!path.isAbsolute(pkcs11Module)) throw new ConfigError('KMS_PKCS11_MODULE must be an absolute path');
  const accountId = env.KMS_ACCOUNT_ID || '111122223333';
  if (!/^\d{12}$/.test(accountId)) throw new ConfigError('KMS_ACCOUNT_ID must be 12 digits');
  const region = env.KMS_REGION || 'us-east-1';
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) throw new ConfigError('KMS_REGION must look like us-east-1');
  const devSoftHsmConf = path.join(dataDir, 'softhsm2.conf');
  const softhsmConf = env.SOFTHSM2_CONF || (pkcs11Module === SOFTHSM_MODULE && existsSync(devSoftHsmConf) ? devSoftHsmConf : undefined);
  return Object.freeze({
    host: env.KMS_HOST || '127.0.0.1',
    port: integer(env, 'KMS_PORT', 8080, 0, 65535),
    dataDir,
    metadataUri: env.KMS_METADATA_URI || undefined,
    pkcs11Module,
    tokenLabel: env.KMS_TOKEN_LABEL || DEV_TOKEN_LABEL,
    pin: tokenPin(env, dataDir),
    softhsmConf,
    hsmProfile: env.KMS_HSM_PROFILE || undefined,
    sessionPoolSize: integer(env, 'KMS_SESSION_POOL_SIZE', 8, 1, 1024),
    accountId,
    region,
    root: rootCredentials(env, dataDir),
    credentialsFile: env.KMS_CREDENTIALS_FILE || undefined,
    credentialsPollMs: integer(env, 'KMS_CREDENTIALS_POLL_MS', 1000, 10, 3_600_000),
    jwtIssuers: jwtIssuers(env),
    logLevel: env.KMS_LOG_LEVEL || 'info',
    logFile: env.KMS_LOG_FILE || undefined,
    maxBodyBytes: integer(env, 'KMS_MAX_BODY_BYTES', 256 * 1024, 1024, 64 * 1024 * 1024),
  });
}

/** The configuration with every secret replaced, safe to print or log. */
export function redactedConfig(config: Config): Record<string, unknown> {
  const uri = config.metadataUri?.replace(/\/\/[^@/]*@/, '//***@');
  return { ...config, metadataUri: uri, pin: '***', root: { accessKeyId: config.root.accessKeyId, secretAccessKey: '***' } };
}
