// The XKS proxy through a real listener on 127.0.0.1: plain HTTP on loopback only; HTTPS with
// TLS 1.2+ and the spec's cipher suites only; the certificate taken up when its files change;
// mTLS where a client without a valid certificate (or with another subject CN) gets no HTTP
// response at all. Certificates are made for each run with the machine's openssl.
import { randomBytes, X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { listenXks } from '../../src/http/xks/listener';
import { makeTestPki, type KeyPair, type TestPki } from '../support/certificates';
import { b64, healthPath, keyPath, metadata, startXksTestProxy, xksSignedHeaders, type XksTestProxy } from '../support/xks';

let proxy: XksTestProxy;
let pki: TestPki;

beforeAll(async () => {
  proxy = await startXksTestProxy();
  pki = makeTestPki(path.join(proxy.svc.dir, 'pki'));
  await proxy.createKey('foo', ['ENCRYPT', 'DECRYPT']);
});

afterAll(async () => {
  await proxy.close();
});

interface Outcome {
  status?: number;
  body?: Record<string, unknown>;
  /** The client's error when no HTTP response came. */
  error?: string;
}

/** One signed XKS call over a fresh connection. */
async function send(url: string, rawPath: string, body: unknown, client?: KeyPair): Promise<Outcome> {
  const target = new URL(url);
  const bytes = Buffer.from(JSON.stringify(body));
  const headers = await xksSignedHeaders(rawPath, bytes, { host: target.host });
  const secure = target.protocol === 'https:';
  const options: https.RequestOptions = {
    method: 'POST', hostname: target.hostname, port: target.port, path: rawPath, headers, agent: false,
    ...(secure ? { ca: readFileSync(pki.ca.cert), servername: 'localhost', ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}) } : {}),
  };
  return new Promise((resolve) => {
    const req = (secure ? https : http).request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') }));
    });
    req.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end(bytes);
  });
}

const healthBody = () => ({ requestMetadata: { kmsOperation: 'KmsHealthCheck', kmsRequestId: randomBytes(4).toString('hex') } });

/** A bare TLS handshake with `options`; what was negotiated, or the error. */
function handshake(url: string, options: tls.ConnectionOptions): Promise<{ protocol?: string | null; cipher?: string; fingerprint?: string; error?: string }> {
  const target = new URL(url);
  return new Promise((resolve) => {
    const socket = tls.connect({ host: target.hostname, port: Number(target.port), servername: 'localhost', ca: readFileSync(pki.ca.cert), ...options }, () => {
      const result = { protocol: socket.getProtocol(), cipher: socket.getCipher().standardName, fingerprint: socket.getPeerCertificate().fingerprint256 };
      socket.end();
      resolve(result);
    });
    socket.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
  });
}

