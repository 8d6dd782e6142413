// What GenerateMac and VerifyMac share: an HMAC key of the matching spec, in its key store.
import { currentBackingKey } from './asymmetric';
import type { RequestContext } from '../api/context';
import type { CoreDeps } from '../deps';
import { macHashFor } from '../keys/key-specs';
import { assertUsage, keyForOperation, throwIfDryRun, type ResolvedKey } from '../keys/resolve';
import type { MacAlgorithm } from '../model';
import type { HashAlgorithm, HmacCapability } from '../key-stores/port';
import type { BackingKey } from '../key-stores/registry';

export async function prepareMac(
  deps: CoreDeps,
  ctx: RequestContext,
  operation: 'GenerateMac' | 'VerifyMac',
  input: { KeyId: string; MacAlgorithm: MacAlgorithm; DryRun?: boolean; GrantTokens?: string[] },
): Promise<{ resolved: ResolvedKey; hash: HashAlgorithm; object: BackingKey<HmacCapability> }> {
  const resolved = await keyForOperation(deps, ctx, operation, input.KeyId, {
    aliases: true,
    authorization: { grantTokens: input.GrantTokens, conditions: { 'kms:MacAlgorithm': input.MacAlgorithm } },
  });
  assertUsage(resolved, 'GENERATE_VERIFY_MAC', operation);
  const hash = macHashFor(resolved.key.keySpec, input.MacAlgorithm);
  throwIfDryRun(input.DryRun);
  return { resolved, hash, object: currentBackingKey(deps, resolved.key, 'hmacKeys') };
}
