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
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { CoreDeps } from './deps';
import { KmsError, isKmsError } from './errors';
import { hmacSpecs, isAsymmetricSpec, isHmacSpec } from './key-specs';
import { assertStateAllows } from './key-state';
import { keyIdFromBytes, keyIdToBytes, newKeyMaterialId } from './key-id';
import { arnOf, changeKey, type ResolvedKey } from './keys';
import {
  currentVersion, type ExpirationModel, type ImportParameters, type ImportState, type ImportType, type KeyRecord, type KeyVersion,
  type WrappingAlgorithm, type WrappingKeySpec,
} from './model';
import type { ImportedMaterialSpec, ImportWrappingAlgorithm, KeyPairPurpose, KeyToken, RsaWrappingKeySpec } from './ports';
import { INCOMPLETE_GRACE_MS } from './recovery';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
/** ParametersValidTo: an import token and its wrapping key serve for 24 hours. */
export const IMPORT_PARAMETERS_VALID_MS = 24 * HOUR_MS;
/** ValidTo may be at most 365 days after the import. */
export const MAX_VALID_TO_DAYS = 365;
/** Outstanding parameter sets per key: each holds a key pair in the token for up to a day. */
export const MAX_OUTSTANDING_IMPORT_PARAMETERS = 10;
/** How long claimed parameters wait for their import to finish before upkeep retires them. */
export const CLAIMED_PARAMETERS_GRACE_MS = INCOMPLETE_GRACE_MS;

export const keyImportMessages = {
  /** Recorded from AWS (GetParametersForImport on an AWS_KMS key). */
  origin: (arn: string, origin: string) => `${arn} origin is ${origin} which is not valid for this operation.`,
  /** Recorded from AWS. */
  validToRequired: 'A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES',
  validToNotAllowed: 'A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE',
  validToPast: 'The validTo date must be in the future.',
  validToTooLate: `The validTo date must be no more than ${MAX_VALID_TO_DAYS} days in the future.`,
  invalidToken: (arn: string) => `The import token is not valid for ${arn}: it was issued for another KMS key, has been used already, or was not issued by this service.`,
  expiredToken: (arn: string) => `The import token for ${arn} has expired. Call GetParametersForImport for a new import token and public key.`,
  differentMaterial: (arn: string) => `The key material does not match the key material that was previously imported into ${arn}. Only the same key material can be imported again.`,
  keyMaterialIdMismatch: (arn: string, id: string) => `Key material ${id} is not the key material of ${arn}.`,
  noPriorMaterial: (arn: string) => `No key material has been imported into ${arn} yet, so there is no existing key material to import again.`,
  newMaterial: (arn: string) => `${arn} already has imported key material. This service keeps one key material per imported KMS key: only the same key material can be imported again.`,
  newWithId: 'A KeyMaterialId cannot be specified when ImportType is NEW_KEY_MATERIAL.',
  importInProgress: (arn: string) => `Another import of key material into ${arn} is in progress.`,
  unsupportedAlgorithm: (algorithm: string) => `WrappingAlgorithm ${algorithm} is not supported. Use RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1.`,
  unsupportedSpec: (spec: string) => `WrappingKeySpec ${spec} is not supported. Use RSA_2048, RSA_3072 or RSA_4096.`,
  tooManyParameters: (arn: string) =>
    `${arn} has ${MAX_OUTSTANDING_IMPORT_PARAMETERS} import tokens that are neither used nor expired. Use one, or wait until one expires, before requesting another.`,
} as const;

// ---- import tokens
//
// An import token names the key, the parameters it belongs to and a 32-byte random secret:
// version (1) ‖ key id form (1) ‖ key id (16) ‖ parameters id (32) ‖ secret (32). Only the
// SHA-256 of the secret is stored, so the store alone cannot make a token.

const TOKEN_VERSION = 1;
const TOKEN_BYTES = 1 + 1 + 16 + 32 + 32;

