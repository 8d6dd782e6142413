// An XKS proxy on a throwaway token: the test service's core composed with the XKS operations,
// its configuration file in the service's directory (watched as the server watches it), the
// XKS app for supertest and, on request, a real listener. Requests are signed here with the
// smithy signer over the raw path, as curl and AWS KMS sign them.
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { App } from 'supertest/types';
import { xksKeyStoresFrom } from '../../src/compose';
import type { RequestContext } from '../../src/core/api/context';
import type { DispatchableOperation } from '../../src/core/api/operation';
import { createExternalKey } from '../../src/core/xks-proxy/create-external-key';
import type { ExternalKeyUsage } from '../../src/core/xks-proxy/external-key';
import type { WatchedFile } from '../../src/http/auth/watched-file';
import { createXksApp } from '../../src/http/xks/app';
import type { XksKeyStores } from '../../src/http/xks/key-stores';
import { listenXks, type XksListener, type XksTlsFiles } from '../../src/http/xks/listener';
import { systemClock } from '../../src/core/ports';
import { startTestService, type TestService, type TestServiceOptions } from './service';

export const XKS_PREFIX = '/example/uri/path/prefix';
export const XKS_CREDENTIAL = { accessKeyId: 'AKIA4GBY3I6JCE5M2HPM', secretAccessKey: '1234567890123456789012345678901234567890123=' };
/** The same key store's second credential (rotation). */
export const XKS_CREDENTIAL_2 = { accessKeyId: 'ROTATEDKEY2345672345672345', secretAccessKey: 'c2Vjb25kLWNyZWRlbnRpYWwtZm9yLXJvdGF0aW9uLXRlc3Q=' };

export const PRINCIPAL_ARN = 'arn:aws:iam::123456789012:user/Alice';
export const KMS_KEY_ARN = 'arn:aws:kms:us-east-2:123456789012:/key/1234abcd-12ab-34cd-56ef-1234567890ab';

export function metadata(kmsOperation: string, extra: Record<string, unknown> = {}) {
  return { awsPrincipalArn: PRINCIPAL_ARN, kmsKeyArn: KMS_KEY_ARN, kmsOperation, kmsRequestId: randomUUID(), kmsViaService: 'ebs', ...extra };
}

export const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64');

export interface SignOptions {
  credential?: { accessKeyId: string; secretAccessKey: string };
  region?: string;
  service?: string;
  host?: string;
  signingDate?: Date;
  /** Headers sent and signed besides host and content-type (x-amz-date is added by the signer). */
  headers?: Record<string, string>;
  /** Sent but left out of SignedHeaders. AWS KMS signs host;x-amz-date only. */
  unsigned?: string[];
  method?: string;
}

export async function xksSignedHeaders(rawPath: string, body: Buffer, options: SignOptions = {}): Promise<Record<string, string>> {
  const host = options.host ?? 'localhost';
  const headers: Record<string, string> = { host, 'content-type': 'application/json', ...options.headers };
  const signer = new SignatureV4({
    service: options.service ?? 'kms-xks-proxy', region: options.region ?? 'us-east-1', credentials: options.credential ?? XKS_CREDENTIAL,
    sha256: Sha256, uriEscapePath: false, applyChecksum: false,
  });
  const signed = await signer.sign(
    new HttpRequest({ method: options.method ?? 'POST', protocol: 'https:', hostname: host, path: rawPath, headers, body }),
    { signingDate: options.signingDate, unsignableHeaders: new Set(options.unsigned ?? []) },
  );
  return signed.headers as Record<string, string>;
}

/** POSTs `body` (an object is JSON-encoded) to `rawPath`, signed. */
export async function xksCall(app: App, rawPath: string, body: unknown, options: SignOptions = {}) {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const headers = await xksSignedHeaders(rawPath, bytes, options);
  let req = request(app).post(rawPath);
  for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
  // As text: superagent would serialise a Buffer sent as application/json into {"type":"Buffer",...}.
  return req.send(bytes.toString('utf8'));
}

