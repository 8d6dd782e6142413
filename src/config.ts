// The only reader of process.env. Values are validated once at start-up and frozen;
// secrets are redacted whenever the configuration is printed.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
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

/**
 * A PKCS#11 token the operator declared for AWS_CLOUDHSM custom key stores, named by the
 * cluster id CreateCustomKeyStore gives. The store's PIN comes with the API call, never from here.
 */
export interface HsmClusterDeclaration {
  /** AWS's cluster id form: "cluster-" and 11 to 16 characters of a-z and 2-7. */
  id: string;
  /** Absolute path of the PKCS#11 module. */
  module: string;
  tokenLabel: string;
  /** SoftHSM's configuration file, exported to the module as SOFTHSM2_CONF; absent: the process's own. */
  softhsmConf?: string;
}

/** The tokens custom key stores may use (KMS_HSM_CLUSTERS_FILE); none when it is unset. */
export interface ClustersConfig {
  hsmClustersFile?: string;
  hsmClusters: readonly HsmClusterDeclaration[];
}

/** How this service, as AWS KMS, calls the XKS proxies of external key stores. */
export interface XksClientConfig {
  /** Extra CA certificates (PEM) trusted for proxies besides the system's. */
  xksClientCaFile?: string;
  /** Deadline of one call to a proxy (AWS: 250 ms); a network timeout is retried once. */
  xksClientTimeoutMs: number;
}

/** Who the service is. */
export interface AccountConfig {
  accountId: string;
  region: string;
}

/** Who the service is (account, region) and who may call it. */
export interface IdentityConfig extends AccountConfig {
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
  /**
   * Worker processes serving the same port (KMS_WORKERS): each is an instance of its own, with
   * the id `<instanceId>#<index>`. 1 is a single process, with no cluster primary.
   */
  workers: number;
  /** The admin listener (metrics, health): off when adminPort is undefined. */
  adminPort?: number;
  adminHost: string;
  /** HTTPS on KMS_PORT: the certificate (chain) and key files, polled every tlsPollMs and reloaded when they change. */
  tls?: { certFile: string; keyFile: string };
  tlsPollMs: number;
  /** KMS_TLS_DEV_CERT: tls names a development CA and certificate under the data directory, made at start-up when missing. */
  tlsDevCert: boolean;
  /** KMS_SEED_FILE: keys to create (or check) at start-up, a test-suite convenience; off unless set. */
  seedFile?: string;
}

/** Where KMS_TLS_DEV_CERT keeps its files, under the data directory. */
export const DEV_TLS_DIR = 'tls';

/** The admin listener and TLS settings of the server section. */
function operatorSettings(env: Env): Pick<ServerConfig, 'adminPort' | 'adminHost' | 'tls' | 'tlsPollMs' | 'tlsDevCert'> {
  const adminPort = env.KMS_ADMIN_PORT ? integer(env, 'KMS_ADMIN_PORT', 0, 0, 65535) : undefined;
  const certFile = filePath(env, 'KMS_TLS_CERT_FILE');
  const keyFile = filePath(env, 'KMS_TLS_KEY_FILE');
  const tlsDevCert = env.KMS_TLS_DEV_CERT === '1' || env.KMS_TLS_DEV_CERT === 'true';
  // Precondition: the KMS endpoint's TLS needs both a certificate file and a key file, or neither.
  if ((certFile === undefined) !== (keyFile === undefined)) throw new ConfigError('set both KMS_TLS_CERT_FILE and KMS_TLS_KEY_FILE, or neither');
  if (tlsDevCert && certFile !== undefined) throw new ConfigError('KMS_TLS_DEV_CERT makes its own certificate: unset it, or unset KMS_TLS_CERT_FILE and KMS_TLS_KEY_FILE');
  const devDir = path.join(dataDirOf(env), DEV_TLS_DIR);
  const tls = tlsDevCert ? { certFile: path.join(devDir, 'server.pem'), keyFile: path.join(devDir, 'server.key') } : certFile && keyFile ? { certFile, keyFile } : undefined;
  return {
    ...(adminPort !== undefined ? { adminPort } : {}),
    adminHost: env.KMS_ADMIN_HOST || '127.0.0.1',
    ...(tls ? { tls } : {}),
    tlsPollMs: integer(env, 'KMS_TLS_POLL_MS', 1000, 10, 3_600_000),
    tlsDevCert,
  };
}

