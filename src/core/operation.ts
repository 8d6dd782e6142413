// The shape every operation file exports: its input description and its behaviour.
import type { RequestContext } from './context';
import type { CoreDeps } from './deps';
import type { Decoded, Field, Schema } from './schema';

export interface Operation<F extends Record<string, Field<unknown>> = Record<string, Field<unknown>>, O = unknown> {
  name: string;
  input: Schema<F>;
  run(deps: CoreDeps, ctx: RequestContext, input: Decoded<F>): Promise<O>;
}

export function defineOperation<F extends Record<string, Field<unknown>>, O>(operation: Operation<F, O>): Operation<F, O> {
  return operation;
}
