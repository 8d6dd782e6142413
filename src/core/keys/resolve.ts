// Finding the key a request names, and the checks every key operation shares.
import { authorize, type AuthorizationRequest } from '../access/authorize';
import { callerScope, type RequestContext } from '../api/context';
import type { CoreDeps } from '../deps';
import { KmsError, messages, RevisionConflictError } from '../errors';
import { customKeyStoreOf, effectiveKeyState } from '../custom-key-stores/connections';
import { aliasArn, keyArn, type CustomKeyStoreRecord, type KeyRecord, type KeyScope, type KeyState, type KeyUsage } from '../model';
import { assertStateAllows, type StateCheckedOperation } from './key-state';
import { ensureAwsManagedKey, isPredefinedAlias } from './aws-managed-keys';
import { PARTITION, parseKeyReference } from './key-id';

export interface ResolvedKey {
  key: KeyRecord;
  arn: string;
  /**
   * The state the key answers with: its recorded state, or Unavailable while its custom key
   * store is not connected. Changes are made to `key.state`, which takes effect on reconnection.
   */
  state: KeyState;
  /** The record of the custom key store holding the key, if it is in one. */
  customKeyStore?: CustomKeyStoreRecord;
  /** The alias name the request used, if any (for kms:RequestAlias later). */
  viaAlias?: string;
}

export function arnOf(key: KeyRecord): string {
  return keyArn(PARTITION, key, key.keyId);
}

async function loadComplete(deps: CoreDeps, scope: KeyScope, keyId: string): Promise<ResolvedKey> {
  const key = await deps.store.keys.get(scope, keyId);
  // Precondition: a key whose creation has not completed does not exist for any API.
  if (!key || key.incomplete) throw new KmsError('NotFoundException', messages.keyDoesNotExist(keyArn(PARTITION, scope, keyId)));
  const customKeyStore = await customKeyStoreOf(deps, key);
  return { key, arn: arnOf(key), state: effectiveKeyState(key, customKeyStore), ...(customKeyStore ? { customKeyStore } : {}) };
}

function recorded(ctx: RequestContext, resolved: ResolvedKey): ResolvedKey {
  const { customKeyStoreId, xksKeyId } = resolved.key;
  ctx.onKeyResolved?.(resolved.arn, customKeyStoreId ? { customKeyStoreId, ...(xksKeyId ? { xksKeyId } : {}) } : undefined);
  return resolved;
}

export interface ResolveOptions {
  /** Whether the operation accepts alias names and alias ARNs (cryptographic operations, DescribeKey, GetPublicKey) or only key ids and ARNs. */
  aliases: boolean;
  /**
   * A predefined AWS alias (alias/aws/s3, ...) of the caller's account without a key gets its AWS
   * managed key: the operations by which AWS services first use one (Encrypt, GenerateDataKey*,
   * ReEncrypt's destination, DescribeKey).
   */
  createsAwsManagedKey?: boolean;
}

/** Resolves a KeyId parameter. */
export async function resolveKey(deps: CoreDeps, ctx: RequestContext, reference: string, options: ResolveOptions): Promise<ResolvedKey> {
  const ref = parseKeyReference(reference);
  const scope = callerScope(ctx);
  switch (ref.kind) {
    case 'keyId':
      return recorded(ctx, await loadComplete(deps, scope, ref.keyId));
    case 'keyArn':
      // Precondition: an ARN in another region than the request's is not found.
      if (ref.region !== ctx.region) throw new KmsError('NotFoundException', `Invalid arn ${ref.region}`);
      return recorded(ctx, await loadComplete(deps, { accountId: ref.accountId, region: ref.region }, ref.keyId));
    case 'aliasName':
    case 'aliasArn': {
      if (!options.aliases) throw new KmsError('NotFoundException', messages.invalidKeyId(reference));
      if (ref.kind === 'aliasArn' && ref.region !== ctx.region) throw new KmsError('NotFoundException', `Invalid arn ${ref.region}`);
      const aliasScope = ref.kind === 'aliasArn' ? { accountId: ref.accountId, region: ref.region } : scope;
      let alias = await deps.store.aliases.get(aliasScope, ref.aliasName);
      if (!alias && options.createsAwsManagedKey && aliasScope.accountId === scope.accountId && isPredefinedAlias(ref.aliasName)) alias = await ensureAwsManagedKey(deps, aliasScope, ref.aliasName);
      if (!alias) throw new KmsError('NotFoundException', messages.aliasDoesNotExist(aliasArn(PARTITION, aliasScope, ref.aliasName)));
      return recorded(ctx, { ...(await loadComplete(deps, aliasScope, alias.targetKeyId)), viaAlias: ref.aliasName });
    }
    case 'invalid':
      throw new KmsError('NotFoundException', messages.invalidKeyId(reference));
  }
}

