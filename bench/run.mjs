// npm run bench: the service's throughput and latency for Encrypt, Decrypt and GenerateDataKey,
// and for the XKS proxy's Encrypt (flat out, and at a fixed rate, 1800 req/s by default),
// beside raw PKCS#11 AES-GCM encrypts on the same token, measured in the same run; then Sign
// (RSA_2048 PSS, ECC_NIST_P256 ECDSA) and GenerateMac (HMAC_SHA_256), each beside the raw
// pkcs11js rate of the same operation on the same token.
//
// It spawns the built server (node dist/main.js) on a throwaway SoftHSM token, replays SigV4-signed
// requests over keep-alive connections with autocannon, then runs the raw loop in this process
// with pkcs11js. Only ratios are meaningful on a shared machine: see bench/README.md.
//
// Environment: BENCH_SECONDS (default 10) per measurement, BENCH_CONNECTIONS (default 8, the
// service's default session pool size) for both the HTTP connections and the raw loops,
// KMS_PKCS11_MODULE (default SoftHSM's), BENCH_KEEP_TMP=1 to keep the temp dir for inspection,
// BENCH_SERVER_NODE_ARGS for extra node flags for the server (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"),
// BENCH_XKS_RATE (default 1800, AWS KMS's default quota per external key store) and
// BENCH_XKS_RATE_CONNECTIONS (default 32) for the fixed-rate XKS run.
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { constants, createHash, createPublicKey, randomBytes, verify as verifySignature } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pkcs11js from 'pkcs11js';

const ROOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(ROOT_DIR, 'dist', 'main.js');
const ADMIN = path.join(ROOT_DIR, 'dist', 'cli', 'admin.js');
const MODULE = process.env.KMS_PKCS11_MODULE || '/usr/lib/softhsm/libsofthsm2.so';
const SECONDS = positiveInteger('BENCH_SECONDS', 10);
const CONCURRENCY = positiveInteger('BENCH_CONNECTIONS', 8);
const WARMUP_SECONDS = Math.min(2, SECONDS);
/** Alternating pairs of Encrypt runs, audit trail on and off, whose median cost is the trail's figure. */
const AUDIT_PAIRS = positiveInteger('BENCH_AUDIT_PAIRS', 5);

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const XKS_RATE = positiveInteger('BENCH_XKS_RATE', 1800);
// Enough connections that the offered rate, not the connection count, limits the fixed-rate run.
const XKS_RATE_CONNECTIONS = positiveInteger('BENCH_XKS_RATE_CONNECTIONS', 32);
const XKS_PREFIX = '/bench/xks-store';
const XKS_KEY_ID = 'bench-external-key';
/** The bench's CloudHSM key store cluster: a second token in the same SoftHSM configuration. */
const CLUSTER_ID = 'cluster-benchbenchbe';
const REGION = 'us-east-1';
const PLAINTEXT = randomBytes(32);
// The service authenticates its 51-byte ciphertext header as AAD (no encryption context): same here.
const AAD = randomBytes(51);

function positiveInteger(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}

const log = (line) => process.stderr.write(`bench: ${line}\n`);

// ---------------------------------------------------------------------------------------------
// Throwaway token and server
// ---------------------------------------------------------------------------------------------

function makeToken(dir) {
  const tokens = path.join(dir, 'tokens');
  mkdirSync(tokens, { mode: 0o700 });
  const conf = path.join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`, { mode: 0o600 });
  const label = `bench-${randomBytes(4).toString('hex')}`;
  const pin = randomBytes(16).toString('hex');
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', randomBytes(16).toString('hex'), '--pin', pin], {
    env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'pipe',
  });
  return { conf, label, pin };
}

/** A further token in the same SoftHSM configuration, declared as a cluster for a CloudHSM key store. */
function makeClusterToken(dir, token) {
  const label = `bench-cluster-${randomBytes(4).toString('hex')}`;
  const pin = randomBytes(12).toString('hex');
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', randomBytes(16).toString('hex'), '--pin', pin], {
    env: { ...process.env, SOFTHSM2_CONF: token.conf }, stdio: 'pipe',
  });
  const clustersFile = path.join(dir, 'hsm-clusters.json');
  writeFileSync(clustersFile, JSON.stringify({ clusters: [{ id: CLUSTER_ID, module: MODULE, tokenLabel: label }] }), { mode: 0o600 });
  return { label, pin, clustersFile };
}

/** A throwaway CA certificate: CreateCustomKeyStore stores it as the trust anchor. */
function trustAnchor(dir) {
  const cert = path.join(dir, 'trust-anchor.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'trust-anchor.key'), '-out', cert, '-subj', '/CN=hsm-kms bench', '-days', '1'], { stdio: 'pipe' });
  return readFileSync(cert, 'utf8');
}

/** Creates and connects a custom key store, waiting (as a client would) until it is CONNECTED. */
async function connectedCustomKeyStore(url, sign, port, input) {
  const { CustomKeyStoreId } = await call(url, sign, port, 'CreateCustomKeyStore', input);
  await call(url, sign, port, 'ConnectCustomKeyStore', { CustomKeyStoreId });
  for (let i = 0; i < 600; i++) {
    const [store] = (await call(url, sign, port, 'DescribeCustomKeyStores', { CustomKeyStoreId })).CustomKeyStores;
    if (store.ConnectionState === 'CONNECTED') return CustomKeyStoreId;
    if (store.ConnectionState !== 'CONNECTING') throw new Error(`custom key store ${input.CustomKeyStoreName} is ${store.ConnectionState} (${store.ConnectionErrorCode})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`custom key store ${input.CustomKeyStoreName} still CONNECTING after 30 s`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function tail(file, lines = 30) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no server output)';
  }
}

