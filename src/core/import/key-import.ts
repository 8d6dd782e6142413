// Imported key material (BYOK) for keys of origin EXTERNAL: GetParametersForImport's wrapping
// key pairs and import tokens, ImportKeyMaterial, DeleteImportedKeyMaterial, and the upkeep that
// expires material and destroys spent wrapping keys.
//
// The material is an ordinary key version: a token object, sensitive and non-extractable, named
// by a version whose id (the KeyMaterialId) ciphertexts carry. It is fixed at the first import
// and kept by every re-import, which the token proves to be the same material by its check value,
// so ciphertexts made before a deletion decrypt again after the re-import.
//
// Crash safety follows rotation: a token object is named in the record before it is made (a
// PENDING version, or an import parameters entry), and struck off only after it is destroyed
// (objects leave versions and parameters for `retiredObjects` first). Whatever a crash leaves,
// upkeep or rotation's recovery of PENDING versions finishes.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { CoreDeps } from '../deps';
import { KmsError } from '../errors';
import { assertStateAllows } from '../keys/key-state';
import { newKeyMaterialId } from '../keys/key-id';
import { arnOf, changeKey, type ResolvedKey } from '../keys/resolve';
import { currentVersion, type ExpirationModel, type ImportParameters, type ImportType, type KeyRecord, type KeyVersion, type WrappingAlgorithm, type WrappingKeySpec } from '../model';
import type { ImportWrappingAlgorithm, RsaWrappingKeySpec } from '../key-stores/port';
import { requireCapability } from '../key-stores/registry';
import { IMPORT_PARAMETERS_VALID_MS, MAX_OUTSTANDING_IMPORT_PARAMETERS, keyImportMessages, encodeImportToken, secretDigest, assertNotExpired, parametersForToken, assertExternalOrigin, materialSpecOf, importStateOf, withImportState, wrappingAlgorithmsSupported } from './import-state';
import { retireParameters, destroyRetiredObjects } from './upkeep';

// ---- GetParametersForImport

export interface ImportParametersResult {
  KeyId: string;
  ImportToken: Buffer;
  PublicKey: Buffer;
  ParametersValidTo: Date;
}

export async function getImportParameters(deps: CoreDeps, resolved: ResolvedKey, algorithm: WrappingAlgorithm, spec: WrappingKeySpec): Promise<ImportParametersResult> {
  // Precondition: import parameters are issued only for the wrapping algorithms and RSA key specs AWS still offers.
  if (!wrappingAlgorithmsSupported.includes(algorithm)) throw new KmsError('UnsupportedOperationException', keyImportMessages.unsupportedAlgorithm(algorithm));
  if (spec === 'SM2') throw new KmsError('UnsupportedOperationException', keyImportMessages.unsupportedSpec(spec));
  const store = deps.keyStores.storeFor(resolved.key.customKeyStoreId);
  const keyImport = requireCapability(store, 'keyImport');
  const now = deps.clock.now();
  const secret = randomBytes(32);
  const parameters: ImportParameters = {
    id: newKeyMaterialId(),
    tokenId: store.id,
    wrappingAlgorithm: algorithm,
    wrappingKeySpec: spec,
    secretDigest: secretDigest(secret).toString('hex'),
    createdAt: now,
    validTo: new Date(now.getTime() + IMPORT_PARAMETERS_VALID_MS),
  };
  // Recorded before the key pair exists, so no wrapping key is ever unnamed.
  const recorded = await changeKey(deps, resolved, (key, arn) => {
    assertExternalOrigin(key, arn);
    assertStateAllows('GetParametersForImport', key.state, arn);
    const state = importStateOf(key);
    const outstanding = state.parameters.filter((p) => !p.usedAt && p.validTo.getTime() > now.getTime());
    // Precondition: a key holds at most 10 unused, unexpired import tokens.
    if (outstanding.length >= MAX_OUTSTANDING_IMPORT_PARAMETERS) throw new KmsError('LimitExceededException', keyImportMessages.tooManyParameters(arn));
    return withImportState(key, { ...state, parameters: [...state.parameters, parameters] });
  });
  let publicKey: Buffer;
  try {
    publicKey = await keyImport.generateWrappingKeyPair(parameters.id, `kms-import:${recorded.keyId}`, spec as RsaWrappingKeySpec);
  } catch (e) {
    await retireParameters(deps, recorded, (p) => p.id === parameters.id).catch(() => undefined);
    throw e;
  }
  return { KeyId: resolved.arn, ImportToken: encodeImportToken(recorded.keyId, parameters.id, secret), PublicKey: publicKey, ParametersValidTo: parameters.validTo };
}

// ---- ImportKeyMaterial

export interface ImportRequest {
  importToken: Buffer;
  encryptedMaterial: Buffer;
  expirationModel: ExpirationModel;
  validTo?: Date;
  importType?: ImportType;
  keyMaterialId?: string;
  keyMaterialDescription?: string;
}