/** KMS_SEED_FILE, a test-suite convenience: allowed only while the service listens on a loopback address. */
function seedingSettings(env: Env, host: string): Pick<ServerConfig, 'seedFile'> {
  const seedFile = filePath(env, 'KMS_SEED_FILE');
  if (seedFile === undefined) return {};
  // Precondition: seeding is refused when the service listens on anything but a loopback address.
  if (!isLoopbackHost(host)) {
    throw new ConfigError(`KMS_SEED_FILE is a test-suite convenience and KMS_HOST ${host} is not a loopback address: unset KMS_SEED_FILE, or listen on 127.0.0.1, ::1 or localhost`);
  }
  return { seedFile };
}

/** The most worker processes KMS_WORKERS may ask for (and the default's ceiling). */
export const MAX_WORKERS = 64;

export interface LoggingConfig {
  logLevel: string;
  logFile?: string;
}

/** The audit trail (KMS_AUDIT): on unless turned off. */
export interface AuditConfig {
  audit: {
    /** Record every call in the metadata store before answering it; a record that cannot be written fails the call. */
    enabled: boolean;
  };
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

/** The audit trail's signed digests, retention and export. */
export interface AuditIntegrityConfig {
  auditIntegrity: {
    /** How often the chain head is signed (also on shutdown). */
    digestIntervalSeconds: number;
    /** undefined: records are kept forever. */
    retentionDays?: number;
    /** undefined: no export. CloudTrail-format log files and signed digest files go here. */
    exportDir?: string;
    /** A log file is closed at this many bytes of JSON (before gzip)... */
    exportMaxFileBytes: number;
    /** ...or when its oldest record is this old. */
    exportMaxFileSeconds: number;
  };
}

/**
 * The test-suite conveniences (KMS_DEV_*): each off unless set to `on`, and refused at start-up
 * unless KMS_HOST is a loopback address, since each one gives up a protection AWS KMS has.
 */
export interface DevConfig {
  dev: {
    /** KMS_DEV_ANY_CREDENTIALS: an unknown access key id signs as the account root, its signature unverified. */
    anyCredentials: boolean;
    /** KMS_DEV_RESET: POST /moto-api/reset and /hsm-kms/reset delete every key, alias, grant, custom key store and audit record. */
    reset: boolean;
  };
}

interface Sections {
  store: StoreConfig;
  token: TokenConfig;
  identity: IdentityConfig;
  server: ServerConfig;
  logging: LoggingConfig;
  audit: AuditConfig;
  xks: XksConfig;
  clusters: ClustersConfig;
  xksClient: XksClientConfig;
  auditIntegrity: AuditIntegrityConfig;
  account: AccountConfig;
  dev: DevConfig;
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
  // KMS_ROOT_CREDENTIALS_FILE: the same JSON from elsewhere, e.g. a Docker secret, so no secret sits in the environment.
  const generated = env.KMS_ROOT_CREDENTIALS_FILE || path.join(dataDir, 'root-credentials.json');
  if (env.KMS_ROOT_CREDENTIALS_FILE && !existsSync(generated)) throw new ConfigError(`KMS_ROOT_CREDENTIALS_FILE ${generated} does not exist`);
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

const pkcs11ModuleOf = (env: Env) => env.KMS_PKCS11_MODULE || SOFTHSM_MODULE;
const tokenLabelOf = (env: Env) => env.KMS_TOKEN_LABEL || DEV_TOKEN_LABEL;

/** The default token's SoftHSM configuration: SOFTHSM2_CONF, else the dev token's in the data directory. */
function defaultSoftHsmConf(env: Env, pkcs11Module: string): string | undefined {
  const devSoftHsmConf = path.join(dataDirOf(env), 'softhsm2.conf');
  return env.SOFTHSM2_CONF || (pkcs11Module === SOFTHSM_MODULE && existsSync(devSoftHsmConf) ? devSoftHsmConf : undefined);
}

const clusterFields = ['id', 'module', 'tokenLabel', 'softhsmConf'];
/** AWS's CloudHSM cluster ids: "cluster-" and base32 (a-z, 2-7). */
const CLUSTER_ID = /^cluster-[a-z2-7]{11,16}$/;
/** CK_TOKEN_INFO.label is 32 bytes. */
const MAX_TOKEN_LABEL_BYTES = 32;

/** The token a module and a label name, with the SoftHSM configuration the module would read. */
interface TokenIdentity { module: string; tokenLabel: string; softhsmConf?: string }

const sameToken = (a: TokenIdentity, b: TokenIdentity) => a.module === b.module && a.tokenLabel === b.tokenLabel && a.softhsmConf === b.softhsmConf;

/**
 * The HSM clusters file: {"clusters": [{"id", "module", "tokenLabel", "softhsmConf"?}]}, checked
 * strictly. `defaultToken` (with `processSoftHsmConf`, the SOFTHSM2_CONF a module without its own
 * reads) is refused as a cluster: its login is the service's, not a custom key store's.
 */
export function parseHsmClusters(text: string, file: string, defaultToken?: TokenIdentity, processSoftHsmConf?: string): HsmClusterDeclaration[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`HSM clusters file ${file} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Array.isArray((parsed as { clusters?: unknown }).clusters)) {
    throw new ConfigError(`HSM clusters file ${file} must hold an object with a "clusters" array`);
  }
  const extra = Object.keys(parsed).filter((k) => k !== 'clusters');
  if (extra.length > 0) throw new ConfigError(`HSM clusters file ${file} has an unknown top-level field '${extra[0]}' (only "clusters" is allowed)`);
  const entries = (parsed as { clusters: unknown[] }).clusters;
  const declared: HsmClusterDeclaration[] = [];
  const effective = (c: HsmClusterDeclaration): TokenIdentity => ({ module: c.module, tokenLabel: c.tokenLabel, softhsmConf: c.softhsmConf ?? processSoftHsmConf });
  entries.forEach((entry, i) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new ConfigError(`HSM clusters file ${file}: clusters[${i}] must be an object`);
    const e = entry as Record<string, unknown>;
    const where = `HSM clusters file ${file}: clusters[${i}]${typeof e.id === 'string' ? ` (${e.id})` : ''}`;
    if ('slot' in e) throw new ConfigError(`${where} has a "slot", which is not supported: the token is found by its tokenLabel`);
    const unknown = Object.keys(e).find((k) => !clusterFields.includes(k));
    if (unknown !== undefined) throw new ConfigError(`${where} has an unknown field '${unknown}' (allowed: ${clusterFields.join(', ')})`);
    if (typeof e.id !== 'string' || !CLUSTER_ID.test(e.id)) {
      throw new ConfigError(`${where} needs an "id" of the form cluster-<11 to 16 characters of a-z and 2-7>, like AWS cluster ids`);
    }
    const duplicate = declared.findIndex((d) => d.id === e.id);
    if (duplicate >= 0) throw new ConfigError(`${where} repeats the id of clusters[${duplicate}]`);
    if (typeof e.module !== 'string' || e.module === '') throw new ConfigError(`${where} needs a "module": the absolute path of its PKCS#11 module`);
    if (!path.isAbsolute(e.module)) throw new ConfigError(`${where} has module '${e.module}', which is not an absolute path`);
    if (typeof e.tokenLabel !== 'string' || e.tokenLabel === '' || Buffer.byteLength(e.tokenLabel) > MAX_TOKEN_LABEL_BYTES || e.tokenLabel !== e.tokenLabel.trim()) {
      throw new ConfigError(`${where} needs a "tokenLabel" of 1 to ${MAX_TOKEN_LABEL_BYTES} bytes without leading or trailing blanks`);
    }
    if (e.softhsmConf !== undefined && (typeof e.softhsmConf !== 'string' || !path.isAbsolute(e.softhsmConf))) {
      throw new ConfigError(`${where} has a "softhsmConf" that is not an absolute path`);
    }
    const cluster: HsmClusterDeclaration = {
      id: e.id, module: path.normalize(e.module), tokenLabel: e.tokenLabel,
      ...(e.softhsmConf !== undefined ? { softhsmConf: path.normalize(e.softhsmConf as string) } : {}),
    };
    const sharing = declared.findIndex((d) => sameToken(effective(d), effective(cluster)));
    if (sharing >= 0) throw new ConfigError(`${where} declares the same token as clusters[${sharing}] (one token backs one cluster)`);
    if (defaultToken && sameToken(defaultToken, effective(cluster))) {
      throw new ConfigError(`${where} declares the default token (KMS_TOKEN_LABEL '${defaultToken.tokenLabel}'), which cannot back a custom key store`);
    }
    declared.push(cluster);
  });
  return declared;
}