export const keyPath = (id: string, api: 'metadata' | 'encrypt' | 'decrypt', prefix = XKS_PREFIX) => `${prefix}/kms/xks/v1/keys/${id}/${api}`;
export const healthPath = (prefix = XKS_PREFIX) => `${prefix}/kms/xks/v1/health`;

export interface XksTestProxy {
  svc: TestService;
  app: ReturnType<typeof createXksApp>;
  configFile: string;
  keyStores: WatchedFile<XksKeyStores>;
  /** Replaces the configuration file; the watcher takes it up within a few polls. */
  writeConfig(config: unknown): void;
  /** Runs an operator's operation (the admin command's) through the seam. */
  admin(operation: DispatchableOperation, body: Record<string, unknown>): Promise<Record<string, unknown>>;
  createKey(externalKeyId: string, usage: ExternalKeyUsage[], prefix?: string): Promise<Record<string, unknown>>;
  /** A real listener: plain HTTP on 127.0.0.1, or HTTPS with `tls`. */
  listen(tls?: XksTlsFiles, host?: string): Promise<XksListener>;
  close(): Promise<void>;
}

export function defaultXksConfig(extraStores: unknown[] = []) {
  return { fleetSize: 2, keyStores: [{ uriPathPrefix: XKS_PREFIX, name: 'tests', credentials: [XKS_CREDENTIAL, XKS_CREDENTIAL_2] }, ...extraStores] };
}

export interface XksTestProxyOptions extends Pick<TestServiceOptions, 'wrapStore' | 'clock'> {
  config?: unknown;
  tokenTimeoutMs?: number;
  healthCacheMs?: number;
  pollMs?: number;
  maxBodyBytes?: number;
}

export async function startXksTestProxy(options: XksTestProxyOptions = {}): Promise<XksTestProxy> {
  // The watcher needs the service's directory; the service's core asks it for the fleet size later.
  const late: { keyStores?: WatchedFile<XksKeyStores> } = {};
  const svc = await startTestService({
    wrapStore: options.wrapStore, clock: options.clock,
    xksProxy: { fleetSize: () => late.keyStores!.current().config.fleetSize, healthCacheMs: options.healthCacheMs ?? 2000, tokenTimeoutMs: options.tokenTimeoutMs ?? 5000 },
  });
  const configFile = path.join(svc.dir, 'xks-proxy.json');
  const writeConfig = (config: unknown) => writeFileSync(configFile, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  writeConfig(options.config ?? defaultXksConfig());
  const config = { xks: { configFile, pollMs: options.pollMs ?? 25, host: '127.0.0.1', maxBodyBytes: options.maxBodyBytes ?? 256 * 1024, healthCacheMs: 2000, tokenTimeoutMs: 5000 } };
  const stores = xksKeyStoresFrom(config, svc.logger);
  late.keyStores = stores;
  const app = createXksApp({ service: svc.service, logger: svc.logger, keyStores: () => stores.current(), signatureClock: systemClock, maxBodyBytes: config.xks.maxBodyBytes });
  const listeners: XksListener[] = [];
  const admin = async (operation: DispatchableOperation, body: Record<string, unknown>) => {
    const ctx: RequestContext = { principal: { arn: 'local-operator:test', accountId: '', policies: [] }, region: '', requestId: randomUUID() };
    return (await svc.service.invoke('cli', operation, ctx, body)) as Record<string, unknown>;
  };
  return {
    svc, app, configFile, keyStores: stores, writeConfig, admin,
    createKey: (externalKeyId, usage, prefix = XKS_PREFIX) => admin(createExternalKey, { keyStorePrefix: prefix, externalKeyId, usage }),
    async listen(tls, host = '127.0.0.1') {
      const listener = await listenXks(app, { host, port: 0, tls, pollMs: 25, onError: (detail) => svc.logger.error('XKS TLS files refused', { detail }), onReload: () => undefined });
      listeners.push(listener);
      return listener;
    },
    async close() {
      for (const listener of listeners) await listener.close();
      stores.stop();
      await svc.close();
    },
  };
}
