// The only reader of process.env. Values are validated once at start-up and frozen;
// secrets are redacted whenever the configuration is printed.
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { parseJwtIssuers, type JwtIssuerConfig } from './auth-config';
import { isLoopbackHost } from './xks-config';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
export const DEV_TOKEN_LABEL = 'hsm-kms-dev';

/** Where metadata lives. */
export interface StoreConfig {
  dataDir: string;
  /** undefined selects the embedded SQLite store in dataDir. */
  metadataUri?: string;
}

/** The default token. */
export interface TokenConfig {
  pkcs11Module: string;
  tokenLabel: string;
  pin: string;
  /** SoftHSM's configuration file, exported to the module as SOFTHSM2_CONF. */
  softhsmConf?: string;
  hsmProfile?: string;
  sessionPoolSize: number;
}

/** Who the service is (account, region) and who may call it. */
export interface IdentityConfig {
  accountId: string;
  region: string;
  root: { accessKeyId: string; secretAccessKey: string };
  credentialsFile?: string;
  /** How often credentialsFile is polled for changes. */
  credentialsPollMs: number;
  /** Issuers of accepted bearer JWTs; undefined turns bearer authentication off. */
  jwtIssuers?: JwtIssuerConfig[];
}

export interface ServerConfig {
  host: string;
  port: number;
  maxBodyBytes: number;
  /**
   * This instance among those sharing one store: stable across restarts (so a restarted
   * instance knows its own leftovers), different between instances. Host name and port by default.
   */
  instanceId: string;
}

export interface LoggingConfig {
  logLevel: string;
  logFile?: string;
}

/** The XKS proxy: its listener (off unless KMS_XKS_PORT is set) and its configuration file. */
export interface XksConfig {
  xks: {
    /** undefined: the XKS proxy listener is off. */
    port?: number;
    host: string;
    /** The proxy configuration file (key stores, credentials, policies); required with a port. */
    configFile?: string;
    /** How often the configuration file and the TLS files are checked for changes. */
    pollMs: number;
    /** undefined: plain HTTP, allowed on a loopback host only. */
    tls?: { certFile: string; keyFile: string; clientCaFile?: string; clientCn?: string };
    maxBodyBytes: number;
    /** How long a token health answer stands for GetHealthStatus. */
    healthCacheMs: number;
    /** How long an XKS call waits for the token before DependencyTimeoutException. */
    tokenTimeoutMs: number;
  };
}

interface Sections {
  store: StoreConfig;
  token: TokenConfig;
  identity: IdentityConfig;
  server: ServerConfig;
  logging: LoggingConfig;
  xks: XksConfig;
}
export type ConfigSection = keyof Sections;
type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
/** The configuration of the named sections only. */
export type ConfigOf<S extends ConfigSection> = UnionToIntersection<Sections[S]>;

export type Config = ConfigOf<ConfigSection>;

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

const dataDirOf = (env: Env) => path.resolve(env.KMS_DATA_DIR || './data');

const filePath = (env: Env, name: string) => (env[name] ? path.resolve(env[name]!) : undefined);

function xksSection(env: Env): XksConfig {
  const portSet = env.KMS_XKS_PORT !== undefined && env.KMS_XKS_PORT !== '';
  const port = portSet ? integer(env, 'KMS_XKS_PORT', 0, 0, 65535) : undefined;
  const host = env.KMS_XKS_HOST || '127.0.0.1';
  const configFile = filePath(env, 'KMS_XKS_CONFIG_FILE');
  const certFile = filePath(env, 'KMS_XKS_TLS_CERT_FILE');
  const keyFile = filePath(env, 'KMS_XKS_TLS_KEY_FILE');
  const clientCaFile = filePath(env, 'KMS_XKS_TLS_CLIENT_CA_FILE');
  const clientCn = env.KMS_XKS_TLS_CLIENT_CN || undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new ConfigError('set both KMS_XKS_TLS_CERT_FILE and KMS_XKS_TLS_KEY_FILE, or neither');
  if (clientCaFile !== undefined && certFile === undefined) throw new ConfigError('KMS_XKS_TLS_CLIENT_CA_FILE (mTLS) needs KMS_XKS_TLS_CERT_FILE and KMS_XKS_TLS_KEY_FILE');
  if (clientCn !== undefined && clientCaFile === undefined) throw new ConfigError('KMS_XKS_TLS_CLIENT_CN needs KMS_XKS_TLS_CLIENT_CA_FILE');
  if (port !== undefined) {
    if (configFile === undefined) throw new ConfigError('KMS_XKS_PORT needs KMS_XKS_CONFIG_FILE (the XKS proxy configuration file)');
    // Precondition: the XKS proxy is served without TLS only on a loopback address.
    if (certFile === undefined && !isLoopbackHost(host)) throw new ConfigError(`KMS_XKS_HOST ${host} is not a loopback address: set KMS_XKS_TLS_CERT_FILE and KMS_XKS_TLS_KEY_FILE`);
  }
  return {
    xks: {
      ...(port !== undefined ? { port } : {}),
      host,
      ...(configFile !== undefined ? { configFile } : {}),
      pollMs: integer(env, 'KMS_XKS_POLL_MS', 1000, 10, 3_600_000),
      ...(certFile !== undefined && keyFile !== undefined ? {
        tls: { certFile, keyFile, ...(clientCaFile !== undefined ? { clientCaFile } : {}), ...(clientCn !== undefined ? { clientCn } : {}) },
      } : {}),
      maxBodyBytes: integer(env, 'KMS_XKS_MAX_BODY_BYTES', 256 * 1024, 1024, 16 * 1024 * 1024),
      healthCacheMs: integer(env, 'KMS_XKS_HEALTH_CACHE_MS', 2000, 0, 60_000),
      tokenTimeoutMs: integer(env, 'KMS_XKS_TOKEN_TIMEOUT_MS', 1000, 10, 60_000),
    },
  };
}

