// One HTTP(S) exchange with an XKS proxy over a kept-alive connection: a deadline covering
// the whole attempt (connection, TLS handshake, request and the complete response), a bound on
// the response, and every way it can fail sorted into what it means: no answer in time, no
// connection, TLS refused, or something that is not HTTP. Retrying is the caller's decision;
// an attempt says whether a retry is safe and useful.
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { XksProxyFailureKind } from '../core/key-stores/connectors';

export interface TransportOptions {
  /** Deadline for one attempt, from the request to the last byte of the response. */
  timeoutMs: number;
  maxResponseBytes: number;
  /** What https connections trust: Node's root CAs and any extra anchors (see trustFor). */
  secureContext: tls.SecureContext;
  maxSockets: number;
  /** How long an idle kept-alive connection stays open (shorter still if the proxy asks). */
  idleSocketMs: number;
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A failed attempt: what it means, and whether trying once more may help. */
export class AttemptFailure extends Error {
  constructor(readonly kind: XksProxyFailureKind, readonly detail: string, readonly retryable: boolean) {
    super(`${kind}: ${detail}`);
    this.name = 'AttemptFailure';
  }
}

/** Connection-level codes that mean the proxy could not be reached at all. */
const unreachableCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN',
  'ENETDOWN', 'EADDRNOTAVAIL', 'ECONNABORTED',
]);

/** OpenSSL verification results that Node reports by name. */
const certificateCodes = /^(?:UNABLE_TO_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|INVALID_CA|PATH_LENGTH_EXCEEDED|INVALID_PURPOSE|HOSTNAME_MISMATCH|ERR_TLS_CERT_ALTNAME_INVALID)/;

interface AttemptState {
  secure: boolean;
  socket?: Socket;
  /** The TCP connection is up (new sockets only; a reused socket was up already). */
  connected: boolean;
  /** The TLS handshake completed, or the socket was reused. */
  handshaken: boolean;
  reused: boolean;
  responded: boolean;
}

function classify(error: NodeJS.ErrnoException, state: AttemptState, target: string): AttemptFailure {
  const code = error.code ?? '';
  const message = error.message;
  if (code.startsWith('HPE_')) return new AttemptFailure('XksProxyInvalidResponse', `the answer from ${target} is not HTTP: ${message}`, false);
  if (state.secure) {
    const authorizationError = (state.socket as tls.TLSSocket | undefined)?.authorizationError;
    if (authorizationError !== undefined && authorizationError !== null) {
      return new AttemptFailure('XksProxyInvalidTlsConfiguration', `the certificate of ${target} did not verify: ${message}`, false);
    }
    if (certificateCodes.test(code)) {
      return new AttemptFailure('XksProxyInvalidTlsConfiguration', `the certificate of ${target} did not verify: ${message}`, false);
    }
    if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO') {
      return new AttemptFailure('XksProxyInvalidTlsConfiguration', `the TLS handshake with ${target} failed: ${message}`, false);
    }
    if (state.connected && !state.handshaken) {
      return new AttemptFailure('XksProxyInvalidTlsConfiguration', `${target} closed the connection during the TLS handshake (${code || message})`, false);
    }
  }
  if (state.responded) {
    return new AttemptFailure('XksProxyUnreachableException', `the connection to ${target} was lost during the response (${code || message})`, false);
  }
  // A kept-alive connection the proxy closed just as it was reused: the request most likely never
  // reached it, and a new connection may well succeed (Node's documented pattern).
  const staleKeptAlive = state.reused && (code === 'ECONNRESET' || code === 'EPIPE');
  if (unreachableCodes.has(code) || code === '') {
    return new AttemptFailure('XksProxyUnreachableException', `${target} cannot be reached: ${message}`, staleKeptAlive);
  }
  return new AttemptFailure('XksProxyUnreachableException', `${target} cannot be reached (${code}): ${message}`, false);
}

/**
 * The TLS context proxy connections use: TLS 1.2 or later, trusting Node's root CAs plus
 * `extraCas` (Node's own `ca` option would replace the root CAs, and be parsed again for each
 * connection). Throws for PEM that does not load.
 */
