// CKR return codes, mapped to core's closed set of errors. The raw code goes into the
// error's log-only detail; callers see AWS's generic wording.
import * as pkcs11js from 'pkcs11js';
import { KmsError, messages } from '../core/errors';

const ckrNames = new Map<number, string>(
  Object.entries(pkcs11js)
    .filter(([name, value]) => name.startsWith('CKR_') && typeof value === 'number')
    .map(([name, value]) => [value as number, name]),
);

export function ckrName(error: unknown): string | undefined {
  if (error instanceof pkcs11js.Pkcs11Error) return ckrNames.get(error.code) ?? `CKR_0x${error.code.toString(16)}`;
  return undefined;
}

/** Codes after which the connection to the token is suspect and must be rebuilt. */
const connectionLost = new Set([
  'CKR_DEVICE_ERROR', 'CKR_DEVICE_REMOVED', 'CKR_DEVICE_MEMORY', 'CKR_TOKEN_NOT_PRESENT', 'CKR_TOKEN_NOT_RECOGNIZED',
  'CKR_SESSION_HANDLE_INVALID', 'CKR_SESSION_CLOSED', 'CKR_USER_NOT_LOGGED_IN', 'CKR_CRYPTOKI_NOT_INITIALIZED',
  'CKR_SESSION_COUNT',
]);

export function isConnectionLost(error: unknown): boolean {
  const name = ckrName(error);
  return name !== undefined && connectionLost.has(name);
}

/**
 * Codes after which the session may still hold an active operation (PKCS#11 keeps it on
 * CKR_BUFFER_TOO_SMALL; SoftHSM also on CKR_ARGUMENTS_BAD). Such a session is closed rather than
 * lent again, or the next borrower would meet CKR_OPERATION_ACTIVE.
 */
const sessionSuspect = new Set(['CKR_OPERATION_ACTIVE', 'CKR_ARGUMENTS_BAD', 'CKR_BUFFER_TOO_SMALL']);

export function isSessionSuspect(error: unknown): boolean {
  const name = ckrName(error);
  return name !== undefined && sessionSuspect.has(name);
}

/** No object under a CKA_ID the caller named: the object is gone, or (a health probe tells) the token is. */
export class ObjectNotFound extends Error {}

export function toKmsError(error: unknown, operation: string): KmsError {
  if (error instanceof KmsError) return error;
  if (error instanceof ObjectNotFound) return new KmsError('KeyUnavailableException', messages.keyUnavailable, `${operation}: ${error.message}`);
  const name = ckrName(error) ?? (error instanceof Error ? error.message : String(error));
  // Precondition: a use the key's own attributes forbid (CKR_KEY_FUNCTION_NOT_PERMITTED) is InvalidKeyUsageException.
  if (name === 'CKR_KEY_FUNCTION_NOT_PERMITTED') return new KmsError('InvalidKeyUsageException', 'The key does not permit this operation.', `${operation}: ${name}`);
  if (name === 'CKR_OBJECT_HANDLE_INVALID' || name === 'CKR_KEY_HANDLE_INVALID') {
    return new KmsError('KeyUnavailableException', messages.keyUnavailable, `${operation}: ${name}`);
  }
  return new KmsError('KMSInternalException', messages.internal, `${operation}: ${name}`);
}
