// Decrypting a symmetric ciphertext, shared by Decrypt and ReEncrypt (the source side).
import type { RequestContext } from './context';
import type { CoreDeps } from './deps';
import type { EncryptionContext } from './encryption-context';
import { KmsError, messages } from './errors';
import { keyForOperation, resolveKey, type ResolvedKey } from './keys';
import { assertStateAllows } from './key-state';
import type { EncryptionAlgorithm } from './model';
import { authorize } from './authorize';
import { openSymmetric, parseCiphertext } from './symmetric';
import { assertSymmetricEncryptionKey } from './symmetric-checks';

export interface Opened {
  plaintext: Buffer;
  source: ResolvedKey;
  keyMaterialId: string;
}

export async function openCiphertext(
  deps: CoreDeps,
  ctx: RequestContext,
  request: { blob: Buffer; keyId?: string; context?: EncryptionContext; algorithm?: EncryptionAlgorithm; dryRun?: boolean },
  operation: 'Decrypt' | 'ReEncrypt',
): Promise<Opened> {
  const action = operation === 'Decrypt' ? 'Decrypt' : 'ReEncryptFrom';
  const parsed = parseCiphertext(request.blob);
  let source: ResolvedKey;
  if (request.keyId !== undefined) {
    source = await keyForOperation(deps, ctx, operation, request.keyId, { aliases: true, action });
    // Precondition: a KeyId given with a ciphertext must be the key that made it.
    if (source.key.keyId !== parsed.keyId) throw new KmsError('IncorrectKeyException', messages.incorrectKey);
  } else {
    try {
      source = await resolveKey(deps, ctx, parsed.keyId, { aliases: false });
    } catch (e) {
      // A ciphertext naming no key we hold is simply not a valid ciphertext here.
      if (e instanceof KmsError && e.code === 'NotFoundException') throw new KmsError('InvalidCiphertextException', '', `ciphertext names unknown key ${parsed.keyId}`);
      throw e;
    }
    authorize(ctx.principal, action, source.arn, source.key.accountId);
    assertStateAllows(operation, source.key.state, source.arn);
  }
  assertSymmetricEncryptionKey(source, operation, request.algorithm);
  if (request.dryRun) return { plaintext: Buffer.alloc(0), source, keyMaterialId: parsed.keyMaterialId };
  const plaintext = await openSymmetric(deps, source.key, parsed, request.context);
  return { plaintext, source, keyMaterialId: parsed.keyMaterialId };
}

