// Scale check: the built server on a throwaway token with MANY_KEYS symmetric keys (default
// 20,000), made through CreateKey with 8 in flight; then a restart, timed to its first healthy
// /healthz, its RSS when idle, and Encrypt replayed by autocannon for BENCH_SECONDS (default 5)
// on one of the keys. Not part of npm run bench (it takes minutes: the token writes files per key).
// MANY_KEYS_FILL=copy makes 2 keys through CreateKey, then fills the rest by copying the second
// one's token object file and store record (the copies share its CKA_ID: SoftHSM encrypts a
// private object's attributes on disk, so a copy cannot be given another). The token then holds
// MANY_KEYS objects and the store MANY_KEYS records in seconds, which is what start-up, memory
// and the first key's lookups scale with; Encrypt runs on the first key, whose object is unique.
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { kmsSigner, send, throwawayService } from './scaffold.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KEYS = Number(process.env.MANY_KEYS ?? 20000);
const FILL_BY_COPY = process.env.MANY_KEYS_FILL === 'copy';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PORT = 19000 + Math.floor(Math.random() * 1000);
const log = (m) => console.error(`many-keys: ${m}`);

const dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-many-keys-'));
const { env, credentials, url } = throwawayService(dir, { label: 'many', port: PORT });
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

const signed = kmsSigner(credentials, PORT);
const sendOne = (request, keepAlive = false) => send(url, request, keepAlive ? agent : false);
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
      if ((await sendOne({ method: 'GET', path: '/healthz', headers: {} })).status === 200) return;
    } catch { /* not yet */ }
    await sleep(20);
  }
}
async function stop(child) {
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
}
/** Copies the filler key's newest token object file and its store record `copies` times (see the header). */
function fillByCopy(fillerKeyId, copies) {
  const tokenDir = path.join(dir, 'tokens', readdirSync(path.join(dir, 'tokens'))[0]);
  const [newest] = readdirSync(tokenDir).filter((f) => f.endsWith('.object') && f !== 'token.object')
    .map((f) => ({ f, at: statSync(path.join(tokenDir, f)).mtimeMs })).sort((a, b) => b.at - a.at);
  const lock = path.join(tokenDir, newest.f.replace(/\.object$/, '.lock'));
  const db = new Database(path.join(dir, 'metadata.sqlite'));
  try {
    const row = db.prepare('SELECT * FROM keys WHERE key_id = ?').get(fillerKeyId);
    const insert = db.prepare('INSERT INTO keys (account_id, region, key_id, incomplete, revision, updated_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?)');
    db.transaction(() => {
      for (let i = 0; i < copies; i++) {
        const file = randomUUID();
        copyFileSync(path.join(tokenDir, newest.f), path.join(tokenDir, `${file}.object`));
        if (existsSync(lock)) copyFileSync(lock, path.join(tokenDir, `${file}.lock`));
        const keyId = randomUUID();
        insert.run(row.account_id, row.region, keyId, 0, row.revision, row.updated_at, row.doc.replaceAll(fillerKeyId, keyId));
      }
    })();
  } finally {
    db.close();
  }
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
      const res = await sendOne(await signed('CreateKey', { Description: 'many' }), true);
      if (res.status !== 200) throw new Error(`CreateKey: ${res.status} ${res.text}`);
      firstKey ??= JSON.parse(res.text).KeyMetadata.Arn;
      if (made % 5000 === 0) log(`${made} keys (${Math.round(made / ((Date.now() - began) / 1000))}/s)`);
    }
  };
  if (FILL_BY_COPY) {
    const key = async () => JSON.parse((await sendOne(await signed('CreateKey', { Description: 'many' }))).text).KeyMetadata.Arn;
    firstKey = await key();
    const filler = (await key()).split('/')[1];
    await stop(server);
    fillByCopy(filler, KEYS - 2);
  } else {
    await Promise.all(Array.from({ length: 8 }, worker));
    await stop(server);
  }
  log(`${KEYS} keys in ${((Date.now() - began) / 1000).toFixed(0)} s`);
  const restarted = Date.now();
  server = start();
  await healthy(server);
  const startup = (Date.now() - restarted) / 1000;
  await sleep(2000);
  const idleRss = rssMb(server.pid);
  const request = await signed('Encrypt', { KeyId: firstKey, Plaintext: randomBytes(32).toString('base64') });
  // The first use of a key in a process finds its object in the token: on SoftHSM's file store
  // that search reads every object file, so it is timed apart from the steady rate.
  const firstAt = Date.now();
  const first = await sendOne(request, true);
  if (first.status !== 200) throw new Error(`Encrypt: ${first.status} ${first.text}`);
  const firstMs = Date.now() - firstAt;
  const result = await autocannon({ url, connections: 8, duration: SECONDS, method: 'POST', headers: request.headers, body: request.body });
  console.log(`${KEYS} keys: start-up to healthy ${startup.toFixed(1)} s; RSS idle ${emptyRss.toFixed(0)} MB with none, ${idleRss.toFixed(0)} MB with ${KEYS}; first Encrypt ${firstMs} ms, then ${Math.round(result['2xx'] / result.duration)} req/s, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}`);
} finally {
  agent.destroy();
  await stop(server).catch(() => undefined);
  if (process.env.MANY_KEYS_KEEP === '1') log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
