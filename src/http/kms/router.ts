// AWS JSON 1.1 on POST /: X-Amz-Target picks the operation from a typed table, SigV4 says
// who is calling, and core does the rest. Errors leave in AWS's shape.
import express, { type Request, type Response } from 'express';
import type { RequestContext } from '../../core/context';
import type { CoreDeps } from '../../core/deps';
import { KmsError, messages } from '../../core/errors';
import type { Operation } from '../../core/operation';
import { operations, type OperationName } from '../../core/operations';
import type { Clock } from '../../core/ports';
import { decodeInput } from '../../core/schema';
import type { Logger } from '../../log/logger';
import { isBearerAuthorization, type BearerAuthenticator } from '../auth/bearer';
import type { PrincipalDirectory } from '../auth/principals';
import { verifySigV4 } from '../auth/sigv4';
import { httpStatusFor } from './errors';
import { parseRequestJson, toWire } from './json';

const TARGET_PREFIX = 'TrentService.';
const JSON_CONTENT_TYPES = new Set(['application/x-amz-json-1.1', 'application/x-amz-json-1.0']);

const operationTable: Record<OperationName, Operation> = operations as unknown as Record<OperationName, Operation>;

function operationNameOf(target: string | undefined): OperationName | undefined {
  const name = target?.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined;
  return name && Object.prototype.hasOwnProperty.call(operationTable, name) ? (name as OperationName) : undefined;
}

function lookupOperation(target: string | undefined): Operation {
  const name = operationNameOf(target);
  if (!name) throw new KmsError('UnknownOperationException', '');
  return operationTable[name];
}

export interface KmsRouterOptions {
  deps: CoreDeps;
  principals: () => PrincipalDirectory;
  logger: Logger;
  /** Wall clock that request signatures are checked against (core keeps its own in deps). */
  signatureClock: Clock;
  maxBodyBytes: number;
  /** Accepts `Authorization: Bearer <JWT>` when set; otherwise every request is SigV4. */
  bearer?: BearerAuthenticator;
}

function keyIdForLog(input: unknown, output: unknown): string | undefined {
  const named = input as { KeyId?: unknown; TargetKeyId?: unknown } | undefined;
  const fromInput = named?.KeyId ?? named?.TargetKeyId;
  if (typeof fromInput === 'string') return fromInput;
  const out = output as { KeyId?: unknown; KeyMetadata?: { Arn?: unknown } } | undefined;
  if (typeof out?.KeyId === 'string') return out.KeyId;
  if (typeof out?.KeyMetadata?.Arn === 'string') return out.KeyMetadata.Arn;
  return undefined;
}

export function kmsRouter(options: KmsRouterOptions): express.Router {
  const router = express.Router();
  const readBody = express.raw({ type: () => true, limit: options.maxBodyBytes });

  router.post('/', (req, res, next) => {
    const requestId = res.locals.requestId as string;
    readBody(req, res, (err?: unknown) => {
      if (err) {
        const tooLarge = (err as { type?: string }).type === 'entity.too.large';
        const error = tooLarge
          ? new KmsError('RequestEntityTooLargeException', `Request body exceeds ${options.maxBodyBytes} bytes.`)
          : new KmsError('SerializationException', 'The request body could not be read.', String(err));
        sendError(res, error, options.logger, { requestId, started: process.hrtime.bigint(), operation: operationNameOf(req.header('x-amz-target')) });
        return;
      }
      handle(req, res, options).catch(next);
    });
  });
  return router;
}

async function handle(req: Request, res: Response, options: KmsRouterOptions): Promise<void> {
  const started = process.hrtime.bigint();
  const requestId = res.locals.requestId as string;
  let operationName: string | undefined;
  let principalArn: string | undefined;
  let input: unknown;
  try {
    const operation = lookupOperation(req.header('x-amz-target'));
    operationName = operation.name;
    const contentType = (req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    // Precondition: only the AWS JSON content types are accepted.
    if (!JSON_CONTENT_TYPES.has(contentType)) throw new KmsError('SerializationException', `Unsupported content type '${contentType}'; expected application/x-amz-json-1.1`);
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    // The Authorization scheme picks the check: Bearer goes to the JWT issuers when configured.
    const authorization = req.headers.authorization;
    const caller = options.bearer && isBearerAuthorization(authorization)
      ? await options.bearer.authenticate(authorization, options.signatureClock.now())
      : await verifySigV4(
        { method: req.method, path: req.path, query: req.query as Record<string, string | string[]>, headers: req.headers, body },
        (accessKeyId) => options.principals().find(accessKeyId),
        options.signatureClock.now(),
      );
    principalArn = caller.principal.arn;
    const json = parseRequestJson(body);
    // Logged even when validation fails; only the key id is ever taken from the body.
    if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
      const { KeyId, TargetKeyId } = json as { KeyId?: unknown; TargetKeyId?: unknown };
      input = { KeyId, TargetKeyId };
    }
    input = decodeInput(operation.input, json);
    const ctx: RequestContext = {
      principal: caller.principal, region: caller.region, requestId,
      sourceIp: req.socket.remoteAddress, secureTransport: req.secure,
    };
    const output = await operation.run(options.deps, ctx, input as never);
    res.status(200).type('application/x-amz-json-1.1').send(JSON.stringify(toWire(output)));
    options.logger.info('request', {
      requestId, operation: operationName, keyId: keyIdForLog(input, output), principal: principalArn,
      outcome: 'success', status: 200, latencyMs: elapsedMs(started),
    });
  } catch (e) {
    sendError(res, e, options.logger, { requestId, started, operation: operationName, principal: principalArn, keyId: keyIdForLog(input, undefined) });
  }
}

function elapsedMs(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function sendError(
  res: Response,
  error: unknown,
  logger: Logger,
  request: { requestId: string; started: bigint; operation?: string; principal?: string; keyId?: string },
): void {
  // Anything that is not a KmsError is a bug or an adapter failure: its detail stays in the log.
  const known = error instanceof KmsError ? error : new KmsError('KMSInternalException', messages.internal, error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  const status = httpStatusFor[known.code];
  res.status(status).type('application/x-amz-json-1.1').setHeader('x-amzn-ErrorType', known.code);
  res.send(JSON.stringify({ __type: known.code, message: known.message }));
  logger.log(status >= 500 ? 'error' : 'info', 'request', {
    requestId: request.requestId, operation: request.operation, keyId: request.keyId, principal: request.principal,
    outcome: known.code, status, latencyMs: elapsedMs(request.started), ...(known.detail ? { detail: known.detail } : {}),
    ...(error instanceof KmsError ? {} : { stack: (error as Error)?.stack }),
  });
}
