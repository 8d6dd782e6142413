// The request log: one JSON line per call, an observer of the core seam's events. The event
// carries no secret by construction; the logger's redaction is the second line of defence.
import type { CallEvent, CallObserver } from '../core/calls/event';
import type { Logger } from './logger';

/** `statusOf` gives the status the caller was answered with, from its protocol's error table. */
export function requestLog(logger: Logger, statusOf: (event: CallEvent) => number): CallObserver {
  return (event) => {
    const status = statusOf(event);
    logger.log(status >= 500 ? 'error' : 'info', event.source === 'internal' ? 'event' : 'request', {
      // The call's own non-secret facts (XKS: kmsRequestId, kmsOperation, keyStorePrefix, externalKeyId); the fields below win a clash.
      ...event.attributes,
      source: event.source, requestId: event.requestId, operation: event.operation, keyId: event.keyReference, principal: event.principal,
      outcome: event.outcome === 'success' ? 'success' : event.errorCode, status, latencyMs: event.latencyMs,
      ...(event.errorDetail ? { detail: event.errorDetail } : {}), ...(event.stack ? { stack: event.stack } : {}),
    });
  };
}