function clustersSection(env: Env): ClustersConfig {
  const file = filePath(env, 'KMS_HSM_CLUSTERS_FILE');
  if (file === undefined) return { hsmClusters: [] };
  const pkcs11Module = pkcs11ModuleOf(env);
  const processConf = env.SOFTHSM2_CONF ? path.normalize(env.SOFTHSM2_CONF) : undefined;
  const defaultConf = defaultSoftHsmConf(env, pkcs11Module);
  const defaultToken = { module: path.normalize(pkcs11Module), tokenLabel: tokenLabelOf(env), softhsmConf: defaultConf ? path.normalize(defaultConf) : processConf };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read the HSM clusters file ${file} (KMS_HSM_CLUSTERS_FILE): ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  return { hsmClustersFile: file, hsmClusters: Object.freeze(parseHsmClusters(text, file, defaultToken, processConf)) };
}

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

/** Who the service is, without who may call it: what commands naming the account need. */
function accountSection(env: Env): AccountConfig {
  const accountId = env.KMS_ACCOUNT_ID || '111122223333';
  if (!/^\d{12}$/.test(accountId)) throw new ConfigError('KMS_ACCOUNT_ID must be 12 digits');
  const region = env.KMS_REGION || 'us-east-1';
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) throw new ConfigError('KMS_REGION must look like us-east-1');
  return { accountId, region };
}