/** The server's environment: a clean KMS_* set (a developer's settings, e.g. KMS_METADATA_URI, must not leak in). */
function serverEnv({ dir, token, port, credentials, xks, clustersFile, workers = 1 }) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KMS_') && k !== 'SOFTHSM2_CONF'));
  Object.assign(env, {
    KMS_DATA_DIR: dir, KMS_PORT: String(port), KMS_HOST: '127.0.0.1', KMS_PKCS11_MODULE: MODULE,
    SOFTHSM2_CONF: token.conf, KMS_TOKEN_LABEL: token.label, KMS_PIN: token.pin,
    KMS_ROOT_ACCESS_KEY_ID: credentials.accessKeyId, KMS_ROOT_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    KMS_REGION: REGION,
    // The XKS proxy on its own port, plain HTTP on loopback as the bench's KMS endpoint is.
    KMS_XKS_PORT: String(xks.port), KMS_XKS_HOST: '127.0.0.1', KMS_XKS_CONFIG_FILE: xks.configFile,
    // A second token as a CloudHSM key store.
    KMS_HSM_CLUSTERS_FILE: clustersFile,
    KMS_WORKERS: String(workers),
  });
  return env;
}

/** The XKS proxy configuration file: one key store with a fresh credential. */
function writeXksConfig(dir) {
  const base32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const credential = { accessKeyId: [...randomBytes(26)].map((b) => base32[b & 31]).join(''), secretAccessKey: randomBytes(32).toString('base64') };
  const configFile = path.join(dir, 'xks-proxy.json');
  writeFileSync(configFile, JSON.stringify({ keyStores: [{ uriPathPrefix: XKS_PREFIX, credentials: [credential] }] }), { mode: 0o600 });
  return { configFile, credential };
}

/** The external key, made with the admin command before the server starts (as an operator would). */
function createExternalKey(env) {
  execFileSync(process.execPath, [ADMIN, 'xks', 'create', '--prefix', XKS_PREFIX, '--id', XKS_KEY_ID], { cwd: ROOT_DIR, env, stdio: 'pipe' });
}

function startServer(env, dir) {
  // The server logs a line per request at info, as in production; a file keeps that cheap.
  const logFile = path.join(dir, 'server.out');
  const fd = openSync(logFile, 'a', 0o600);
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, MAIN], { cwd: ROOT_DIR, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, logFile };
}

async function stopServer(server) {
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGTERM');
  const timeout = sleep(5000).then(() => 'timeout');
  if ((await Promise.race([server.exited, timeout])) === 'timeout') {
    server.child.kill('SIGKILL');
    await server.exited;
  }
}

/** One HTTP request on its own connection; resolves with status and body text. */
function send(url, { method, path: p, headers, body }) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(p, url), { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** With several workers, the primary logs "ready" once every worker listens. */
async function waitAllWorkers(server) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`server exited with code ${server.child.exitCode}`);
    if (readFileSync(server.logFile, 'utf8').split('\n').some((l) => l.includes('"message":"ready"'))) return;
    await sleep(100);
  }
  throw new Error('workers not ready after 60 s');
}

async function waitHealthy(url, server) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`server exited with code ${server.child.exitCode}`);
    try {
      const res = await send(url, { method: 'GET', path: '/healthz', headers: {} });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error('server not healthy after 30 s');
}

// ---------------------------------------------------------------------------------------------
// Signed requests
// ---------------------------------------------------------------------------------------------

