// What the focused bench scripts (profile-encrypt.mjs, many-keys.mjs) share: a throwaway token,
// the server's environment, one HTTP request, and SigV4-signed KMS requests (node:crypto hashing).
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { execFileSync } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

class Sha256 {
  constructor(secret) { this.h = secret ? createHmac('sha256', secret) : createHash('sha256'); }
  update(data) { this.h.update(data); }
  async digest() { return new Uint8Array(this.h.digest()); }
}

/** A SoftHSM token of its own under `dir`, with the server environment that uses it (no other KMS_* leaks in). */
export function throwawayService(dir, { label, port, workers = '1', logLevel = 'info' }) {
  mkdirSync(path.join(dir, 'tokens'));
  const conf = path.join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const pin = randomBytes(8).toString('hex');
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', pin, '--pin', pin], { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'pipe' });
  const credentials = { accessKeyId: 'AKIABENCHSCAFFOLD001', secretAccessKey: randomBytes(30).toString('base64') };
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KMS_')));
  Object.assign(env, {
    KMS_DATA_DIR: dir, KMS_PORT: String(port), KMS_TOKEN_LABEL: label, KMS_PIN: pin, SOFTHSM2_CONF: conf, KMS_WORKERS: workers, KMS_LOG_LEVEL: logLevel,
    KMS_ROOT_ACCESS_KEY_ID: credentials.accessKeyId, KMS_ROOT_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  });
  return { env, credentials, url: `http://127.0.0.1:${port}` };
}

/** One request; resolves with status and body text. `agent` false opens a connection of its own. */
export function send(url, request, agent = false) {
  return new Promise((resolve, reject) => {
    const req = http.request(url + request.path, { method: request.method, headers: request.headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(request.body);
  });
}

/** KMS requests signed now for `port` (valid for the server's 5-minute window). */
export function kmsSigner(credentials, port) {
  const sigv4 = new SignatureV4({ service: 'kms', region: 'us-east-1', credentials, sha256: Sha256 });
  return async (target, input) => {
    const body = JSON.stringify(input);
    const request = new HttpRequest({
      method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port, path: '/',
      headers: { host: `127.0.0.1:${port}`, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${target}` }, body,
    });
    return { method: 'POST', path: '/', headers: (await sigv4.sign(request)).headers, body };
  };
}
