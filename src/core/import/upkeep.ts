// Imported key material leaving: DeleteImportedKeyMaterial, expiry at ValidTo, and the upkeep
// that retires spent wrapping key pairs and destroys retired token objects.
import type { CoreDeps } from '../deps';
import { isKmsError } from '../errors';
import { arnOf, changeKey, type ResolvedKey } from '../keys/resolve';
import { currentVersion, type ImportParameters, type KeyRecord } from '../model';
import { CLAIMED_PARAMETERS_GRACE_MS, importStateOf, upkeepAt, withImportState } from './import-state';

// ---- DeleteImportedKeyMaterial and expiry

/**
 * Deletes the key's material: its versions leave for `retiredObjects` and the key becomes
 * PendingImport (a key pending deletion stays so) in one write; then the objects are destroyed.
 * `onlyIfExpiredBy` makes it the expiry step, which acts only if the material is still due.
 */
export async function deleteImportedMaterial(deps: CoreDeps, resolved: ResolvedKey, onlyIfExpiredBy?: Date): Promise<KeyRecord> {
  if (!resolved.key.versions.some((v) => v.status === 'ACTIVE')) return resolved.key;
  let acted = false;
  const updated = await changeKey(deps, resolved, (key) => {
    const state = importStateOf(key);
    const active = key.versions.filter((v) => v.status === 'ACTIVE');
    const due = state.expirationModel === 'KEY_MATERIAL_EXPIRES' && state.validTo !== undefined && onlyIfExpiredBy !== undefined
      && state.validTo.getTime() <= onlyIfExpiredBy.getTime();
    acted = active.length > 0 && (onlyIfExpiredBy === undefined || due);
    if (!acted) return key;
    const now = deps.clock.now();
    const retired = active.flatMap((v) => (v.backing.kind === 'pkcs11' ? [{ tokenId: v.backing.tokenId, objectId: v.backing.objectId, retiredAt: now }] : []));
    const { expirationModel: _model, validTo: _validTo, ...rest } = state;
    return withImportState(
      { ...key, versions: key.versions.filter((v) => v.status !== 'ACTIVE'), state: key.state === 'Enabled' || key.state === 'Disabled' ? 'PendingImport' : key.state },
      { ...rest, retiredObjects: [...state.retiredObjects, ...retired] },
    );
  });
  if (acted) await destroyRetiredObjects(deps, updated);
  return updated;
}

// ---- upkeep

/** Moves the wrapping keys of parameters matching `which` to `retiredObjects`, then destroys them. */
export async function retireParameters(deps: CoreDeps, key: KeyRecord, which: (p: ImportParameters) => boolean): Promise<KeyRecord> {
  const fresh = await deps.store.keys.get(key, key.keyId);
  if (!fresh || fresh.incomplete) return key;
  const retired = await changeKey(deps, { key: fresh, arn: arnOf(fresh) }, (current) => {
    const state = importStateOf(current);
    const leaving = state.parameters.filter(which);
    if (leaving.length === 0) return current;
    const now = deps.clock.now();
    return withImportState(current, {
      ...state,
      parameters: state.parameters.filter((p) => !which(p)),
      retiredObjects: [...state.retiredObjects, ...leaving.map((p) => ({ tokenId: p.tokenId, objectId: p.id, retiredAt: now }))],
    });
  });
  return destroyRetiredObjects(deps, retired);
}

/** Destroys the key's retired objects, then strikes them off. Objects on a token not configured now stay on record. */
export async function destroyRetiredObjects(deps: CoreDeps, key: KeyRecord): Promise<KeyRecord> {
  const retired = key.imported?.retiredObjects ?? [];
  const destroyed = new Set<string>();
  for (const object of retired) {
    const objects = deps.keyStores.keyObjectsIn(object.tokenId);
    if (!objects) continue;
    await objects.destroyKey(object.objectId);
    destroyed.add(object.objectId);
  }
  if (destroyed.size === 0) return key;
  try {
    return await changeKey(deps, { key, arn: arnOf(key) }, (current) => {
      const state = importStateOf(current);
      return withImportState(current, { ...state, retiredObjects: state.retiredObjects.filter((o) => !destroyed.has(o.objectId)) });
    });
  } catch (e) {
    if (isKmsError(e) && e.code === 'NotFoundException') return key;
    throw e;
  }
}

export interface ImportUpkeepReport {
  /** Keys whose imported material expired and was deleted. */
  expired: string[];
  failed: { keyId: string; detail: string }[];
}

/**
 * The scheduler's step for imported material: material at or past its ValidTo is deleted (the
 * key becomes PendingImport), expired or long-claimed parameters lose their wrapping keys, and
 * retired objects are destroyed. Run at start-up and periodically, it catches up after downtime.
 */
/** `keyArns`, when given, learns the ARN of every key it looks at (for internal events). */
export async function runImportUpkeep(deps: CoreDeps, keyArns?: Map<string, string>): Promise<ImportUpkeepReport> {
  const report: ImportUpkeepReport = { expired: [], failed: [] };
  const now = deps.clock.now();
  for (const due of await deps.store.keys.listDueForImportUpkeep(now)) {
    keyArns?.set(due.keyId, arnOf(due));
    try {
      let key = due;
      const state = importStateOf(key);
      // Precondition: imported material is deleted once its ValidTo has passed.
      if (state.expirationModel === 'KEY_MATERIAL_EXPIRES' && state.validTo && state.validTo.getTime() <= now.getTime() && currentVersion(key)) {
        key = await deleteImportedMaterial(deps, { key, arn: arnOf(key), state: key.state }, now);
        report.expired.push(key.keyId);
      }
      const spent = (p: ImportParameters) => (p.usedAt ? p.usedAt.getTime() + CLAIMED_PARAMETERS_GRACE_MS : p.validTo.getTime()) <= now.getTime();
      key = await retireParameters(deps, key, spent);
      key = await destroyRetiredObjects(deps, key);
      // Nothing left to do, yet still listed (an upkeep time from before a change): recompute it.
      if (key.imported?.upkeepAt && key.imported.upkeepAt.getTime() <= now.getTime() && upkeepAt(key.imported)?.getTime() !== key.imported.upkeepAt.getTime()) {
        await changeKey(deps, { key, arn: arnOf(key) }, (current) => withImportState(current, importStateOf(current)));
      }
    } catch (e) {
      if (isKmsError(e) && e.code === 'NotFoundException') continue;
      report.failed.push({ keyId: due.keyId, detail: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  }
  return report;
}
