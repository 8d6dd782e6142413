// What Sign and Verify share: the key's checks, the signing method and its input, in AWS's
// order (key usage, then algorithm against key spec, then message type and digest length),
// and the token call itself. RSA and ECDSA sign a digest; Ed25519 signs the message in the
// token, and only with a scheme the key's token runs: nothing is ever signed on the host.
import { currentBackingKey } from './asymmetric';
import type { RequestContext } from '../api/context';
import type { CoreDeps } from '../deps';
import { digestOf, ed25519MessageOf } from './digest';
import { KmsError } from '../errors';
import { ed25519SchemeOf, isEdwardsSpec, signingAlgorithmsOf, signingMethodFor } from '../keys/key-specs';
import { assertUsage, keyForOperation, throwIfDryRun, type ResolvedKey } from '../keys/resolve';
import { currentVersion, type KeyRecord, type MessageType, type SigningAlgorithm } from '../model';
import type { Ed25519Scheme, KeyPairCapability, SignatureScheme } from '../key-stores/port';
import type { BackingKey } from '../key-stores/registry';

export type SigningRequest = {
  resolved: ResolvedKey;
  object: BackingKey<KeyPairCapability>;
} & (
  | { over: 'digest'; scheme: SignatureScheme; digest: Buffer }
  | { over: 'message'; scheme: Ed25519Scheme; message: Buffer }
);

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
  const method = signingMethodFor(resolved.key.keySpec, resolved.key.keyUsage, input.SigningAlgorithm);
  const messageType = input.MessageType ?? 'RAW';
  if (method.over === 'digest') {
    const digest = digestOf(input.Message, messageType, method.scheme.hash, input.SigningAlgorithm, resolved.key.keySpec);
    throwIfDryRun(input.DryRun);
    return { resolved, over: 'digest', scheme: method.scheme, digest, object: currentBackingKey(deps, resolved.key, 'keyPairs') };
  }
  const message = ed25519MessageOf(input.Message, messageType, method.messageType, input.SigningAlgorithm);
  const object = currentBackingKey(deps, resolved.key, 'keyPairs');
  // Precondition: an Ed25519 signing algorithm the key's token cannot compute is refused, never run on the host.
  if (!object.capability.ed25519Schemes.includes(method.scheme)) {
    throw new KmsError(
      'UnsupportedOperationException',
      `SigningAlgorithm ${input.SigningAlgorithm} is not supported by this service: the PKCS#11 token that holds ${resolved.arn} cannot compute ${method.scheme === 'ED25519_PH' ? 'Ed25519ph (prehash) signatures (its capability profile does not set eddsaPrehash)' : 'Ed25519 signatures (its capability profile does not set eddsa)'}, and no signature is made outside the token.`,
    );
  }
  throwIfDryRun(input.DryRun);
  return { resolved, over: 'message', scheme: method.scheme, message, object };
}

/** The signature, made in the key's token. */
export function signInToken(request: SigningRequest): Promise<Buffer> {
  const { capability, backingKeyId } = request.object;
  return request.over === 'digest'
    ? capability.signDigest(backingKeyId, request.scheme, request.digest)
    : capability.signMessage(backingKeyId, request.scheme, request.message);
}

/** The token's verdict on `signature`: false for one that does not verify. */
export function verifyInToken(request: SigningRequest, signature: Buffer): Promise<boolean> {
  const { capability, backingKeyId } = request.object;
  return request.over === 'digest'
    ? capability.verifyDigest(backingKeyId, request.scheme, request.digest, signature)
    : capability.verifyMessage(backingKeyId, request.scheme, request.message, signature);
}

/**
 * The signing algorithms KeyMetadata and GetPublicKey list for a key: AWS's for its spec, less
 * any Ed25519 scheme its token cannot compute (ED25519_PH_SHA_512 where the profile lacks
 * eddsaPrehash). A key whose store is not connected here lists AWS's.
 */
export function signingAlgorithmsListed(deps: CoreDeps, key: KeyRecord): SigningAlgorithm[] | undefined {
  const all = signingAlgorithmsOf(key.keySpec, key.keyUsage);
  const version = currentVersion(key);
  if (!all || !isEdwardsSpec(key.keySpec) || !version) return all;
  let schemes: readonly Ed25519Scheme[] | undefined;
  try {
    schemes = deps.keyStores.resolve(version.backing).store.keyPairs?.ed25519Schemes;
  } catch {
    return all;
  }
  return all.filter((algorithm) => (schemes ?? []).includes(ed25519SchemeOf(algorithm)!));
}