/** Resolve, authorise and check the key state: the common opening of every key operation. */
export async function keyForOperation(
  deps: CoreDeps,
  ctx: RequestContext,
  operation: StateCheckedOperation,
  reference: string,
  options: ResolveOptions & { action?: string; authorization?: Omit<AuthorizationRequest, 'action' | 'key'> },
): Promise<ResolvedKey> {
  const resolved = await resolveKey(deps, ctx, reference, options);
  await authorizeKeyAction(deps, ctx, resolved, options.action ?? operation, options.authorization);
  assertStateAllows(operation, resolved.state, resolved.arn);
  return resolved;
}

export function authorizeKeyAction(
  deps: CoreDeps,
  ctx: RequestContext,
  resolved: ResolvedKey,
  action: string,
  request: Omit<AuthorizationRequest, 'action' | 'key'> = {},
): Promise<void> {
  return authorize(deps, ctx, { ...request, action, key: { record: resolved.key, arn: resolved.arn, viaAlias: resolved.viaAlias } });
}

// Precondition: a key is used only for operations its KeyUsage allows.
export function assertUsage(resolved: ResolvedKey, usage: KeyUsage, operation: string): void {
  if (resolved.key.keyUsage !== usage) {
    throw new KmsError('InvalidKeyUsageException', messages.wrongUsage(resolved.arn, resolved.key.keyUsage, operation));
  }
}

export function throwIfDryRun(dryRun: boolean | undefined): void {
  if (dryRun) throw new KmsError('DryRunOperationException', messages.dryRun);
}

/** How often a change is retried when another writer changed the key first. */
const MAX_CONFLICT_RETRIES = 32;
/** Upper bound of the random pause before a retry, in ms: 1, 2, 4 ... 64. */
const backoffCeilingMs = (attempt: number) => 2 ** Math.min(attempt, 6);

/**
 * Applies `change` to the key atomically: read, change, compare-and-set on the revision,
 * and on a conflict start again from a fresh read, so concurrent changes never lose an
 * update. `change` runs on every attempt and must make its checks (state, limits) there.
 */
export async function changeKey(
  deps: CoreDeps,
  resolved: Pick<ResolvedKey, 'key' | 'arn'>,
  change: (key: KeyRecord, arn: string) => KeyRecord,
): Promise<KeyRecord> {
  let key = resolved.key;
  for (let attempt = 0; ; attempt++) {
    try {
      return await deps.store.keys.replace({ ...change(key, resolved.arn), updatedAt: deps.clock.now() });
    } catch (e) {
      if (!(e instanceof RevisionConflictError) || attempt >= MAX_CONFLICT_RETRIES) throw e;
      // Random pauses spread the losers out, so they do not collide again in lockstep.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * backoffCeilingMs(attempt)));
      const fresh = await deps.store.keys.get(key, key.keyId);
      if (!fresh || fresh.incomplete) throw new KmsError('NotFoundException', messages.keyDoesNotExist(resolved.arn));
      key = fresh;
    }
  }
}
