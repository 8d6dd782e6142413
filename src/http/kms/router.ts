// AWS JSON 1.1 on POST /: X-Amz-Target picks the operation from the TrentService table,
// SigV4 (or a bearer JWT) says who is calling, and the core seam does the rest. Errors leave
// in AWS's shape. This is the hot path of the service, so it runs on Node's own request and
// response, ahead of Express's router: the protocol needs one route, one body and one answer.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { randomUUID } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { CoreService } from '../../core/calls/service';
import type { RequestContext } from '../../core/api/context';
import { KmsError } from '../../core/errors';
import type { Clock } from '../../core/ports';
import { isBearerAuthorization, type BearerAuthenticator } from '../auth/bearer';
import { unknownAccessKeys, type PrincipalDirectory } from '../auth/principals';
import { verifySigV4 } from '../auth/sigv4';
import { decodedBody, readBodyWithin } from '../plumbing';
import { REQUEST_ID_HEADER, writeKmsError } from './errors';
import { parseRequestJson, toWire } from './json';
import { kmsOperations, type KmsOperationName } from './operations';

const TARGET_PREFIX = 'TrentService.';
const JSON_CONTENT_TYPES = new Set(['application/x-amz-json-1.1', 'application/x-amz-json-1.0']);

function operationNameOf(target: string | string[] | undefined): KmsOperationName | undefined {
  const name = typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined;
  return name && Object.prototype.hasOwnProperty.call(kmsOperations, name) ? (name as KmsOperationName) : undefined;
}

export interface KmsRouterOptions {
  service: CoreService;
  principals: () => PrincipalDirectory;
  /** Wall clock that request signatures are checked against (core keeps its own in deps). */
  signatureClock: Clock;
  maxBodyBytes: number;
  /** KMS_DEV_ANY_CREDENTIALS: an unknown access key id signs as the account root, unverified. */
  anyCredentials?: boolean;
  /** Accepts `Authorization: Bearer <JWT>` when set; otherwise every request is SigV4. */
  bearer?: BearerAuthenticator;
  /**
   * Another AWS JSON protocol on the same POST / (CloudTrail's LookupEvents): given the requests
   * whose target is not a TrentService operation, it answers those it claims and returns true.
   */
  otherTargets?: (req: IncomingMessage, res: ServerResponse, target: string, path: string, query: Record<string, string | string[]>) => boolean;
}

/** Handles POST / (with or without a query string) and passes every other request on. */
export function kmsHandler(options: KmsRouterOptions): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  return (req, res, next) => {
    const url = req.url ?? '';
    const queryAt = url.indexOf('?');
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    if (req.method !== 'POST' || path !== '/') return next();
    const query = queryAt < 0 ? {} : (parseQuery(url.slice(queryAt + 1)) as Record<string, string | string[]>);
    const target = req.headers['x-amz-target'];
    const name = operationNameOf(target);
    // Only a request that names no KMS operation is offered to the other protocol.
    if (name === undefined && options.otherTargets && typeof target === 'string' && options.otherTargets(req, res, target, path, query)) return;
    handle(req, res, options, name, path, query).catch((e: unknown) => {
      if (!res.headersSent) writeKmsError(res, new KmsError('KMSInternalException', '', String(e)));
    });
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, options: KmsRouterOptions, name: KmsOperationName | undefined, path: string, query: Record<string, string | string[]>): Promise<void> {
  const requestId = randomUUID();
  res.setHeader(REQUEST_ID_HEADER, requestId);
  const sourceIp = req.socket.remoteAddress;
  const userAgent = req.headers['user-agent'];
  let principal: string | undefined;
  let ctx: RequestContext;
  let json: unknown;
  try {
    const body = await readBodyWithin(req, res, options.maxBodyBytes);
    if (!name) throw new KmsError('UnknownOperationException', '');
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    // Precondition: only the AWS JSON content types are accepted.
    if (!JSON_CONTENT_TYPES.has(contentType)) throw new KmsError('SerializationException', `Unsupported content type '${contentType}'; expected application/x-amz-json-1.1`);
    // The Authorization scheme picks the check: Bearer goes to the JWT issuers when configured.
    const authorization = req.headers.authorization;
    const caller = options.bearer && isBearerAuthorization(authorization)
      ? await options.bearer.authenticate(authorization, options.signatureClock.now())
      : await verifySigV4(
        { method: 'POST', path, query, headers: req.headers, body },
        (accessKeyId) => options.principals().find(accessKeyId),
        options.signatureClock.now(),
        unknownAccessKeys(options),
      );
    principal = caller.principal.arn;
    json = parseRequestJson(decodedBody(req, res, body, options.maxBodyBytes));
    ctx = {
      principal: caller.principal, region: caller.region, requestId, sourceIp, secureTransport: (req.socket as TLSSocket).encrypted === true,
      ...('accessKeyId' in caller ? { accessKeyId: caller.accessKeyId } : {}), ...(userAgent ? { userAgent } : {}),
    };
  } catch (e) {
    const error = await options.service.refuse({ source: 'kms', requestId, operation: name && kmsOperations[name].name, principal, sourceIp, userAgent, error: e });
    writeKmsError(res, error);
    return;
  }
  try {
    const output = await options.service.invoke('kms', kmsOperations[name!], ctx, json);
    const payload = Buffer.from(JSON.stringify(toWire(output)));
    res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1', 'Content-Length': payload.length });
    res.end(payload);
  } catch (e) {
    writeKmsError(res, e instanceof KmsError ? e : new KmsError('KMSInternalException'));
  }
}
