// The XKS proxy's Express application, without listen(): a second wire protocol over the same
// core, served on its own listener (see listener.ts). Every call goes through the core seam.
import express from 'express';
import type { CoreService } from '../../core/calls/service';
import type { Logger } from '../../log/logger';
import { assignRequestId, lastResortHandler } from '../plumbing';
import { writeXksError } from './errors';
import { xksHandler, type XksRouterOptions } from './router';

export type XksAppOptions = XksRouterOptions & { logger: Logger };

export function createXksApp(options: XksAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');
  app.use(assignRequestId('x-request-id'));
  app.get('/healthz', loadBalancerHealth(options.service));
  app.use(xksHandler(options));
  app.use(lastResortHandler('xks', options.service, writeXksError));
  return app;
}

/**
 * For load balancers: GET /healthz, no authentication, 200 while at least one token behind the
 * proxy passes its (cached) health check, 503 otherwise.
 */
function loadBalancerHealth(service: CoreService): express.RequestHandler {
  return (_req, res, next) => {
    const health = service.deps.xksProxy?.health;
    if (!health) {
      res.status(503).json({ status: 'unavailable' });
      return;
    }
    health.fleet().then((fleet) => {
      const healthy = fleet.some((member) => member.healthStatus !== 'UNAVAILABLE');
      res.status(healthy ? 200 : 503).json({ status: healthy ? 'ok' : 'unavailable', ekms: fleet.map(({ id, healthStatus }) => ({ id, healthStatus })) });
    }, next);
  };
}
