// Scale check: the built server on a throwaway token with MANY_KEYS symmetric keys (default
// 20,000), made through CreateKey with 8 in flight; then a restart, timed to its first healthy
// /healthz, its RSS when idle, and Encrypt replayed by autocannon for BENCH_SECONDS (default 5)
// on one of the keys. Not part of npm run bench (it takes minutes: the token writes files per key).
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KEYS = Number(process.env.MANY_KEYS ?? 20000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PORT = 19000 + Math.floor(Math.random() * 1000);
const log = (m) => console.error(`many-keys: ${m}`);

class Sha256 {
  constructor(secret) { this.h = secret ? createHmac('sha256', secret) : createHash('sha256'); }
  update(data) { this.h.update(data); }
  async digest() { return new Uint8Array(this.h.digest()); }
}

const dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-many-keys-'));
mkdirSync(path.join(dir, 'tokens'));
const conf = path.join(dir, 'softhsm2.conf');
writeFileSync(conf, `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
const pin = randomBytes(8).toString('hex');
execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'many', '--so-pin', pin, '--pin', pin], { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'pipe' });
const credentials = { accessKeyId: 'AKIAMANYKEYS00000001', secretAccessKey: randomBytes(30).toString('base64') };
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KMS_')));
Object.assign(env, {
  KMS_DATA_DIR: dir, KMS_PORT: String(PORT), KMS_TOKEN_LABEL: 'many', KMS_PIN: pin, SOFTHSM2_CONF: conf, KMS_WORKERS: '1',
  KMS_ROOT_ACCESS_KEY_ID: credentials.accessKeyId, KMS_ROOT_SECRET_ACCESS_KEY: credentials.secretAccessKey, KMS_LOG_LEVEL: 'info',
});
const url = `http://127.0.0.1:${PORT}`;
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function send(request, keepAlive = false) {
  return new Promise((resolve, reject) => {
    const req = http.request(url + request.path, { method: request.method, headers: request.headers, agent: keepAlive ? agent : false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(request.body);
  });
}
const sigv4 = new SignatureV4({ service: 'kms', region: 'us-east-1', credentials, sha256: Sha256 });
async function signed(target, input) {
  const body = JSON.stringify(input);
  const request = new HttpRequest({ method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port: PORT, path: '/', headers: { host: `127.0.0.1:${PORT}`, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${target}` }, body });
  return { method: 'POST', path: '/', headers: (await sigv4.sign(request)).headers, body };
}
function start() {
  const fd = openSync(path.join(dir, 'server.out'), 'a');
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'main.js')], { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return child;
}
async function healthy(child) {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}: ${readFileSync(path.join(dir, 'server.out'), 'utf8').slice(-500)}`);
    try {
      if ((await send({ method: 'GET', path: '/healthz', headers: {} })).status === 200) return;
    } catch { /* not yet */ }
    await sleep(20);
  }
}
async function stop(child) {
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
}
const rssMb = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) / 1024;

let server = start();
try {
  await healthy(server);
  const emptyRss = rssMb(server.pid);
  let made = 0;
  let firstKey;
  const began = Date.now();
  const worker = async () => {
    while (made < KEYS) {
      made++;
      const res = await send(await signed('CreateKey', { Description: 'many' }), true);
      if (res.status !== 200) throw new Error(`CreateKey: ${res.status} ${res.text}`);
      firstKey ??= JSON.parse(res.text).KeyMetadata.Arn;
      if (made % 5000 === 0) log(`${made} keys (${Math.round(made / ((Date.now() - began) / 1000))}/s)`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  log(`${KEYS} keys in ${((Date.now() - began) / 1000).toFixed(0)} s`);
  await stop(server);
  const restarted = Date.now();
  server = start();
  await healthy(server);
  const startup = (Date.now() - restarted) / 1000;
  await sleep(2000);
  const idleRss = rssMb(server.pid);
  const request = await signed('Encrypt', { KeyId: firstKey, Plaintext: randomBytes(32).toString('base64') });
  const result = await autocannon({ url, connections: 8, duration: SECONDS, method: 'POST', headers: request.headers, body: request.body });
  console.log(`${KEYS} keys: start-up to healthy ${startup.toFixed(1)} s; RSS idle ${emptyRss.toFixed(0)} MB with none, ${idleRss.toFixed(0)} MB with ${KEYS}; Encrypt ${Math.round(result['2xx'] / result.duration)} req/s, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}`);
} finally {
  agent.destroy();
  await stop(server).catch(() => undefined);
  if (process.env.MANY_KEYS_KEEP === '1') log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
