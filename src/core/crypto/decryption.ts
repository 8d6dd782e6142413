// Decrypting a ciphertext, shared by Decrypt and ReEncrypt (the source side). A symmetric
// ciphertext (format v1) names its key; an RSA-OAEP ciphertext is standard and portable, so
// it names nothing and the request's KeyId must name the RSA key.
import { assertNoEncryptionContext, rsaDecrypt } from './asymmetric';
import type { RequestContext } from '../api/context';
import type { CoreDeps } from '../deps';
import type { EncryptionContext } from './encryption-context';
import { KmsError, messages } from '../errors';
import { isRsaSpec } from '../keys/key-specs';
import { authorizeKeyAction, keyForOperation, resolveKey, type ResolvedKey } from '../keys/resolve';
import { assertStateAllows } from '../keys/key-state';
import type { EncryptionAlgorithm } from '../model';
import { keyStoreCall, openSymmetric, parseCiphertext } from './symmetric';
import { encryptionSchemeFor } from './symmetric-checks';

export interface Opened {
  plaintext: Buffer;
  source: ResolvedKey;
  algorithm: EncryptionAlgorithm;
  /** Symmetric ciphertexts only: the key version that sealed it. */
  keyMaterialId?: string;
}

export async function openCiphertext(
  deps: CoreDeps,
  ctx: RequestContext,
  request: { blob: Buffer; keyId?: string; context?: EncryptionContext; algorithm?: EncryptionAlgorithm; dryRun?: boolean; grantTokens?: string[]; conditions?: Record<string, string | boolean> },
  operation: 'Decrypt' | 'ReEncrypt',
): Promise<Opened> {
  const action = operation === 'Decrypt' ? 'Decrypt' : 'ReEncryptFrom';
  const authorization = {
    encryptionContext: request.context,
    grantTokens: request.grantTokens,
    // AWS evaluates conditions against the default when the parameter is omitted.
    conditions: { 'kms:EncryptionAlgorithm': request.algorithm ?? 'SYMMETRIC_DEFAULT', ...request.conditions },
  };
  if (request.keyId !== undefined) {
    const source = await keyForOperation(deps, ctx, operation, request.keyId, { aliases: true, action, authorization });
    // Precondition: a KeyId given with a ciphertext must name a key that can decrypt.
    if (source.key.keyUsage !== 'ENCRYPT_DECRYPT') throw new KmsError('IncorrectKeyException', messages.incorrectKey);
    if (isRsaSpec(source.key.keySpec)) {
      const scheme = encryptionSchemeFor(source, operation, request.algorithm);
      if (scheme.kind !== 'rsa') throw new KmsError('KMSInternalException', messages.internal, 'RSA key without an RSA scheme');
      assertNoEncryptionContext(request.context, source.key.keySpec);
      if (request.dryRun) return { plaintext: Buffer.alloc(0), source, algorithm: scheme.algorithm };
      const plaintext = await rsaDecrypt(deps, scheme.key, scheme.algorithm, request.blob);
      return { plaintext, source, algorithm: scheme.algorithm };
    }
    const parsed = parseCiphertext(request.blob);
    // Precondition: a KeyId given with a ciphertext must be the key that made it.
    if (source.key.keyId !== parsed.keyId) throw new KmsError('IncorrectKeyException', messages.incorrectKey);
    encryptionSchemeFor(source, operation, request.algorithm);
    if (request.dryRun) return { plaintext: Buffer.alloc(0), source, algorithm: 'SYMMETRIC_DEFAULT', keyMaterialId: parsed.keyMaterialId };
    const plaintext = await openSymmetric(deps, source.key, parsed, request.context, keyStoreCall(ctx, operation, source.arn));
    return { plaintext, source, algorithm: 'SYMMETRIC_DEFAULT', keyMaterialId: parsed.keyMaterialId };
  }

  const parsed = parseCiphertext(request.blob);
  let source: ResolvedKey;
  try {
    source = await resolveKey(deps, ctx, parsed.keyId, { aliases: false });
  } catch (e) {
    // A ciphertext naming no key we hold is simply not a valid ciphertext here.
    if (e instanceof KmsError && e.code === 'NotFoundException') throw new KmsError('InvalidCiphertextException', '', `ciphertext names unknown key ${parsed.keyId}`);
    throw e;
  }
  await authorizeKeyAction(deps, ctx, source, action, authorization);
  assertStateAllows(operation, source.state, source.arn);
  const scheme = encryptionSchemeFor(source, operation, request.algorithm);
  // Only symmetric keys make v1 ciphertexts; a header naming another kind of key is forged.
  if (scheme.kind !== 'symmetric') throw new KmsError('InvalidCiphertextException', '', `v1 ciphertext names non-symmetric key ${source.key.keyId}`);
  if (request.dryRun) return { plaintext: Buffer.alloc(0), source, algorithm: 'SYMMETRIC_DEFAULT', keyMaterialId: parsed.keyMaterialId };
  const plaintext = await openSymmetric(deps, source.key, parsed, request.context, keyStoreCall(ctx, operation, source.arn));
  return { plaintext, source, algorithm: 'SYMMETRIC_DEFAULT', keyMaterialId: parsed.keyMaterialId };
}
