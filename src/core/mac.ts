// What GenerateMac and VerifyMac share: an HMAC key of the matching spec, in the token.
import { currentTokenObject, type TokenObject } from './asymmetric';
import type { RequestContext } from './context';
import type { CoreDeps } from './deps';
import { macHashFor } from './key-specs';
import { assertUsage, keyForOperation, throwIfDryRun, type ResolvedKey } from './keys';
import type { MacAlgorithm } from './model';
import type { HashAlgorithm } from './ports';

export async function prepareMac(
  deps: CoreDeps,
  ctx: RequestContext,
  operation: 'GenerateMac' | 'VerifyMac',
  input: { KeyId: string; MacAlgorithm: MacAlgorithm; DryRun?: boolean; GrantTokens?: string[] },
): Promise<{ resolved: ResolvedKey; hash: HashAlgorithm; object: TokenObject }> {
  const resolved = await keyForOperation(deps, ctx, operation, input.KeyId, {
    aliases: true,
    authorization: { grantTokens: input.GrantTokens, conditions: { 'kms:MacAlgorithm': input.MacAlgorithm } },
  });
  assertUsage(resolved, 'GENERATE_VERIFY_MAC', operation);
  const hash = macHashFor(resolved.key.keySpec, input.MacAlgorithm);
  throwIfDryRun(input.DryRun);
  return { resolved, hash, object: currentTokenObject(deps, resolved.key) };
}
