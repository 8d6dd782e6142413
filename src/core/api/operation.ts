// The shape every operation file exports: its input description and its behaviour, and how a
// caller that holds only a wire body prepares it (decode, then run), with no cast anywhere.
import type { RequestContext } from './context';
import type { CoreDeps } from '../deps';
import { decodeInput, recordableParameters, type Decoded, type Field, type Schema } from './schema';

export interface Operation<F extends Record<string, Field<unknown>> = Record<string, Field<unknown>>, O = unknown> {
  name: string;
  input: Schema<F>;
  run(deps: CoreDeps, ctx: RequestContext, input: Decoded<F>): Promise<O>;
}

/** A call decoded and checked against the operation's input description, ready to run. */
export interface PreparedCall<O = unknown> {
  /** The members that may be recorded: those the input description does not declare secret. */
  parameters: Record<string, unknown>;
  /** The key the request names (KeyId, or TargetKeyId for aliases), as given. */
  keyReference?: string;
  run(deps: CoreDeps, ctx: RequestContext): Promise<O>;
}

/** What a dispatch table holds: any operation, its input type closed over by `prepare`. */
export interface DispatchableOperation<O = unknown> {
  readonly name: string;
  /** Throws SerializationException or ValidationException for a body that does not fit. */
  prepare(body: unknown): PreparedCall<O>;
}

function keyReferenceOf(input: Record<string, unknown>): string | undefined {
  const named = input.KeyId ?? input.TargetKeyId;
  return typeof named === 'string' ? named : undefined;
}

export function defineOperation<F extends Record<string, Field<unknown>>, O>(operation: Operation<F, O>): Operation<F, O> & DispatchableOperation<O> {
  return {
    ...operation,
    prepare(body) {
      const input = decodeInput(operation.input, body);
      return {
        parameters: recordableParameters(operation.input, input),
        keyReference: keyReferenceOf(input as Record<string, unknown>),
        run: (deps, ctx) => operation.run(deps, ctx, input),
      };
    },
  };
}
