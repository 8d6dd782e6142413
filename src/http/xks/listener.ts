// The XKS proxy's own listener. HTTPS with TLS 1.2 or later and only the spec's cipher suites,
// the certificate and key read from files and taken up when they change (a pair that does not
// load is refused and the one in force stays). Optional mTLS: clients must present a
// certificate chained to the configured CA, and, when a subject CN is required (AWS KMS
// presents cks.kms.<region>.amazonaws.com), one with that CN; any other client gets no HTTP
// response at all. Plain HTTP is served only on a loopback address, for tests.
import type { RequestListener } from 'node:http';
import http from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import tls from 'node:tls';
import { isLoopbackHost } from '../../xks-config';
import { reloadingHttpsServer } from '../tls-files';

/** The spec's suites: two for TLS 1.3, two (ECDHE, AES-256-GCM) for TLS 1.2. */
export const XKS_CIPHERS = ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-AES256-GCM-SHA384'].join(':');

export interface XksTlsFiles {
  certFile: string;
  keyFile: string;
  /** Turns mTLS on: clients need a certificate chained to this CA. */
  clientCaFile?: string;
  /** With mTLS, the subject CN a client certificate must carry. */
  clientCn?: string;
}

export interface XksListenerOptions {
  host: string;
  port: number;
  tls?: XksTlsFiles;
  /** How often the TLS files are checked for changes. */
  pollMs: number;
  onError(message: string): void;
  onReload(message: string): void;
}

export interface XksListener {
  server: Server;
  url: string;
  close(): Promise<void>;
}

function subjectCn(socket: tls.TLSSocket): string | undefined {
  const cn = (socket.getPeerCertificate()?.subject as Record<string, string | string[]> | undefined)?.CN;
  return typeof cn === 'string' ? cn : undefined;
}

export async function listenXks(app: RequestListener, options: XksListenerOptions): Promise<XksListener> {
  let server: Server;
  let stopWatching: (() => void) | undefined;
  const files = options.tls;
  if (!files) {
    // Precondition: the XKS listener serves plain HTTP only on a loopback address.
    if (!isLoopbackHost(options.host)) throw new Error(`the XKS listener serves plain HTTP only on a loopback address, not ${options.host}: configure a certificate and key`);
    server = http.createServer(app);
  } else {
    const mtls = files.clientCaFile !== undefined;
    const reloading = reloadingHttpsServer(files, {
      what: 'XKS TLS certificate, key or client CA file',
      context: { minVersion: 'TLSv1.2', ciphers: XKS_CIPHERS, honorCipherOrder: true },
      pollMs: options.pollMs,
      onError: options.onError,
      onReload: () => options.onReload('XKS TLS certificate reloaded'),
    }, { requestCert: mtls, rejectUnauthorized: mtls }, app);
    stopWatching = reloading.stop;
    const httpsServer = reloading.server;
    const requiredCn = files.clientCn;
    if (mtls && requiredCn !== undefined) {
      // Ahead of the HTTP layer's own listener: the connection is gone before a request is read.
      httpsServer.prependListener('secureConnection', (socket: tls.TLSSocket) => {
        // Precondition: with mTLS and a required subject CN, a client certificate with another CN gets no HTTP response.
        if (!socket.authorized || subjectCn(socket) !== requiredCn) socket.destroy();
      });
    }
    server = httpsServer;
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    server,
    url: `${files ? 'https' : 'http'}://${host}:${port}`,
    async close() {
      stopWatching?.();
      (server as http.Server).closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
