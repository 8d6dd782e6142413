// A focused load for profiling: the built server on a throwaway token, one symmetric key, and
// SigV4-signed Encrypt requests replayed by autocannon for BENCH_SECONDS (default 8). With
// BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" the server writes a CPU profile of
// (almost) nothing but Encrypt. PROFILE_AUDIT=off turns the audit trail off. Prints req/s, p50
// and p99. Not part of npm run bench.
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { kmsSigner, send, throwawayService } from './scaffold.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const PORT = 18000 + Math.floor(Math.random() * 1000);

const dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-profile-'));
const { env, credentials, url } = throwawayService(dir, { label: 'profile', port: PORT, workers: process.env.KMS_WORKERS ?? '1' });
// PROFILE_AUDIT=off measures without the audit trail (KMS_* of the caller's own never leak in).
if (process.env.PROFILE_AUDIT) env.KMS_AUDIT = process.env.PROFILE_AUDIT;
const fd = openSync(path.join(dir, 'server.out'), 'a');
const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const server = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'dist', 'main.js')], { env, stdio: ['ignore', fd, fd] });
closeSync(fd);

const signed = kmsSigner(credentials, PORT);
try {
  for (let i = 0; ; i++) {
    try {
      if ((await send(url, { method: 'GET', path: '/healthz', headers: {} })).status === 200) break;
    } catch { /* not yet */ }
    if (i > 300) throw new Error('server did not start');
    await sleep(100);
  }
  const key = JSON.parse((await send(url, await signed('CreateKey', {}))).text).KeyMetadata;
  const target = process.env.PROFILE_TARGET ?? 'Encrypt';
  const request = await signed(target, target === 'Encrypt' ? { KeyId: key.Arn, Plaintext: randomBytes(32).toString('base64') } : { KeyId: key.Arn, KeySpec: 'AES_256' });
  const probe = await send(url, request);
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
  if (!process.env.BENCH_KEEP_TMP) rmSync(dir, { recursive: true, force: true }); else console.log(dir);
}
