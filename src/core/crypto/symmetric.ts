// Symmetric encryption under a KMS key: AES-256-GCM in the key store holding the key
// version, in ciphertext format v1.
import { additionalData, assemble, encodeHeader, parseCiphertext, type ParsedCiphertext } from './ciphertext';
import type { RequestContext } from '../api/context';
import type { CoreDeps } from '../deps';
import type { EncryptionContext } from './encryption-context';
import { KmsError } from '../errors';
import type { KeyStoreCall } from '../key-stores/port';
import { currentVersion, type KeyRecord } from '../model';

export interface Sealed {
  ciphertextBlob: Buffer;
  keyMaterialId: string;
}

/** What a key store is told about the call that uses a backing key. */
export function keyStoreCall(ctx: RequestContext, operation: string, keyArn: string): KeyStoreCall {
  return { operation, requestId: ctx.requestId, principalArn: ctx.principal.arn, keyArn };
}

export async function sealSymmetric(deps: CoreDeps, key: KeyRecord, plaintext: Buffer, context: EncryptionContext | undefined, call: KeyStoreCall): Promise<Sealed> {
  const version = currentVersion(key);
  if (!version) throw new KmsError('KMSInternalException', 'The key has no usable key material.', `key ${key.keyId} has no current version`);
  const { store, backingKeyId } = deps.keyStores.resolve(version.backing);
  const header = encodeHeader({ keyId: key.keyId, keyMaterialId: version.id });
  const sealed = await store.encrypt(backingKeyId, additionalData(header, context), plaintext, call);
  return { ciphertextBlob: assemble(header, sealed.iv, sealed.ciphertext, sealed.tag), keyMaterialId: version.id };
}

export { parseCiphertext };

export async function openSymmetric(deps: CoreDeps, key: KeyRecord, parsed: ParsedCiphertext, context: EncryptionContext | undefined, call: KeyStoreCall): Promise<Buffer> {
  // Precondition: the ciphertext names a key version that belongs to the key.
  const version = key.versions.find((v) => v.id === parsed.keyMaterialId && v.status === 'ACTIVE');
  if (!version) throw new KmsError('InvalidCiphertextException', '', 'ciphertext names an unknown key material id');
  const { store, backingKeyId } = deps.keyStores.resolve(version.backing);
  return store.decrypt(backingKeyId, additionalData(parsed.header, context), { iv: parsed.iv, ciphertext: parsed.payload, tag: parsed.tag }, call);
}
