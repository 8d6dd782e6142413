// AWS_CLOUDHSM custom key stores as further PKCS#11 tokens the operator declared
// (KMS_HSM_CLUSTERS_FILE), each named by a cluster id. Connecting logs in to the token with the
// store's PIN and opens a session pool of its own; the store offers AES keys, AES-GCM and
// random bytes, and nothing else a token could do (key pairs, HMAC, import, external keys), so
// core refuses those for keys in a custom key store.
//
// Connecting is bounded: the PIN is first tried by a short-lived child process, which is killed
// when the token does not answer in time. pkcs11js has no asynchronous C_Initialize or C_Login,
// so the same calls made in this process would block the event loop for as long as a module
// hangs; after the child succeeded, they are quick.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { HsmClusterDeclaration } from '../config';
import { KmsError } from '../core/errors';
import { KeyStoreConnectionError, type TokenClusters } from '../core/key-stores/connectors';
import type { AesGcmSealed, KeyObjectCapability, KeyStore, KeyStoreCall } from '../core/key-stores/port';
import type { ConnectionErrorCode } from '../core/model';
import { ckrName } from './errors';
import { LoginFailedError, ModuleLoadError, PinRefusedError, TokenNotFoundError, type SessionPoolStats, type TokenOperationObserver } from './sessions';
import { Pkcs11Token } from './token';

/** How long connecting may take before it fails with NETWORK_ERRORS. */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Why a connection failed: a CKR name, or one of ours for what is not a PKCS#11 return code.
 * Each row is the ConnectionErrorCode AWS reports for the like failure of a CloudHSM cluster;
 * any cause not listed is INTERNAL_ERROR.
 */
export const connectionErrorCodes = {
  /** The PIN is wrong, or not a PIN the token could accept. */
  CKR_PIN_INCORRECT: 'INVALID_CREDENTIALS',
  CKR_PIN_INVALID: 'INVALID_CREDENTIALS',
  CKR_PIN_LEN_RANGE: 'INVALID_CREDENTIALS',
  CKR_PIN_EXPIRED: 'INVALID_CREDENTIALS',
  /** Too many wrong PINs: the token locked its user. */
  CKR_PIN_LOCKED: 'USER_LOCKED_OUT',
  /** The token has no user PIN yet: there is no user to log in as (AWS: no kmsuser). */
  CKR_USER_PIN_NOT_INITIALIZED: 'USER_NOT_FOUND',
  /** This process is logged in to the token already (another store, or the default token). */
  CKR_USER_ALREADY_LOGGED_IN: 'USER_LOGGED_IN',
  CKR_USER_ANOTHER_ALREADY_LOGGED_IN: 'USER_LOGGED_IN',
  /** The module file is missing, or not a PKCS#11 library. */
  MODULE_NOT_LOADED: 'CLUSTER_NOT_FOUND',
  /** The module loads but will not initialise (SoftHSM: its configuration file is unusable). */
  MODULE_NOT_INITIALIZED: 'CLUSTER_NOT_FOUND',
  /** No token with the declared label. */
  TOKEN_NOT_FOUND: 'CLUSTER_NOT_FOUND',
  CKR_TOKEN_NOT_RECOGNIZED: 'CLUSTER_NOT_FOUND',
  /** The token is there but does not answer. */
  CKR_DEVICE_ERROR: 'NETWORK_ERRORS',
  CKR_DEVICE_REMOVED: 'NETWORK_ERRORS',
  CKR_TOKEN_NOT_PRESENT: 'NETWORK_ERRORS',
  /** No answer within the connect timeout. */
  TIMEOUT: 'NETWORK_ERRORS',
} as const satisfies Record<string, ConnectionErrorCode>;

export type ConnectFailureCause = keyof typeof connectionErrorCodes;

export function connectionErrorCodeFor(cause: string): ConnectionErrorCode {
  return (connectionErrorCodes as Record<string, ConnectionErrorCode>)[cause] ?? 'INTERNAL_ERROR';
}