/** An on/off variable, off unless set. */
function onOff(env: Env, name: string): boolean {
  const value = (env[name] || 'off').toLowerCase();
  if (value !== 'on' && value !== 'off') throw new ConfigError(`${name} must be on or off`);
  return value === 'on';
}

function devSection(env: Env): DevConfig {
  const anyCredentials = onOff(env, 'KMS_DEV_ANY_CREDENTIALS');
  const reset = onOff(env, 'KMS_DEV_RESET');
  const on = [...(anyCredentials ? ['KMS_DEV_ANY_CREDENTIALS'] : []), ...(reset ? ['KMS_DEV_RESET'] : [])];
  const host = env.KMS_HOST || '127.0.0.1';
  // Precondition: the test-suite conveniences are refused unless the KMS endpoint listens on a loopback address.
  if (on.length > 0 && !isLoopbackHost(host)) {
    throw new ConfigError(`${on.join(' and ')} ${on.length > 1 ? 'are' : 'is'} for test suites on one machine: KMS_HOST ${host} is not a loopback address (127.0.0.0/8, ::1, localhost); unset ${on.join(' and ')} or listen on 127.0.0.1`);
  }
  // A reset restarts the audit chain at record 1; exported files would then describe a chain that is gone.
  if (reset && env.KMS_AUDIT_EXPORT_DIR) throw new ConfigError('KMS_DEV_RESET clears the audit trail, which KMS_AUDIT_EXPORT_DIR exports: unset one of them');
  return { dev: { anyCredentials, reset } };
}

