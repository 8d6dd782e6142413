// Seeding: keys a test suite declares in advance (KMS_SEED_FILE), applied at start-up. A seeded
// key has the key id it was given; its material is either generated in the token, as CreateKey
// does, or fixed material imported through GetParametersForImport and ImportKeyMaterial, so it
// ends up in the token sensitive and non-extractable exactly as any imported material does.
// Everything else (description, tags, policy, aliases, rotation) goes through the operations
// themselves, as the account root, so their rules and the audit trail apply unchanged.
//
// Applying is idempotent: what exists is compared with what is asked for. Spec, usage and
// material are never changed (a mismatch is an error); the rest is brought in line.
import { constants, createCipheriv, createPublicKey, publicEncrypt, randomBytes, randomUUID } from 'node:crypto';
import type { RequestContext } from '../api/context';
import { callerScope } from '../api/context';
import type { DispatchableOperation } from '../api/operation';
import type { CoreService } from '../calls/service';
import { defaultKeyPolicy } from '../access/policy';
import type { CoreDeps } from '../deps';
import { KmsError } from '../errors';
import { emptyImportState } from '../import/import-state';
import { newKeyMaterialId, PARTITION } from '../keys/key-id';
import { hmacSpecs, isAsymmetricSpec, isHmacSpec } from '../keys/key-specs';
import { changeKey } from '../keys/resolve';
import type { KeyPairPurpose } from '../key-stores/port';
import { requireCapability } from '../key-stores/registry';
import { keyArn, type KeyRecord, type KeySpec, type KeyUsage, type Tag } from '../model';
import { createAlias } from '../operations/create-alias';
import { disableKeyRotation } from '../operations/disable-key-rotation';
import { enableKeyRotation } from '../operations/enable-key-rotation';
import { getParametersForImport } from '../operations/get-parameters-for-import';
import { importKeyMaterialOperation } from '../operations/import-key-material';
import { putKeyPolicy } from '../operations/put-key-policy';
import { tagResource } from '../operations/tag-resource';
import { untagResource } from '../operations/untag-resource';
import { updateAlias } from '../operations/update-alias';
import { updateKeyDescription } from '../operations/update-key-description';
import { DEFAULT_ROTATION_PERIOD_DAYS, rotationOf } from '../rotation/rotation';

/** Fixed key material: the raw bytes of a symmetric or HMAC key, or a private key as PKCS#8 DER. */
export type SeedMaterial = { kind: 'secret'; bytes: Buffer } | { kind: 'privateKey'; pkcs8: Buffer };

export interface SeedKey {
  keyId: string;
  keySpec: KeySpec;
  keyUsage: KeyUsage;
  description: string;
  tags: Tag[];
  /** The key policy; absent: the default policy for a new key, and an existing key's is left as it is. */
  policy?: string;
  aliases: string[];
  /** Absent: a new key's rotation stays off, and an existing key's is left as it is. */
  rotation?: { enabled: boolean; periodInDays?: number };
  material?: SeedMaterial;
  /** DescribeKey reports this origin instead of EXTERNAL (a key with fixed material only). */
  reportOrigin?: 'AWS_KMS';
}

/** What applying one seed key did. */
export type SeedOutcome = 'created' | 'updated' | 'unchanged';

/** Why a seed key could not be applied: a sentence for the operator, never containing key material. */
export class SeedConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SeedConflictError';
  }
}

/** The lease that makes one instance seed while the others sharing the store wait. */
const SEEDING_LEASE = 'seeding';
const SEEDING_LEASE_TTL_MS = 120_000;
const SEEDING_POLL_MS = 200;

/**
 * Runs `work` under the seeding lease. Instances starting together on one store take turns: each
 * waits for the lease, and the ones after the first find everything in place.
 */