function encodeImportToken(keyId: string, parametersId: string, secret: Buffer): Buffer {
  const { form, bytes } = keyIdToBytes(keyId);
  return Buffer.concat([Buffer.from([TOKEN_VERSION, form]), bytes, Buffer.from(parametersId, 'hex'), secret]);
}

function parseImportToken(token: Buffer): { keyId: string; parametersId: string; secret: Buffer } | undefined {
  if (token.length !== TOKEN_BYTES || token[0] !== TOKEN_VERSION) return undefined;
  const keyId = keyIdFromBytes(token[1]!, token.subarray(2, 18));
  if (!keyId) return undefined;
  return { keyId, parametersId: token.subarray(18, 50).toString('hex'), secret: token.subarray(50) };
}

const secretDigest = (secret: Buffer) => createHash('sha256').update(secret).digest();

// Precondition: an import token is accepted only for the key it was issued for, and only once.
function issuedParameters(key: KeyRecord, arn: string, importToken: Buffer): ImportParameters {
  const invalid = (detail: string) => new KmsError('InvalidImportTokenException', keyImportMessages.invalidToken(arn), detail);
  const parsed = parseImportToken(importToken);
  if (!parsed) throw invalid('import token does not parse');
  if (parsed.keyId !== key.keyId) throw invalid(`import token issued for key ${parsed.keyId}`);
  const parameters = key.imported?.parameters.find((p) => p.id === parsed.parametersId);
  if (!parameters) throw invalid('no such import parameters (used, expired and removed, or never issued)');
  if (!timingSafeEqual(secretDigest(parsed.secret), Buffer.from(parameters.secretDigest, 'hex'))) throw invalid('import token secret does not match');
  if (parameters.usedAt) throw invalid('import parameters already used');
  return parameters;
}

// Precondition: an expired import token is refused with ExpiredImportTokenException.
function assertNotExpired(parameters: ImportParameters, arn: string, now: Date): void {
  if (parameters.validTo.getTime() <= now.getTime()) {
    throw new KmsError('ExpiredImportTokenException', keyImportMessages.expiredToken(arn), `parameters ${parameters.id} expired at ${parameters.validTo.toISOString()}`);
  }
}

/** The import token ImportKeyMaterial requires, checked against the key as it stands. */
export function parametersForToken(key: KeyRecord, arn: string, importToken: Buffer, now: Date): ImportParameters {
  const parameters = issuedParameters(key, arn, importToken);
  assertNotExpired(parameters, arn, now);
  return parameters;
}

// ---- shared checks

// Precondition: only keys of origin EXTERNAL take part in key import.
export function assertExternalOrigin(key: KeyRecord, arn: string): void {
  if (key.origin !== 'EXTERNAL') throw new KmsError('UnsupportedOperationException', keyImportMessages.origin(arn, key.origin));
}

// Precondition: imported material expires at most 365 days ahead, and only with KEY_MATERIAL_EXPIRES.
export function expirationOf(model: ExpirationModel | undefined, validTo: Date | undefined, now: Date): { expirationModel: ExpirationModel; validTo?: Date } {
  const expirationModel = model ?? 'KEY_MATERIAL_EXPIRES';
  if (expirationModel === 'KEY_MATERIAL_DOES_NOT_EXPIRE') {
    if (validTo !== undefined) throw new KmsError('ValidationException', keyImportMessages.validToNotAllowed);
    return { expirationModel };
  }
  if (validTo === undefined) throw new KmsError('ValidationException', keyImportMessages.validToRequired);
  if (validTo.getTime() <= now.getTime()) throw new KmsError('ValidationException', keyImportMessages.validToPast);
  if (validTo.getTime() > now.getTime() + MAX_VALID_TO_DAYS * DAY_MS) throw new KmsError('ValidationException', keyImportMessages.validToTooLate);
  return { expirationModel, validTo };
}

