// hsm-kms doctor: checks, one by one, what the server needs to start and serve, with the server's
// configuration, and says in plain words what is wrong and how to fix it. It tries the PIN once
// (never in a loop: a real HSM locks a partition after a few wrong PINs) and never prints it.
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { openTokenFrom, PIN_REFUSED_MARKER } from '../compose';
import { ConfigError, loadConfigSections, type ConfigOf } from '../config';
import { AUDIT_SIGNING_KEY_OBJECT_ID } from '../core/audit/signing-key';
import type { MetadataStore } from '../core/ports';
import type { Pkcs11Token } from '../pkcs11';
import { missingMechanisms } from '../pkcs11/diagnostics';
import { LoginFailedError, ModuleLoadError, PinRefusedError, TokenNotFoundError } from '../pkcs11/sessions';
import { openMetadataStore } from '../store';
import { EXIT_OK, EXIT_PROBLEM, openCore, recordCliCall, type CommandResult, type Env } from './command';

export const doctorUsage = `usage: hsm-kms doctor [--json]

Checks the PKCS#11 module, the token and its PIN, the capability profile against the token's
mechanism list, the metadata store, the clock and the listeners' ports, with the same
environment as the server. Exit 0: nothing wrong (warnings may be printed); 1: a problem.`;

export type CheckStatus = 'ok' | 'warning' | 'problem';

export interface Check {
  check: string;
  status: CheckStatus;
  message: string;
  /** How to fix it, for a warning or a problem. */
  fix?: string;
}

/** Beyond this much disagreement with the newest audit record, the clock is wrong or stepped back. */
const CLOCK_TOLERANCE_MS = 60_000;

export async function runDoctor(env: Env): Promise<CommandResult> {
  const checks: Check[] = [];
  const add = (check: string, status: CheckStatus, message: string, fix?: string) => checks.push({ check, status, message, ...(fix ? { fix } : {}) });

  let store: ConfigOf<'store'> | undefined;
  try {
    store = loadConfigSections(['store'], env);
  } catch (e) {
    add('configuration', 'problem', (e as Error).message, 'correct the environment variable named');
  }
  const startedAt = new Date();
  const token = await checkToken(env, add);
  const storeOpens = store ? await checkStore(store, add) : false;
  await checkListeners(env, add);
  await token?.close();

  const count = (status: CheckStatus) => checks.filter((c) => c.status === status).length;
  // Recorded like every admin command, when there is a store to record in.
  if (storeOpens) {
    try {
      const opened = await openCore(env, false);
      try {
        await recordCliCall(opened.service, { operation: 'Doctor' }, startedAt, { results: { problems: count('problem'), warnings: count('warning') } });
      } finally {
        await opened.close();
      }
    } catch (e) {
      add('audit', 'problem', `this run could not be recorded in the audit trail: ${(e as Error).message.split('\n')[0]}`, 'check the store: every call is recorded before it answers');
    }
  }
  const problems = count('problem');
  const warnings = count('warning');
  const label: Record<CheckStatus, string> = { ok: 'ok      ', warning: 'WARNING ', problem: 'PROBLEM ' };
  const lines = checks.flatMap((c) => [`${label[c.status]} ${c.check.padEnd(10)} ${c.message}`, ...(c.fix ? [`${' '.repeat(20)}fix: ${c.fix}`] : [])]);
  lines.push(problems === 0 ? `\nNo problems found${warnings > 0 ? ` (${warnings} warnings)` : ''}.` : `\n${problems} problem${problems > 1 ? 's' : ''} found.`);
  return { exitCode: problems === 0 ? EXIT_OK : EXIT_PROBLEM, text: lines.join('\n'), json: { ok: problems === 0, checks } };
}

type Add = (check: string, status: CheckStatus, message: string, fix?: string) => void;