export async function withSeedingLease<T>(deps: CoreDeps, owner: string, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 2 * SEEDING_LEASE_TTL_MS;
  while (!(await deps.store.leases.acquire(SEEDING_LEASE, owner, deps.clock.now(), SEEDING_LEASE_TTL_MS))) {
    if (Date.now() > deadline) throw new SeedConflictError('another instance holds the seeding lease and has not released it');
    await new Promise((resolve) => setTimeout(resolve, SEEDING_POLL_MS));
  }
  try {
    return await work();
  } finally {
    await deps.store.leases.release(SEEDING_LEASE, owner).catch(() => undefined);
  }
}

/** Calls as the account root through the seam, each with a request id of its own. */
type Caller = <O>(operation: DispatchableOperation<O>, body: Record<string, unknown>) => Promise<O>;

function callerFor(service: CoreService, ctx: () => RequestContext): Caller {
  return (operation, body) => service.invoke('internal', operation, ctx(), body);
}

/** Applies one seed key: makes it if it does not exist, checks it and brings it in line if it does. */
export async function seedKey(service: CoreService, ctx: () => RequestContext, seed: SeedKey): Promise<SeedOutcome> {
  const { deps } = service;
  const call = callerFor(service, ctx);
  const scope = callerScope(ctx());
  const existing = await deps.store.keys.get(scope, seed.keyId);
  let changed = false;
  if (existing === undefined) {
    await createSeededKey(service, ctx, seed);
  } else {
    assertSameKey(existing, seed);
    changed = await bringReportedOriginInLine(deps, existing, seed);
  }
  // Material the key lacks is imported; material it has is proved the same by the token.
  if (seed.material) await importSeedMaterial(call, deps, scope, seed);
  changed = (await bringMetadataInLine(call, deps, scope, seed)) || changed;
  if (existing === undefined) return 'created';
  return changed ? 'updated' : 'unchanged';
}

// Precondition: a seed key never replaces the spec, usage or material of a key that exists.
function assertSameKey(existing: KeyRecord, seed: SeedKey): void {
  if (existing.incomplete) throw new SeedConflictError(`key ${seed.keyId} is being created or recovered; start again once recovery has run`);
  if (existing.keySpec !== seed.keySpec || existing.keyUsage !== seed.keyUsage) {
    throw new SeedConflictError(`key ${seed.keyId} exists as ${existing.keySpec}/${existing.keyUsage}, not ${seed.keySpec}/${seed.keyUsage}; seeding does not replace a key (delete it, or use another key id)`);
  }
  const hasImportedMaterial = existing.origin === 'EXTERNAL';
  if (hasImportedMaterial !== (seed.material !== undefined)) {
    const what = hasImportedMaterial ? 'has imported key material but the seed file gives none' : `has ${existing.origin} key material but the seed file gives fixed material`;
    throw new SeedConflictError(`key ${seed.keyId} ${what}; seeding does not replace key material (delete the key, or use another key id)`);
  }
}

/** The reportOrigin flag is metadata: set or cleared to match the seed. */
async function bringReportedOriginInLine(deps: CoreDeps, existing: KeyRecord, seed: SeedKey): Promise<boolean> {
  if (existing.reportedOrigin === seed.reportOrigin) return false;
  await changeKey(deps, { key: existing, arn: keyArn(PARTITION, existing, existing.keyId) }, (key) => {
    const { reportedOrigin: _previous, ...rest } = key;
    return { ...rest, ...(seed.reportOrigin ? { reportedOrigin: seed.reportOrigin } : {}) };
  });
  return true;
}

