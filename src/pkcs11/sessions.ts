// A connection to one token: the module loaded by absolute path, the token found by label,
// one login, and a bounded pool of sessions lent out through withSession(). A device or
// session error rebuilds the connection with backoff.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path, { isAbsolute } from 'node:path';
import * as pkcs11js from 'pkcs11js';
import { KmsError } from '../core/errors';
import { ckrName, isConnectionLost, isSessionSuspect } from './errors';

export interface ConnectionOptions {
  modulePath: string;
  tokenLabel: string;
  pin: string;
  poolSize: number;
  /** How long a request waits for a session (or for a reconnect) before failing. */
  acquireTimeoutMs: number;
  reconnectDelayMs: { initial: number; max: number };
  /** Environment the module reads at C_Initialize (SoftHSM: SOFTHSM2_CONF). */
  moduleEnvironment?: Record<string, string>;
  /**
   * The login must be this connection's own: a token this process is logged in to already
   * (CKR_USER_ALREADY_LOGGED_IN, which a token answers before it looks at the PIN) is refused
   * with LoginFailedError, and close() logs out. For custom key stores, whose PIN is checked.
   */
  exclusiveLogin?: boolean;
  /** Told the duration of each key operation (TokenObjects.withKey, key pair generation). */
  observeOperation?: TokenOperationObserver;
}

/** What the session pool is doing now, and what it has done since the connection opened (for metrics). */
export interface SessionPoolStats {
  /** Sessions the pool may lend at once. */
  size: number;
  inUse: number;
  idle: number;
  /** Requests waiting for a session. */
  waiters: number;
  /** Reconnects started (each single-flight rebuild counts once). */
  reconnects: number;
  /** Requests that gave up waiting for a session. */
  acquireTimeouts: number;
  reconnecting: boolean;
}

/** Told how long each token operation took; set by composition (metrics), never required. */
export type TokenOperationObserver = (operation: string, seconds: number, ok: boolean) => void;

export interface TokenInfo {
  label: string;
  manufacturerId: string;
  model: string;
  serialNumber: string;
}

type Session = pkcs11js.Handle;

/**
 * One PKCS11 instance per module file and configuration. C_Initialize is process-wide for a
 * library, and a module reads its configuration (SoftHSM: SOFTHSM2_CONF) only then; the
 * dynamic loader shares one instance per file. So a second configuration of a module that is
 * loaded already gets a private copy of the library file, and with it an instance of its own.
 */
const modules = new Map<string, pkcs11js.PKCS11>();
const environments = new Map<pkcs11js.PKCS11, Record<string, string>>();
const openConnections = new Map<pkcs11js.PKCS11, number>();
/**
 * Bumped whenever an instance is re-initialised. C_Finalize voids every session and object
 * handle of the instance, and the module hands the same numbers out again afterwards (SoftHSM
 * numbers sessions from 1): a handle from an older epoch may now name another connection's
 * session, on another token. Every connection on the instance checks its epoch before it lends
 * a session, and never closes a handle from an older one.
 */
const epochs = new Map<pkcs11js.PKCS11, number>();
const epochOf = (lib: pkcs11js.PKCS11) => epochs.get(lib) ?? 0;

/** The module file could not be loaded (missing, not a PKCS#11 library, or a relative path). */
export class ModuleLoadError extends Error {
  constructor(readonly modulePath: string, message: string) {
    super(message);
    this.name = 'ModuleLoadError';
  }
}

/** The module lists no token with the label asked for. */
export class TokenNotFoundError extends Error {
  constructor(readonly tokenLabel: string, modulePath: string) {
    super(`no PKCS#11 token labelled '${tokenLabel}' in ${modulePath}`);
    this.name = 'TokenNotFoundError';
  }
}

/** C_Login failed for a reason other than a refused PIN (PinRefusedError); `code` is the CKR name. */
export class LoginFailedError extends Error {
  constructor(readonly tokenLabel: string, readonly code: string) {
    super(`login to token '${tokenLabel}' failed: ${code}`);
    this.name = 'LoginFailedError';
  }
}

/** Runs `fn` with `environment` set in process.env, and restores what was there. */
function withEnvironment<T>(environment: Record<string, string>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(environment).map((name) => [name, process.env[name]]));
  Object.assign(process.env, environment);
  try {
    return fn();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

function privateCopy(modulePath: string, configuration: string): string {
  const dir = path.join(tmpdir(), 'hsm-kms-modules', createHash('sha256').update(`${modulePath}\0${configuration}`).digest('hex').slice(0, 16));
  const copy = path.join(dir, path.basename(modulePath));
  if (!existsSync(copy)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    copyFileSync(modulePath, copy);
  }
  return copy;
}

function initialize(lib: pkcs11js.PKCS11): void {
  withEnvironment(environments.get(lib) ?? {}, () => lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK }));
}

