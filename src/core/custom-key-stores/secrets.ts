// Custom key store secrets (a token PIN, an XKS proxy secret) are kept as AWS keeps them:
// never returned, never logged, and at rest only sealed with AES-256-GCM under a key of the
// store's own in the default token. Someone who reads the database learns nothing of them.
import type { CoreDeps } from '../deps';
import { newKeyMaterialId } from '../keys/key-id';
import { requireCapability } from '../key-stores/registry';
import type { KeyStoreCall } from '../key-stores/port';
import type { CustomKeyStoreRecord, SealedSecret } from '../model';

export type SecretField = 'KeyStorePassword' | 'RawSecretAccessKey';

/** The token is told nothing about who asked: sealing is the service's own business. */
const internalCall: KeyStoreCall = { operation: 'SealCustomKeyStoreSecret', requestId: 'internal', principalArn: '', keyArn: '' };

/** Makes the sealing key of a new store in the default token; returns its object id. */
export async function createSecretKey(deps: CoreDeps, customKeyStoreId: string): Promise<string> {
  const objectId = newKeyMaterialId();
  await requireCapability(deps.keyStores.storeFor(), 'keyObjects').generateAesKey(objectId, `hsm-kms:secrets:${customKeyStoreId}`);
  return objectId;
}

export async function destroySecretKey(deps: CoreDeps, objectId: string): Promise<void> {
  await deps.keyStores.storeFor().keyObjects?.destroyKey(objectId);
}

/** The AAD binds a sealed value to its store and field: it cannot be replayed elsewhere. */
const aadFor = (customKeyStoreId: string, field: SecretField) => Buffer.from(`hsm-kms custom key store secret\0${customKeyStoreId}\0${field}`, 'utf8');

type Sealer = Pick<CustomKeyStoreRecord, 'customKeyStoreId' | 'secretKeyObjectId'>;

export async function sealSecret(deps: CoreDeps, store: Sealer, field: SecretField, secret: string): Promise<SealedSecret> {
  const plaintext = Buffer.from(secret, 'utf8');
  try {
    const sealed = await deps.keyStores.storeFor().encrypt(store.secretKeyObjectId, aadFor(store.customKeyStoreId, field), plaintext, internalCall);
    return { iv: sealed.iv.toString('base64'), ciphertext: sealed.ciphertext.toString('base64'), tag: sealed.tag.toString('base64') };
  } finally {
    plaintext.fill(0);
  }
}

export async function openSecret(deps: CoreDeps, store: Sealer, field: SecretField, sealed: SealedSecret): Promise<string> {
  const plaintext = await deps.keyStores.storeFor().decrypt(
    store.secretKeyObjectId,
    aadFor(store.customKeyStoreId, field),
    { iv: Buffer.from(sealed.iv, 'base64'), ciphertext: Buffer.from(sealed.ciphertext, 'base64'), tag: Buffer.from(sealed.tag, 'base64') },
    internalCall,
  );
  try {
    return plaintext.toString('utf8');
  } finally {
    plaintext.fill(0);
  }
}