/** The cause (a row of connectionErrorCodes, or something else: INTERNAL_ERROR) of an error thrown while connecting. */
export function connectFailureCause(error: unknown): string {
  if (error instanceof ConnectTimeout) return 'TIMEOUT';
  if (error instanceof ModuleLoadError) return 'MODULE_NOT_LOADED';
  if (error instanceof TokenNotFoundError) return 'TOKEN_NOT_FOUND';
  if (error instanceof PinRefusedError || error instanceof LoginFailedError) return error.code;
  return ckrName(error) ?? (error instanceof Error ? error.name : 'unknown');
}

/** Connecting took longer than its bound. */
export class ConnectTimeout extends Error {
  constructor(ms: number) {
    super(`the token did not answer within ${ms} ms`);
    this.name = 'ConnectTimeout';
  }
}

/** Removes every occurrence of `pin` from `text`. */
function redact(text: string, pin: string): string {
  return pin === '' ? text : text.split(pin).join('***');
}

/** The KeyStoreConnectionError for `error`, whose detail never carries the PIN. */
export function connectionError(error: unknown, pin: string, context: string): KeyStoreConnectionError {
  const cause = connectFailureCause(error);
  const what = error instanceof Error ? error.message : String(error);
  return new KeyStoreConnectionError(connectionErrorCodeFor(cause), redact(`${context}: ${what}`, pin));
}

/** A failure the preflight child reported: a cause from the table (or a CKR name) and what it saw. */
class PreflightFailure extends Error {
  constructor(readonly reason: string, detail: string) {
    super(detail);
    this.name = 'PreflightFailure';
  }
}

/**
 * The preflight, run by `node -e` in a process of its own: loads the module, finds the token by
 * label, logs in with the PIN read from stdin, logs out and finalises. Prints {"ok":true} or
 * {"cause","detail"}; the PIN is never printed.
 */
const PREFLIGHT = String.raw`
'use strict';
const input = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const pkcs11js = require(input.pkcs11js);
const out = (o) => process.stdout.write(JSON.stringify(o));
const ckr = (e) => e instanceof pkcs11js.Pkcs11Error
  ? (Object.keys(pkcs11js).find((k) => k.startsWith('CKR_') && pkcs11js[k] === e.code) || 'CKR_0x' + e.code.toString(16))
  : undefined;
const message = (e) => (e instanceof Error ? e.message : String(e));
function main() {
  const lib = new pkcs11js.PKCS11();
  try { lib.load(input.module); } catch (e) { return out({ cause: 'MODULE_NOT_LOADED', detail: 'cannot load the module: ' + message(e) }); }
  try { lib.C_Initialize(); } catch (e) {
    const code = ckr(e);
    return out({ cause: code && input.causes.includes(code) ? code : 'MODULE_NOT_INITIALIZED', detail: 'C_Initialize failed: ' + (code || message(e)) });
  }
  try {
    const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.replace(/[\s\0]+$/, '') === input.tokenLabel);
    if (slot === undefined) return out({ cause: 'TOKEN_NOT_FOUND', detail: 'the module lists no token labelled ' + JSON.stringify(input.tokenLabel) });
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      lib.C_Login(session, pkcs11js.CKU_USER, input.pin);
    } catch (e) {
      return out({ cause: ckr(e) || 'LOGIN_FAILED', detail: 'C_Login failed: ' + (ckr(e) || (e instanceof Error ? e.name : 'error')) });
    }
    try { lib.C_Logout(session); } catch (e) { /* closing the session logs out too */ }
    lib.C_CloseSession(session);
    return out({ ok: true });
  } catch (e) {
    return out({ cause: ckr(e) || 'UNEXPECTED', detail: ckr(e) || message(e) });
  } finally {
    try { lib.C_Finalize(); } catch (e) { /* exiting anyway */ }
  }
}
main();
`;

