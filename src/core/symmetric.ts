// Symmetric encryption under a KMS key: AES-256-GCM inside the token holding the key
// version, in ciphertext format v1.
import { additionalData, assemble, encodeHeader, parseCiphertext, type ParsedCiphertext } from './ciphertext';
import type { CoreDeps } from './deps';
import type { EncryptionContext } from './encryption-context';
import { KmsError } from './errors';
import { currentVersion, type KeyRecord, type KeyVersion } from './model';
import type { KeyToken } from './ports';

function tokenFor(deps: CoreDeps, version: KeyVersion): { token: KeyToken; objectId: string } {
  if (version.backing.kind !== 'pkcs11') throw new KmsError('KMSInternalException', 'Unsupported key backing.', `backing ${version.backing.kind}`);
  const token = deps.tokens.get(version.backing.tokenId);
  if (!token) throw new KmsError('KeyUnavailableException', 'The request was rejected because the specified KMS key was not available.', `token ${version.backing.tokenId} not configured`);
  return { token, objectId: version.backing.objectId };
}

export interface Sealed {
  ciphertextBlob: Buffer;
  keyMaterialId: string;
}

export async function sealSymmetric(deps: CoreDeps, key: KeyRecord, plaintext: Buffer, context: EncryptionContext | undefined): Promise<Sealed> {
  const version = currentVersion(key);
  if (!version) throw new KmsError('KMSInternalException', 'The key has no usable key material.', `key ${key.keyId} has no current version`);
  const { token, objectId } = tokenFor(deps, version);
  const header = encodeHeader({ keyId: key.keyId, keyMaterialId: version.id });
  const sealed = await token.aesGcmEncrypt(objectId, additionalData(header, context), plaintext);
  return { ciphertextBlob: assemble(header, sealed.iv, sealed.ciphertext, sealed.tag), keyMaterialId: version.id };
}

export { parseCiphertext };

export async function openSymmetric(deps: CoreDeps, key: KeyRecord, parsed: ParsedCiphertext, context: EncryptionContext | undefined): Promise<Buffer> {
  // Precondition: the ciphertext names a key version that belongs to the key.
  const version = key.versions.find((v) => v.id === parsed.keyMaterialId && v.status === 'ACTIVE');
  if (!version) throw new KmsError('InvalidCiphertextException', '', 'ciphertext names an unknown key material id');
  const { token, objectId } = tokenFor(deps, version);
  return token.aesGcmDecrypt(objectId, additionalData(parsed.header, context), { iv: parsed.iv, ciphertext: parsed.payload, tag: parsed.tag });
}