/** The parameters claimed for this import are still ours, unexpired, and the key may still import. */
function assertStillImportable(key: KeyRecord, arn: string, parametersId: string): ImportParameters {
  assertExternalOrigin(key, arn);
  assertStateAllows('ImportKeyMaterial', key.state, arn);
  const parameters = importStateOf(key).parameters.find((p) => p.id === parametersId);
  if (!parameters) throw new KmsError('InvalidImportTokenException', keyImportMessages.invalidToken(arn), 'import parameters gone');
  return parameters;
}

// Precondition: ImportType and KeyMaterialId must fit the key material the key already has.
function assertImportType(key: KeyRecord, arn: string, request: ImportRequest): void {
  const existing = key.imported?.keyMaterialId;
  if (request.importType === 'NEW_KEY_MATERIAL') {
    if (request.keyMaterialId !== undefined) throw new KmsError('ValidationException', keyImportMessages.newWithId);
    if (existing) throw new KmsError('UnsupportedOperationException', keyImportMessages.newMaterial(arn));
  }
  if (request.importType === 'EXISTING_KEY_MATERIAL' && !existing) throw new KmsError('IncorrectKeyMaterialException', keyImportMessages.noPriorMaterial(arn));
  if (request.keyMaterialId !== undefined && request.keyMaterialId !== existing) {
    throw new KmsError('IncorrectKeyMaterialException', keyImportMessages.keyMaterialIdMismatch(arn, request.keyMaterialId));
  }
}

// Precondition: only the same key material is ever imported into a key again.
function assertSameMaterial(key: KeyRecord, arn: string, checkValue: string): void {
  const recorded = key.imported?.checkValue;
  if (recorded !== undefined && !timingSafeEqual(Buffer.from(recorded, 'hex'), Buffer.from(checkValue, 'hex'))) {
    throw new KmsError('IncorrectKeyMaterialException', keyImportMessages.differentMaterial(arn));
  }
}

/** The key after an import that used `parametersId`: expiration set, the spent wrapping key retired. */
function afterImport(key: KeyRecord, parametersId: string, request: ImportRequest, now: Date, material: { keyMaterialId: string; checkValue: string }): KeyRecord {
  const { validTo: _previous, ...state } = importStateOf(key);
  const spent = state.parameters.find((p) => p.id === parametersId);
  return withImportState(key, {
    ...state,
    keyMaterialId: material.keyMaterialId,
    checkValue: state.checkValue ?? material.checkValue,
    expirationModel: request.expirationModel,
    ...(request.validTo ? { validTo: request.validTo } : {}),
    ...(request.keyMaterialDescription !== undefined ? { keyMaterialDescription: request.keyMaterialDescription } : {}),
    parameters: state.parameters.filter((p) => p.id !== parametersId),
    retiredObjects: spent ? [...state.retiredObjects, { tokenId: spent.tokenId, objectId: spent.id, retiredAt: now }] : state.retiredObjects,
  });
}