/** What material the key takes, from its spec and usage. */
export function materialSpecOf(key: KeyRecord): ImportedMaterialSpec {
  if (key.keySpec === 'SYMMETRIC_DEFAULT') return { kind: 'AES', bytes: 32 };
  if (isHmacSpec(key.keySpec)) return { kind: 'HMAC', bytes: hmacSpecs[key.keySpec].keyBytes, hash: hmacSpecs[key.keySpec].hash };
  if (isAsymmetricSpec(key.keySpec)) return { kind: 'PRIVATE_KEY', spec: key.keySpec, purpose: key.keyUsage as KeyPairPurpose };
  throw new KmsError('UnsupportedOperationException', `Key material cannot be imported into a key of spec ${key.keySpec}.`);
}

/** The import state of a new EXTERNAL key: no material, no parameters. */
export function emptyImportState(): ImportState {
  return { parameters: [], retiredObjects: [] };
}

function importStateOf(key: KeyRecord): ImportState {
  return key.imported ?? emptyImportState();
}

/** When upkeep next has work: material expiry, parameters expiring (or claimed and overdue), objects to destroy. */
function upkeepAt(state: ImportState): Date | undefined {
  const times = [
    ...(state.expirationModel === 'KEY_MATERIAL_EXPIRES' && state.validTo ? [state.validTo.getTime()] : []),
    ...state.parameters.map((p) => (p.usedAt ? p.usedAt.getTime() + CLAIMED_PARAMETERS_GRACE_MS : p.validTo.getTime())),
    ...state.retiredObjects.map((o) => o.retiredAt.getTime()),
  ];
  return times.length > 0 ? new Date(Math.min(...times)) : undefined;
}

/** The key with a new import state, its upkeep time recomputed. */
function withImportState(key: KeyRecord, state: ImportState): KeyRecord {
  const { upkeepAt: _previous, ...rest } = state;
  const next = upkeepAt(rest as ImportState);
  return { ...key, imported: { ...rest, ...(next ? { upkeepAt: next } : {}) } };
}

function tokenOrUnavailable(deps: CoreDeps, tokenId: string): KeyToken {
  const token = deps.tokens.get(tokenId);
  if (!token) throw new KmsError('KeyUnavailableException', 'The request was rejected because the specified KMS key was not available.', `token ${tokenId} not configured`);
  return token;
}

const wrappingAlgorithmsSupported: readonly WrappingAlgorithm[] = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256'];

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
  const token = deps.tokens.defaultToken;
  const now = deps.clock.now();
  const secret = randomBytes(32);
  const parameters: ImportParameters = {
    id: newKeyMaterialId(),
    tokenId: token.id,
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
    publicKey = await token.generateWrappingKeyPair(parameters.id, `kms-import:${recorded.keyId}`, spec as RsaWrappingKeySpec);
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
  const token = tokenOrUnavailable(deps, parameters.tokenId);
  const unwrap = (target?: { objectId: string; label: string }) => token.importKeyMaterial({
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
  const version: KeyVersion = { id: versionId, backing: { kind: 'pkcs11', tokenId: token.id, objectId }, createdAt: claimedAt, status: 'PENDING' };
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
  const fresh = await deps.store.getKey(key, key.keyId);
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
async function retireParameters(deps: CoreDeps, key: KeyRecord, which: (p: ImportParameters) => boolean): Promise<KeyRecord> {
  const fresh = await deps.store.getKey(key, key.keyId);
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
    const token = deps.tokens.get(object.tokenId);
    if (!token) continue;
    await token.destroyKey(object.objectId);
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
export async function runImportUpkeep(deps: CoreDeps): Promise<ImportUpkeepReport> {
  const report: ImportUpkeepReport = { expired: [], failed: [] };
  const now = deps.clock.now();
  for (const due of await deps.store.listKeysDueForImportUpkeep(now)) {
    try {
      let key = due;
      const state = importStateOf(key);
      // Precondition: imported material is deleted once its ValidTo has passed.
      if (state.expirationModel === 'KEY_MATERIAL_EXPIRES' && state.validTo && state.validTo.getTime() <= now.getTime() && currentVersion(key)) {
        key = await deleteImportedMaterial(deps, { key, arn: arnOf(key) }, now);
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
