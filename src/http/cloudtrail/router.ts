// CloudTrail's LookupEvents on the KMS endpoint: AWS JSON 1.1 on POST / with
// `X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.<Op>` (or, as the AWS SDK for
// JavaScript v3 sends it, `CloudTrail_20131101.<Op>`), signed with SigV4
// for the service `cloudtrail` (or a bearer JWT where those are accepted), through the core seam,
// errors in CloudTrail's shape. The KMS router hands over the requests whose target is not one of
// its own, so the KMS hot path pays nothing for this protocol.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { RequestContext } from '../../core/api/context';
import type { CoreService } from '../../core/calls/service';
import { KmsError } from '../../core/errors';
import type { Clock } from '../../core/ports';
import { isBearerAuthorization, type BearerAuthenticator } from '../auth/bearer';
import { unknownAccessKeys, type PrincipalDirectory } from '../auth/principals';
import { verifySigV4 } from '../auth/sigv4';
// The same AWS JSON 1.1 encoding as the KMS API: one codec for both protocols.
import { parseRequestJson, toWire } from '../kms/json';
import { REQUEST_ID_HEADER } from '../kms/errors';
import { decodedBody, readBodyWithin } from '../plumbing';
import { writeCloudTrailError } from './errors';
import { CLOUDTRAIL_TARGET_PREFIXES, cloudTrailOperations, type CloudTrailOperationName } from './operations';

/** The SigV4 signing name of CloudTrail: a credential scoped to `kms` does not call it. */
export const CLOUDTRAIL_SIGNING_NAME = 'cloudtrail';
const JSON_CONTENT_TYPES = new Set(['application/x-amz-json-1.1', 'application/x-amz-json-1.0']);

export interface CloudTrailRouterOptions {
  service: CoreService;
  principals: () => PrincipalDirectory;
  /** Wall clock that request signatures are checked against. */
  signatureClock: Clock;
  maxBodyBytes: number;
  /** KMS_DEV_ANY_CREDENTIALS: an unknown access key id signs as the account root, unverified. */
  anyCredentials?: boolean;
  bearer?: BearerAuthenticator;
}

/** The part of an X-Amz-Target after CloudTrail's prefix, or undefined when it is not CloudTrail's. */
function operationPart(target: string): string | undefined {
  const prefix = CLOUDTRAIL_TARGET_PREFIXES.find((p) => target.startsWith(p));
  return prefix === undefined ? undefined : target.slice(prefix.length);
}

/** Whether an X-Amz-Target belongs to CloudTrail's API. */
export function isCloudTrailTarget(target: string): boolean {
  return operationPart(target) !== undefined;
}

function operationNameOf(target: string): CloudTrailOperationName | undefined {
  const name = operationPart(target);
  return name !== undefined && Object.prototype.hasOwnProperty.call(cloudTrailOperations, name) ? (name as CloudTrailOperationName) : undefined;
}

/** Answers one POST / whose target is CloudTrail's (see isCloudTrailTarget). */
export function cloudTrailHandler(options: CloudTrailRouterOptions): (req: IncomingMessage, res: ServerResponse, target: string, path: string, query: Record<string, string | string[]>) => void {
  return (req, res, target, path, query) => {
    handle(req, res, options, target, path, query).catch((e: unknown) => {
      if (!res.headersSent) writeCloudTrailError(res, new KmsError('KMSInternalException', '', String(e)));
    });
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, options: CloudTrailRouterOptions, target: string, path: string, query: Record<string, string | string[]>): Promise<void> {
  const requestId = randomUUID();
  res.setHeader(REQUEST_ID_HEADER, requestId);
  const name = operationNameOf(target);
  const sourceIp = req.socket.remoteAddress;
  const userAgent = req.headers['user-agent'];
  let principal: string | undefined;
  let ctx: RequestContext;
  let json: unknown;
  try {
    const body = await readBodyWithin(req, res, options.maxBodyBytes);
    if (!name) throw new KmsError('UnknownOperationException', '');
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    // Precondition: CloudTrail requests are accepted only with the AWS JSON content types.
    if (!JSON_CONTENT_TYPES.has(contentType)) throw new KmsError('SerializationException', `Unsupported content type '${contentType}'; expected application/x-amz-json-1.1`);
    const authorization = req.headers.authorization;
    // Precondition: CloudTrail requests must be signed for the cloudtrail service.
    const caller = options.bearer && isBearerAuthorization(authorization)
      ? await options.bearer.authenticate(authorization, options.signatureClock.now())
      : await verifySigV4(
        { method: 'POST', path, query, headers: req.headers, body },
        (accessKeyId) => options.principals().find(accessKeyId),
        options.signatureClock.now(),
        { service: CLOUDTRAIL_SIGNING_NAME, ...unknownAccessKeys(options) },
      );
    principal = caller.principal.arn;
    json = parseRequestJson(decodedBody(req, res, body, options.maxBodyBytes));
    ctx = {
      principal: caller.principal, region: caller.region, requestId, sourceIp, secureTransport: (req.socket as TLSSocket).encrypted === true,
      ...('accessKeyId' in caller ? { accessKeyId: caller.accessKeyId } : {}), ...(userAgent ? { userAgent } : {}),
    };
  } catch (e) {
    writeCloudTrailError(res, await options.service.refuse({ source: 'cloudtrail', requestId, operation: name && cloudTrailOperations[name].name, principal, sourceIp, userAgent, error: e }));
    return;
  }
  try {
    const output = await options.service.invoke('cloudtrail', cloudTrailOperations[name!], ctx, json);
    const payload = Buffer.from(JSON.stringify(toWire(output)));
    res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1', 'Content-Length': payload.length });
    res.end(payload);
  } catch (e) {
    writeCloudTrailError(res, e instanceof KmsError ? e : new KmsError('KMSInternalException'));
  }
}
