// Imported key material (BYOK), the shared part: limits, AWS's messages, import tokens, and the
// import state a key record carries (what upkeep has to do, and when).
import { createHash, timingSafeEqual } from 'node:crypto';
import { KmsError } from '../errors';
import { hmacSpecs, isAsymmetricSpec, isHmacSpec } from '../keys/key-specs';
import { keyIdFromBytes, keyIdToBytes } from '../keys/key-id';
import { type ExpirationModel, type ImportParameters, type ImportState, type KeyRecord, type WrappingAlgorithm } from '../model';
import type { ImportedMaterialSpec, KeyPairPurpose } from '../key-stores/port';
import { INCOMPLETE_GRACE_MS } from '../jobs/recovery';

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

export function encodeImportToken(keyId: string, parametersId: string, secret: Buffer): Buffer {
  const { form, bytes } = keyIdToBytes(keyId);
  return Buffer.concat([Buffer.from([TOKEN_VERSION, form]), bytes, Buffer.from(parametersId, 'hex'), secret]);
}

function parseImportToken(token: Buffer): { keyId: string; parametersId: string; secret: Buffer } | undefined {
  if (token.length !== TOKEN_BYTES || token[0] !== TOKEN_VERSION) return undefined;
  const keyId = keyIdFromBytes(token[1]!, token.subarray(2, 18));
  if (!keyId) return undefined;
  return { keyId, parametersId: token.subarray(18, 50).toString('hex'), secret: token.subarray(50) };
}

export const secretDigest = (secret: Buffer) => createHash('sha256').update(secret).digest();

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
export function assertNotExpired(parameters: ImportParameters, arn: string, now: Date): void {
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

export function importStateOf(key: KeyRecord): ImportState {
  return key.imported ?? emptyImportState();
}

/** When upkeep next has work: material expiry, parameters expiring (or claimed and overdue), objects to destroy. */
export function upkeepAt(state: ImportState): Date | undefined {
  const times = [
    ...(state.expirationModel === 'KEY_MATERIAL_EXPIRES' && state.validTo ? [state.validTo.getTime()] : []),
    ...state.parameters.map((p) => (p.usedAt ? p.usedAt.getTime() + CLAIMED_PARAMETERS_GRACE_MS : p.validTo.getTime())),
    ...state.retiredObjects.map((o) => o.retiredAt.getTime()),
  ];
  return times.length > 0 ? new Date(Math.min(...times)) : undefined;
}

/** The key with a new import state, its upkeep time recomputed. */
export function withImportState(key: KeyRecord, state: ImportState): KeyRecord {
  const { upkeepAt: _previous, ...rest } = state;
  const next = upkeepAt(rest as ImportState);
  return { ...key, imported: { ...rest, ...(next ? { upkeepAt: next } : {}) } };
}

export const wrappingAlgorithmsSupported: readonly WrappingAlgorithm[] = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256'];
