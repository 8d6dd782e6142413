// What Sign and Verify share: the key's checks, the scheme and the digest, in AWS's order
// (key usage, then algorithm against key spec, then message type and digest length).
import { currentBackingKey } from './asymmetric';
import type { RequestContext } from '../api/context';
import type { CoreDeps } from '../deps';
import { digestOf } from './digest';
import { signatureSchemeFor } from '../keys/key-specs';
import { assertUsage, keyForOperation, throwIfDryRun, type ResolvedKey } from '../keys/resolve';
import type { MessageType, SigningAlgorithm } from '../model';
import type { KeyPairCapability, SignatureScheme } from '../key-stores/port';
import type { BackingKey } from '../key-stores/registry';

export interface SigningRequest {
  resolved: ResolvedKey;
  scheme: SignatureScheme;
  digest: Buffer;
  object: BackingKey<KeyPairCapability>;
}

export async function prepareSigning(
  deps: CoreDeps,
  ctx: RequestContext,
  operation: 'Sign' | 'Verify',
  input: { KeyId: string; Message: Buffer; MessageType?: MessageType; SigningAlgorithm: SigningAlgorithm; DryRun?: boolean; GrantTokens?: string[] },
): Promise<SigningRequest> {
  const resolved = await keyForOperation(deps, ctx, operation, input.KeyId, {
    aliases: true,
    authorization: {
      grantTokens: input.GrantTokens,
      conditions: { 'kms:SigningAlgorithm': input.SigningAlgorithm, 'kms:MessageType': input.MessageType ?? 'RAW' },
    },
  });
  assertUsage(resolved, 'SIGN_VERIFY', operation);
  const scheme = signatureSchemeFor(resolved.key.keySpec, resolved.key.keyUsage, input.SigningAlgorithm);
  const digest = digestOf(input.Message, input.MessageType ?? 'RAW', scheme.hash, input.SigningAlgorithm, resolved.key.keySpec);
  throwIfDryRun(input.DryRun);
  return { resolved, scheme, digest, object: currentBackingKey(deps, resolved.key, 'keyPairs') };
}