function signer(credentials) {
  const sigv4 = new SignatureV4({ service: 'kms', region: REGION, credentials, sha256: Sha256 });
  /** A request signed now; valid for the server's 5-minute skew window, so sign once per run. */
  return async (port, target, input) => {
    const body = JSON.stringify(input);
    const request = new HttpRequest({
      method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port, path: '/',
      headers: { host: `127.0.0.1:${port}`, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${target}` },
      body,
    });
    const signed = await sigv4.sign(request);
    return { method: 'POST', path: '/', headers: signed.headers, body };
  };
}

/** XKS requests as AWS KMS signs them: service kms-xks-proxy, host;x-amz-date, the raw path. */
function xksSigner(credential, port) {
  const sigv4 = new SignatureV4({ service: 'kms-xks-proxy', region: REGION, credentials: credential, sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  return async (api, input) => {
    const p = `${XKS_PREFIX}/kms/xks/v1/keys/${XKS_KEY_ID}/${api}`;
    const body = JSON.stringify(input);
    const headers = { host: `127.0.0.1:${port}`, 'content-type': 'application/json' };
    const signed = await sigv4.sign(new HttpRequest({ method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port, path: p, headers, body }), { unsignableHeaders: new Set(['content-type']) });
    return { method: 'POST', path: p, headers: signed.headers, body, label: `XKS ${api}` };
  };
}

function xksMetadata(kmsOperation) {
  return { awsPrincipalArn: 'arn:aws:iam::111122223333:user/bench', kmsKeyArn: `arn:aws:kms:${REGION}:111122223333:key/bench`, kmsOperation, kmsRequestId: randomBytes(16).toString('hex') };
}

async function call(url, sign, port, target, input) {
  const res = await send(url, await sign(port, target, input));
  const parsed = res.text ? JSON.parse(res.text) : {};
  if (res.status !== 200) throw new Error(`${target} answered ${res.status}: ${res.text}`);
  return parsed;
}

/** Replays `request` for `seconds`; `rate` caps the requests per second over all connections. */
async function loadTest(url, request, seconds, rate, connections = CONCURRENCY) {
  // The exact request about to be replayed must succeed once first.
  const probe = await send(url, request);
  if (probe.status !== 200) throw new Error(`${request.label ?? request.headers['x-amz-target']} probe answered ${probe.status}: ${probe.text}`);
  const result = await autocannon({
    url: new URL(request.path, url).href, connections, pipelining: 1, duration: seconds,
    method: request.method, headers: request.headers, body: request.body, ...(rate ? { overallRate: rate } : {}),
  });
  return {
    perSecond: result['2xx'] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

// ---------------------------------------------------------------------------------------------
// Raw PKCS#11 baseline
// ---------------------------------------------------------------------------------------------

function openRaw(token) {
  // SoftHSM reads SOFTHSM2_CONF at C_Initialize.
  process.env.SOFTHSM2_CONF = token.conf;
  const lib = new pkcs11js.PKCS11();
  lib.load(MODULE);
  lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  try {
    const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.replace(/[\s\0]+$/, '') === token.label);
    if (slot === undefined) throw new Error(`token ${token.label} not found`);
    const login = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    lib.C_Login(login, pkcs11js.CKU_USER, token.pin);
    // A session key: in memory only, gone when the login session closes.
    const key = lib.C_GenerateKey(login, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_ENCRYPT, value: true },
      { type: pkcs11js.CKA_DECRYPT, value: true },
    ]);
    // Session keys for the same-operation baselines of Sign and GenerateMac, made as the
    // service makes its keys (sensitive, non-extractable), but not token objects.
    const privateAttributes = [
      { type: pkcs11js.CKA_TOKEN, value: false }, { type: pkcs11js.CKA_PRIVATE, value: true }, { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false }, { type: pkcs11js.CKA_SIGN, value: true },
    ];
    const rsa = lib.C_GenerateKeyPair(login, { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN }, [
      { type: pkcs11js.CKA_TOKEN, value: false }, { type: pkcs11js.CKA_VERIFY, value: true },
      { type: pkcs11js.CKA_MODULUS_BITS, value: 2048 }, { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
    ], [...privateAttributes, { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_RSA }]);
    const ec = lib.C_GenerateKeyPair(login, { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN }, [
      // prime256v1 (1.2.840.10045.3.1.7)
      { type: pkcs11js.CKA_TOKEN, value: false }, { type: pkcs11js.CKA_VERIFY, value: true }, { type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from('06082a8648ce3d030107', 'hex') },
    ], [...privateAttributes, { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC }]);
    const hmacKey = lib.C_GenerateKey(login, { mechanism: pkcs11js.CKM_GENERIC_SECRET_KEY_GEN }, [
      ...privateAttributes, { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY }, { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 }, { type: pkcs11js.CKA_VERIFY, value: true },
    ]);
    const sessions = Array.from({ length: CONCURRENCY }, () => lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
    return {
      lib, key, sessions, rsaKey: rsa.privateKey, ecKey: ec.privateKey, hmacKey,
      close() {
        for (const s of [...sessions, login]) {
          try { lib.C_CloseSession(s); } catch { /* already closed */ }
        }
        lib.C_Finalize();
      },
    };
  } catch (e) {
    lib.C_Finalize();
    throw e;
  }
}

/** What the service does per Encrypt in the token: an IV from the token RNG, EncryptInit, EncryptAsync. */
async function rawEncryptOnce(raw, session) {
  const { lib } = raw;
  const iv = lib.C_GenerateRandom(session, Buffer.alloc(12));
  const mechanism = {
    mechanism: pkcs11js.CKM_AES_GCM,
    parameter: { type: pkcs11js.CK_PARAMS_AES_GCM_v240, iv, aad: AAD, ivBits: 96, tagBits: 128 },
  };
  lib.C_EncryptInit(session, mechanism, raw.key);
  return lib.C_EncryptAsync(session, PLAINTEXT, Buffer.alloc(PLAINTEXT.length + 16));
}

/**
 * What the service does in the token per Sign or GenerateMac: the host hashes the message
 * (Sign, MessageType RAW), the token signs the digest: CKM_RSA_PKCS_PSS (SHA-256, MGF1-SHA256,
 * 32-byte salt) or CKM_ECDSA; GenerateMac is CKM_SHA256_HMAC over the message.
 */
const rawSameOperation = {
  'RSA-2048 PSS sign': async (raw, session) => {
    const digest = createHash('sha256').update(PLAINTEXT).digest();
    raw.lib.C_SignInit(session, {
      mechanism: pkcs11js.CKM_RSA_PKCS_PSS,
      parameter: { type: pkcs11js.CK_PARAMS_RSA_PSS, hashAlg: pkcs11js.CKM_SHA256, mgf: pkcs11js.CKG_MGF1_SHA256, saltLen: 32 },
    }, raw.rsaKey);
    return raw.lib.C_SignAsync(session, digest, Buffer.alloc(256));
  },
  'P-256 ECDSA sign': async (raw, session) => {
    const digest = createHash('sha256').update(PLAINTEXT).digest();
    raw.lib.C_SignInit(session, { mechanism: pkcs11js.CKM_ECDSA }, raw.ecKey);
    return raw.lib.C_SignAsync(session, digest, Buffer.alloc(64));
  },
  'HMAC-SHA256': async (raw, session) => {
    raw.lib.C_SignInit(session, { mechanism: pkcs11js.CKM_SHA256_HMAC }, raw.hmacKey);
    return raw.lib.C_SignAsync(session, PLAINTEXT, Buffer.alloc(32));
  },
};

async function rawBenchmark(raw, seconds, once = rawEncryptOnce) {
  const latencies = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(raw.sessions.map(async (session) => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      await once(raw, session);
      latencies.push(performance.now() - t0);
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { perSecond: latencies.length / elapsed, p50: at(0.5), p99: at(0.99), requests: latencies.length };
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const fixed = (n, digits) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

function table(rows) {
  const header = ['operation', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'service/raw'];
  const body = rows.map((r) => [r.name, fixed(r.perSecond, 0), fixed(r.p50, 2), fixed(r.p99, 2), r.non2xx ?? '-', r.errors ?? '-', r.ratio === undefined ? '-' : fixed(r.ratio, 3)].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function softhsmVersion() {
  try {
    return execFileSync('softhsm2-util', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main() {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run 'npm run build' first (npm run bench does)`);
  const dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-bench-'));
  let server;
  /** The second server of the audit comparison (KMS_AUDIT=off), while it runs. */
  let auditOffServer;
  let raw;
  let interrupted = false;
  // On a signal, raw loops may still be inside the token: skip C_Finalize, exit frees the module.
  const cleanup = async (finalize = true) => {
    await stopServer(server);
    await stopServer(auditOffServer);
    if (raw && finalize) {
      try { raw.close(); } catch { /* best effort */ }
      raw = undefined;
    }
    if (process.env.BENCH_KEEP_TMP === '1') log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (signal) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: cleaning up`);
    cleanup(false).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const token = makeToken(dir);
    const credentials = { accessKeyId: `AKIABENCH${randomBytes(6).toString('hex').toUpperCase()}`.slice(0, 20), secretAccessKey: randomBytes(30).toString('base64') };
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const xksPort = await freePort();
    const xksUrl = `http://127.0.0.1:${xksPort}`;
    const xks = writeXksConfig(dir);
    const cluster = makeClusterToken(dir, token);
    const env = serverEnv({ dir, token, port, credentials, xks: { port: xksPort, configFile: xks.configFile }, clustersFile: cluster.clustersFile });
    if (!existsSync(ADMIN)) throw new Error(`${ADMIN} is missing: run 'npm run build' first (npm run bench does)`);
    createExternalKey(env);
    log(`token ${token.label}, server on ${url}, XKS proxy on ${xksUrl}, ${CONCURRENCY} connections, ${SECONDS} s per measurement`);
    server = startServer(env, dir);
    await waitHealthy(url, server);

    // The XKS proxy's Encrypt as AWS KMS sends it: 32 bytes (a data key) with 51 bytes of AAD, like the KMS rows.
    const xksSign = xksSigner(xks.credential, xksPort);
    const xksEncryptInput = { requestMetadata: xksMetadata('GenerateDataKey'), plaintext: PLAINTEXT.toString('base64'), encryptionAlgorithm: 'AES_GCM', additionalAuthenticatedData: AAD.toString('base64') };
    const xksSample = JSON.parse((await send(xksUrl, await xksSign('encrypt', xksEncryptInput))).text);
    const xksOpened = await send(xksUrl, await xksSign('decrypt', {
      requestMetadata: xksMetadata('Decrypt'), encryptionAlgorithm: 'AES_GCM', additionalAuthenticatedData: AAD.toString('base64'),
      ciphertext: xksSample.ciphertext, initializationVector: xksSample.initializationVector, authenticationTag: xksSample.authenticationTag,
    }));
    if (xksOpened.status !== 200 || Buffer.from(JSON.parse(xksOpened.text).plaintext, 'base64').compare(PLAINTEXT) !== 0) throw new Error(`XKS Encrypt/Decrypt sample failed: ${xksOpened.status} ${xksOpened.text}`);

    const sign = signer(credentials);
    const { KeyMetadata: key } = await call(url, sign, port, 'CreateKey', { Description: 'bench' });
    const encryptInput = { KeyId: key.Arn, Plaintext: PLAINTEXT.toString('base64') };
    const { CiphertextBlob } = await call(url, sign, port, 'Encrypt', encryptInput);
    const decryptInput = { CiphertextBlob };
    const dataKeyInput = { KeyId: key.Arn, KeySpec: 'AES_256' };

    // Custom key stores: a key in a second token (CloudHSM key store) and a key in an external
    // key store whose proxy is this same server's XKS listener on loopback (double encryption).
    const cloudHsmStore = await connectedCustomKeyStore(url, sign, port, {
      CustomKeyStoreName: 'bench-cluster', CloudHsmClusterId: CLUSTER_ID, KeyStorePassword: cluster.pin, TrustAnchorCertificate: trustAnchor(dir),
    });
    const { KeyMetadata: clusterKey } = await call(url, sign, port, 'CreateKey', { CustomKeyStoreId: cloudHsmStore, Origin: 'AWS_CLOUDHSM', Description: 'bench' });
    const externalStore = await connectedCustomKeyStore(url, sign, port, {
      CustomKeyStoreName: 'bench-external', CustomKeyStoreType: 'EXTERNAL_KEY_STORE', XksProxyConnectivity: 'PUBLIC_ENDPOINT',
      XksProxyUriEndpoint: xksUrl, XksProxyUriPath: `${XKS_PREFIX}/kms/xks/v1`,
      XksProxyAuthenticationCredential: { AccessKeyId: xks.credential.accessKeyId, RawSecretAccessKey: xks.credential.secretAccessKey },
    });
    const { KeyMetadata: externalKey } = await call(url, sign, port, 'CreateKey', { CustomKeyStoreId: externalStore, Origin: 'EXTERNAL_KEY_STORE', XksKeyId: XKS_KEY_ID, Description: 'bench' });
    const clusterEncryptInput = { KeyId: clusterKey.Arn, Plaintext: PLAINTEXT.toString('base64') };
    const externalEncryptInput = { KeyId: externalKey.Arn, Plaintext: PLAINTEXT.toString('base64') };
    for (const input of [clusterEncryptInput, externalEncryptInput]) {
      const opened = await call(url, sign, port, 'Decrypt', { CiphertextBlob: (await call(url, sign, port, 'Encrypt', input)).CiphertextBlob });
      if (Buffer.from(opened.Plaintext, 'base64').compare(PLAINTEXT) !== 0) throw new Error(`Encrypt/Decrypt sample under ${input.KeyId} failed`);
    }

    // Each sample must succeed before anything is timed.
    const decrypted = await call(url, sign, port, 'Decrypt', decryptInput);
    if (Buffer.from(decrypted.Plaintext, 'base64').compare(PLAINTEXT) !== 0) throw new Error('Decrypt sample returned the wrong plaintext');
    const dataKey = await call(url, sign, port, 'GenerateDataKey', dataKeyInput);
    if (Buffer.from(dataKey.Plaintext, 'base64').length !== 32) throw new Error('GenerateDataKey sample returned the wrong length');

    // Sign and GenerateMac: one key each, samples checked before anything is timed.
    const { KeyMetadata: rsaKey } = await call(url, sign, port, 'CreateKey', { KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY', Description: 'bench' });
    const { KeyMetadata: ecKey } = await call(url, sign, port, 'CreateKey', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Description: 'bench' });
    const { KeyMetadata: macKey } = await call(url, sign, port, 'CreateKey', { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', Description: 'bench' });
    const message = PLAINTEXT.toString('base64');
    const sameOperation = [
      { name: 'Sign RSA_2048 (RSASSA_PSS_SHA_256)', target: 'Sign', raw: 'RSA-2048 PSS sign', input: { KeyId: rsaKey.Arn, Message: message, MessageType: 'RAW', SigningAlgorithm: 'RSASSA_PSS_SHA_256' } },
      { name: 'Sign ECC_NIST_P256 (ECDSA_SHA_256)', target: 'Sign', raw: 'P-256 ECDSA sign', input: { KeyId: ecKey.Arn, Message: message, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' } },
      { name: 'GenerateMac HMAC_256 (HMAC_SHA_256)', target: 'GenerateMac', raw: 'HMAC-SHA256', input: { KeyId: macKey.Arn, Message: message, MacAlgorithm: 'HMAC_SHA_256' } },
    ];
    for (const [key, input] of [[rsaKey, sameOperation[0].input], [ecKey, sameOperation[1].input]]) {
      const { PublicKey } = await call(url, sign, port, 'GetPublicKey', { KeyId: key.Arn });
      const { Signature } = await call(url, sign, port, 'Sign', input);
      const publicKey = createPublicKey({ key: Buffer.from(PublicKey, 'base64'), format: 'der', type: 'spki' });
      const options = key === rsaKey ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : { key: publicKey, dsaEncoding: 'der' };
      if (!verifySignature('sha256', PLAINTEXT, options, Buffer.from(Signature, 'base64'))) throw new Error(`Sign sample with ${key.KeySpec} does not verify`);
    }
    const { Mac } = await call(url, sign, port, 'GenerateMac', sameOperation[2].input);
    if (Buffer.from(Mac, 'base64').length !== 32) throw new Error('GenerateMac sample returned the wrong length');

    raw = openRaw(token);
    await rawEncryptOnce(raw, raw.sessions[0]);
    for (const once of Object.values(rawSameOperation)) await once(raw, raw.sessions[0]);

    log(`warm-up (${WARMUP_SECONDS} s)`);
    await loadTest(url, await sign(port, 'Encrypt', encryptInput), WARMUP_SECONDS);
    await loadTest(xksUrl, await xksSign('encrypt', xksEncryptInput), WARMUP_SECONDS);
    await rawBenchmark(raw, WARMUP_SECONDS);

    // Raw runs bracket every service run: each operation is divided by the mean of the raw runs
    // just before and just after it, so slow drift of a shared machine cancels out.
    // Each is signed just before its run: a SigV4 signature is accepted for 5 minutes.
    const operations = [
      { name: 'Encrypt', request: () => sign(port, 'Encrypt', encryptInput) },
      { name: 'Decrypt', request: () => sign(port, 'Decrypt', decryptInput) },
      { name: 'GenerateDataKey', request: () => sign(port, 'GenerateDataKey', dataKeyInput) },
      { name: 'Encrypt, key in a second token (CloudHSM key store)', request: () => sign(port, 'Encrypt', clusterEncryptInput) },
      { name: 'Encrypt, external key store (own XKS proxy, loopback)', request: () => sign(port, 'Encrypt', externalEncryptInput) },
      { name: 'XKS proxy Encrypt', target: xksUrl, request: () => xksSign('encrypt', xksEncryptInput) },
      { name: `XKS proxy Encrypt, ${XKS_RATE}/s offered`, target: xksUrl, rate: XKS_RATE, connections: XKS_RATE_CONNECTIONS, request: () => xksSign('encrypt', xksEncryptInput) },
    ];
    const raws = [];
    const service = [];
    const rawRun = async () => {
      log(`raw pkcs11js AES-GCM encrypt (${raws.length + 1}/${operations.length + 1})`);
      raws.push(await rawBenchmark(raw, SECONDS));
    };
    await rawRun();
    for (const op of operations) {
      log(op.name);
      service.push({ name: op.name, ...(await loadTest(op.target ?? url, await op.request(), SECONDS, op.rate, op.connections)) });
      await rawRun();
    }

    service.forEach((row, i) => {
      row.rawPerSecond = (raws[i].perSecond + raws[i + 1].perSecond) / 2;
      row.ratio = row.perSecond / row.rawPerSecond;
    });

    // Same operation, raw and through the service: raw, service, raw for each, so each ratio
    // compares like with like and is bracketed against drift.
    const same = [];
    for (const op of sameOperation) {
      const once = rawSameOperation[op.raw];
      log(`raw pkcs11js ${op.raw} / ${op.name} / raw pkcs11js ${op.raw}`);
      const before = await rawBenchmark(raw, SECONDS, once);
      const row = { name: op.name, ...(await loadTest(url, await sign(port, op.target, op.input), SECONDS)) };
      const after = await rawBenchmark(raw, SECONDS, once);
      row.rawPerSecond = (before.perSecond + after.perSecond) / 2;
      row.ratio = row.perSecond / row.rawPerSecond;
      same.push({ row, rawRow: { name: `  raw ${op.raw} (mean)`, perSecond: row.rawPerSecond, p50: (before.p50 + after.p50) / 2, p99: (before.p99 + after.p99) / 2 }, rawName: op.raw, rawRuns: [before.perSecond, after.perSecond] });
    }
    // p99 at half of the service's own Encrypt peak (autocannon spreads the rate within each second only roughly).
    const halfPeak = Math.max(1, Math.round(service[0].perSecond / 2));
    log(`Encrypt at ${halfPeak}/s (half of its peak)`);
    const halfPeakRow = { name: `Encrypt at ${halfPeak}/s (half of its peak)`, ...(await loadTest(url, await sign(port, 'Encrypt', encryptInput), SECONDS, halfPeak)) };

    // Every core: the same server with one worker process per core, on the same store and token.
    const workers = availableParallelism();
    log(`restarting with KMS_WORKERS=${workers}`);
    await stopServer(server);
    server = startServer({ ...env, KMS_WORKERS: String(workers) }, dir);
    await waitHealthy(url, server);
    await waitAllWorkers(server);
    const multi = [];
    const multiRaws = [await rawBenchmark(raw, SECONDS)];
    for (const op of operations.slice(0, 3)) {
      log(`${op.name}, ${workers} workers`);
      multi.push({ name: `${op.name}, ${workers} worker processes`, ...(await loadTest(url, await op.request(), SECONDS)) });
      multiRaws.push(await rawBenchmark(raw, SECONDS));
    }
    multi.forEach((row, i) => {
      row.rawPerSecond = (multiRaws[i].perSecond + multiRaws[i + 1].perSecond) / 2;
      row.ratio = row.perSecond / row.rawPerSecond;
    });

    // The audit trail's cost: two single-process servers on the same store and token, one with the
    // trail (the default) and one with KMS_AUDIT=off, both warmed up, then Encrypt on each in
    // turn, in the order on/off, off/on, on/off, … so that drift of a shared machine hits both
    // alike. Each adjacent pair gives 1 - on/off; the figure is their median. Raw runs before
    // and after the block give each side's ratio to the token's own rate.
    log('restarting as two single-process servers: audit trail on, and KMS_AUDIT=off');
    await stopServer(server);
    server = startServer({ ...env, KMS_WORKERS: '1' }, dir);
    const offPort = await freePort();
    const offUrl = `http://127.0.0.1:${offPort}`;
    auditOffServer = startServer({ ...env, KMS_WORKERS: '1', KMS_AUDIT: 'off', KMS_PORT: String(offPort), KMS_XKS_PORT: String(await freePort()) }, dir);
    await waitHealthy(url, server);
    await waitHealthy(offUrl, auditOffServer);
    const auditSides = { on: { url, port, runs: [] }, off: { url: offUrl, port: offPort, runs: [] } };
    for (const side of Object.values(auditSides)) await loadTest(side.url, await sign(side.port, 'Encrypt', encryptInput), WARMUP_SECONDS);
    const auditRaws = [await rawBenchmark(raw, SECONDS)];
    const auditRunSeconds = Math.max(3, Math.round(SECONDS / 2));
    for (let pair = 0; pair < AUDIT_PAIRS; pair++) {
      for (const name of pair % 2 === 0 ? ['on', 'off'] : ['off', 'on']) {
        const side = auditSides[name];
        log(`Encrypt, audit trail ${name} (pair ${pair + 1}/${AUDIT_PAIRS})`);
        side.runs.push(await loadTest(side.url, await sign(side.port, 'Encrypt', encryptInput), auditRunSeconds));
      }
    }
    auditRaws.push(await rawBenchmark(raw, SECONDS));
    const auditRawPerSecond = (auditRaws[0].perSecond + auditRaws[1].perSecond) / 2;
    const auditRow = (name, runs) => {
      const row = { name, perSecond: mean(runs.map((r) => r.perSecond)), p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)) };
      row.non2xx = runs.reduce((a, r) => a + r.non2xx, 0);
      row.errors = runs.reduce((a, r) => a + r.errors, 0);
      row.rawPerSecond = auditRawPerSecond;
      row.ratio = row.perSecond / auditRawPerSecond;
      return row;
    };
    const auditOn = auditRow(`Encrypt, audit trail on (${AUDIT_PAIRS} runs of ${auditRunSeconds} s)`, auditSides.on.runs);
    const auditOff = auditRow(`Encrypt, audit trail off (${AUDIT_PAIRS} runs of ${auditRunSeconds} s)`, auditSides.off.runs);
    const pairCosts = auditSides.on.runs.map((on, i) => 1 - on.perSecond / auditSides.off.runs[i].perSecond);
    const auditCost = median(pairCosts);
    await stopServer(auditOffServer);

    const rawRates = raws.map((r) => r.perSecond);
    const rawRow = { name: 'raw AES-GCM encrypt (mean)', perSecond: mean(rawRates), p50: mean(raws.map((r) => r.p50)), p99: mean(raws.map((r) => r.p99)) };
    const spread = (100 * (Math.max(...rawRates) - Math.min(...rawRates))) / rawRow.perSecond;
    const serverErrors = readFileSync(server.logFile, 'utf8').split('\n').filter((l) => l.includes('"level":"error"')).length;

    console.log('');
    console.log(`hsm-kms bench: ${SECONDS} s per run, ${CONCURRENCY} keep-alive connections (raw: ${CONCURRENCY} sessions), pipelining 1, 32-byte plaintext (XKS: with 51 bytes of AAD)`);
    console.log(`node ${process.version}, SoftHSM ${softhsmVersion()}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}`);
    console.log('');
    console.log(table([...service, rawRow]));
    console.log('');
    console.log(`raw runs (ops/s, in order, around the service runs): ${rawRates.map((r) => fixed(r, 0)).join(', ')}; spread ${fixed(spread, 1)}% of the mean`);
    console.log('service/raw = service req/s / mean of the raw runs just before and after it; server error log lines: ' + serverErrors);
    console.log('');
    console.log('Sign and GenerateMac, each beside the raw pkcs11js rate of the same operation on the same token (raw, service, raw):');
    console.log('');
    console.log(table(same.flatMap((s) => [s.row, s.rawRow])));
    console.log('');
    console.log(`raw runs (ops/s, before/after each service run): ${same.map((s) => `${s.rawName} ${s.rawRuns.map((r) => fixed(r, 0)).join('/')}`).join('; ')}`);
    console.log('');
    console.log(`Latency at half of the single-process Encrypt peak, and every core (${workers} worker processes on the same store and token; raw runs around each):`);
    console.log('');
    console.log(table([halfPeakRow, ...multi]));
    console.log('');
    console.log(`The audit trail: Encrypt on two warm single-process servers, trail on and KMS_AUDIT=off, alternating (on/off, off/on, …); raw runs before and after (${auditRaws.map((r) => fixed(r.perSecond, 0)).join(', ')} ops/s):`);
    console.log('');
    console.log(table([auditOn, auditOff]));
    console.log('');
    console.log(`req/s in turn, on/off per pair: ${auditSides.on.runs.map((on, i) => `${fixed(on.perSecond, 0)}/${fixed(auditSides.off.runs[i].perSecond, 0)}`).join(', ')}; cost per pair (1 - on/off): ${pairCosts.map((c) => `${fixed(100 * c, 1)}%`).join(', ')}; median ${fixed(100 * auditCost, 1)}%`);
    console.log('');
    // The issue's goals, each beside what this run measured.
    const ratioOf = (rows, name) => rows.find((r) => r.name === name)?.ratio ?? NaN;
    const goals = [
      ['Encrypt / raw AES-GCM', ratioOf(service, 'Encrypt'), 0.5],
      ['Decrypt / raw AES-GCM', ratioOf(service, 'Decrypt'), 0.5],
      ['GenerateDataKey / raw AES-GCM', ratioOf(service, 'GenerateDataKey'), 0.5],
      [`Encrypt, ${workers} workers / raw AES-GCM`, multi[0]?.ratio ?? NaN, 0.5],
      ['Sign ECC_NIST_P256 / raw ECDSA', ratioOf(same.map((x) => x.row), sameOperation[1].name), 0.5],
      ['GenerateMac / raw HMAC', ratioOf(same.map((x) => x.row), sameOperation[2].name), 0.5],
      ['Sign RSA_2048 / raw RSA-PSS', ratioOf(same.map((x) => x.row), sameOperation[0].name), 0.9],
    ];
    console.log('goals: ' + goals.map(([name, value, goal]) => `${name} ${fixed(value, 3)} (goal ≥ ${goal}${value >= goal ? ', met' : ''})`).join('; ')
      + `; Encrypt p99 at half peak ${halfPeakRow.p99} ms (goal < 2${halfPeakRow.p99 < 2 ? ', met' : ''})`
      + `; audit trail cost on Encrypt ${fixed(100 * auditCost, 1)}% (goal ≤ 15%${auditCost <= 0.15 ? ', met' : ''})`);
    const failed = [...service, ...same.map((s) => s.row), halfPeakRow, ...multi, auditOff].filter((r) => r.non2xx > 0 || r.errors > 0);
    if (failed.length > 0) console.log(`WARNING: non-2xx responses or errors in ${failed.map((r) => r.name).join(', ')}: figures are not valid`);
    if (serverErrors > 0) console.log(`WARNING: the server logged ${serverErrors} error lines`);
    const summary = {
      bench: 'hsm-kms', date: new Date().toISOString(), seconds: SECONDS, connections: CONCURRENCY, node: process.version,
      raw: { perSecond: Math.round(rawRow.perSecond), runs: rawRates.map(Math.round), p50: +rawRow.p50.toFixed(3), p99: +rawRow.p99.toFixed(3) },
      service: Object.fromEntries(service.map((r) => [r.name, {
        perSecond: Math.round(r.perSecond), p50: r.p50, p99: r.p99, non2xx: r.non2xx, errors: r.errors, rawPerSecond: Math.round(r.rawPerSecond), ratio: +r.ratio.toFixed(3),
      }])),
      audit: {
        onRatio: +auditOn.ratio.toFixed(3), offRatio: +auditOff.ratio.toFixed(3), onPerSecond: Math.round(auditOn.perSecond), offPerSecond: Math.round(auditOff.perSecond),
        pairCosts: pairCosts.map((c) => +c.toFixed(3)), cost: +auditCost.toFixed(3),
      },
      halfPeak: { rate: halfPeak, perSecond: Math.round(halfPeakRow.perSecond), p50: halfPeakRow.p50, p99: halfPeakRow.p99 },
      workers: Object.fromEntries(multi.map((r) => [r.name, { perSecond: Math.round(r.perSecond), p50: r.p50, p99: r.p99, rawPerSecond: Math.round(r.rawPerSecond), ratio: +r.ratio.toFixed(3) }])),
      sameOperation: Object.fromEntries(same.map(({ row: r }) => [r.name, {
        perSecond: Math.round(r.perSecond), p50: r.p50, p99: r.p99, non2xx: r.non2xx, errors: r.errors, rawPerSecond: Math.round(r.rawPerSecond), ratio: +r.ratio.toFixed(3),
      }])),
    };
    console.log('');
    console.log(JSON.stringify(summary));
    if (failed.length > 0 || serverErrors > 0) process.exitCode = 1;
  } catch (e) {
    if (server) log(`server output (last lines):\n${tail(server.logFile)}`);
    throw e;
  } finally {
    if (!interrupted) await cleanup();
  }
}

main().catch((e) => {
  console.error(`bench failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
