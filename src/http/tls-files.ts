// A certificate and key (and optionally a client CA) read from files, checked, and polled: an
// HTTPS server made from them takes up a changed pair without a restart, through
// server.setSecureContext. A pair that does not load (a new certificate with the old key,
// halfway through a rotation) is refused and the pair in force stays until both files match.
// Shared by the KMS endpoint and the XKS proxy's listener, which differ only in their suites.
import type { RequestListener } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { WatchedFile } from './auth/watched-file';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** Trust anchors for client certificates (mTLS). */
  clientCaFile?: string;
}

export interface WatchedTlsOptions {
  /** What the files are, for messages: "XKS TLS certificate, key or client CA file". */
  what: string;
  /** Suites and protocol floor beyond the certificate: the XKS spec's list, or Node's defaults. */
  context: Pick<tls.SecureContextOptions, 'ciphers' | 'minVersion' | 'honorCipherOrder'>;
  pollMs: number;
  onError(message: string): void;
  /** A changed pair was taken up. */
  onReload(): void;
}

export function secureContextOptions(cert: string, key: string, ca: string | undefined, extra: WatchedTlsOptions['context']): tls.SecureContextOptions {
  // createSecureContext takes an empty key or certificate as "none" and builds a context that
  // fails every handshake; a file caught half-copied during a rotation reads as empty.
  if (!cert.trim()) throw new Error('the certificate file is empty');
  if (!key.trim()) throw new Error('the key file is empty');
  const options: tls.SecureContextOptions = { cert, key, ...(ca !== undefined ? { ca } : {}), ...extra };
  // Throws, naming no key material, when the certificate and key do not load or do not match.
  tls.createSecureContext(options);
  return options;
}

export interface ReloadingHttpsServer {
  server: https.Server;
  /** Stops polling the files. */
  stop(): void;
}

/**
 * An HTTPS server for `listener` whose certificate follows the files. Throws at once (a plain
 * message naming the file, never its content) when the files cannot be read or do not load.
 */
export function reloadingHttpsServer(files: TlsFiles, options: WatchedTlsOptions, serverOptions: https.ServerOptions, listener: RequestListener): ReloadingHttpsServer {
  const paths = [files.certFile, files.keyFile, ...(files.clientCaFile ? [files.clientCaFile] : [])];
  // The watcher exists before the server it reloads.
  const reloadInto: { server?: https.Server } = {};
  const watched = new WatchedFile(paths, ([cert, key, ca]) => secureContextOptions(cert!, key!, ca, options.context), {
    what: options.what,
    describe: () => 'certificate and key',
    intervalMs: options.pollMs,
    onError: options.onError,
    onReload: (context) => {
      reloadInto.server?.setSecureContext(context);
      options.onReload();
    },
  });
  const server = https.createServer({ ...watched.current(), ...serverOptions }, listener);
  reloadInto.server = server;
  return { server, stop: () => watched.stop() };
}
