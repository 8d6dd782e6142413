// AWS JSON 1.1 on POST /: X-Amz-Target picks the operation from the TrentService table,
// SigV4 (or a bearer JWT) says who is calling, and the core seam does the rest. Errors leave
// in AWS's shape.
import express, { type Request, type Response } from 'express';
import type { CoreService } from '../../core/calls/service';
import type { RequestContext } from '../../core/api/context';
import { KmsError } from '../../core/errors';
import type { Clock } from '../../core/ports';
import { isBearerAuthorization, type BearerAuthenticator } from '../auth/bearer';
import type { PrincipalDirectory } from '../auth/principals';
import { verifySigV4 } from '../auth/sigv4';
import { rawBodyReader, requestIdOf } from '../plumbing';
import { writeKmsError } from './errors';
import { parseRequestJson, toWire } from './json';
import { kmsOperations, type KmsOperationName } from './operations';

const TARGET_PREFIX = 'TrentService.';
const JSON_CONTENT_TYPES = new Set(['application/x-amz-json-1.1', 'application/x-amz-json-1.0']);

function operationNameOf(target: string | undefined): KmsOperationName | undefined {
  const name = target?.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined;
  return name && Object.prototype.hasOwnProperty.call(kmsOperations, name) ? (name as KmsOperationName) : undefined;
}

export interface KmsRouterOptions {
  service: CoreService;
  principals: () => PrincipalDirectory;
  /** Wall clock that request signatures are checked against (core keeps its own in deps). */
  signatureClock: Clock;
  maxBodyBytes: number;
  /** Accepts `Authorization: Bearer <JWT>` when set; otherwise every request is SigV4. */
  bearer?: BearerAuthenticator;
}

export function kmsRouter(options: KmsRouterOptions): express.Router {
  const router = express.Router();
  const readBody = rawBodyReader(options.maxBodyBytes);
  router.post('/', (req, res, next) => {
    handle(req, res, options, readBody).catch(next);
  });
  return router;
}

async function handle(req: Request, res: Response, options: KmsRouterOptions, readBody: ReturnType<typeof rawBodyReader>): Promise<void> {
  const requestId = requestIdOf(res);
  const name = operationNameOf(req.header('x-amz-target'));
  let principal: string | undefined;
  let ctx: RequestContext;
  let json: unknown;
  try {
    const body = await readBody(req, res);
    if (!name) throw new KmsError('UnknownOperationException', '');
    const contentType = (req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    // Precondition: only the AWS JSON content types are accepted.
    if (!JSON_CONTENT_TYPES.has(contentType)) throw new KmsError('SerializationException', `Unsupported content type '${contentType}'; expected application/x-amz-json-1.1`);
    // The Authorization scheme picks the check: Bearer goes to the JWT issuers when configured.
    const authorization = req.headers.authorization;
    const caller = options.bearer && isBearerAuthorization(authorization)
      ? await options.bearer.authenticate(authorization, options.signatureClock.now())
      : await verifySigV4(
        { method: req.method, path: req.path, query: req.query as Record<string, string | string[]>, headers: req.headers, body },
        (accessKeyId) => options.principals().find(accessKeyId),
        options.signatureClock.now(),
      );
    principal = caller.principal.arn;
    json = parseRequestJson(body);
    ctx = { principal: caller.principal, region: caller.region, requestId, sourceIp: req.socket.remoteAddress, secureTransport: req.secure };
  } catch (e) {
    const error = await options.service.refuse({ source: 'kms', requestId, operation: name && kmsOperations[name].name, principal, sourceIp: req.socket.remoteAddress, error: e });
    writeKmsError(res, error);
    return;
  }
  try {
    const output = await options.service.invoke('kms', kmsOperations[name!], ctx, json);
    res.status(200).type('application/x-amz-json-1.1').send(JSON.stringify(toWire(output)));
  } catch (e) {
    writeKmsError(res, e instanceof KmsError ? e : new KmsError('KMSInternalException'));
  }
}