function loadModule(modulePath: string, environment: Record<string, string> = {}): pkcs11js.PKCS11 {
  // Precondition: the PKCS#11 module is loaded by absolute path only.
  if (!isAbsolute(modulePath)) throw new ModuleLoadError(modulePath, `PKCS#11 module path must be absolute: ${modulePath}`);
  const configuration = JSON.stringify(Object.entries(environment).sort());
  const key = `${modulePath}\0${configuration}`;
  const loaded = modules.get(key);
  if (loaded) return loaded;
  const firstOfFile = ![...modules.keys()].some((k) => k.startsWith(`${modulePath}\0`));
  const lib = new pkcs11js.PKCS11();
  try {
    if (!existsSync(modulePath)) throw new Error('no such file');
    lib.load(firstOfFile ? modulePath : privateCopy(modulePath, configuration));
  } catch (e) {
    throw new ModuleLoadError(modulePath, `cannot load PKCS#11 module ${modulePath}: ${e instanceof Error ? e.message : String(e)}`);
  }
  environments.set(lib, environment);
  try {
    // Requests run on libuv threads concurrently, so the library must do its own locking.
    initialize(lib);
  } catch (e) {
    // Initialised by an earlier, now discarded, instance in this process (test runners
    // reload modules): start afresh so the library rescans its tokens.
    if (ckrName(e) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw e;
    reinitializeModule(lib);
  }
  modules.set(key, lib);
  return lib;
}

function reinitializeModule(lib: pkcs11js.PKCS11): void {
  epochs.set(lib, epochOf(lib) + 1);
  try { lib.C_Finalize(); } catch { /* already finalized */ }
  initialize(lib);
}

/**
 * How long a request waits for a reconnect under way before it fails with a retryable error:
 * long enough to ride out a dropped session, short enough that an outage is never a hang.
 */
const RECONNECT_WAIT_MS = 1000;

/** Login refusals that retrying would only make worse. */
const pinRefusals = new Set(['CKR_PIN_INCORRECT', 'CKR_PIN_LOCKED', 'CKR_PIN_EXPIRED', 'CKR_PIN_INVALID', 'CKR_PIN_LEN_RANGE']);

/** The token refused the PIN: an operator must fix the configuration. */
export class PinRefusedError extends Error {
  constructor(readonly tokenLabel: string, readonly code: string) {
    super(`token '${tokenLabel}' refused the PIN (${code}); it will not be tried again until an operator fixes the PIN setting`);
    this.name = 'PinRefusedError';
  }
}

const trim = (s: string) => s.replace(/[\s\0]+$/, '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

export class TokenConnection {
  private slot!: pkcs11js.Handle;
  private loginSession?: Session;
  private idle: Session[] = [];
  /** Lent sessions and the connection generation they were opened in. */
  private lent = new Map<Session, number>();
  private idleGeneration = new Map<Session, number>();
  private waiters: Array<{ resolve: (s: Session) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];
  private reconnecting?: Promise<void>;
  private closed = false;
  /** Set when the token refused the PIN during a reconnect: the connection stays closed. */
  refused?: PinRefusedError;
  /** A real operation on a fresh session: after a deep reconnect, does the token work again? */
  verifier?: (session: Session) => Promise<boolean>;
  /** Bumped on every reconnect; object handles from an older generation are stale. */
  generation = 0;
  /** The module instance's epoch this connection's handles belong to. */
  private epoch = -1;
  /** The epoch of each recent generation, for sessions lent before a reconnect. */
  private generationEpochs = new Map<number, number>();
  info!: TokenInfo;
  private reconnectCount = 0;
  private acquireTimeoutCount = 0;

  private constructor(readonly lib: pkcs11js.PKCS11, private readonly options: ConnectionOptions) {}

  /** A read-only snapshot of the pool, cheap enough to take on every metrics scrape. */
  stats(): SessionPoolStats {
    return {
      size: this.options.poolSize, inUse: this.lent.size, idle: this.idle.length, waiters: this.waiters.length,
      reconnects: this.reconnectCount, acquireTimeouts: this.acquireTimeoutCount, reconnecting: this.reconnecting !== undefined,
    };
  }

  /** Where key operations report their duration, if anyone listens. */
  get observeOperation(): TokenOperationObserver | undefined {
    return this.options.observeOperation;
  }

  static open(options: ConnectionOptions): TokenConnection {
    const connection = new TokenConnection(loadModule(options.modulePath, options.moduleEnvironment), options);
    connection.connect();
    openConnections.set(connection.lib, (openConnections.get(connection.lib) ?? 0) + 1);
    return connection;
  }

  /** The mechanisms the token lists (C_GetMechanismList), for diagnostics. */
  mechanismList(): number[] {
    return this.lib.C_GetMechanismList(this.slot);
  }

  private findSlot(): pkcs11js.Handle | undefined {
    return this.lib.C_GetSlotList(true).find((s) => trim(this.lib.C_GetTokenInfo(s).label) === this.options.tokenLabel);
  }

  private connect(): void {
    let slot = this.findSlot();
    if (slot === undefined && (openConnections.get(this.lib) ?? 0) === 0) {
      // Some modules (SoftHSM) list only the tokens present at C_Initialize; with nothing
      // else using the module, re-initialising it picks up tokens created since.
      reinitializeModule(this.lib);
      slot = this.findSlot();
    }
    if (slot === undefined) throw new TokenNotFoundError(this.options.tokenLabel, this.options.modulePath);
    const info = this.lib.C_GetTokenInfo(slot);
    this.slot = slot;
    this.info = { label: trim(info.label), manufacturerId: trim(info.manufacturerID), model: trim(info.model), serialNumber: trim(info.serialNumber) };
    const session = this.lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      this.lib.C_Login(session, pkcs11js.CKU_USER, this.options.pin);
    } catch (e) {
      if (ckrName(e) !== 'CKR_USER_ALREADY_LOGGED_IN' || this.options.exclusiveLogin) {
        this.lib.C_CloseSession(session);
        // Never include the PIN; the CKR name says enough (e.g. CKR_PIN_INCORRECT).
        const name = ckrName(e) ?? (e instanceof Error ? e.message : String(e)).split(this.options.pin || '\0').join('***');
        if (pinRefusals.has(name)) throw new PinRefusedError(this.options.tokenLabel, name);
        throw new LoginFailedError(this.options.tokenLabel, name);
      }
    }
    // The login session stays open: closing the last session would log the token out.
    this.loginSession = session;
    this.generation += 1;
    this.epoch = epochOf(this.lib);
    this.generationEpochs.set(this.generation, this.epoch);
    this.generationEpochs.delete(this.generation - 64);
  }

  /** Are this connection's handles still its own, or has the module been re-initialised since? */
  private ownsHandles(): boolean {
    return this.epoch === epochOf(this.lib);
  }

  /**
   * Closes a session this connection opened in `generation`. A handle from before the module was
   * re-initialised is no longer ours: its number may be another connection's session now.
   */
  private closeSession(session: Session, generation = this.generation): void {
    if (this.generationEpochs.get(generation) !== epochOf(this.lib)) return;
    try { this.lib.C_CloseSession(session); } catch { /* already gone */ }
  }

  /**
   * Lends a session to `fn` and always takes it back. If `fn` fails because the connection
   * was lost, the connection is rebuilt; with `retryAfterReconnect` the call is tried once more
   * (only for operations that are safe to repeat).
   */
  async withSession<T>(fn: (session: Session) => Promise<T>, retryAfterReconnect = false): Promise<T> {
    try {
      return await this.runOnce(fn);
    } catch (e) {
      if (!isConnectionLost(e) || !retryAfterReconnect) throw e;
      await this.whenReady();
      return this.runOnce(fn);
    }
  }

  private async runOnce<T>(fn: (session: Session) => Promise<T>): Promise<T> {
    const session = await this.acquire();
    let broken = false;
    try {
      return await fn(session);
    } catch (e) {
      const lost = isConnectionLost(e);
      // A suspect session is closed, not pooled; only a lost connection is rebuilt.
      broken = lost || isSessionSuspect(e);
      if (lost) void this.reconnect();
      throw e;
    } finally {
      this.release(session, broken);
    }
  }

  private async whenReady(): Promise<void> {
    if (!this.reconnecting) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new KmsError('KMSInternalException', 'The token is not available. Retry the request.', 'reconnect still in progress')), Math.min(this.options.acquireTimeoutMs, RECONNECT_WAIT_MS));
    });
    try {
      await Promise.race([this.reconnecting, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async acquire(): Promise<Session> {
    if (this.closed) throw new KmsError('KMSInternalException', 'The token is not available.', 'connection closed');
    // Another connection re-initialised the module instance: this one's sessions and login are
    // gone, and their numbers may be another token's now. Log in afresh before lending anything.
    if (!this.reconnecting && !this.ownsHandles()) void this.reconnect();
    await this.whenReady();
    if (this.closed) throw new KmsError('KMSInternalException', 'The token is not available.', 'connection closed');
    if (!this.ownsHandles()) throw new KmsError('KMSInternalException', 'The token is not available. Retry the request.', 'module re-initialised meanwhile');
    const idle = this.idle.pop();
    if (idle !== undefined) return this.lend(idle, this.idleGeneration.get(idle));
    if (this.lent.size < this.options.poolSize) {
      return this.lend(this.lib.C_OpenSession(this.slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
    }
    return new Promise<Session>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        this.acquireTimeoutCount += 1;
        // AWS answers KMSInternalException when no PKCS#11 session is available.
        reject(new KmsError('KMSInternalException', 'No PKCS#11 sessions are available. Retry the request.', 'session pool exhausted'));
      }, this.options.acquireTimeoutMs);
      this.waiters.push({ resolve, reject, timer });
    });
  }

  private lend(session: Session, generation = this.generation): Session {
    this.lent.set(session, generation);
    return session;
  }

  private release(session: Session, broken: boolean): void {
    const generation = this.lent.get(session);
    this.lent.delete(session);
    this.idleGeneration.delete(session);
    // A session from before a reconnect is dead even if this call did not notice.
    if (broken || this.closed || this.reconnecting || generation !== this.generation || !this.ownsHandles()) {
      this.closeSession(session, generation);
      this.drainWaitersIfPossible();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(this.lend(session, generation));
    } else {
      this.idle.push(session);
      this.idleGeneration.set(session, generation);
    }
  }

  private drainWaitersIfPossible(): void {
    while (this.waiters.length > 0 && this.lent.size < this.options.poolSize && !this.reconnecting && !this.closed) {
      const waiter = this.waiters.shift()!;
      clearTimeout(waiter.timer);
      this.acquire().then(waiter.resolve, waiter.reject);
    }
  }

  /**
   * Single-flight reconnect with exponential backoff; resolves once the token is usable again.
   * `deep` re-initialises the module on every attempt: a token whose storage went away and came
   * back is only seen afresh by C_Initialize (SoftHSM forgets its objects meanwhile).
   */
  reconnect(options: { deep?: boolean } = {}): Promise<void> {
    if (this.reconnecting) return this.reconnecting;
    this.reconnectCount += 1;
    this.reconnecting = (async () => {
      let delay = this.options.reconnectDelayMs.initial;
      for (;;) {
        if (this.closed) return;
        this.dropSessions();
        try {
          if (options.deep) reinitializeModule(this.lib);
          try {
            this.connect();
          } catch (e) {
            if (ckrName(e) !== 'CKR_CRYPTOKI_NOT_INITIALIZED') throw e;
            reinitializeModule(this.lib);
            this.connect();
          }
          if (options.deep && this.verifier && !(await this.verifyOnce(this.verifier))) throw new Error('token answers but fails its health check');
          return;
        } catch (e) {
          // Precondition: a PIN the token refused is never tried again automatically.
          // (A real HSM locks the partition after a few refusals.)
          if (e instanceof PinRefusedError) {
            this.refused = e;
            this.close();
            return;
          }
          await sleep(delay);
          delay = Math.min(delay * 2, this.options.reconnectDelayMs.max);
        }
      }
    })().finally(() => {
      this.reconnecting = undefined;
      this.drainWaitersIfPossible();
    });
    return this.reconnecting;
  }

  private async verifyOnce(verifier: (session: Session) => Promise<boolean>): Promise<boolean> {
    const session = this.lib.C_OpenSession(this.slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      return await verifier(session);
    } finally {
      this.closeSession(session);
    }
  }

  private dropSessions(): void {
    for (const s of [...this.idle, ...(this.loginSession !== undefined ? [this.loginSession] : [])]) this.closeSession(s);
    this.idle = [];
    this.idleGeneration.clear();
    this.loginSession = undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    openConnections.set(this.lib, Math.max(0, (openConnections.get(this.lib) ?? 1) - 1));
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new KmsError('KMSInternalException', 'The token is not available.', 'connection closed'));
    }
    this.waiters = [];
    if (this.options.exclusiveLogin && this.loginSession !== undefined && this.ownsHandles()) {
      try { this.lib.C_Logout(this.loginSession); } catch { /* logged out already */ }
    }
    this.dropSessions();
    for (const [s, generation] of this.lent) this.closeSession(s, generation);
    this.lent.clear();
  }
}
