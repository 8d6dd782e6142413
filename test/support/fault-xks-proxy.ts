// A small XKS proxy for client tests, on 127.0.0.1 over HTTP or HTTPS: AES-256-GCM with
// node:crypto under an in-memory key per key id, the spec's AAD (length-prefixed AAD ‖
// length-prefixed ciphertext metadata) and its own CDIV computation (Appendix C), optionally
// verifying SigV4 with our server's verifier. Faults can be switched on for the next N
// requests: delays, every spec error, bodies that are not what the API specifies, a connection
// destroyed before or during the response. Every request is recorded (headers, body, which
// connection carried it).
import { xksStatusOf } from '../../src/http/xks/errors';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { verifySigV4 } from '../../src/http/auth/sigv4';

export type Fault =
  /** Answers after `ms` milliseconds. */
  | { kind: 'delay'; ms: number }
  /** One of the spec's errors (or any name), with its status. */
  | { kind: 'error'; errorName: string; status: number; errorMessage?: string }
  /** Any status, content type and body. */
  | { kind: 'raw'; status: number; contentType: string; body: string | Buffer }
  /** The real answer with a CDIV that does not match it. */
  | { kind: 'wrongCdiv' }
  /** The real answer with one ciphertext bit flipped after the CDIV was computed. */
  | { kind: 'tamperedCiphertext' }
  /** The real answer with an IV of this many bytes (the CDIV computed over it, so only the size is wrong). */
  | { kind: 'ivSize'; bytes: number }
  /** The real answer's JSON changed by `edit` (fields removed, resized, ...). */
  | { kind: 'edit'; edit: (body: Record<string, unknown>) => Record<string, unknown> }
  /** Headers and part of the body, then the connection is destroyed. */
  | { kind: 'destroyMidResponse' }
  /** The connection is destroyed as soon as the request has arrived, without any answer. */
  | { kind: 'destroyBeforeResponse' };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json: Record<string, unknown> | undefined;
  /** Which TCP connection carried it: 1, 2, ... in order of connection. */
  connection: number;
}

export interface FaultProxyOptions {
  /** HTTPS with this certificate and key (file paths). */
  tls?: { cert: string; key: string };
  /** Verify SigV4 (service kms-xks-proxy) with this credential; unverified otherwise. */
  credential?: { accessKeyId: string; secretAccessKey: string };
  /** ciphertextMetadata to add to every Encrypt answer (and require on Decrypt). */
  ciphertextMetadata?: Buffer;
}

export interface FaultProxy {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Connections accepted so far. */
  connections(): number;
  /** Keys by id; encrypt/decrypt/metadata on any other id is KeyNotFoundException. */
  addKey(id: string, usage?: string[]): void;
  /** `fault` for the next `times` requests (all of them if omitted), then normal answers. */
  setFault(fault: Fault | undefined, times?: number): void;
  close(): Promise<void>;
}

/** The spec's error names with their HTTP statuses: the proxy server's own table. */
export const SPEC_ERRORS: Readonly<Record<string, number>> = xksStatusOf;

const b64 = (b: Buffer) => b.toString('base64');
const unb64 = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'base64') : Buffer.alloc(0));

function gcmAad(aad: Buffer, metadata: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(aad.length);
  return Buffer.concat([length, aad, Buffer.from([metadata.length]), metadata]);
}

function cdivOf(aad: Buffer, metadata: Buffer, iv: Buffer, ciphertext: Buffer, tag: Buffer): Buffer {
  return createHash('sha256').update(Buffer.concat([aad, metadata, iv, ciphertext, tag])).digest();
}

const route = /^(.*)\/kms\/xks\/v1\/(?:keys\/([^/]+)\/(encrypt|decrypt|metadata)|(health))$/;

