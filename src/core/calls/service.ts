// The seam every call passes through, whoever makes it: the KMS router, the XKS router, the
// admin CLI and the background jobs. It prepares the call (decode and validate), runs the
// operation (which resolves and authorises), and emits one CallEvent per call, success or
// failure, to every observer before the caller answers.
import { performance } from 'node:perf_hooks';
import type { RequestContext } from '../api/context';
import type { CoreDeps } from '../deps';
import { asKmsError, KmsError, messages } from '../errors';
import type { DispatchableOperation, PreparedCall } from '../api/operation';
import type { CallEvent, CallObserver, CallSource } from './event';
import { recordableOutput } from '../audit/recordable-output';

/** The key a response names, for calls whose request named none (CreateKey). */
function keyReferenceInOutput(output: unknown): string | undefined {
  const out = output as { KeyId?: unknown; KeyMetadata?: { Arn?: unknown } } | undefined;
  if (typeof out?.KeyId === 'string') return out.KeyId;
  if (typeof out?.KeyMetadata?.Arn === 'string') return out.KeyMetadata.Arn;
  return undefined;
}

/** Only the key reference is ever taken from a body that did not decode. */
function keyReferenceInBody(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const { KeyId, TargetKeyId } = body as { KeyId?: unknown; TargetKeyId?: unknown };
  const named = KeyId ?? TargetKeyId;
  return typeof named === 'string' ? named : undefined;
}

/** A call refused before any operation ran: unreadable body, unknown operation, failed authentication. */
export interface RefusedCall {
  source: CallSource;
  requestId: string;
  operation?: string;
  principal?: string;
  accountId?: string;
  accessKeyId?: string;
  sourceIp?: string;
  userAgent?: string;
  attributes?: Readonly<Record<string, string>>;
  error: unknown;
}

export class CoreService {
  private readonly observers: CallObserver[];

  constructor(readonly deps: CoreDeps, observers: CallObserver[] = []) {
    this.observers = [...observers];
  }

  observe(observer: CallObserver): void {
    this.observers.push(observer);
  }

  /** Runs one call of `operation` with a wire body; emits its event and returns the output or throws a KmsError. */
  async invoke<O>(source: CallSource, operation: DispatchableOperation<O>, ctx: RequestContext, body: unknown): Promise<O> {
    const startedAt = new Date();
    const started = performance.now();
    const resources = new Set<string>();
    const keyStores = new Map<string, { customKeyStoreId: string; xksKeyId?: string }>();
    let prepared: PreparedCall<O> | undefined;
    const base = {
      source, operation: operation.name, requestId: ctx.requestId, principal: ctx.principal.arn, accountId: ctx.principal.accountId,
      sourceIp: ctx.sourceIp, region: ctx.region, startedAt,
      ...(ctx.accessKeyId ? { accessKeyId: ctx.accessKeyId } : {}),
      ...(ctx.userAgent ? { userAgent: ctx.userAgent } : {}),
      ...(ctx.attributes ? { attributes: ctx.attributes } : {}),
    };
    const onKeyResolved = (arn: string, keyStore?: { customKeyStoreId: string; xksKeyId?: string }) => {
      resources.add(arn);
      if (keyStore) keyStores.set(arn, keyStore);
    };
    const resolvedStores = () => (keyStores.size > 0 ? { keyStores: [...keyStores.values()] } : {});
    let succeeded = false;
    try {
      prepared = operation.prepare(body);
      const output = await prepared.run(this.deps, { ...ctx, onKeyResolved });
      succeeded = true;
      const results = recordableOutput(operation.name, output);
      await this.emit({
        ...base, keyReference: prepared.keyReference ?? keyReferenceInOutput(output), resources: [...resources], parameters: prepared.parameters,
        ...(results ? { results } : {}), ...resolvedStores(), outcome: 'success', latencyMs: performance.now() - started,
      });
      return output;
    } catch (e) {
      // The operation succeeded but an observer failed (the audit trail could not record it):
      // the caller is told KMSInternalException, and the record says so.
      const raw = succeeded ? observerFailed(e) : e;
      const error = asKmsError(raw);
      // An observer that cannot record the failure fails it as an internal error.
      await this.emit({
        ...base, keyReference: prepared?.keyReference ?? keyReferenceInBody(body), resources: [...resources], parameters: prepared?.parameters,
        ...resolvedStores(), ...failure(raw, error), latencyMs: performance.now() - started,
      }).catch((observerFailure: unknown) => { throw observerFailed(observerFailure); });
      throw error;
    }
  }

  /** Records a call that was refused before an operation ran; returns the error to answer with. */
  async refuse(call: RefusedCall): Promise<KmsError> {
    const error = asKmsError(call.error);
    await this.emit({
      source: call.source, operation: call.operation, requestId: call.requestId, principal: call.principal, sourceIp: call.sourceIp,
      ...(call.accountId ? { accountId: call.accountId } : {}), ...(call.accessKeyId ? { accessKeyId: call.accessKeyId } : {}),
      ...(call.userAgent ? { userAgent: call.userAgent } : {}),
      ...(call.attributes ? { attributes: call.attributes } : {}), resources: [], ...failure(call.error, error), startedAt: new Date(), latencyMs: 0,
    });
    return error;
  }

  /** Emits an event that did not come through invoke: what a background job did. */
  async emit(event: CallEvent): Promise<void> {
    for (const observer of this.observers) await observer(event);
  }
}

function failure(raw: unknown, error: KmsError): Pick<CallEvent, 'outcome' | 'errorCode' | 'errorMessage' | 'errorDetail' | 'stack'> {
  return {
    outcome: 'failure', errorCode: error.code, errorMessage: error.message,
    ...(error.detail ? { errorDetail: error.detail } : {}),
    ...(raw instanceof KmsError ? {} : { stack: (raw as Error)?.stack }),
  };
}

/** Whatever an observer threw (even a store's retryable error), the caller is told KMSInternalException: fail closed. */
// Precondition: a call whose audit record cannot be written fails with KMSInternalException.
function observerFailed(e: unknown): KmsError {
  return new KmsError('KMSInternalException', messages.internal, `a call observer failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
}
