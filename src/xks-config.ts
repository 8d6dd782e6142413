// The XKS proxy configuration file (KMS_XKS_CONFIG_FILE): the key stores the proxy serves, each
// under its own URI path prefix, with its SigV4 credentials (two or more at once, for rotation),
// optional secondary-authorization policies and an optional request quota. Pure checks on the
// file's text; the HTTP layer watches the file and reloads it. No message quotes a secret.
import { randomBytes } from 'node:crypto';
import { normalisePolicies, parseSecretJson } from './auth-config';
import { isPolicyValidationError, parsePolicy } from './core/access/policy';
import { isKeyStorePrefix } from './core/xks-proxy/external-key';

export interface XksCredential {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface XksKeyStoreConfig {
  /** '' or a path such as /keystores/alpha; the store's XksProxyUriPath is this followed by /kms/xks/v1. */
  uriPathPrefix: string;
  /** Free text for operators. */
  name?: string;
  credentials: XksCredential[];
  /** Secondary authorization: identity-style policy documents (JSON); none turns it off. */
  policies: string[];
  /** Requests per second this key store is allowed before ThrottlingException; unlimited when absent. */
  requestsPerSecond?: number;
}

export interface XksProxyConfig {
  /** xksProxyFleetSize in GetHealthStatus: how many instances serve these key stores. */
  fleetSize: number;
  keyStores: XksKeyStoreConfig[];
}

/** The spec's credential shapes (Appendix A and the console's configuration file). */
export const XKS_ACCESS_KEY_ID_PATTERN = /^[A-Z2-7]{20,30}$/;
export const XKS_SECRET_ACCESS_KEY_PATTERN = /^[A-Za-z0-9+/=]{43,64}$/;

export const XKS_API_PATH = '/kms/xks/v1';

/** 127.0.0.0/8, ::1 and localhost: the only addresses the XKS listener may serve plain HTTP on. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

const topKeys = new Set(['fleetSize', 'keyStores']);
const storeKeys = new Set(['uriPathPrefix', 'name', 'credentials', 'policies', 'requestsPerSecond']);

function object(value: unknown, where: string, keys: Set<string>): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where}: expected a JSON object`);
  const unknownKey = Object.keys(value).find((k) => !keys.has(k));
  if (unknownKey !== undefined) throw new Error(`${where}: unknown field '${unknownKey}'`);
  return value as Record<string, unknown>;
}

function credential(value: unknown, where: string): XksCredential {
  const entry = object(value, where, new Set(['accessKeyId', 'secretAccessKey']));
  // Precondition: an XKS access key id is 20 to 30 characters of A-Z and 2-7.
  if (typeof entry.accessKeyId !== 'string' || !XKS_ACCESS_KEY_ID_PATTERN.test(entry.accessKeyId)) {
    throw new Error(`${where}: accessKeyId must be 20 to 30 characters of A-Z and 2-7`);
  }
  // Precondition: an XKS secret access key is 43 to 64 characters of A-Z, a-z, 0-9, '+', '/' and '='.
  if (typeof entry.secretAccessKey !== 'string' || !XKS_SECRET_ACCESS_KEY_PATTERN.test(entry.secretAccessKey)) {
    throw new Error(`${where}: secretAccessKey must be 43 to 64 characters of A-Z, a-z, 0-9, '+', '/' and '='`);
  }
  return { accessKeyId: entry.accessKeyId, secretAccessKey: entry.secretAccessKey };
}

function policies(value: unknown, where: string): string[] {
  return normalisePolicies(value, where).map((text, i) => {
    try {
      parsePolicy(text, 'identity');
    } catch (e) {
      if (isPolicyValidationError(e)) throw new Error(`${where}: policy ${i}: ${e.message}`);
      throw e;
    }
    return text;
  });
}

/** Checks a configuration file's text; throws an Error naming the file, the entry and the field. */
export function parseXksProxyConfig(text: string, file: string): XksProxyConfig {
  const root = object(parseSecretJson(text, file), file, topKeys);
  const fleetSize = root.fleetSize ?? 1;
  if (typeof fleetSize !== 'number' || !Number.isInteger(fleetSize) || fleetSize < 1 || fleetSize > 1000) {
    throw new Error(`${file}: fleetSize must be an integer from 1 to 1000`);
  }
  if (!Array.isArray(root.keyStores)) throw new Error(`${file}: keyStores must be an array`);
  const prefixes = new Set<string>();
  const accessKeyIds = new Set<string>();
  const keyStores = root.keyStores.map((value: unknown, i): XksKeyStoreConfig => {
    const where = `${file}: keyStores[${i}]`;
    const entry = object(value, where, storeKeys);
    const prefix = entry.uriPathPrefix;
    // Precondition: a key store's URI path prefix is empty or 9 to 117 characters of '/'-separated segments of letters, digits, '-' and '_'.
    if (typeof prefix !== 'string' || !isKeyStorePrefix(prefix)) {
      throw new Error(`${where}: uriPathPrefix must be '' or 9 to 117 characters such as /keystores/alpha (segments of A-Z, a-z, 0-9, '-' and '_')`);
    }
    // Precondition: each URI path prefix names one key store.
    if (prefixes.has(prefix)) throw new Error(`${where}: uriPathPrefix '${prefix}' is used twice`);
    prefixes.add(prefix);
    if (entry.name !== undefined && (typeof entry.name !== 'string' || entry.name.length > 256)) throw new Error(`${where}: name must be a string of at most 256 characters`);
    if (!Array.isArray(entry.credentials) || entry.credentials.length === 0) throw new Error(`${where}: credentials must be a non-empty array`);
    const credentials = entry.credentials.map((c: unknown, j) => {
      const checked = credential(c, `${where}.credentials[${j}]`);
      // Precondition: an access key id identifies one secret in the whole configuration.
      if (accessKeyIds.has(checked.accessKeyId)) throw new Error(`${where}.credentials[${j}]: access key id ${checked.accessKeyId} is used twice`);
      accessKeyIds.add(checked.accessKeyId);
      return checked;
    });
    const rps = entry.requestsPerSecond;
    if (rps !== undefined && (typeof rps !== 'number' || !Number.isInteger(rps) || rps < 1 || rps > 1_000_000)) {
      throw new Error(`${where}: requestsPerSecond must be an integer from 1 to 1000000`);
    }
    return {
      uriPathPrefix: prefix,
      ...(entry.name !== undefined ? { name: entry.name as string } : {}),
      credentials,
      policies: policies(entry.policies, where),
      ...(rps !== undefined ? { requestsPerSecond: rps as number } : {}),
    };
  });
  return { fleetSize, keyStores };
}

/** What the AWS KMS console accepts for a key store (XKS proxy configuration file). */
export function consoleConfiguration(store: Pick<XksKeyStoreConfig, 'uriPathPrefix'>, credential: XksCredential): object {
  return {
    XksProxyUriPath: `${store.uriPathPrefix}${XKS_API_PATH}`,
    XksProxyAuthenticationCredential: { AccessKeyId: credential.accessKeyId, RawSecretAccessKey: credential.secretAccessKey },
  };
}

const base32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A fresh credential for a key store: a 26-character access key id of A-Z and 2-7, and base64 of 32 random bytes. */
export function generateXksCredential(): XksCredential {
  const accessKeyId = [...randomBytes(26)].map((b) => base32[b & 31]).join('');
  return { accessKeyId, secretAccessKey: randomBytes(32).toString('base64') };
}