/** Module, token, PIN, profile and mechanisms; returns the open token for later checks, or undefined. */
async function checkToken(env: Env, add: Add): Promise<Pkcs11Token | undefined> {
  let config: ConfigOf<'token' | 'store'>;
  try {
    config = loadConfigSections(['token', 'store'], env);
  } catch (e) {
    add('token', 'problem', `the token's settings are incomplete: ${(e as Error).message}`, e instanceof ConfigError ? 'set the variables named (KMS_PKCS11_MODULE, KMS_TOKEN_LABEL, KMS_PIN or KMS_PIN_FILE)' : undefined);
    return undefined;
  }
  if (!existsSync(config.pkcs11Module)) {
    add('module', 'problem', `the PKCS#11 module ${config.pkcs11Module} (KMS_PKCS11_MODULE) does not exist`,
      'install the HSM vendor\'s PKCS#11 library (for SoftHSM: apt-get install softhsm2) or set KMS_PKCS11_MODULE to the absolute path of the library');
    return undefined;
  }
  const marker = path.join(config.dataDir, PIN_REFUSED_MARKER);
  if (existsSync(marker)) {
    add('pin', 'problem', `the token refused the PIN at an earlier start, and the server will not try again while ${marker} exists`,
      `set KMS_PIN or KMS_PIN_FILE to the token's user PIN, run 'hsm-kms doctor' until the PIN check passes, then delete ${marker}`);
  }
  let opened: Pkcs11Token;
  try {
    opened = openTokenFrom(config);
  } catch (e) {
    if (e instanceof ModuleLoadError) {
      add('module', 'problem', `${config.pkcs11Module} exists but does not load as a PKCS#11 module (${e.message})`, 'point KMS_PKCS11_MODULE at the vendor\'s PKCS#11 library (a .so file), built for this machine\'s architecture');
    } else if (e instanceof TokenNotFoundError) {
      add('module', 'ok', `${config.pkcs11Module} loads`);
      add('token', 'problem', `the module has no token labelled '${config.tokenLabel}' (KMS_TOKEN_LABEL)`,
        `list the tokens (for SoftHSM: softhsm2-util --show-slots${config.softhsmConf ? `, with SOFTHSM2_CONF=${config.softhsmConf}` : ''}) and set KMS_TOKEN_LABEL to one, or initialise a token with that label`);
    } else if (e instanceof PinRefusedError) {
      add('module', 'ok', `${config.pkcs11Module} loads`);
      add('token', 'ok', `token '${config.tokenLabel}' found`);
      add('pin', 'problem', `the token refused the PIN (${e.code}): KMS_PIN or KMS_PIN_FILE does not hold the token's user PIN`,
        'set KMS_PIN or KMS_PIN_FILE to the user PIN the token was initialised with; do not retry blindly: an HSM locks its partition after a few wrong PINs');
    } else if (e instanceof LoginFailedError) {
      add('module', 'ok', `${config.pkcs11Module} loads`);
      add('pin', 'problem', `logging in to token '${config.tokenLabel}' failed (${e.code})`, 'check the token\'s state with its vendor tools; the user PIN may need to be set (C_InitPIN)');
    } else {
      add('token', 'problem', `the token cannot be opened: ${(e as Error).message}`, 'check the module\'s own configuration (for SoftHSM: SOFTHSM2_CONF and its tokendir)');
    }
    return undefined;
  }
  add('module', 'ok', `${config.pkcs11Module} loads`);
  add('token', 'ok', `token '${config.tokenLabel}' found (${opened.connection.info.manufacturerId} ${opened.connection.info.model})`);
  add('pin', 'ok', 'the PIN logs in');
  const missing = missingMechanisms(opened);
  if (missing.needed.length === 0) {
    add('profile', 'ok', `profile '${opened.profile.vendor}': the token lists every mechanism the service and the profile need`);
  } else {
    add('profile', 'problem', `profile '${opened.profile.vendor}': the token does not list ${missing.needed.join('; ')}`,
      'choose the right profile (KMS_HSM_PROFILE, hsm/profiles/) or enable these mechanisms in the HSM\'s policy; operations needing them will fail');
  }
  if (missing.informational.length > 0) {
    add('profile', 'warning', `profile '${opened.profile.vendor}' claims what the token does not list: ${missing.informational.join('; ')}`,
      'nothing fails (no operation uses them yet), but correct the profile before relying on it');
  }
  if (!(await opened.isHealthy())) add('token', 'problem', 'the token fails a real encryption with its health key', 'check the HSM\'s logs and its connection');
  if (!(await opened.keyPairs.publicKey(AUDIT_SIGNING_KEY_OBJECT_ID).catch(() => undefined))) {
    add('audit key', 'warning', 'the token holds no audit signing key yet', 'nothing to do: the server makes it at its first start (or run \'hsm-kms audit public-key\')');
  } else {
    add('audit key', 'ok', 'the audit signing key is in the token');
  }
  return opened;
}