/** A new key under the seed's key id: EXTERNAL awaiting its import, or generated in the default token as CreateKey does. */
async function createSeededKey(service: CoreService, ctx: () => RequestContext, seed: SeedKey): Promise<void> {
  const { deps } = service;
  const context = ctx();
  const scope = callerScope(context);
  const now = deps.clock.now();
  const base: KeyRecord = {
    ...scope,
    keyId: seed.keyId,
    createdAt: now,
    updatedAt: now,
    description: seed.description,
    keySpec: seed.keySpec,
    keyUsage: seed.keyUsage,
    origin: 'AWS_KMS',
    keyManager: 'CUSTOMER',
    multiRegion: false,
    state: 'Enabled',
    versions: [],
    tags: seed.tags,
    // The seed's policy follows through PutKeyPolicy, with its lockout check, once the material is in.
    policy: defaultKeyPolicy(scope.accountId),
    revision: 0,
  };
  if (seed.material) {
    await deps.store.keys.insert({ ...base, origin: 'EXTERNAL', state: 'PendingImport', imported: emptyImportState(), ...(seed.reportOrigin ? { reportedOrigin: seed.reportOrigin } : {}) });
  } else {
    await generateSeededKey(deps, base);
  }
  // Not a CreateKey call, but the audit trail records the key's creation as one.
  await service.emit({
    source: 'internal', operation: 'CreateKey', requestId: context.requestId, principal: context.principal.arn, accountId: scope.accountId, region: scope.region,
    keyReference: seed.keyId, resources: [keyArn(PARTITION, scope, seed.keyId)], outcome: 'success', startedAt: now, latencyMs: 0,
    parameters: { KeySpec: seed.keySpec, KeyUsage: seed.keyUsage, Origin: seed.material ? 'EXTERNAL' : 'AWS_KMS', Description: seed.description },
  });
}

/** CreateKey's order: the incomplete record first, then the token object, then the record made whole. */
async function generateSeededKey(deps: CoreDeps, base: KeyRecord): Promise<void> {
  const store = deps.keyStores.storeFor();
  const versionId = newKeyMaterialId();
  const draft: KeyRecord = { ...base, versions: [{ id: versionId, backing: { kind: 'pkcs11', tokenId: store.id, objectId: versionId }, createdAt: base.createdAt, status: 'PENDING' }], incomplete: true };
  await deps.store.keys.insert(draft);
  const label = `kms:${base.keyId}`;
  try {
    let publicKeySpki: Buffer | undefined;
    if (isAsymmetricSpec(base.keySpec)) publicKeySpki = await requireCapability(store, 'keyPairs').generateKeyPair(versionId, label, base.keySpec, base.keyUsage as KeyPairPurpose);
    else if (isHmacSpec(base.keySpec)) await requireCapability(store, 'hmacKeys').generateHmacKey(versionId, label, hmacSpecs[base.keySpec].keyBytes);
    else await requireCapability(store, 'keyObjects').generateAesKey(versionId, label);
    await deps.store.keys.replace({
      ...draft,
      incomplete: false,
      currentVersionId: versionId,
      versions: draft.versions.map((v) => ({ ...v, status: 'ACTIVE' as const, ...(publicKeySpki ? { publicKeySpki: publicKeySpki.toString('base64') } : {}) })),
    });
  } catch (e) {
    await store.keyObjects?.destroyKey(versionId).catch(() => undefined);
    await deps.store.keys.delete(base, base.keyId).catch(() => undefined);
    throw e;
  }
}

/** The wrapping AWS offers for each kind of material: one OAEP block for a secret, OAEP and AES key wrap for a private key. */
const wrappingFor = { secret: 'RSAES_OAEP_SHA_256', privateKey: 'RSA_AES_KEY_WRAP_SHA_256' } as const;

