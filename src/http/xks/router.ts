// The XKS proxy API: POST {prefix}/kms/xks/v1/health and POST {prefix}/kms/xks/v1/keys/{id}/
// {metadata,encrypt,decrypt}. The URI's key store is resolved first (an unknown one is
// InvalidUriPathException whoever signed the request), then the SigV4 signature is checked
// against that key store's credentials (service kms-xks-proxy, any region, the raw path as
// received), then the core seam runs the operation. Errors leave in the spec's shape.
import type { Request, Response } from 'express';
import type { RequestContext } from '../../core/api/context';
import type { CoreService } from '../../core/calls/service';
import { KmsError } from '../../core/errors';
import type { Clock } from '../../core/ports';
import { verifySigV4 } from '../auth/sigv4';
import { parseRequestJson, toWire } from '../kms/json';
import { rawBodyReader, requestIdOf } from '../plumbing';
import { writeXksError } from './errors';
import type { XksKeyStores } from './key-stores';
import { xksOperations, xksRoute, type XksRoute } from './operations';

export const XKS_SIGNING_SERVICE = 'kms-xks-proxy';

export interface XksRouterOptions {
  service: CoreService;
  /** The key stores of the configuration file version in force. */
  keyStores: () => XksKeyStores;
  /** Wall clock that request signatures (and quotas) are checked against. */
  signatureClock: Clock;
  maxBodyBytes: number;
}

const invalidPath = () => new KmsError('UnknownOperationException', 'The URI path does not name an XKS API of a key store on this proxy.');
const ATTRIBUTE_MAX = 256;

/** What the call's event carries: the key store and key of the URI, and kmsRequestId and kmsOperation if the body has them. */
function attributesOf(route: XksRoute | undefined, json: unknown): Record<string, string> {
  const attributes: Record<string, string> = {};
  if (route) {
    attributes.keyStorePrefix = route.prefix.slice(0, ATTRIBUTE_MAX);
    if (route.externalKeyId !== undefined) attributes.externalKeyId = route.externalKeyId.slice(0, ATTRIBUTE_MAX);
  }
  const metadata = (json as { requestMetadata?: unknown } | undefined)?.requestMetadata as Record<string, unknown> | undefined;
  if (metadata !== null && typeof metadata === 'object') {
    for (const name of ['kmsRequestId', 'kmsOperation'] as const) {
      const value = Object.prototype.hasOwnProperty.call(metadata, name) ? metadata[name] : undefined;
      if (typeof value === 'string') attributes[name] = value.slice(0, ATTRIBUTE_MAX);
    }
  }
  return attributes;
}

function parsedOrError(body: Buffer): { json?: unknown; error?: unknown } {
  try {
    return { json: parseRequestJson(body) };
  } catch (error) {
    return { error };
  }
}

/** Handles every request the XKS listener gets besides its load balancer health check. */
export function xksHandler(options: XksRouterOptions) {
  const readBody = rawBodyReader(options.maxBodyBytes);
  return (req: Request, res: Response, next: (e?: unknown) => void): void => {
    handle(req, res, options, readBody).catch(next);
  };
}

async function handle(req: Request, res: Response, options: XksRouterOptions, readBody: ReturnType<typeof rawBodyReader>): Promise<void> {
  const requestId = requestIdOf(res);
  const sourceIp = req.socket.remoteAddress;
  // The path exactly as received: what the client signed, never normalised.
  const rawPath = req.originalUrl.split('?')[0]!;
  const route = xksRoute(rawPath);
  const keyStore = route && options.keyStores().find(route.prefix);
  const operation = route && xksOperations[route.api];
  let attributes = attributesOf(route, undefined);
  const userAgent = req.headers['user-agent'];
  let principal: string | undefined;
  let ctx: RequestContext;
  let json: unknown;
  let status: number | undefined;
  try {
    // Precondition: a request whose URI names no XKS API of a configured key store is InvalidUriPathException, before any authentication.
    if (!route || !keyStore) throw invalidPath();
    // Precondition: an XKS API answers POST only; any other method is 405.
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      status = 405;
      throw new KmsError('ValidationException', `The XKS APIs answer POST only, not ${req.method}.`);
    }
    const body = await readBody(req, res);
    const parsed = parsedOrError(body);
    attributes = attributesOf(route, parsed.json);
    const caller = await verifySigV4(
      { method: req.method, path: rawPath, query: req.query as Record<string, string | string[]>, headers: req.headers, body },
      (accessKeyId) => keyStore.credential(accessKeyId),
      options.signatureClock.now(),
      { service: XKS_SIGNING_SERVICE, rawPath: true },
    );
    principal = caller.principal.arn;
    // Precondition: a key store over its request quota answers ThrottlingException.
    if (!keyStore.admit(options.signatureClock.now().getTime())) throw new KmsError('ThrottlingException', 'This key store is over its request quota. Retry later.');
    if (parsed.error !== undefined) throw parsed.error;
    json = parsed.json;
    ctx = {
      principal: caller.principal, region: caller.region, requestId, sourceIp, secureTransport: req.secure, attributes, accessKeyId: caller.accessKeyId,
      ...(userAgent ? { userAgent } : {}),
      xks: { keyStorePrefix: keyStore.prefix, externalKeyId: route.externalKeyId, policies: keyStore.config.policies },
    };
  } catch (e) {
    const error = await options.service.refuse({ source: 'xks', requestId, operation: operation?.name, principal, sourceIp, userAgent, attributes, error: e });
    writeXksError(res, error, status);
    return;
  }
  try {
    const output = await options.service.invoke('xks', operation!, ctx, json);
    res.status(200).type('application/json').send(JSON.stringify(toWire(output)));
  } catch (e) {
    writeXksError(res, e instanceof KmsError ? e : new KmsError('KMSInternalException'));
  }
}
