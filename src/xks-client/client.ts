// hsm-kms as AWS KMS: the client of an external key store proxy. Each call is a signed JSON
// POST to {uriEndpoint}{uriPath}/keys/{id}/{encrypt,decrypt,metadata} or .../health with the
// caller's requestMetadata, over connections kept alive per client. An attempt that gets no
// answer in time is tried once more (so is one whose kept-alive connection the proxy had just
// closed); nothing else is retried. Every failure is an XksProxyFailure.
import type { KeyStoreCall } from '../core/key-stores/port';
import {
  XksProxyFailure, type XksHealth, type XksKeyMetadata, type XksProxyClient, type XksProxyConnector, type XksProxyEndpoint, type XksSealed,
} from '../core/key-stores/connectors';
import { decryptResult, encryptResult, healthResult, keyMetadataResult } from './responses';
import { XksRequestSigner } from './signing';
import { AttemptFailure, trustFor, XksTransport, type HttpAnswer, type TransportOptions } from './transport';

export interface XksClientOptions {
  /** The region signed for when the endpoint names none (the key store's own region). */
  region: string;
  /** Extra trust anchors (PEM text) for proxy certificates, besides Node's root CAs. */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** Deadline of one attempt, connection to last response byte. Default 250 ms, as AWS KMS. */
  timeoutMs?: number;
  /** Largest request body sent. Default 256 KiB. */
  maxRequestBytes?: number;
  /** Largest response body read. Default 1 MiB. */
  maxResponseBytes?: number;
  /** Connections per proxy at most. Default 64. */
  maxSockets?: number;
  /** An idle kept-alive connection is closed after this long (or sooner if the proxy says so). Default 4000 ms. */
  idleSocketMs?: number;
}

export const XKS_CLIENT_DEFAULTS = {
  timeoutMs: 250,
  maxRequestBytes: 256 * 1024,
  maxResponseBytes: 1024 * 1024,
  maxSockets: 64,
  idleSocketMs: 4000,
} as const;

type Resolved = Required<Omit<XksClientOptions, 'ca'>> & TransportOptions;

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`XKS client option ${name} must be a positive number`);
  return value;
}

function resolve(options: XksClientOptions): Resolved {
  if (typeof options.region !== 'string' || options.region === '') throw new TypeError('XKS client option region is required');
  const ca = options.ca === undefined ? [] : Array.isArray(options.ca) ? [...(options.ca as readonly (string | Buffer)[])] : [options.ca as string | Buffer];
  let secureContext: TransportOptions['secureContext'];
  try {
    secureContext = trustFor(ca);
  } catch {
    throw new TypeError('XKS client option ca is not PEM certificates that load');
  }
  return {
    region: options.region,
    secureContext,
    timeoutMs: positive('timeoutMs', options.timeoutMs ?? XKS_CLIENT_DEFAULTS.timeoutMs),
    maxRequestBytes: positive('maxRequestBytes', options.maxRequestBytes ?? XKS_CLIENT_DEFAULTS.maxRequestBytes),
    maxResponseBytes: positive('maxResponseBytes', options.maxResponseBytes ?? XKS_CLIENT_DEFAULTS.maxResponseBytes),
    maxSockets: positive('maxSockets', options.maxSockets ?? XKS_CLIENT_DEFAULTS.maxSockets),
    idleSocketMs: positive('idleSocketMs', options.idleSocketMs ?? XKS_CLIENT_DEFAULTS.idleSocketMs),
  };
}

const b64 = (bytes: Buffer) => bytes.toString('base64');

/** requestMetadata for a key operation: kmsKeyArn only when there is one (not for CreateKey). */
function keyRequestMetadata(call: KeyStoreCall): Record<string, string> {
  return {
    awsPrincipalArn: call.principalArn,
    ...(call.keyArn !== '' ? { kmsKeyArn: call.keyArn } : {}),
    kmsOperation: call.operation,
    kmsRequestId: call.requestId,
  };
}

export class XksHttpClient implements XksProxyClient {
  private readonly signer: XksRequestSigner;
  private readonly transport?: XksTransport;
  /** Why no request can be made, when the endpoint is unusable. */
  private readonly unusable?: string;
  private readonly origin?: URL;
  private readonly basePath: string;
  private closed = false;

  constructor(private readonly endpoint: XksProxyEndpoint, private readonly options: Resolved) {
    this.signer = new XksRequestSigner(endpoint.region ?? options.region, { accessKeyId: endpoint.accessKeyId, secretAccessKey: endpoint.rawSecretAccessKey });
    this.basePath = endpoint.uriPath;
    let origin: URL | undefined;
    try {
      origin = new URL(endpoint.uriEndpoint);
    } catch {
      origin = undefined;
    }
    // Precondition: the endpoint is an http(s) origin, without a path, query or credentials of its own.
    if (!origin || (origin.protocol !== 'https:' && origin.protocol !== 'http:') || origin.pathname !== '/' || origin.search !== '' || origin.hash !== '' || origin.username !== '' || origin.password !== '') {
      this.unusable = 'the endpoint is not an http(s) origin (scheme://host[:port])';
    } else if (!endpoint.uriPath.startsWith('/')) {
      this.unusable = 'the URI path does not start with /';
    } else {
      this.origin = origin;
      this.transport = new XksTransport(origin, options);
    }
  }

