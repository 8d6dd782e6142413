// What the key APIs (GetKeyMetadata, Encrypt, Decrypt) share: the call's key store and key id,
// the external key from the store, its status and usage, and the token that holds it, asked
// with a deadline.
import type { RequestContext } from '../api/context';
import type { CoreDeps } from '../deps';
import { KmsError, messages } from '../errors';
import type { ExternalKeyCapability } from '../key-stores/port';
import { requireCapability } from '../key-stores/registry';
import type { XksCallContext, XksProxyDeps } from './context';
import { EXTERNAL_KEY_ID_PATTERN, type ExternalKeyRecord, type ExternalKeyUsage } from './external-key';

/** The XKS facts of a call; a call that reaches an XKS operation without them is a wiring bug. */
export function xksCallOf(ctx: RequestContext): XksCallContext {
  if (!ctx.xks) throw new KmsError('KMSInternalException', messages.internal, 'XKS operation called without an XKS call context');
  return ctx.xks;
}

export function xksDepsOf(deps: CoreDeps): XksProxyDeps {
  if (!deps.xksProxy) throw new KmsError('KMSInternalException', messages.internal, 'XKS operation called on a core without the XKS proxy');
  return deps.xksProxy;
}

/** The {externalKeyId} of the URI. */
export function externalKeyIdOf(xks: XksCallContext): string {
  const id = xks.externalKeyId ?? '';
  // Precondition: an external key id is 1 to 128 characters of letters, digits, '.', '_' and '-'.
  if (!EXTERNAL_KEY_ID_PATTERN.test(id)) {
    throw new KmsError('ValidationException', 'The external key id must be 1 to 128 characters of A-Z, a-z, 0-9, period, hyphen and underscore.');
  }
  return id;
}

export async function findExternalKey(deps: CoreDeps, xks: XksCallContext, externalKeyId: string): Promise<ExternalKeyRecord> {
  const key = await deps.store.externalKeys.get(xks.keyStorePrefix, externalKeyId);
  // Precondition: an external key is found only in the key store whose URI prefix the request used.
  if (!key) throw new KmsError('NotFoundException', `External key ${externalKeyId} is not found in this key store.`);
  return key;
}

export function requireEnabled(key: ExternalKeyRecord): void {
  // Precondition: a disabled external key is refused with InvalidStateException.
  if (key.status !== 'ENABLED') throw new KmsError('DisabledException', `External key ${key.externalKeyId} is disabled.`);
}

export function requireUsage(key: ExternalKeyRecord, usage: ExternalKeyUsage): void {
  // Precondition: an external key is used only for what its usage permits; the token enforces it as well.
  if (!key.usage.includes(usage)) {
    throw new KmsError('InvalidKeyUsageException', `External key ${key.externalKeyId} does not permit ${usage === 'ENCRYPT' ? 'encryption' : 'decryption'}.`);
  }
}

/** The token holding the key; KeyUnavailableException when it is not connected. */
export function tokenOf(deps: CoreDeps, key: ExternalKeyRecord): ExternalKeyCapability {
  const store = deps.keyStores.get(key.backing.tokenId);
  if (!store) throw new KmsError('KeyUnavailableException', messages.keyUnavailable, `key store ${key.backing.tokenId} of external key ${key.externalKeyId} is not connected`);
  return requireCapability(store, 'externalKeys');
}

/** `work`, or DependencyTimeoutException once the token has taken longer than the proxy may wait. */
export async function withinDeadline<T>(xks: XksProxyDeps, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KmsError('DependencyTimeoutException', 'The external key manager did not answer in time. Retry the request.',
      `${what}: no answer from the token within ${xks.tokenTimeoutMs} ms`)), xks.tokenTimeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
