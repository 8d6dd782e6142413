// Asymmetric keys: where a key version lives in its key store, its public key, RSA-OAEP
// encryption (a public-key operation, on the host) and decryption (always in the key store),
// and the peer public keys of key agreement.
import { createPublicKey, publicEncrypt, constants, type KeyObject } from 'node:crypto';
import type { CoreDeps } from '../deps';
import type { EncryptionContext } from './encryption-context';
import { KmsError, messages } from '../errors';
import { curves, maxOaepPlaintext, nodeHashName, oaepHashOf, rsaModulusBits, type EccKeySpec, type RsaEncryptionAlgorithm, type RsaKeySpec } from '../keys/key-specs';
import { currentVersion, type KeyRecord, type KeyVersion } from '../model';
import type { KeyStoreCapabilities, KeyStoreCapability } from '../key-stores/port';
import type { BackingKey } from '../key-stores/registry';

/** A capability of the key store holding a key's current version, and the version's backing key in it. */
export function currentBackingKey<K extends KeyStoreCapability>(deps: CoreDeps, key: KeyRecord, capability: K): BackingKey<KeyStoreCapabilities[K]> & { version: KeyVersion } {
  const version = currentVersion(key);
  if (!version) throw new KmsError('KMSInternalException', 'The key has no usable key material.', `key ${key.keyId} has no current version`);
  return { ...deps.keyStores.capabilityFor(version.backing, capability), version };
}

/** The public key (DER SubjectPublicKeyInfo) recorded when the key pair was generated. */
export function publicKeyDer(key: KeyRecord): Buffer {
  const spki = currentVersion(key)?.publicKeySpki;
  if (!spki) throw new KmsError('KMSInternalException', 'The key has no public key.', `key ${key.keyId} has no publicKeySpki`);
  return Buffer.from(spki, 'base64');
}

function publicKeyObject(key: KeyRecord): KeyObject {
  return createPublicKey({ key: publicKeyDer(key), format: 'der', type: 'spki' });
}

// Precondition: an RSA plaintext may not exceed what OAEP fits in the key's modulus.
export function assertOaepFits(spec: RsaKeySpec, algorithm: RsaEncryptionAlgorithm, length: number): void {
  const max = maxOaepPlaintext(spec, algorithm);
  if (length > max) throw new KmsError('ValidationException', `Algorithm ${algorithm} and key spec ${spec} cannot encrypt data larger than ${max} bytes.`);
}

// Precondition: an encryption context is refused with an asymmetric key, which cannot bind it.
export function assertNoEncryptionContext(context: EncryptionContext | undefined, spec: string): void {
  if (context && Object.keys(context).length > 0) {
    throw new KmsError('ValidationException', `EncryptionContext is not supported with key spec ${spec}: asymmetric encryption cannot bind an encryption context.`);
  }
}

/** RSA-OAEP with the public key, on the host: the same ciphertext anyone holding the public key can make. */
export function rsaEncrypt(key: KeyRecord & { keySpec: RsaKeySpec }, algorithm: RsaEncryptionAlgorithm, plaintext: Buffer): Buffer {
  assertOaepFits(key.keySpec, algorithm, plaintext.length);
  return publicEncrypt(
    { key: publicKeyObject(key), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: nodeHashName[oaepHashOf[algorithm]] },
    plaintext,
  );
}

// Precondition: an RSA ciphertext must be exactly one modulus long and smaller than the modulus.
function assertRsaCiphertextShape(key: KeyRecord & { keySpec: RsaKeySpec }, ciphertext: Buffer): void {
  const modulusBytes = rsaModulusBits[key.keySpec] / 8;
  if (ciphertext.length !== modulusBytes) {
    throw new KmsError('InvalidCiphertextException', '', `RSA ciphertext of ${ciphertext.length} bytes for a ${modulusBytes}-byte modulus`);
  }
  const n = Buffer.from(publicKeyObject(key).export({ format: 'jwk' }).n!, 'base64url');
  const modulus = Buffer.concat([Buffer.alloc(Math.max(0, modulusBytes - n.length)), n]);
  // At or above this modulus it may well be a ciphertext under another key of the same size:
  // answered like any other ciphertext that does not decrypt under the key.
  if (Buffer.compare(ciphertext, modulus) >= 0) throw new KmsError('IncorrectKeyException', messages.incorrectKey, 'RSA ciphertext not below the modulus');
}

/** RSA-OAEP decryption with the private key, which never leaves its key store. */
export async function rsaDecrypt(deps: CoreDeps, key: KeyRecord & { keySpec: RsaKeySpec }, algorithm: RsaEncryptionAlgorithm, ciphertext: Buffer): Promise<Buffer> {
  assertRsaCiphertextShape(key, ciphertext);
  const { capability, backingKeyId } = currentBackingKey(deps, key, 'keyPairs');
  try {
    return await capability.rsaOaepDecrypt(backingKeyId, oaepHashOf[algorithm], ciphertext);
  } catch (e) {
    // OAEP cannot tell a ciphertext made under another key (or with the other hash) from a
    // damaged one. AWS answers IncorrectKeyException here; one answer for every padding
    // failure also leaves no padding oracle.
    if (e instanceof KmsError && e.code === 'InvalidCiphertextException') throw new KmsError('IncorrectKeyException', messages.incorrectKey, e.detail);
    throw e;
  }
}

// Precondition: a peer public key must be a DER SubjectPublicKeyInfo on the KMS key's curve.
export function peerPublicPoint(spec: EccKeySpec, der: Buffer): Buffer {
  let peer: KeyObject;
  try {
    peer = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (e) {
    throw new KmsError('ValidationException', '', `peer public key does not parse: ${(e as Error).message}`);
  }
  const curve = peer.asymmetricKeyType === 'ec' ? peer.asymmetricKeyDetails?.namedCurve : undefined;
  if (curve !== curves[spec].nodeName) {
    throw new KmsError('ValidationException', '', `peer public key is ${peer.asymmetricKeyType}/${curve ?? '-'}, the KMS key is ${spec}`);
  }
  const jwk = peer.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x!, 'base64url');
  const y = Buffer.from(jwk.y!, 'base64url');
  const size = Math.max(x.length, y.length);
  const pad = (b: Buffer) => Buffer.concat([Buffer.alloc(size - b.length), b]);
  return Buffer.concat([Buffer.from([0x04]), pad(x), pad(y)]);
}
