// Core operations run directly against fakes (in-memory store, node:crypto token, fake
// clock), with inputs decoded and outputs encoded exactly as on the wire.
import type { RequestContext } from '../../src/core/api/context';
import type { CoreDeps } from '../../src/core/deps';
import { KmsError } from '../../src/core/errors';
import { kmsOperations } from '../../src/http/kms/operations';
import { toWire } from '../../src/http/kms/json';
import { FakeClock } from './clock';
import { FakeToken, fakeKeyStores } from './fake-token';
import { MemoryStore } from './memory-store';

export async function newCoreDeps(start = new Date('2026-01-01T00:00:00Z')) {
  const token = new FakeToken();
  const store = new MemoryStore();
  await store.init();
  const clock = new FakeClock(start);
  const deps: CoreDeps = { store, keyStores: fakeKeyStores(token), clock };
  return { deps, token, store, clock };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = Record<string, any>;

export type OperationName = keyof typeof kmsOperations;

export async function callOperation(deps: CoreDeps, ctx: RequestContext, name: OperationName, body: object): Promise<Loose> {
  const output = await kmsOperations[name].prepare(JSON.parse(JSON.stringify(body))).run(deps, ctx);
  return toWire(output) as Loose;
}

/** The code and message of the KmsError `promise` must reject with. */
export async function kmsFailure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof KmsError)) throw new Error(`expected a KmsError, got ${String(error)}`);
  return { code: error.code, message: error.message };
}