/** Tries the PIN in a child process; rejects with PreflightFailure or ConnectTimeout. */
function preflight(cluster: HsmClusterDeclaration, pin: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', PREFLIGHT], {
      env: { ...process.env, ...(cluster.softhsmConf ? { SOFTHSM2_CONF: cluster.softhsmConf } : {}) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      settle(new ConnectTimeout(timeoutMs));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', (e) => settle(new PreflightFailure('UNEXPECTED', `cannot start the connection check: ${e.message}`)));
    child.on('close', (code, signal) => {
      let answer: { ok?: boolean; cause?: string; detail?: string } | undefined;
      try {
        answer = JSON.parse(stdout) as typeof answer;
      } catch {
        answer = undefined;
      }
      if (answer?.ok) return settle();
      if (answer?.cause) return settle(new PreflightFailure(answer.cause, answer.detail ?? answer.cause));
      // A module that crashed the child; its stderr's last line says what it could.
      const last = stderr.trim().split('\n').pop() ?? '';
      settle(new PreflightFailure('UNEXPECTED', `the connection check ended with ${signal ?? `exit code ${code}`}${last ? `: ${last}` : ''}`));
    });
    child.stdin.on('error', () => { /* the child died first; 'close' reports it */ });
    child.stdin.end(JSON.stringify({
      pkcs11js: require.resolve('pkcs11js'), module: cluster.module, tokenLabel: cluster.tokenLabel, pin, causes: Object.keys(connectionErrorCodes),
    }));
  });
}

export interface TokenClustersOptions {
  /** Sessions per connected store. */
  poolSize?: number;
  /** How long a request waits for a session. */
  acquireTimeoutMs?: number;
  /** How long connecting may take. */
  connectTimeoutMs?: number;
  reconnectDelayMs?: { initial: number; max: number };
  profileDir?: string;
  /** The observer told the duration of each key operation of a connected store's token (metrics). */
  operationObserverFor?: (customKeyStoreId: string) => TokenOperationObserver;
}

const notConnected = (id: string) => new KmsError('KMSInvalidStateException', `Custom key store ${id} is not connected.`, 'custom key store closed');

/**
 * A connected custom key store: the token's AES-GCM, random bytes and key objects, nothing
 * more. A backing key someone deleted from the token is KMSInvalidStateException.
 */
export class ClusterKeyStore implements KeyStore {
  readonly id: string;
  readonly keyObjects: KeyObjectCapability;
  /** A private field proper, so nothing reaches the token's other capabilities through the store. */
  readonly #token: Pkcs11Token;
  private closed = false;

  constructor(token: Pkcs11Token, readonly clusterId: string) {
    this.#token = token;
    this.id = token.id;
    const objects = token.keyObjects;
    this.keyObjects = Object.freeze({
      generateAesKey: (objectId: string, label: string) => this.use(() => objects.generateAesKey(objectId, label)),
      destroyKey: (objectId: string) => this.use(() => objects.destroyKey(objectId)),
      hasKey: (objectId: string) => this.use(() => objects.hasKey(objectId)),
      destroyUnnamed: () => this.use(() => objects.destroyUnnamed()),
    });
  }

