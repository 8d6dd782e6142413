// What every wire protocol's router needs around its own dispatch: a request id on every
// response, a capped raw body, and a 404 and a last-resort handler that answer in the
// protocol's own error shape and record the call through the core seam.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
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

/**
 * Reads the whole body of a plain Node request, at most `limit` bytes. A body over the limit
 * (by Content-Length, or as it arrives) is refused at once and the connection closed after the
 * answer, so the rest of it is never read.
 */
export function readBodyWithin(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer> {
  const tooLarge = () => {
    res.setHeader('Connection', 'close');
    res.once('finish', () => req.socket.destroy());
    return new KmsError('RequestEntityTooLargeException', `Request body exceeds ${limit} bytes.`);
  };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let settled = false;
    const fail = (error: KmsError) => {
      if (settled) return;
      settled = true;
      req.removeAllListeners('data');
      reject(error);
    };
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) return fail(tooLarge());
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length));
    });
    req.once('error', (e) => fail(new KmsError('SerializationException', 'The request body could not be read.', String(e))));
    req.once('aborted', () => fail(new KmsError('SerializationException', 'The request body could not be read.', 'aborted')));
  });
}

const inflaters: Record<string, (body: Buffer, options: { maxOutputLength: number }) => Buffer> = {
  gzip: gunzipSync, 'x-gzip': gunzipSync, deflate: inflateSync, br: brotliDecompressSync,
};

// Precondition: a compressed body is inflated only up to the body limit, and an unknown or broken encoding is refused.
/** The body as sent, inflated per its Content-Encoding: after the signature, which covers the bytes on the wire. */
export function decodedBody(req: IncomingMessage, res: ServerResponse, body: Buffer, limit: number): Buffer {
  const tooLarge = () => {
    res.setHeader('Connection', 'close');
    return new KmsError('RequestEntityTooLargeException', `Request body exceeds ${limit} bytes.`);
  };
  const name = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (name === 'identity' || name === '') return body;
  const inflate = inflaters[name];
  if (!inflate) throw new KmsError('SerializationException', `Unsupported content encoding '${name}'.`);
  try {
    return inflate(body, { maxOutputLength: limit });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
    throw new KmsError('SerializationException', 'The request body could not be decoded.', String(e));
  }
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
