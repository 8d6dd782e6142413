// Symmetric encryption under a KMS key: AES-256-GCM in the key store holding the key
// version, in ciphertext format v1. A key in an external key store is encrypted twice: first
// in our own token under key material unique to the KMS key, then by the XKS proxy under the
// external key; decryption runs in reverse (KMS-SPEC §6.4, double encryption).
import { additionalData, assemble, assembleDouble, encodeHeader, IV_LENGTH, parseCiphertext, SCHEME_EXTERNAL_DOUBLE, TAG_LENGTH, type ParsedCiphertext } from './ciphertext';
import type { RequestContext } from '../api/context';
import { keyStoreHolding } from '../custom-key-stores/connections';
import { INNER_LAYER_INVALID } from '../custom-key-stores/xks-failures';
import type { CoreDeps } from '../deps';
import type { EncryptionContext } from './encryption-context';
import { KmsError } from '../errors';
import type { XksSealed } from '../key-stores/connectors';
import type { KeyStoreCall } from '../key-stores/port';
import { currentVersion, type KeyRecord, type KeyVersion } from '../model';

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
  const backing = version.backing;
  if (backing.kind === 'xks') {
    const header = encodeHeader({ keyId: key.keyId, keyMaterialId: version.id, scheme: SCHEME_EXTERNAL_DOUBLE });
    const aad = additionalData(header, context);
    const external = await keyStoreHolding(deps, key, backing.keyStoreId, call.keyArn);
    const inner = await deps.keyStores.storeFor().encrypt(backing.localObjectId, aad, plaintext, call);
    const outer = (await external.encrypt(backing.xksKeyId, aad, Buffer.concat([inner.iv, inner.ciphertext, inner.tag]), call)) as XksSealed;
    return { ciphertextBlob: assembleDouble(header, outer), keyMaterialId: version.id };
  }
  const store = await keyStoreHolding(deps, key, backing.tokenId, call.keyArn);
  const header = encodeHeader({ keyId: key.keyId, keyMaterialId: version.id });
  const sealed = await store.encrypt(backing.objectId, additionalData(header, context), plaintext, call);
  return { ciphertextBlob: assemble(header, sealed.iv, sealed.ciphertext, sealed.tag), keyMaterialId: version.id };
}

export { parseCiphertext };

export async function openSymmetric(deps: CoreDeps, key: KeyRecord, parsed: ParsedCiphertext, context: EncryptionContext | undefined, call: KeyStoreCall): Promise<Buffer> {
  // Precondition: the ciphertext names a key version that belongs to the key.
  const version: KeyVersion | undefined = key.versions.find((v) => v.id === parsed.keyMaterialId && v.status === 'ACTIVE');
  if (!version) throw new KmsError('InvalidCiphertextException', '', 'ciphertext names an unknown key material id');
  const backing = version.backing;
  const aad = additionalData(parsed.header, context);
  // Precondition: the ciphertext's scheme is the one its key version makes.
  if ((backing.kind === 'xks') !== (parsed.scheme === SCHEME_EXTERNAL_DOUBLE)) throw new KmsError('InvalidCiphertextException', '', 'ciphertext scheme does not match the key version');
  if (backing.kind === 'xks') {
    const external = await keyStoreHolding(deps, key, backing.keyStoreId, call.keyArn);
    const innerBlob = await external.decrypt(backing.xksKeyId, aad, { iv: parsed.iv, ciphertext: parsed.payload, tag: parsed.tag, metadata: parsed.metadata } as XksSealed, call);
    if (innerBlob.length < IV_LENGTH + TAG_LENGTH) throw new KmsError('KMSInvalidStateException', INNER_LAYER_INVALID, 'proxy plaintext too short for the inner layer');
    try {
      return await deps.keyStores.storeFor().decrypt(backing.localObjectId, aad, {
        iv: innerBlob.subarray(0, IV_LENGTH), ciphertext: innerBlob.subarray(IV_LENGTH, innerBlob.length - TAG_LENGTH), tag: innerBlob.subarray(innerBlob.length - TAG_LENGTH),
      }, call);
    } catch (e) {
      // The proxy answered with something our own layer does not accept: its fault, not the caller's.
      if (e instanceof KmsError && e.code === 'InvalidCiphertextException') throw new KmsError('KMSInvalidStateException', INNER_LAYER_INVALID, 'inner layer did not authenticate');
      throw e;
    }
  }
  const store = await keyStoreHolding(deps, key, backing.tokenId, call.keyArn);
  return store.decrypt(backing.objectId, aad, { iv: parsed.iv, ciphertext: parsed.payload, tag: parsed.tag }, call);
}