/** Wraps material under an import's public key, as a customer wrapping it for ImportKeyMaterial would. */
function wrapForImport(publicKeySpki: Buffer, material: SeedMaterial): Buffer {
  const wrappingKey = createPublicKey({ key: publicKeySpki, format: 'der', type: 'spki' });
  const oaep = (data: Buffer) => publicEncrypt({ key: wrappingKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, data);
  if (material.kind === 'secret') return oaep(material.bytes);
  const kek = randomBytes(32);
  try {
    // AES key wrap with padding (RFC 5649), its default initial value.
    const kwp = createCipheriv('id-aes256-wrap-pad', kek, Buffer.from('a65959a6', 'hex'));
    return Buffer.concat([oaep(kek), kwp.update(material.pkcs8), kwp.final()]);
  } finally {
    kek.fill(0);
  }
}

/**
 * GetParametersForImport and ImportKeyMaterial, as a client would call them. On a key that
 * already has its material, the token only proves the upload is the same material (nothing new
 * stays in it); different material fails as IncorrectKeyMaterialException.
 */
async function importSeedMaterial(call: Caller, deps: CoreDeps, scope: { accountId: string; region: string }, seed: SeedKey): Promise<void> {
  const material = seed.material!;
  const key = await deps.store.keys.get(scope, seed.keyId);
  if (key?.state === 'PendingDeletion') return;
  const parameters = await call(getParametersForImport, { KeyId: seed.keyId, WrappingAlgorithm: wrappingFor[material.kind], WrappingKeySpec: 'RSA_2048' });
  const encrypted = wrapForImport(parameters.PublicKey, material);
  try {
    await call(importKeyMaterialOperation, {
      KeyId: seed.keyId, ImportToken: parameters.ImportToken.toString('base64'), EncryptedKeyMaterial: encrypted.toString('base64'), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    });
  } catch (e) {
    if (e instanceof KmsError && e.code === 'IncorrectKeyMaterialException') {
      throw new SeedConflictError(`key ${seed.keyId} exists with different key material; seeding does not replace key material (delete the key, or use another key id)`);
    }
    throw e;
  }
}

/** Description, tags, policy, aliases and rotation, each changed only where it differs. Returns whether anything changed. */
async function bringMetadataInLine(call: Caller, deps: CoreDeps, scope: { accountId: string; region: string }, seed: SeedKey): Promise<boolean> {
  const key = await deps.store.keys.get(scope, seed.keyId);
  if (!key) throw new SeedConflictError(`key ${seed.keyId} disappeared while it was being seeded`);
  // A key on its way out is left alone: its metadata can no longer change.
  if (key.state === 'PendingDeletion') return false;
  let changed = false;
  const KeyId = seed.keyId;
  if (key.description !== seed.description) {
    await call(updateKeyDescription, { KeyId, Description: seed.description });
    changed = true;
  }
  const wanted = new Map(seed.tags.map((t) => [t.TagKey, t.TagValue]));
  const extra = key.tags.filter((t) => !wanted.has(t.TagKey)).map((t) => t.TagKey);
  const missing = seed.tags.filter((t) => !key.tags.some((have) => have.TagKey === t.TagKey && have.TagValue === t.TagValue));
  if (extra.length > 0) await call(untagResource, { KeyId, TagKeys: extra });
  if (missing.length > 0) await call(tagResource, { KeyId, Tags: missing });
  changed ||= extra.length > 0 || missing.length > 0;
  if (seed.policy !== undefined && !samePolicy(key.policy, seed.policy)) {
    await call(putKeyPolicy, { KeyId, Policy: seed.policy, PolicyName: 'default' });
    changed = true;
  }
  for (const AliasName of seed.aliases) {
    const alias = await deps.store.aliases.get(scope, AliasName);
    if (alias?.targetKeyId === KeyId) continue;
    await call(alias ? updateAlias : createAlias, { AliasName, TargetKeyId: KeyId });
    changed = true;
  }
  if (seed.rotation) {
    const rotation = rotationOf(key);
    const periodInDays = seed.rotation.periodInDays ?? DEFAULT_ROTATION_PERIOD_DAYS;
    if (seed.rotation.enabled && (!rotation.enabled || rotation.periodInDays !== periodInDays)) {
      await call(enableKeyRotation, { KeyId, RotationPeriodInDays: periodInDays });
      changed = true;
    } else if (!seed.rotation.enabled && rotation.enabled) {
      await call(disableKeyRotation, { KeyId });
      changed = true;
    }
  }
  return changed;
}

/** The same policy document, however it is spaced. */
function samePolicy(current: string | undefined, wanted: string): boolean {
  if (current === undefined) return false;
  try {
    return JSON.stringify(JSON.parse(current)) === JSON.stringify(JSON.parse(wanted));
  } catch {
    return current === wanted;
  }
}

/** A context as the account root, for calls the service makes on its own behalf at start-up. */
export function rootContext(scope: { accountId: string; region: string }): () => RequestContext {
  return () => ({ principal: { arn: `arn:aws:iam::${scope.accountId}:root`, accountId: scope.accountId, policies: [] }, region: scope.region, requestId: randomUUID() });
}
