// Signed digests of the audit trail, as CloudTrail's digest files are: each states the chain value
// at one sequence, is signed in the token, and binds the signature of the digest before it, so a
// digest cannot be removed, reordered or forged by someone without the token.
import { createPublicKey, verify } from 'node:crypto';
import type { CoreDeps } from '../deps';
import { GENESIS_CHAIN_VALUE, type AuditDigest } from './record';
import { AUDIT_SIGNATURE_ALGORITHM, signingKeyIdOf, type AuditSigningKey } from './signing-key';

/** Every writer of digests holds this lease, so each digest's predecessor is the one it signed over. */
export const DIGEST_LEASE = 'job:audit-digest';
export const DIGEST_LEASE_TTL_MS = 5 * 60 * 1000;

export type UnsignedDigest = Omit<AuditDigest, 'signature'>;

/**
 * The exact bytes a digest's signature covers: one field a line, in a fixed order, so a verifier
 * rebuilds them from the stored fields alone. `previousSignature` is that of the digest before
 * in signing order ('-' for the first).
 */
export function digestSigningInput(digest: UnsignedDigest, previousSignature: string | undefined): Buffer {
  return Buffer.from([
    'hsm-kms audit digest v1',
    `sequence:${digest.sequence}`,
    `chainValue:${digest.chainValue}`,
    `signedAt:${digest.signedAt.toISOString()}`,
    `prunedBefore:${digest.prunedBefore ?? '-'}`,
    `signingKeyId:${digest.signingKeyId}`,
    `signatureAlgorithm:${digest.signatureAlgorithm}`,
    `previousSignature:${previousSignature ?? '-'}`,
  ].join('\n'), 'utf8');
}

/**
 * Digests in the order they were signed. A pruning digest states an older sequence than the head
 * digests before it, so the store's order (by sequence) is not the signing order.
 */
export function inSigningOrder(digests: readonly AuditDigest[]): AuditDigest[] {
  return [...digests].sort((a, b) => a.signedAt.getTime() - b.signedAt.getTime() || a.sequence - b.sequence);
}

/** Whether `digest` carries a valid signature by `publicKeySpki` over its fields and `previousSignature`. */
export function digestSignatureValid(digest: AuditDigest, previousSignature: string | undefined, publicKeySpki: Buffer): boolean {
  if (digest.signatureAlgorithm !== AUDIT_SIGNATURE_ALGORITHM || digest.signingKeyId !== signingKeyIdOf(publicKeySpki)) return false;
  const key = createPublicKey({ key: publicKeySpki, format: 'der', type: 'spki' });
  try {
    return verify('sha256', digestSigningInput(digest, previousSignature), { key, dsaEncoding: 'der' }, Buffer.from(digest.signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * Signs and stores a digest of `statement`. The caller holds DIGEST_LEASE. signedAt is after the
 * last digest's even if the clock stepped back, so the signing order is the order of signedAt.
 */
export async function signDigest(deps: CoreDeps, key: AuditSigningKey, statement: Pick<AuditDigest, 'sequence' | 'chainValue' | 'prunedBefore'>): Promise<AuditDigest> {
  const last = inSigningOrder(await deps.store.audit.listDigests()).at(-1);
  const now = deps.clock.now().getTime();
  const signedAt = new Date(last && last.signedAt.getTime() >= now ? last.signedAt.getTime() + 1 : now);
  const unsigned: UnsignedDigest = {
    sequence: statement.sequence, chainValue: statement.chainValue, signedAt, signingKeyId: key.keyId, signatureAlgorithm: AUDIT_SIGNATURE_ALGORITHM,
    ...(statement.prunedBefore !== undefined ? { prunedBefore: statement.prunedBefore } : {}),
  };
  const signature = (await key.sign(digestSigningInput(unsigned, last?.signature))).toString('base64');
  const digest: AuditDigest = { ...unsigned, signature };
  await deps.store.audit.insertDigest(digest);
  return digest;
}

/** Runs `job` holding DIGEST_LEASE; undefined when another instance holds it. */
export async function withDigestLease<T>(deps: CoreDeps, owner: string, job: () => Promise<T>): Promise<T | undefined> {
  if (!(await deps.store.leases.acquire(DIGEST_LEASE, owner, deps.clock.now(), DIGEST_LEASE_TTL_MS))) return undefined;
  try {
    return await job();
  } finally {
    await deps.store.leases.release(DIGEST_LEASE, owner).catch(() => undefined);
  }
}

/**
 * The periodic (and shutdown) digest of the chain head. Nothing is signed when the head has not
 * moved since the last digest; an empty trail gets one digest of sequence 0. Returns the digest
 * written, or undefined.
 */
export async function digestHead(deps: CoreDeps, key: AuditSigningKey, owner: string): Promise<AuditDigest | undefined> {
  return withDigestLease(deps, owner, async () => {
    const [head, digests] = await Promise.all([deps.store.audit.head(), deps.store.audit.listDigests()]);
    const newest = digests.reduce((max, d) => Math.max(max, d.sequence), -1);
    if (head === undefined) {
      // Empty, or pruned to nothing (then an earlier digest already vouches for the chain).
      return digests.length === 0 ? signDigest(deps, key, { sequence: 0, chainValue: GENESIS_CHAIN_VALUE }) : undefined;
    }
    if (head.sequence <= newest) return undefined;
    return signDigest(deps, key, { sequence: head.sequence, chainValue: head.chainValue });
  });
}
