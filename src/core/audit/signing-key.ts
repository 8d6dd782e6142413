// The key that signs the audit trail's digests: one ECC P-256 pair in the default token, its
// private half sensitive and non-extractable, made once and found afterwards by its fixed CKA_ID.
// Someone who can rewrite the database but cannot use the token cannot sign a digest with it.
import { createHash, createPublicKey } from 'node:crypto';
import type { CoreDeps } from '../deps';
import { KmsError } from '../errors';
import { requireCapability } from '../key-stores/registry';
import type { KeyPairCapability } from '../key-stores/port';

export const AUDIT_SIGNING_KEY_LABEL = 'hsm-kms-audit-signing';
/** Fixed, so every instance and every restart finds the same pair; no KMS key's id looks like it. */
export const AUDIT_SIGNING_KEY_OBJECT_ID = createHash('sha256').update('hsm-kms:audit-signing-key:v1').digest('hex');
/** As AWS names the scheme (SigningAlgorithmSpec). */
export const AUDIT_SIGNATURE_ALGORITHM = 'ECDSA_SHA_256';

/** Only one instance makes the pair; the others wait for it. */
const CREATION_LEASE = 'job:audit-signing-key';
const CREATION_LEASE_TTL_MS = 60_000;
const CREATION_WAIT_MS = 30_000;
const CREATION_POLL_MS = 250;

export interface AuditSigningKey {
  /** The fingerprint digests carry: hex SHA-256 of the public key's DER SubjectPublicKeyInfo. */
  readonly keyId: string;
  readonly publicKeySpki: Buffer;
  /** ECDSA P-256 over SHA-256 of `message`, DER-encoded, computed in the token. */
  sign(message: Buffer): Promise<Buffer>;
}

export function signingKeyIdOf(publicKeySpki: Buffer): string {
  return createHash('sha256').update(publicKeySpki).digest('hex');
}

/** The public key as PEM, for verifiers. */
export function publicKeyPem(publicKeySpki: Buffer): string {
  return createPublicKey({ key: publicKeySpki, format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }).toString();
}

function signingKey(pairs: KeyPairCapability, publicKeySpki: Buffer): AuditSigningKey {
  return {
    keyId: signingKeyIdOf(publicKeySpki),
    publicKeySpki,
    sign: (message) => pairs.signDigest(AUDIT_SIGNING_KEY_OBJECT_ID, { kind: 'ECDSA', hash: 'SHA_256' }, createHash('sha256').update(message).digest()),
  };
}

/** The signing key if the default token holds it; undefined otherwise (nothing is made). */
export async function findAuditSigningKey(deps: CoreDeps): Promise<AuditSigningKey | undefined> {
  const pairs = requireCapability(deps.keyStores.storeFor(), 'keyPairs');
  const spki = await pairs.publicKey(AUDIT_SIGNING_KEY_OBJECT_ID);
  return spki && signingKey(pairs, spki);
}

/**
 * The signing key, made in the default token the first time. Two instances starting at once on
 * one token would otherwise each make a pair under the same CKA_ID: the one holding the creation
 * lease makes it, and the others look again until it appears.
 */
export async function openAuditSigningKey(deps: CoreDeps, owner: string): Promise<AuditSigningKey> {
  const pairs = requireCapability(deps.keyStores.storeFor(), 'keyPairs');
  const deadline = Date.now() + CREATION_WAIT_MS;
  for (;;) {
    const found = await pairs.publicKey(AUDIT_SIGNING_KEY_OBJECT_ID);
    if (found) return signingKey(pairs, found);
    if (await deps.store.leases.acquire(CREATION_LEASE, owner, deps.clock.now(), CREATION_LEASE_TTL_MS)) {
      try {
        // Looked for again under the lease: the previous holder may have made it since.
        const made = await pairs.publicKey(AUDIT_SIGNING_KEY_OBJECT_ID)
          ?? await pairs.generateKeyPair(AUDIT_SIGNING_KEY_OBJECT_ID, AUDIT_SIGNING_KEY_LABEL, 'ECC_NIST_P256', 'SIGN_VERIFY');
        return signingKey(pairs, made);
      } finally {
        await deps.store.leases.release(CREATION_LEASE, owner).catch(() => undefined);
      }
    }
    if (Date.now() > deadline) {
      throw new KmsError('KMSInternalException', '', 'another instance holds the audit signing key creation lease but no key appeared in the token');
    }
    await new Promise((resolve) => setTimeout(resolve, CREATION_POLL_MS));
  }
}
