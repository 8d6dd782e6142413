// The Express application, without listen(): tests drive it with supertest, main.ts serves it.
// Each wire protocol is a router of its own; every call goes through the core seam.
import express from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CoreService } from '../core/calls/service';
import { KmsError } from '../core/errors';
import type { Readiness } from '../core/jobs/readiness';
import type { Clock } from '../core/ports';
import type { Logger } from '../log/logger';
import type { BearerAuthenticator } from './auth/bearer';
import { cloudTrailHandler, isCloudTrailTarget } from './cloudtrail/router';
import { devResetRouter } from './dev-reset';
import type { PrincipalDirectory } from './auth/principals';
import { jwksRouter, type JwksOptions } from './jwks';
import { REQUEST_ID_HEADER, writeKmsError } from './kms/errors';
import { kmsHandler } from './kms/router';
import { assignRequestId, lastResortHandler, notFoundHandler } from './plumbing';
import { readinessBody } from './readiness';

export interface AppOptions {
  service: CoreService;
  /** What /healthz reports. */
  readiness: Readiness;
  principals: () => PrincipalDirectory;
  logger: Logger;
  /** Wall clock that request signatures are checked against (core keeps its own in deps). */
  signatureClock: Clock;
  maxBodyBytes: number;
  /** Accepts `Authorization: Bearer <JWT>` from the configured issuers (KMS_JWT_ISSUERS). */
  bearer?: BearerAuthenticator;
  /** Serve GET /.well-known/jwks.json for this account and region (keys tagged jwks=true). */
  jwks?: JwksOptions;
  /** KMS_DEV_ANY_CREDENTIALS: an unknown access key id signs as the account root, its signature unverified. */
  anyCredentials?: boolean;
  /** KMS_DEV_RESET: serve POST /moto-api/reset and /hsm-kms/reset. */
  devReset?: boolean;
}

/** The KMS handler of each app, for the listener that runs it before Express. */
const kmsHandlers = new WeakMap<express.Express, ReturnType<typeof kmsHandler>>();

/**
 * What a server listens with: POST / straight to the KMS handler on Node's own request and
 * response, everything else through Express. Express's own first step does the same, so
 * supertest on the app sees identical behaviour.
 */
export function requestListener(app: express.Express): (req: IncomingMessage, res: ServerResponse) => void {
  const kms = kmsHandlers.get(app);
  if (!kms) return app;
  return (req, res) => kms(req, res, () => app(req, res));
}

export function createApp(options: AppOptions): express.Express {
  const { deps } = options.service;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // The KMS API first (and CloudTrail's LookupEvents, which it hands over): POST / never reaches Express's router.
  const cloudTrail = cloudTrailHandler(options);
  const kms = kmsHandler({
    ...options,
    otherTargets: (req, res, target, path, query) => {
      if (!isCloudTrailTarget(target)) return false;
      cloudTrail(req, res, target, path, query);
      return true;
    },
  });
  kmsHandlers.set(app, kms);
  app.use(kms);
  app.use(assignRequestId(REQUEST_ID_HEADER));

  // Readiness: a real operation on every key store and a real write to the store, saying which part failed.
  app.get('/healthz', async (_req, res) => {
    const report = await options.readiness.check();
    res.status(report.ready ? 200 : 503).json(readinessBody(report));
  });

  if (options.jwks) app.use(jwksRouter(deps, options.jwks, options.logger));
  if (options.devReset) app.use(devResetRouter(deps, options.logger));
  app.use(notFoundHandler('kms', options.service, writeKmsError, () => new KmsError('UnknownOperationException', ''), 404));
  app.use(lastResortHandler('kms', options.service, writeKmsError));
  return app;
}