/** True when the store opens and answers. */
async function checkStore(config: ConfigOf<'store'>, add: Add): Promise<boolean> {
  let store: MetadataStore;
  try {
    store = openMetadataStore(config.metadataUri, config.dataDir);
  } catch (e) {
    add('store', 'problem', (e as Error).message, 'set KMS_METADATA_URI to a mongodb:// URI, or unset it for the embedded store in KMS_DATA_DIR');
    return false;
  }
  try {
    await store.init();
    await store.ping();
    add('store', 'ok', config.metadataUri?.startsWith('mongodb') ? 'the MongoDB store answers' : `the embedded store in ${config.dataDir} opens`);
    await checkClock(store, add);
    return true;
  } catch (e) {
    const mongo = config.metadataUri?.startsWith('mongodb');
    add('store', 'problem', `the metadata store cannot be opened: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message.split('\n')[0]}`,
      mongo ? 'check that the MongoDB replica set in KMS_METADATA_URI is running and reachable from here, and the credentials in the URI'
        : `check that KMS_DATA_DIR ${config.dataDir} exists and this user may write it`);
    return false;
  } finally {
    await store.close().catch(() => undefined);
  }
}

/** The clock against the newest audit record: a clock behind it has stepped back or is wrong. */
async function checkClock(store: MetadataStore, add: Add): Promise<void> {
  const now = Date.now();
  if (new Date(now).getUTCFullYear() < 2024) {
    add('clock', 'problem', `the system clock says ${new Date(now).toISOString()}`, 'set the clock (enable NTP: timedatectl set-ntp true)');
    return;
  }
  const head = await store.audit.head().catch(() => undefined);
  if (head && head.eventTime.getTime() > now + CLOCK_TOLERANCE_MS) {
    add('clock', 'problem', `the system clock (${new Date(now).toISOString()}) is behind the newest audit record (${head.eventTime.toISOString()})`,
      'the clock stepped back or is wrong: enable NTP (timedatectl set-ntp true); signatures, key expiry and deletion dates depend on it');
    return;
  }
  add('clock', 'ok', head ? `${new Date(now).toISOString()}, after the newest audit record` : `${new Date(now).toISOString()} (no audit record to compare with)`);
}

/** Whether host:port can be bound now: 'free', or why not. */
function probePort(host: string, port: number): Promise<'free' | string> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    server.listen(port, host, () => server.close(() => resolve('free')));
  });
}

async function checkListeners(env: Env, add: Add): Promise<void> {
  let config: ConfigOf<'server' | 'xks'>;
  try {
    config = loadConfigSections(['server', 'xks'], env);
  } catch (e) {
    add('listeners', 'problem', (e as Error).message, 'correct the environment variable named');
    return;
  }
  const listeners = [
    { name: 'KMS_HOST/KMS_PORT', host: config.host, port: config.port },
    ...(config.xks.port !== undefined ? [{ name: 'KMS_XKS_HOST/KMS_XKS_PORT', host: config.xks.host, port: config.xks.port }] : []),
  ];
  for (const { name, host, port } of listeners) {
    if (port === 0) {
      add('listeners', 'ok', `${name} ${host}:0 picks a free port`);
      continue;
    }
    const state = await probePort(host, port);
    if (state === 'free') add('listeners', 'ok', `${name} ${host}:${port} is free`);
    else if (state === 'EADDRINUSE') add('listeners', 'warning', `${name} ${host}:${port} is in use`, 'expected if hsm-kms is already running there; otherwise stop the other program or choose another port');
    else if (state === 'EACCES') add('listeners', 'problem', `${name} ${host}:${port} may not be bound by this user`, 'choose a port above 1023, or grant the capability (setcap cap_net_bind_service=+ep on node)');
    else add('listeners', 'problem', `${name} ${host}:${port} cannot be bound (${state})`, `check that ${host} is an address of this machine`);
  }
}