  encrypt(backingKeyId: string, aad: Buffer, plaintext: Buffer, call?: KeyStoreCall): Promise<AesGcmSealed> {
    return this.withBackingKey(backingKeyId, () => this.#token.encrypt(backingKeyId, aad, plaintext, call));
  }

  decrypt(backingKeyId: string, aad: Buffer, sealed: AesGcmSealed, call?: KeyStoreCall): Promise<Buffer> {
    return this.withBackingKey(backingKeyId, () => this.#token.decrypt(backingKeyId, aad, sealed, call));
  }

  randomBytes(length: number): Promise<Buffer> {
    return this.use(() => this.#token.randomBytes(length));
  }

  async isHealthy(): Promise<boolean> {
    return !this.closed && this.#token.isHealthy();
  }

  /** The token's session pool counters, for metrics. */
  poolStats(): SessionPoolStats {
    return this.#token.poolStats();
  }

  /** Logs out and closes every session; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.#token.close();
  }

  private async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw notConnected(this.id);
    return fn();
  }

  /**
   * The token answers KeyUnavailableException only once its health key proved it works
   * (token-objects.ts): the object itself is gone.
   */
  private async withBackingKey<T>(backingKeyId: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.use(fn);
    } catch (e) {
      if (e instanceof KmsError && e.code === 'KeyUnavailableException') {
        throw new KmsError(
          'KMSInvalidStateException',
          `The key material for this KMS key is missing from the token of custom key store ${this.id} (cluster ${this.clusterId}).`,
          `backing key object ${backingKeyId} not found in the token: ${e.detail ?? e.message}`,
        );
      }
      throw e;
    }
  }
}

/** The declared clusters (KMS_HSM_CLUSTERS_FILE) as the TokenClusters port. */
export class Pkcs11TokenClusters implements TokenClusters {
  private readonly clusters: ReadonlyMap<string, HsmClusterDeclaration>;

  constructor(declarations: readonly HsmClusterDeclaration[], private readonly options: TokenClustersOptions = {}) {
    this.clusters = new Map(declarations.map((d) => [d.id, d]));
  }

  has(clusterId: string): boolean {
    return this.clusters.has(clusterId);
  }

  ids(): string[] {
    return [...this.clusters.keys()];
  }

  async connect(customKeyStoreId: string, clusterId: string, pin: string): Promise<KeyStore> {
    const cluster = this.clusters.get(clusterId);
    if (!cluster) throw new KeyStoreConnectionError('CLUSTER_NOT_FOUND', `cluster ${clusterId} is not declared in KMS_HSM_CLUSTERS_FILE`);
    const context = `cluster ${clusterId} (token '${cluster.tokenLabel}' in ${cluster.module})`;
    if (cluster.softhsmConf !== undefined && !existsSync(cluster.softhsmConf)) {
      throw new KeyStoreConnectionError('CLUSTER_NOT_FOUND', `${context}: its softhsmConf ${cluster.softhsmConf} does not exist`);
    }
    try {
      await preflight(cluster, pin, this.options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
    } catch (e) {
      if (e instanceof PreflightFailure) throw new KeyStoreConnectionError(connectionErrorCodeFor(e.reason), redact(`${context}: ${e.message}`, pin));
      throw connectionError(e, pin, context);
    }
    let token: Pkcs11Token;
    try {
      token = Pkcs11Token.open({
        tokenId: customKeyStoreId,
        modulePath: cluster.module,
        tokenLabel: cluster.tokenLabel,
        pin,
        poolSize: this.options.poolSize ?? 4,
        acquireTimeoutMs: this.options.acquireTimeoutMs ?? 10_000,
        reconnectDelayMs: this.options.reconnectDelayMs ?? { initial: 100, max: 10_000 },
        moduleEnvironment: cluster.softhsmConf ? { SOFTHSM2_CONF: cluster.softhsmConf } : undefined,
        exclusiveLogin: true,
        profileDir: this.options.profileDir,
        ...(this.options.operationObserverFor ? { observeOperation: this.options.operationObserverFor(customKeyStoreId) } : {}),
      });
    } catch (e) {
      const error = connectionError(e, pin, context);
      if (e instanceof TokenNotFoundError) {
        // The check in a fresh process found the token: this process's instance of the module
        // listed its tokens before the token was made (SoftHSM rescans only at C_Initialize).
        throw new KeyStoreConnectionError(error.code, `${error.detail}; the token exists, but this process's instance of the module does not list it yet (restart the service)`);
      }
      throw error;
    }
    // The store works, and has its health key for telling a missing object from an outage.
    if (!(await token.checkHealth())) {
      await token.close();
      throw new KeyStoreConnectionError('INTERNAL_ERROR', `${context}: logged in, but an AES-GCM round trip with the store's health key failed`);
    }
    return new ClusterKeyStore(token, clusterId);
  }
}