describe('plain HTTP', () => {
  it('serves the XKS API on a loopback address', async () => {
    const listener = await proxy.listen();
    expect(listener.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await send(listener.url, healthPath(), healthBody());
    expect(res.status).toBe(200);
    expect(res.body?.ekmFleetDetails).toHaveLength(1);
    const enc = await send(listener.url, keyPath('foo', 'encrypt'), { requestMetadata: metadata('Encrypt'), plaintext: b64(randomBytes(32)), encryptionAlgorithm: 'AES_GCM' });
    expect(enc.status).toBe(200);
  });

  it('signs and routes the path exactly as received: keys named \'.\' and \'..\' are reached, not normalised away', async () => {
    const listener = await proxy.listen();
    await proxy.createKey('..', ['ENCRYPT']);
    await proxy.createKey('.', ['DECRYPT']);
    // Node's http client sends the path verbatim; the smithy signer signs it verbatim (uriEscapePath off).
    expect(await send(listener.url, keyPath('..', 'metadata'), { requestMetadata: metadata('DescribeKey') })).toMatchObject({ status: 200, body: { keyUsage: ['ENCRYPT'] } });
    expect(await send(listener.url, keyPath('.', 'metadata'), { requestMetadata: metadata('DescribeKey') })).toMatchObject({ status: 200, body: { keyUsage: ['DECRYPT'] } });
  });

  it('the XKS listener serves plain HTTP only on a loopback address.', async () => {
    await expect(listenXks(proxy.app, { host: '0.0.0.0', port: 0, pollMs: 1000, onError: () => undefined, onReload: () => undefined })).rejects.toThrow(/loopback/);
  });
});

describe('HTTPS', () => {
  let url: string;
  let certDir: string;
  beforeAll(async () => {
    // Copies, so the reload test can change them.
    certDir = path.join(proxy.svc.dir, 'live');
    mkdirSync(certDir, { recursive: true });
    copyFileSync(pki.server.cert, path.join(certDir, 'server.pem'));
    copyFileSync(pki.server.key, path.join(certDir, 'server.key'));
    url = (await proxy.listen({ certFile: path.join(certDir, 'server.pem'), keyFile: path.join(certDir, 'server.key') })).url;
  });

  it('serves the XKS API over TLS 1.3 with TLS_AES_256_GCM_SHA384', async () => {
    const res = await send(url, keyPath('foo', 'encrypt'), { requestMetadata: metadata('Encrypt'), plaintext: b64(randomBytes(32)), encryptionAlgorithm: 'AES_GCM' });
    expect(res.status).toBe(200);
    expect(await handshake(url, {})).toMatchObject({ protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' });
    expect(await handshake(url, { ciphers: 'TLS_CHACHA20_POLY1305_SHA256' })).toMatchObject({ protocol: 'TLSv1.3', cipher: 'TLS_CHACHA20_POLY1305_SHA256' });
  });

  it('offers only the spec\'s suites: TLS 1.2 with ECDHE-RSA AES-256-GCM, nothing weaker, nothing older', async () => {
    expect(await handshake(url, { maxVersion: 'TLSv1.2' })).toMatchObject({ protocol: 'TLSv1.2', cipher: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384' });
    expect((await handshake(url, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:AES256-GCM-SHA384' })).error).toBeDefined();
    expect((await handshake(url, { minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256' })).error).toBeDefined();
    expect((await handshake(url, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' })).error).toBeDefined();
  });

  it('takes up a new certificate and key when their files change, and refuses a pair that does not match', async () => {
    const fingerprint = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;
    expect((await handshake(url, {})).fingerprint).toBe(fingerprint(pki.server.cert));
    // A mismatched pair (new certificate, old key) is refused whole; the old pair stays.
    copyFileSync(pki.server2.cert, path.join(certDir, 'server.pem'));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await handshake(url, {})).fingerprint).toBe(fingerprint(pki.server.cert));
    expect(readFileSync(proxy.svc.logFile, 'utf8')).toMatch(/XKS TLS files refused/);
    copyFileSync(pki.server2.key, path.join(certDir, 'server.key'));
    const deadline = Date.now() + 5000;
    let seen: string | undefined;
    while (Date.now() < deadline) {
      seen = (await handshake(url, {})).fingerprint;
      if (seen === fingerprint(pki.server2.cert)) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(seen).toBe(fingerprint(pki.server2.cert));
    expect((await send(url, healthPath(), healthBody())).status).toBe(200);
  });
});

describe('mTLS', () => {
  let url: string;
  let anyCnUrl: string;
  beforeAll(async () => {
    url = (await proxy.listen({ certFile: pki.server.cert, keyFile: pki.server.key, clientCaFile: pki.ca.cert, clientCn: 'cks.kms.us-east-1.amazonaws.com' })).url;
    anyCnUrl = (await proxy.listen({ certFile: pki.server.cert, keyFile: pki.server.key, clientCaFile: pki.ca.cert })).url;
  });

  it('serves a client whose certificate is chained to the CA and names the required CN', async () => {
    expect((await send(url, healthPath(), healthBody(), pki.client)).status).toBe(200);
    const enc = await send(url, keyPath('foo', 'encrypt'), { requestMetadata: metadata('Encrypt'), plaintext: b64(randomBytes(32)), encryptionAlgorithm: 'AES_GCM' }, pki.client);
    expect(enc.status).toBe(200);
  });

  it('with mTLS and a required subject CN, a client certificate with another CN gets no HTTP response.', async () => {
    const res = await send(url, healthPath(), healthBody(), pki.otherCn);
    expect(res.status).toBeUndefined();
    expect(res.error).toBeDefined();
    // Without a required CN, any certificate of the CA is accepted.
    expect((await send(anyCnUrl, healthPath(), healthBody(), pki.otherCn)).status).toBe(200);
  });

  it('a client without a certificate, or with a self-signed, expired or foreign one, gets no HTTP response', async () => {
    for (const [name, client] of [['none', undefined], ['self-signed', pki.selfSigned], ['expired', pki.expired], ['foreign CA', pki.foreign]] as const) {
      for (const target of [url, anyCnUrl]) {
        const res = await send(target, healthPath(), healthBody(), client);
        expect({ name, status: res.status, failed: res.error !== undefined }).toEqual({ name, status: undefined, failed: true });
      }
    }
  });
});