  /** What a proxy's error message must never show: the secret and the plaintext of this call. */
  private redactions(...extra: Buffer[]): string[] {
    return [this.endpoint.rawSecretAccessKey, ...extra.filter((b) => b.length > 0).map(b64)];
  }

  /** Signs and sends `payload` to `path` below the URI path; at most one retry, for a retryable attempt failure. */
  private async exchange(operation: string, path: string, payload: Record<string, unknown>): Promise<HttpAnswer> {
    // Precondition: a closed client makes no calls.
    if (this.closed) throw new XksProxyFailure('XksProxyUnreachableException', `${operation}: the client is closed`);
    // Precondition: the endpoint must be usable.
    if (!this.transport || !this.origin) throw new XksProxyFailure('XksProxyUnreachableException', `${operation}: ${this.unusable}`);
    const body = Buffer.from(JSON.stringify(payload), 'utf8');
    // Precondition: the request body stays within the bound.
    if (body.length > this.options.maxRequestBytes) {
      throw new XksProxyFailure('ValidationException', `${operation}: the request is ${body.length} bytes, over the client's limit of ${this.options.maxRequestBytes}`);
    }
    const fullPath = `${this.basePath}${path}`;
    for (let attempt = 1; ; attempt++) {
      const signed = await this.signer.sign(this.origin.host, fullPath, body);
      try {
        return await this.transport.send(fullPath, { ...signed, 'content-type': 'application/json' }, body);
      } catch (e) {
        if (!(e instanceof AttemptFailure)) throw new XksProxyFailure('XksProxyUnreachableException', `${operation}: the request could not be made`);
        if (e.retryable && attempt === 1 && !this.closed) continue;
        throw new XksProxyFailure(e.kind, `${operation}: ${e.detail}${attempt > 1 ? ' (after one retry)' : ''}`);
      }
    }
  }

  private keyPath(xksKeyId: string, api: 'encrypt' | 'decrypt' | 'metadata'): string {
    // Spec key ids ([A-Za-z0-9._-]) are unchanged; anything else cannot leave the key's path.
    return `/keys/${encodeURIComponent(xksKeyId)}/${api}`;
  }

  async encrypt(xksKeyId: string, aad: Buffer, plaintext: Buffer, call: KeyStoreCall): Promise<XksSealed> {
    const answer = await this.exchange('Encrypt', this.keyPath(xksKeyId, 'encrypt'), {
      requestMetadata: keyRequestMetadata(call),
      ...(aad.length > 0 ? { additionalAuthenticatedData: b64(aad) } : {}),
      plaintext: b64(plaintext),
      encryptionAlgorithm: 'AES_GCM',
      ciphertextDataIntegrityValueAlgorithm: 'SHA_256',
    });
    return encryptResult(answer, aad, plaintext.length, this.redactions(plaintext));
  }

  async decrypt(xksKeyId: string, aad: Buffer, sealed: XksSealed, call: KeyStoreCall): Promise<Buffer> {
    const answer = await this.exchange('Decrypt', this.keyPath(xksKeyId, 'decrypt'), {
      requestMetadata: keyRequestMetadata(call),
      ...(aad.length > 0 ? { additionalAuthenticatedData: b64(aad) } : {}),
      ciphertext: b64(sealed.ciphertext),
      ...(sealed.metadata && sealed.metadata.length > 0 ? { ciphertextMetadata: b64(sealed.metadata) } : {}),
      encryptionAlgorithm: 'AES_GCM',
      initializationVector: b64(sealed.iv),
      authenticationTag: b64(sealed.tag),
    });
    return decryptResult(answer, sealed.ciphertext.length, this.redactions());
  }

  async getKeyMetadata(xksKeyId: string, call: KeyStoreCall): Promise<XksKeyMetadata> {
    const answer = await this.exchange('GetKeyMetadata', this.keyPath(xksKeyId, 'metadata'), { requestMetadata: keyRequestMetadata(call) });
    return keyMetadataResult(answer, this.redactions());
  }

  async getHealthStatus(call: Pick<KeyStoreCall, 'operation' | 'requestId'>): Promise<XksHealth> {
    const answer = await this.exchange('GetHealthStatus', '/health', { requestMetadata: { kmsOperation: call.operation, kmsRequestId: call.requestId } });
    return healthResult(answer, this.redactions());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.transport?.destroy();
  }
}

/** Opens XKS proxy clients that sign as KMS in `options.region`. */
export class XksHttpConnector implements XksProxyConnector {
  private readonly options: Resolved;

  constructor(options: XksClientOptions) {
    this.options = resolve(options);
  }

  open(endpoint: XksProxyEndpoint): XksProxyClient {
    return new XksHttpClient(endpoint, this.options);
  }
}
