// A focused load for profiling: the built server on a throwaway token, one symmetric key, and
// SigV4-signed Encrypt requests replayed by autocannon for BENCH_SECONDS (default 8). With
// BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" the server writes a CPU profile of
// (almost) nothing but Encrypt. Prints req/s, p50 and p99. Not part of npm run bench.
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const PORT = 18000 + Math.floor(Math.random() * 1000);

class Sha256 {
  constructor(secret) { this.h = secret ? createHmac('sha256', secret) : createHash('sha256'); }
  update(data) { this.h.update(data); }
  async digest() { return new Uint8Array(this.h.digest()); }
}

const dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-profile-'));
const tokens = path.join(dir, 'tokens');
mkdirSync(tokens);
const conf = path.join(dir, 'softhsm2.conf');
writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
const pin = randomBytes(8).toString('hex');
execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'profile', '--so-pin', pin, '--pin', pin], { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'pipe' });
const credentials = { accessKeyId: 'AKIAPROFILE000000001', secretAccessKey: randomBytes(30).toString('base64') };
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KMS_')));
env.KMS_WORKERS = process.env.KMS_WORKERS ?? '1';
Object.assign(env, {
  KMS_DATA_DIR: dir, KMS_PORT: String(PORT), KMS_TOKEN_LABEL: 'profile', KMS_PIN: pin, SOFTHSM2_CONF: conf,
  KMS_ROOT_ACCESS_KEY_ID: credentials.accessKeyId, KMS_ROOT_SECRET_ACCESS_KEY: credentials.secretAccessKey,
});
const fd = openSync(path.join(dir, 'server.out'), 'a');
const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const server = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'dist', 'main.js')], { env, stdio: ['ignore', fd, fd] });
closeSync(fd);
const url = `http://127.0.0.1:${PORT}`;

function send(request) {
  return new Promise((resolve, reject) => {
    const req = http.request(url + request.path, { method: request.method, headers: request.headers, agent: false }, (res) => {
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
try {
  for (let i = 0; ; i++) {
    try {
      if ((await send({ method: 'GET', path: '/healthz', headers: {} })).status === 200) break;
    } catch { /* not yet */ }
    if (i > 300) throw new Error('server did not start');
    await sleep(100);
  }
  const key = JSON.parse((await send(await signed('CreateKey', {}))).text).KeyMetadata;
  const target = process.env.PROFILE_TARGET ?? 'Encrypt';
  const request = await signed(target, target === 'Encrypt' ? { KeyId: key.Arn, Plaintext: randomBytes(32).toString('base64') } : { KeyId: key.Arn, KeySpec: 'AES_256' });
  const probe = await send(request);
  if (probe.status !== 200) throw new Error(`probe: ${probe.status} ${probe.text}`);
  await autocannon({ url, connections: CONNECTIONS, duration: 2, method: 'POST', headers: request.headers, body: request.body });
  // CPU time of the server process tree (primary and workers) and of this load generator, per request.
  const serverCpu = () => execFileSync('ps', ['--no-headers', '-o', 'cputimes', '--ppid', String(server.pid), '-p', String(server.pid)]).toString().trim().split(/\s+/).reduce((a, b) => a + Number(b), 0);
  const clientBefore = process.cpuUsage();
  const serverBefore = serverCpu();
  const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, method: 'POST', headers: request.headers, body: request.body });
  const client = process.cpuUsage(clientBefore);
  const served = result['2xx'];
  const serverSeconds = serverCpu() - serverBefore;
  console.log(`${target}: ${Math.round(served / result.duration)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}, errors ${result.errors}; `
    + `CPU per request: server ${Math.round((serverSeconds * 1e6) / served)} µs (whole seconds from ps: coarse), load generator ${Math.round((client.user + client.system) / served)} µs`);
} finally {
  server.kill('SIGINT');
  await new Promise((resolve) => server.once('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
}