export function trustFor(extraCas: readonly (string | Buffer)[]): tls.SecureContext {
  for (const pem of extraCas) {
    // Node ignores what is not a certificate in `ca`, silently: check each block loads.
    const blocks = pem.toString().match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new TypeError('no PEM certificate');
    for (const block of blocks) new X509Certificate(block);
  }
  return tls.createSecureContext({ minVersion: 'TLSv1.2', ...(extraCas.length > 0 ? { ca: [...tls.rootCertificates, ...extraCas] } : {}) });
}

/** Connections to one proxy endpoint (scheme, host, port), kept alive between calls. */
export class XksTransport {
  private readonly agent: http.Agent;
  private readonly secure: boolean;
  private readonly target: string;

  constructor(private readonly origin: URL, private readonly options: TransportOptions) {
    this.secure = origin.protocol === 'https:';
    this.target = origin.host;
    const agentOptions: http.AgentOptions = { keepAlive: true, maxSockets: options.maxSockets, timeout: options.idleSocketMs, scheduling: 'lifo' };
    this.agent = this.secure
      ? new https.Agent({
        ...agentOptions,
        secureContext: options.secureContext,
        rejectUnauthorized: true,
      })
      : new http.Agent(agentOptions);
  }

  /** One POST of `body` to `path` with `headers`; rejects with AttemptFailure. */
  send(path: string, headers: Record<string, string>, body: Buffer): Promise<HttpAnswer> {
    const state: AttemptState = { secure: this.secure, connected: false, handshaken: !this.secure, reused: false, responded: false };
    return new Promise<HttpAnswer>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        outcome();
      };
      const fail = (failure: AttemptFailure) => settle(() => {
        reject(failure);
        // A connection with an exchange in flight cannot be reused: close it.
        req.destroy();
      });

      const request = this.secure ? https.request : http.request;
      const req = request({
        protocol: this.origin.protocol,
        hostname: this.origin.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: this.origin.port || undefined,
        method: 'POST',
        path,
        headers: { ...headers, 'content-length': String(body.length) },
        agent: this.agent,
      });
      const timer = setTimeout(() => {
        const within = `within ${this.options.timeoutMs} ms`;
        const detail = state.responded ? `the response from ${this.target} did not complete ${within}`
          : state.handshaken && (state.connected || state.reused) ? `no response from ${this.target} ${within}`
            : `no ${this.secure ? 'TLS connection' : 'connection'} to ${this.target} ${within}`;
        fail(new AttemptFailure('XksProxyTimedOut', detail, true));
      }, this.options.timeoutMs);

      req.on('socket', (socket: Socket) => {
        state.socket = socket;
        state.reused = req.reusedSocket;
        if (state.reused) {
          state.handshaken = true;
          return;
        }
        socket.once('connect', () => { state.connected = true; });
        if (this.secure) socket.once('secureConnect', () => { state.handshaken = true; });
      });
      req.on('error', (error: NodeJS.ErrnoException) => fail(classify(error, state, this.target)));
      req.on('response', (res: http.IncomingMessage) => {
        state.responded = true;
        const declared = Number(res.headers['content-length']);
        // Precondition: a response larger than the bound is refused before it is read.
        if (Number.isFinite(declared) && declared > this.options.maxResponseBytes) {
          fail(new AttemptFailure('XksProxyInvalidResponse', `the response from ${this.target} declares ${declared} bytes, over the limit of ${this.options.maxResponseBytes}`, false));
          return;
        }
        const chunks: Buffer[] = [];
        let length = 0;
        res.on('data', (chunk: Buffer) => {
          length += chunk.length;
          // Precondition: a response larger than the bound is refused as soon as it exceeds it.
          if (length > this.options.maxResponseBytes) {
            fail(new AttemptFailure('XksProxyInvalidResponse', `the response from ${this.target} exceeds the limit of ${this.options.maxResponseBytes} bytes`, false));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (error: NodeJS.ErrnoException) => fail(classify(error, state, this.target)));
        res.on('aborted', () => fail(new AttemptFailure('XksProxyUnreachableException', `the connection to ${this.target} was lost during the response`, false)));
        res.on('end', () => {
          // 'end' after an abort still reports a truncated body: trust only a complete message.
          if (!res.complete) {
            fail(new AttemptFailure('XksProxyUnreachableException', `the connection to ${this.target} was lost during the response`, false));
            return;
          }
          settle(() => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks, length) }));
        });
      });
      req.end(body);
    });
  }

  /** Closes every connection; requests in flight fail. */
  destroy(): void {
    this.agent.destroy();
  }
}