export async function startFaultXksProxy(options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const keys = new Map<string, { key: Buffer; usage: string[] }>();
  const requests: RecordedRequest[] = [];
  const sockets = new Map<Socket, number>();
  let fault: Fault | undefined;
  let faultLeft = Infinity;
  const metadataOut = options.ciphertextMetadata ?? Buffer.alloc(0);

  function nextFault(): Fault | undefined {
    if (!fault) return undefined;
    const current = fault;
    faultLeft -= 1;
    if (faultLeft <= 0) fault = undefined;
    return current;
  }

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    if (res.destroyed || res.writableEnded) return;
    const bytes = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length });
    res.end(bytes);
  };
  const error = (res: http.ServerResponse, errorName: string, errorMessage?: string) =>
    send(res, SPEC_ERRORS[errorName] ?? 500, { errorName, ...(errorMessage ? { errorMessage } : {}) });

  /** The proxy's real answer: [status, body]. */
  function answer(path: string, json: Record<string, unknown> | undefined): [number, Record<string, unknown>] {
    const m = route.exec(path);
    const fail = (errorName: string): [number, Record<string, unknown>] => [SPEC_ERRORS[errorName]!, { errorName }];
    if (!m) return fail('InvalidUriPathException');
    if (!json || typeof json.requestMetadata !== 'object') return fail('ValidationException');
    if (m[4] === 'health') {
      return [200, { xksProxyFleetSize: 1, xksProxyVendor: 'test', xksProxyModel: 'fault proxy 1.0', ekmVendor: 'node:crypto', ekmFleetDetails: [{ id: 'ekm-1', model: 'in-memory', healthStatus: 'ACTIVE' }] }];
    }
    const entry = keys.get(decodeURIComponent(m[2]!));
    if (!entry) return fail('KeyNotFoundException');
    const aad = unb64(json.additionalAuthenticatedData);
    if (m[3] === 'metadata') return [200, { keySpec: 'AES_256', keyUsage: entry.usage, keyStatus: 'ENABLED' }];
    if (m[3] === 'encrypt') {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', entry.key, iv);
      cipher.setAAD(gcmAad(aad, metadataOut));
      const ciphertext = Buffer.concat([cipher.update(unb64(json.plaintext)), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [200, {
        ciphertext: b64(ciphertext), initializationVector: b64(iv), authenticationTag: b64(tag),
        ...(metadataOut.length > 0 ? { ciphertextMetadata: b64(metadataOut) } : {}),
        ...(json.ciphertextDataIntegrityValueAlgorithm === 'SHA_256' ? { ciphertextDataIntegrityValue: b64(cdivOf(aad, metadataOut, iv, ciphertext, tag)) } : {}),
      }];
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', entry.key, unb64(json.initializationVector));
      decipher.setAAD(gcmAad(aad, unb64(json.ciphertextMetadata)));
      decipher.setAuthTag(unb64(json.authenticationTag));
      return [200, { plaintext: b64(Buffer.concat([decipher.update(unb64(json.ciphertext)), decipher.final()])) }];
    } catch {
      return fail('InvalidCiphertextException');
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    const path = req.url ?? '';
    requests.push({ method: req.method ?? '', path, headers: req.headers, body, json, connection: sockets.get(req.socket) ?? 0 });
    const current = nextFault();

    if (options.credential) {
      try {
        await verifySigV4(
          { method: req.method ?? '', path, query: {}, headers: req.headers, body },
          (id) => (id === options.credential!.accessKeyId ? { ...options.credential!, principal: { arn: 'kms', accountId: '', policies: [] } } : undefined),
          new Date(), { service: 'kms-xks-proxy', rawPath: true },
        );
      } catch {
        error(res, 'AuthenticationFailedException');
        return;
      }
    }

    switch (current?.kind) {
      case 'delay':
        await new Promise((r) => setTimeout(r, current.ms));
        break;
      case 'error':
        send(res, current.status, { errorName: current.errorName, ...(current.errorMessage ? { errorMessage: current.errorMessage } : {}) });
        return;
      case 'raw':
        res.writeHead(current.status, { 'content-type': current.contentType });
        res.end(current.body);
        return;
      case 'destroyBeforeResponse':
        req.socket.destroy();
        return;
      case 'destroyMidResponse':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 400 });
        res.write('{"ciphertext":"');
        // Flushed before the connection goes.
        setTimeout(() => req.socket.destroy(), 20);
        return;
      default:
        break;
    }

    const [status, out] = answer(path, json);
    if (status === 200 && current) {
      const aad = unb64(json?.additionalAuthenticatedData);
      const recdiv = (o: Record<string, unknown>) => ({
        ...o,
        ciphertextDataIntegrityValue: b64(cdivOf(aad, unb64(o.ciphertextMetadata), unb64(o.initializationVector), unb64(o.ciphertext), unb64(o.authenticationTag))),
      });
      switch (current.kind) {
        case 'wrongCdiv':
          send(res, 200, { ...out, ciphertextDataIntegrityValue: b64(createHash('sha256').update('something else').digest()) });
          return;
        case 'tamperedCiphertext': {
          const ciphertext = unb64(out.ciphertext);
          ciphertext[0] = ciphertext[0]! ^ 1;
          send(res, 200, { ...out, ciphertext: b64(ciphertext) });
          return;
        }
        case 'ivSize':
          send(res, 200, recdiv({ ...out, initializationVector: b64(randomBytes(current.bytes)) }));
          return;
        case 'edit':
          send(res, 200, current.edit({ ...out }));
          return;
        default:
          break;
      }
    }
    send(res, status, out);
  }

  const listener: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch(() => {
        if (!res.headersSent) send(res, 500, { errorName: 'InternalException' });
      });
    });
  };
  const server = options.tls
    ? https.createServer({ cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) }, listener)
    : http.createServer(listener);
  let connectionCount = 0;
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    connectionCount += 1;
    sockets.set(socket, connectionCount);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    connections: () => connectionCount,
    addKey(id, usage = ['ENCRYPT', 'DECRYPT']) {
      keys.set(id, { key: randomBytes(32), usage });
    },
    setFault(next, times = Infinity) {
      fault = next;
      faultLeft = times;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