const loaders: { [S in ConfigSection]: (env: Env) => Sections[S] } = {
  store: (env) => ({ dataDir: dataDirOf(env), metadataUri: env.KMS_METADATA_URI || undefined }),
  token: (env) => {
    const dataDir = dataDirOf(env);
    const pkcs11Module = pkcs11ModuleOf(env);
    if (!path.isAbsolute(pkcs11Module)) throw new ConfigError('KMS_PKCS11_MODULE must be an absolute path');
    return {
      pkcs11Module,
      tokenLabel: tokenLabelOf(env),
      pin: tokenPin(env, dataDir),
      softhsmConf: defaultSoftHsmConf(env, pkcs11Module),
      hsmProfile: env.KMS_HSM_PROFILE || undefined,
      sessionPoolSize: integer(env, 'KMS_SESSION_POOL_SIZE', 8, 1, 1024),
    };
  },
  account: accountSection,
  identity: (env) => {
    return {
      ...accountSection(env),
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
    workers: integer(env, 'KMS_WORKERS', Math.min(availableParallelism(), MAX_WORKERS), 1, MAX_WORKERS),
    ...operatorSettings(env),
    ...seedingSettings(env, env.KMS_HOST || '127.0.0.1'),
  }),
  logging: (env) => ({ logLevel: env.KMS_LOG_LEVEL || 'info', logFile: env.KMS_LOG_FILE || undefined }),
  audit: (env) => {
    const value = (env.KMS_AUDIT || 'on').toLowerCase();
    if (value !== 'on' && value !== 'off') throw new ConfigError('KMS_AUDIT must be on or off');
    return { audit: { enabled: value === 'on' } };
  },
  xks: xksSection,
  dev: devSection,
  clusters: clustersSection,
  xksClient: (env) => ({
    xksClientCaFile: filePath(env, 'KMS_XKS_CLIENT_CA_FILE'),
    xksClientTimeoutMs: integer(env, 'KMS_XKS_CLIENT_TIMEOUT_MS', 250, 10, 60_000),
  }),
  auditIntegrity: (env) => {
    const retention = env.KMS_AUDIT_RETENTION_DAYS;
    const exportDir = filePath(env, 'KMS_AUDIT_EXPORT_DIR');
    return {
      auditIntegrity: {
        digestIntervalSeconds: integer(env, 'KMS_AUDIT_DIGEST_INTERVAL_SECONDS', 3600, 1, 7 * 86_400),
        ...(retention !== undefined && retention !== '' ? { retentionDays: integer(env, 'KMS_AUDIT_RETENTION_DAYS', 0, 1, 36_500) } : {}),
        ...(exportDir !== undefined ? { exportDir } : {}),
        exportMaxFileBytes: integer(env, 'KMS_AUDIT_EXPORT_MAX_FILE_BYTES', 5 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
        exportMaxFileSeconds: integer(env, 'KMS_AUDIT_EXPORT_MAX_FILE_SECONDS', 300, 1, 86_400),
      },
    };
  },
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
  return loadConfigSections(['store', 'token', 'identity', 'server', 'logging', 'audit', 'xks', 'clusters', 'xksClient', 'auditIntegrity', 'dev'], env);
}

/** Set by the primary in each worker's environment, never by an operator: which worker this is. */
export const WORKER_INDEX_VARIABLE = 'HSM_KMS_WORKER_INDEX';
/** Set with WORKER_INDEX_VARIABLE: '1' when no other worker of this service runs yet. */
export const WORKER_ALONE_VARIABLE = 'HSM_KMS_WORKER_ALONE';

/** A worker's place among its siblings, as its primary gave it. */
export interface WorkerRole {
  index: number;
  /** Started while none of its siblings runs: the leases of this service's earlier processes are its own leftovers. */
  startsAlone: boolean;
}

/** The role the primary gave this worker process (only meaningful in a node:cluster worker). */
export function workerRoleFrom(env: Env = process.env): WorkerRole {
  const index = Number(env[WORKER_INDEX_VARIABLE]);
  if (!Number.isInteger(index) || index < 0 || index >= MAX_WORKERS) throw new ConfigError(`${WORKER_INDEX_VARIABLE} must be set by the primary to a worker index`);
  return { index, startsAlone: env[WORKER_ALONE_VARIABLE] === '1' };
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
