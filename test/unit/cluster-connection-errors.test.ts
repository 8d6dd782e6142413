// The one table from what went wrong while connecting a custom key store's token to the
// ConnectionErrorCode AWS reports, row by row, from the errors the connection code really throws.
import * as pkcs11js from 'pkcs11js';
import { ConnectTimeout, connectFailureCause, connectionError, connectionErrorCodeFor, connectionErrorCodes } from '../../src/pkcs11/clusters';
import { LoginFailedError, ModuleLoadError, PinRefusedError, TokenNotFoundError } from '../../src/pkcs11/sessions';

const ckr = (name: keyof typeof pkcs11js & `CKR_${string}`) => new pkcs11js.Pkcs11Error(name, pkcs11js[name] as number, 'C_Login');

/** Every row: the error that produces the cause, and the code AWS would report. */
const rows: Array<[cause: string, error: unknown, code: string]> = [
  ['CKR_PIN_INCORRECT', new PinRefusedError('tenant-a', 'CKR_PIN_INCORRECT'), 'INVALID_CREDENTIALS'],
  ['CKR_PIN_INVALID', new PinRefusedError('tenant-a', 'CKR_PIN_INVALID'), 'INVALID_CREDENTIALS'],
  ['CKR_PIN_LEN_RANGE', new PinRefusedError('tenant-a', 'CKR_PIN_LEN_RANGE'), 'INVALID_CREDENTIALS'],
  ['CKR_PIN_EXPIRED', new PinRefusedError('tenant-a', 'CKR_PIN_EXPIRED'), 'INVALID_CREDENTIALS'],
  ['CKR_PIN_LOCKED', new PinRefusedError('tenant-a', 'CKR_PIN_LOCKED'), 'USER_LOCKED_OUT'],
  ['CKR_USER_PIN_NOT_INITIALIZED', new LoginFailedError('tenant-a', 'CKR_USER_PIN_NOT_INITIALIZED'), 'USER_NOT_FOUND'],
  ['CKR_USER_ALREADY_LOGGED_IN', new LoginFailedError('tenant-a', 'CKR_USER_ALREADY_LOGGED_IN'), 'USER_LOGGED_IN'],
  ['CKR_USER_ANOTHER_ALREADY_LOGGED_IN', new LoginFailedError('tenant-a', 'CKR_USER_ANOTHER_ALREADY_LOGGED_IN'), 'USER_LOGGED_IN'],
  ['MODULE_NOT_LOADED', new ModuleLoadError('/opt/missing.so', 'cannot load PKCS#11 module /opt/missing.so: no such file'), 'CLUSTER_NOT_FOUND'],
  // Only the connection check in a child process meets a module that loads but will not initialise.
  ['MODULE_NOT_INITIALIZED', undefined, 'CLUSTER_NOT_FOUND'],
  ['TOKEN_NOT_FOUND', new TokenNotFoundError('tenant-a', '/usr/lib/softhsm/libsofthsm2.so'), 'CLUSTER_NOT_FOUND'],
  ['CKR_TOKEN_NOT_RECOGNIZED', ckr('CKR_TOKEN_NOT_RECOGNIZED'), 'CLUSTER_NOT_FOUND'],
  ['CKR_DEVICE_ERROR', ckr('CKR_DEVICE_ERROR'), 'NETWORK_ERRORS'],
  ['CKR_DEVICE_REMOVED', ckr('CKR_DEVICE_REMOVED'), 'NETWORK_ERRORS'],
  ['CKR_TOKEN_NOT_PRESENT', ckr('CKR_TOKEN_NOT_PRESENT'), 'NETWORK_ERRORS'],
  ['TIMEOUT', new ConnectTimeout(10_000), 'NETWORK_ERRORS'],
];

it('the table has exactly these rows', () => {
  expect(Object.entries(connectionErrorCodes)).toEqual(rows.map(([cause, , code]) => [cause, code]));
});

it.each(rows)('%s is %s', (cause, error, code) => {
  expect(connectionErrorCodeFor(cause)).toBe(code);
  if (error === undefined) return;
  expect(connectFailureCause(error)).toBe(cause);
  expect(connectionError(error, '1234', 'cluster-2a3b4c5d6e7')).toMatchObject({ code });
});

it('a PKCS#11 code in the table is found however it was thrown', () => {
  expect(connectFailureCause(ckr('CKR_PIN_INCORRECT'))).toBe('CKR_PIN_INCORRECT');
  expect(connectionError(ckr('CKR_PIN_LOCKED'), 'pin', 'c').code).toBe('USER_LOCKED_OUT');
});

it('anything else is INTERNAL_ERROR', () => {
  for (const error of [ckr('CKR_GENERAL_ERROR'), ckr('CKR_SESSION_COUNT'), new Error('no token profile matches'), 'a string']) {
    expect(connectionError(error, 'pin', 'c').code).toBe('INTERNAL_ERROR');
  }
});

it('the PIN never reaches the error, even where a module echoed it', () => {
  const pin = 'Secret-PIN-4321';
  const error = connectionError(new Error(`login with ${pin} refused`), pin, `cluster-2a3b4c5d6e7`);
  expect(error.detail).toBe('cluster-2a3b4c5d6e7: login with *** refused');
  expect(error.message).not.toContain(pin);
  expect(JSON.stringify(error)).not.toContain(pin);
});
