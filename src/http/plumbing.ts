// What every wire protocol's router needs around its own dispatch: a request id on every
// response, a capped raw body, and a 404 and a last-resort handler that answer in the
// protocol's own error shape and record the call through the core seam.
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { CallSource } from '../core/calls/event';
import type { CoreService } from '../core/calls/service';
import { KmsError, messages } from '../core/errors';

/** Writes an error in one protocol's shape. */
export type ErrorWriter = (res: Response, error: KmsError, status?: number) => void;

/** Every response, whatever the route or outcome, carries a request id. */
export function assignRequestId(header: string): express.RequestHandler {
  return (_req, res, next) => {
    const requestId = randomUUID();
    res.locals.requestId = requestId;
    res.setHeader(header, requestId);
    next();
  };
}

export function requestIdOf(res: Response): string {
  return res.locals.requestId as string;
}

/** Reads the whole body, at most `limit` bytes; rejects with the protocol-neutral KmsError. */
export function rawBodyReader(limit: number): (req: Request, res: Response) => Promise<Buffer> {
  const read = express.raw({ type: () => true, limit });
  return (req, res) => new Promise((resolve, reject) => {
    read(req, res, (err?: unknown) => {
      if (!err) return resolve(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
      const tooLarge = (err as { type?: string }).type === 'entity.too.large';
      reject(tooLarge
        ? new KmsError('RequestEntityTooLargeException', `Request body exceeds ${limit} bytes.`)
        : new KmsError('SerializationException', 'The request body could not be read.', String(err)));
    });
  });
}

/** A path the protocol does not serve: recorded, then answered with `error` and `status`. */
export function notFoundHandler(source: CallSource, service: CoreService, write: ErrorWriter, error: () => KmsError, status: number): express.RequestHandler {
  return (req, res) => {
    void service.refuse({ source, requestId: requestIdOf(res), sourceIp: req.socket.remoteAddress, error: error() }).then(
      (refused) => write(res, refused, status),
      () => write(res, new KmsError('KMSInternalException', messages.internal), 500),
    );
  };
}

/** Last resort: never leaks an internal error's detail to the caller. */
export function lastResortHandler(source: CallSource, service: CoreService, write: ErrorWriter): express.ErrorRequestHandler {
  return (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const answer = () => {
      if (!res.headersSent) write(res, new KmsError('KMSInternalException', messages.internal));
    };
    void service.refuse({ source, requestId: requestIdOf(res), sourceIp: req.socket.remoteAddress, error }).then(answer, answer);
  };
}