export async function importKeyMaterial(deps: CoreDeps, resolved: ResolvedKey, request: ImportRequest): Promise<{ keyMaterialId: string; key: KeyRecord }> {
  const { key, arn } = resolved;
  const parameters = parametersForToken(key, arn, request.importToken, deps.clock.now());
  assertImportType(key, arn, request);
  const material = materialSpecOf(key);
  const { store, capability: keyImport } = deps.keyStores.capabilityFor({ kind: 'pkcs11', tokenId: parameters.tokenId, objectId: parameters.id }, 'keyImport');
  const unwrap = (target?: { objectId: string; label: string }) => keyImport.importKeyMaterial({
    wrappingKeyId: parameters.id, algorithm: parameters.wrappingAlgorithm as ImportWrappingAlgorithm, encryptedMaterial: request.encryptedMaterial, material, ...(target ? { target } : {}),
  });

  const present = currentVersion(key);
  if (present) {
    // The key has its material: the upload only has to prove it is the same (nothing stays in
    // the token), and the import changes the expiration.
    const { checkValue } = await unwrap();
    assertSameMaterial(key, arn, checkValue);
    const updated = await changeKey(deps, resolved, (fresh, freshArn) => {
      const claimed = assertStillImportable(fresh, freshArn, parameters.id);
      if (claimed.usedAt) throw new KmsError('InvalidImportTokenException', keyImportMessages.invalidToken(freshArn), 'import parameters already used');
      if (currentVersion(fresh)?.id !== present.id) throw new KmsError('KMSInvalidStateException', keyImportMessages.importInProgress(freshArn), 'material changed meanwhile');
      return afterImport(fresh, parameters.id, request, deps.clock.now(), { keyMaterialId: present.id, checkValue });
    });
    await destroyRetiredObjects(deps, updated).catch(() => undefined);
    return { keyMaterialId: present.id, key: updated };
  }

  // No material: a PENDING version under the KeyMaterialId the material has always had, a fresh
  // token object, then ACTIVE and current; the parameters are claimed for this one call.
  const versionId = key.imported?.keyMaterialId ?? newKeyMaterialId();
  const objectId = newKeyMaterialId();
  const claimedAt = deps.clock.now();
  const version: KeyVersion = { id: versionId, backing: { kind: 'pkcs11', tokenId: store.id, objectId }, createdAt: claimedAt, status: 'PENDING' };
  const started = await changeKey(deps, resolved, (fresh, freshArn) => {
    const claimed = assertStillImportable(fresh, freshArn, parameters.id);
    if (claimed.usedAt) throw new KmsError('InvalidImportTokenException', keyImportMessages.invalidToken(freshArn), 'import parameters already used');
    assertNotExpired(claimed, freshArn, claimedAt);
    // Precondition: one import of key material into a key at a time.
    if (fresh.versions.some((v) => v.status === 'PENDING') || currentVersion(fresh)) {
      throw new KmsError('KMSInvalidStateException', keyImportMessages.importInProgress(freshArn));
    }
    const state = importStateOf(fresh);
    return withImportState(
      { ...fresh, versions: [...fresh.versions, version] },
      { ...state, parameters: state.parameters.map((p) => (p.id === parameters.id ? { ...p, usedAt: claimedAt } : p)) },
    );
  });

  let imported: { checkValue: string; publicKeySpki?: Buffer };
  try {
    imported = await unwrap({ objectId, label: `kms:${key.keyId}` });
    assertSameMaterial(started, arn, imported.checkValue);
  } catch (e) {
    await abandonImport(deps, started, version, parameters.id).catch(() => undefined);
    throw e;
  }

  let completed: KeyRecord;
  try {
    completed = await changeKey(deps, { key: started, arn }, (fresh, freshArn) => {
      assertStillImportable(fresh, freshArn, parameters.id);
      const pending = fresh.versions.find((v) => v.status === 'PENDING' && v.backing.kind === 'pkcs11' && v.backing.objectId === objectId);
      if (!pending) throw new KmsError('KMSInternalException', 'The import was interrupted. Retry the request.', `import version ${versionId} was abandoned`);
      const activated = {
        ...fresh,
        versions: fresh.versions.map((v) => (v === pending ? { ...v, status: 'ACTIVE' as const, ...(imported.publicKeySpki ? { publicKeySpki: imported.publicKeySpki.toString('base64') } : {}) } : v)),
        currentVersionId: versionId,
        state: fresh.state === 'PendingImport' ? 'Enabled' as const : fresh.state,
      };
      return afterImport(activated, parameters.id, request, deps.clock.now(), { keyMaterialId: versionId, checkValue: imported.checkValue });
    });
  } catch (e) {
    const outcome = await abandonImport(deps, started, version, parameters.id).catch(() => undefined);
    if (!outcome?.completed) throw e;
    completed = outcome.completed;
  }
  await destroyRetiredObjects(deps, completed).catch(() => undefined);
  return { keyMaterialId: versionId, key: completed };
}

/**
 * Undoes an import that did not complete, unless it did after all (a lost reply): the PENDING
 * version leaves for `retiredObjects` and the parameters are released in one write, then the
 * object is destroyed and struck off.
 */
async function abandonImport(deps: CoreDeps, key: KeyRecord, version: KeyVersion, parametersId: string): Promise<{ completed?: KeyRecord }> {
  const objectId = version.backing.kind === 'pkcs11' ? version.backing.objectId : '';
  const tokenId = version.backing.kind === 'pkcs11' ? version.backing.tokenId : '';
  const fresh = await deps.store.keys.get(key, key.keyId);
  if (!fresh || fresh.incomplete) return {};
  let completed: KeyRecord | undefined;
  const retired = await changeKey(deps, { key: fresh, arn: arnOf(fresh) }, (current) => {
    const mine = current.versions.find((v) => v.backing.kind === 'pkcs11' && v.backing.objectId === objectId);
    if (mine?.status === 'ACTIVE') {
      completed = current;
      return current;
    }
    const state = importStateOf(current);
    return withImportState(
      { ...current, versions: current.versions.filter((v) => v !== mine) },
      {
        ...state,
        parameters: state.parameters.map((p) => (p.id === parametersId ? unclaimed(p) : p)),
        retiredObjects: mine ? [...state.retiredObjects, { tokenId, objectId, retiredAt: deps.clock.now() }] : state.retiredObjects,
      },
    );
  });
  if (completed) return { completed };
  await destroyRetiredObjects(deps, retired);
  return {};
}

function unclaimed(parameters: ImportParameters): ImportParameters {
  const { usedAt: _usedAt, ...rest } = parameters;
  return rest;
}
