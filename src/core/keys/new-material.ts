// The second half of creating a key whose material the token generates: the record is already
// stored, marked incomplete, so a token object can never exist without a record naming it
// (recovery removes incomplete leftovers). CreateKey and the AWS managed keys share it.
import type { CoreDeps } from '../deps';
import type { KeyPairPurpose, KeyStore } from '../key-stores/port';
import { requireCapability } from '../key-stores/registry';
import type { KeyRecord } from '../model';
import { hmacSpecs, isAsymmetricSpec, isHmacSpec } from './key-specs';

/** Destroys a draft's token objects (both halves of a key pair share the CKA_ID) and its record. */
export async function discardDraft(deps: CoreDeps, store: KeyStore, draft: KeyRecord): Promise<void> {
  for (const version of draft.versions) await store.keyObjects?.destroyKey(version.id).catch(() => undefined);
  await deps.store.keys.delete(draft, draft.keyId).catch(() => undefined);
}

/**
 * Generates the material of a stored incomplete draft (its one PENDING version) in `store` and
 * completes the record. On any failure the draft is discarded: the token may have made the
 * object(s) before failing.
 */
export async function generateDraftMaterial(deps: CoreDeps, store: KeyStore, draft: KeyRecord, label: string): Promise<KeyRecord> {
  const versionId = draft.versions[0]!.id;
  let publicKeySpki: Buffer | undefined;
  try {
    if (isAsymmetricSpec(draft.keySpec)) publicKeySpki = await requireCapability(store, 'keyPairs').generateKeyPair(versionId, label, draft.keySpec, draft.keyUsage as KeyPairPurpose);
    else if (isHmacSpec(draft.keySpec)) await requireCapability(store, 'hmacKeys').generateHmacKey(versionId, label, hmacSpecs[draft.keySpec].keyBytes);
    else await requireCapability(store, 'keyObjects').generateAesKey(versionId, label);
    return await deps.store.keys.replace({
      ...draft,
      incomplete: false,
      currentVersionId: versionId,
      versions: draft.versions.map((v) => ({ ...v, status: 'ACTIVE' as const, ...(publicKeySpki ? { publicKeySpki: publicKeySpki.toString('base64') } : {}) })),
    });
  } catch (e) {
    await discardDraft(deps, store, draft);
    throw e;
  }
}
