// The test-suite reset (KMS_DEV_RESET, loopback only): POST /moto-api/reset, the path moto's
// server mode serves and test suites call between tests, and POST /hsm-kms/reset, our own name
// for it. No authentication, as moto's has none: the variable is the switch, and the service
// refuses to start with it anywhere but on a loopback address. The work is core's (jobs/reset.ts).
import { randomUUID } from 'node:crypto';
import express from 'express';
import type { CoreDeps } from '../core/deps';
import { resetService } from '../core/jobs/reset';
import type { Logger } from '../log/logger';

export const RESET_PATHS = ['/moto-api/reset', '/hsm-kms/reset'] as const;

export function devResetRouter(deps: CoreDeps, logger: Logger): express.Router {
  const router = express.Router();
  router.post([...RESET_PATHS], async (req, res) => {
    try {
      // A lease owner of its own: two resets never share the digest lease.
      const report = await resetService(deps, `dev-reset:${randomUUID()}`);
      logger.warn('service reset: every key, alias, grant, custom key store and audit record deleted', { path: req.path, sourceIp: req.socket.remoteAddress, ...report });
      res.status(200).json({ status: 'ok', ...report });
    } catch (e) {
      logger.error('service reset failed', { path: req.path, detail: String(e) });
      res.status(500).json({ status: 'failed', message: 'The reset did not finish; the service log says why. Call it again.' });
    }
  });
  return router;
}