const loaders: { [S in ConfigSection]: (env: Env) => Sections[S] } = {
  store: (env) => ({ dataDir: dataDirOf(env), metadataUri: env.KMS_METADATA_URI || undefined }),
  token: (env) => {
    const dataDir = dataDirOf(env);
    const pkcs11Module = env.KMS_PKCS11_MODULE || SOFTHSM_MODULE;
    if (!path.isAbsolute(pkcs11Module)) throw new ConfigError('KMS_PKCS11_MODULE must be an absolute path');
    const devSoftHsmConf = path.join(dataDir, 'softhsm2.conf');
    return {
      pkcs11Module,
      tokenLabel: env.KMS_TOKEN_LABEL || DEV_TOKEN_LABEL,
      pin: tokenPin(env, dataDir),
      softhsmConf: env.SOFTHSM2_CONF || (pkcs11Module === SOFTHSM_MODULE && existsSync(devSoftHsmConf) ? devSoftHsmConf : undefined),
      hsmProfile: env.KMS_HSM_PROFILE || undefined,
      sessionPoolSize: integer(env, 'KMS_SESSION_POOL_SIZE', 8, 1, 1024),
    };
  },
  identity: (env) => {
    const accountId = env.KMS_ACCOUNT_ID || '111122223333';
    if (!/^\d{12}$/.test(accountId)) throw new ConfigError('KMS_ACCOUNT_ID must be 12 digits');
    const region = env.KMS_REGION || 'us-east-1';
    if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) throw new ConfigError('KMS_REGION must look like us-east-1');
    return {
      accountId,
      region,
      root: rootCredentials(env, dataDirOf(env)),
      credentialsFile: env.KMS_CREDENTIALS_FILE || undefined,
      credentialsPollMs: integer(env, 'KMS_CREDENTIALS_POLL_MS', 1000, 10, 3_600_000),
      jwtIssuers: jwtIssuers(env),
    };
  },
  server: (env) => ({
    host: env.KMS_HOST || '127.0.0.1',
    port: integer(env, 'KMS_PORT', 8080, 0, 65535),
    maxBodyBytes: integer(env, 'KMS_MAX_BODY_BYTES', 256 * 1024, 1024, 64 * 1024 * 1024),
    instanceId: env.KMS_INSTANCE_ID || `${hostname()}:${integer(env, 'KMS_PORT', 8080, 0, 65535)}`,
  }),
  logging: (env) => ({ logLevel: env.KMS_LOG_LEVEL || 'info', logFile: env.KMS_LOG_FILE || undefined }),
  xks: xksSection,
};

/**
 * Only the sections a command needs, validated and frozen: a command that reads the store
 * alone never asks for a PIN or credentials.
 */
export function loadConfigSections<S extends ConfigSection>(sections: readonly S[], env: Env = process.env): Readonly<ConfigOf<S>> {
  return Object.freeze(Object.assign({}, ...sections.map((section) => loaders[section](env))) as ConfigOf<S>);
}

/** Every section: what the server needs. */
export function loadConfig(env: Env = process.env): Readonly<Config> {
  return loadConfigSections(['store', 'token', 'identity', 'server', 'logging', 'xks'], env);
}

/** The configuration with every secret replaced, safe to print or log. */
export function redactedConfig(config: Partial<Config>): Record<string, unknown> {
  const uri = config.metadataUri?.replace(/\/\/[^@/]*@/, '//***@');
  return {
    ...config,
    ...(config.metadataUri !== undefined ? { metadataUri: uri } : {}),
    ...(config.pin !== undefined ? { pin: '***' } : {}),
    ...(config.root ? { root: { accessKeyId: config.root.accessKeyId, secretAccessKey: '***' } } : {}),
  };
}
