// The Express application, without listen(): tests drive it with supertest, main.ts serves it.
import { randomUUID } from 'node:crypto';
import express from 'express';
import type { CoreDeps } from '../core/deps';
import type { Clock } from '../core/ports';
import type { Logger } from '../log/logger';
import type { BearerAuthenticator } from './auth/bearer';
import type { PrincipalDirectory } from './auth/principals';
import { jwksRouter, type JwksOptions } from './jwks';
import { kmsRouter } from './kms/router';

export interface AppOptions {
  deps: CoreDeps;
  principals: () => PrincipalDirectory;
  logger: Logger;
  /** Wall clock that request signatures are checked against (core keeps its own in deps). */
  signatureClock: Clock;
  maxBodyBytes: number;
  /** Accepts `Authorization: Bearer <JWT>` from the configured issuers (KMS_JWT_ISSUERS). */
  bearer?: BearerAuthenticator;
  /** Serve GET /.well-known/jwks.json for this account and region (keys tagged jwks=true). */
  jwks?: JwksOptions;
}

export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  // Every response, whatever the route or outcome, carries a request id.
  app.use((_req, res, next) => {
    const requestId = randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('x-amzn-RequestId', requestId);
    next();
  });

  app.get('/healthz', async (_req, res) => {
    const [tokenOk, storeOk] = await Promise.all([
      options.deps.keyStores.storeFor().isHealthy(),
      options.deps.store.ping().then(() => true, () => false),
    ]);
    const healthy = tokenOk && storeOk;
    res.status(healthy ? 200 : 503).json({ status: healthy ? 'ok' : 'unavailable', token: tokenOk ? 'ok' : 'unavailable', store: storeOk ? 'ok' : 'unavailable' });
  });

  if (options.jwks) app.use(jwksRouter(options.deps, options.jwks, options.logger));
  app.use(kmsRouter(options));

  app.use((req, res) => {
    options.logger.info('request', { requestId: res.locals.requestId, method: req.method, path: req.path, outcome: 'UnknownOperationException', status: 404 });
    res.status(404).type('application/x-amz-json-1.1').send(JSON.stringify({ __type: 'UnknownOperationException', message: '' }));
  });

  // Last resort: never leak an internal error's detail to the caller.
  app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    options.logger.error('unhandled', { requestId: res.locals.requestId, detail: error instanceof Error ? error.message : String(error) });
    if (!res.headersSent) res.status(500).type('application/x-amz-json-1.1').send(JSON.stringify({ __type: 'KMSInternalException', message: 'An internal error occurred.' }));
  });
  return app;
}
