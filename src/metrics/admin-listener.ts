// The admin listener (KMS_ADMIN_PORT): Prometheus metrics and health for operators, on a port
// of its own so that neither the KMS API's clients nor its authentication ever meet it. It
// answers three GETs and nothing else. It has no authentication: bind it to loopback or a
// management network.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AdminSources {
  /** The Prometheus exposition text and its content type. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Liveness: the process answers; the body says what it knows cheaply. */
  live(): Record<string, unknown>;
  /** Readiness: token, store, every connected key store (and, with workers, every worker). */
  ready(): Promise<{ ready: boolean; body: unknown }>;
}

export interface AdminListener {
  port: number;
  url: string;
  close(): Promise<void>;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function answer(sources: AdminSources, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  switch (path) {
    case '/metrics': {
      const { contentType, body } = await sources.metrics();
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    case '/healthz':
      sendJson(res, 200, { status: 'ok', ...sources.live() });
      return;
    case '/readyz': {
      const { ready, body } = await sources.ready();
      sendJson(res, ready ? 200 : 503, body);
      return;
    }
    default:
      sendJson(res, 404, { message: 'The admin listener serves GET /metrics, /healthz and /readyz.' });
  }
}

/** Listens on host:port (0: any free port); rejects with the reason when the address cannot be bound. */
export function listenAdmin(host: string, port: number, sources: AdminSources, onError: (detail: string) => void): Promise<AdminListener> {
  const server = http.createServer((req, res) => {
    answer(sources, req, res).catch((e: unknown) => {
      onError(e instanceof Error ? e.message : String(e));
      if (!res.headersSent) sendJson(res, 500, { message: 'The admin listener could not answer.' });
      else res.destroy();
    });
  });
  // Scrapers keep connections alive; a stop must not wait for them.
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const bound = (server.address() as AddressInfo).port;
      resolve({
        port: bound,
        url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
        close: () => new Promise<void>((done) => {
          server.closeAllConnections();
          server.close(() => done());
        }),
      });
    });
  });
}
