// What a failed call to an external key store proxy means for each kind of KMS operation
// (KMS-SPEC §6.4): key store management gets an Xks* exception, ConnectCustomKeyStore a
// ConnectionErrorCode, CreateKey its own exceptions, and every cryptographic operation
// KMSInvalidStateException with a message naming the cause. One table per context.
import { KmsError, type ErrorCode } from '../errors';
import type { XksProxyFailure, XksProxyFailureKind } from '../key-stores/connectors';
import type { ConnectionErrorCode } from '../model';

/** The outcome of GetHealthStatus when every key manager behind the proxy is unavailable. */
export const ALL_KEY_MANAGERS_UNAVAILABLE = 'AllKeyManagersUnavailable' as const;
export type HealthCheckOutcome = XksProxyFailureKind | typeof ALL_KEY_MANAGERS_UNAVAILABLE;

/** CreateCustomKeyStore and UpdateCustomKeyStore, validating a proxy with GetHealthStatus. */
export const keyStoreManagementErrors: Record<HealthCheckOutcome, { code: ErrorCode; message: string }> = {
  AuthenticationFailedException: { code: 'XksProxyIncorrectAuthenticationCredentialException', message: 'The external key store proxy rejected the request because it cannot authenticate AWS KMS. Verify the proxy authentication credential of the custom key store.' },
  AccessDeniedException: { code: 'XksProxyInvalidConfigurationException', message: 'The external key store proxy denied access to the operation. Verify the proxy configuration of the custom key store.' },
  InvalidUriPathException: { code: 'XksProxyInvalidConfigurationException', message: 'The external key store proxy rejected the URI path. Verify the XksProxyUriPath of the custom key store.' },
  XksProxyInvalidTlsConfiguration: { code: 'XksProxyInvalidConfigurationException', message: 'AWS KMS cannot establish a TLS connection to the external key store proxy: its certificate is not trusted or the handshake failed.' },
  DependencyTimeoutException: { code: 'XksProxyUriUnreachableException', message: 'The external key store proxy timed out while reaching its external key manager.' },
  ThrottlingException: { code: 'XksProxyUriUnreachableException', message: 'The external key store proxy rejected the request due to a very high request rate.' },
  XksProxyUnreachableException: { code: 'XksProxyUriUnreachableException', message: 'AWS KMS cannot communicate with the external key store proxy. Verify the XksProxyUriEndpoint and that the proxy is running.' },
  XksProxyTimedOut: { code: 'XksProxyUriUnreachableException', message: 'The external key store proxy did not respond in the time allotted.' },
  [ALL_KEY_MANAGERS_UNAVAILABLE]: { code: 'XksProxyUriUnreachableException', message: 'The external key store proxy reports that none of its external key managers is available.' },
  InternalException: { code: 'XksProxyInvalidResponseException', message: 'The external key store proxy reported an internal error.' },
  ValidationException: { code: 'XksProxyInvalidResponseException', message: 'The external key store proxy rejected the request as invalid.' },
  XksProxyInvalidResponse: { code: 'XksProxyInvalidResponseException', message: 'AWS KMS cannot interpret the response from the external key store proxy.' },
  InvalidCiphertextException: { code: 'XksProxyInvalidResponseException', message: 'AWS KMS cannot interpret the response from the external key store proxy.' },
  InvalidKeyUsageException: { code: 'XksProxyInvalidResponseException', message: 'AWS KMS cannot interpret the response from the external key store proxy.' },
  InvalidStateException: { code: 'XksProxyInvalidResponseException', message: 'AWS KMS cannot interpret the response from the external key store proxy.' },
  KeyNotFoundException: { code: 'XksProxyInvalidResponseException', message: 'AWS KMS cannot interpret the response from the external key store proxy.' },
  UnsupportedOperationException: { code: 'XksProxyInvalidResponseException', message: 'The external key store proxy does not support the requested operation.' },
};

/** ConnectCustomKeyStore: the store goes to FAILED with this code. */
export const connectionErrorCodes: Record<HealthCheckOutcome, ConnectionErrorCode> = {
  AuthenticationFailedException: 'INVALID_CREDENTIALS',
  AccessDeniedException: 'XKS_PROXY_ACCESS_DENIED',
  InvalidUriPathException: 'XKS_PROXY_INVALID_CONFIGURATION',
  XksProxyInvalidTlsConfiguration: 'XKS_PROXY_INVALID_TLS_CONFIGURATION',
  DependencyTimeoutException: 'XKS_PROXY_TIMED_OUT',
  XksProxyTimedOut: 'XKS_PROXY_TIMED_OUT',
  ThrottlingException: 'XKS_PROXY_NOT_REACHABLE',
  XksProxyUnreachableException: 'XKS_PROXY_NOT_REACHABLE',
  [ALL_KEY_MANAGERS_UNAVAILABLE]: 'XKS_PROXY_NOT_REACHABLE',
  InternalException: 'XKS_PROXY_NOT_REACHABLE',
  ValidationException: 'XKS_PROXY_INVALID_RESPONSE',
  XksProxyInvalidResponse: 'XKS_PROXY_INVALID_RESPONSE',
  InvalidCiphertextException: 'XKS_PROXY_INVALID_RESPONSE',
  InvalidKeyUsageException: 'XKS_PROXY_INVALID_RESPONSE',
  InvalidStateException: 'XKS_PROXY_INVALID_RESPONSE',
  KeyNotFoundException: 'XKS_PROXY_INVALID_RESPONSE',
  UnsupportedOperationException: 'XKS_PROXY_INVALID_RESPONSE',
};

/** CreateKey, asking the proxy for the external key's metadata. */
export const createKeyErrors: Record<XksProxyFailureKind, ErrorCode> = {
  KeyNotFoundException: 'XksKeyNotFoundException',
  InvalidKeyUsageException: 'XksKeyInvalidConfigurationException',
  InvalidStateException: 'XksKeyInvalidConfigurationException',
  UnsupportedOperationException: 'XksProxyInvalidResponseException',
  XksProxyInvalidResponse: 'XksProxyInvalidResponseException',
  AccessDeniedException: 'CustomKeyStoreInvalidStateException',
  AuthenticationFailedException: 'CustomKeyStoreInvalidStateException',
  DependencyTimeoutException: 'CustomKeyStoreInvalidStateException',
  InternalException: 'CustomKeyStoreInvalidStateException',
  InvalidCiphertextException: 'CustomKeyStoreInvalidStateException',
  InvalidUriPathException: 'CustomKeyStoreInvalidStateException',
  ThrottlingException: 'CustomKeyStoreInvalidStateException',
  ValidationException: 'CustomKeyStoreInvalidStateException',
  XksProxyUnreachableException: 'CustomKeyStoreInvalidStateException',
  XksProxyTimedOut: 'CustomKeyStoreInvalidStateException',
  XksProxyInvalidTlsConfiguration: 'CustomKeyStoreInvalidStateException',
};

/** Cryptographic operations: always KMSInvalidStateException, the message says why. */
export const cryptographicMessages: Record<XksProxyFailureKind, string> = {
  InvalidCiphertextException: 'The external key store proxy rejected the request because the specified ciphertext or additional authenticated data is corrupted, missing, or otherwise invalid.',
  KeyNotFoundException: 'The external key store proxy could not find the external key.',
  InvalidStateException: 'The external key store proxy reports that the external key is not enabled.',
  InvalidKeyUsageException: 'The external key does not support the requested operation.',
  UnsupportedOperationException: 'The external key store proxy does not support the requested operation.',
  InternalException: 'The external key store proxy is not in a healthy state.',
  DependencyTimeoutException: 'The external key store proxy timed out while reaching its external key manager. Retry the request.',
  XksProxyInvalidResponse: 'AWS KMS cannot interpret the response from the external key store proxy.',
  AccessDeniedException: 'The external key store proxy denied access to the operation.',
  AuthenticationFailedException: 'The external key store proxy rejected the request because it cannot authenticate AWS KMS.',
  ThrottlingException: 'The external key store proxy rejected the request due to a very high request rate. Reduce the frequency of your calls using KMS keys in this external key store.',
  InvalidUriPathException: 'The external key store proxy rejected the URI path of the custom key store.',
  ValidationException: 'The external key store proxy rejected the request as invalid.',
  XksProxyUnreachableException: 'AWS KMS cannot communicate with the external key store proxy.',
  XksProxyTimedOut: 'The external key store proxy did not respond to the request in the time allotted. Retry the request.',
  XksProxyInvalidTlsConfiguration: 'AWS KMS cannot establish a TLS connection to the external key store proxy.',
};

/** The proxy's answer to Decrypt did not open under our own layer: what AWS says when the proxy returns something wrong. */
export const INNER_LAYER_INVALID = 'The ciphertext or encryption context that the external key store proxy submitted for decryption is corrupted, missing, or otherwise invalid.';

export function keyStoreManagementError(outcome: HealthCheckOutcome, detail: string): KmsError {
  const { code, message } = keyStoreManagementErrors[outcome];
  return new KmsError(code, message, detail);
}

export function createKeyError(failure: XksProxyFailure): KmsError {
  const code = createKeyErrors[failure.kind];
  const message = code === 'CustomKeyStoreInvalidStateException' ? `${cryptographicMessages[failure.kind]} The custom key store cannot be used to create keys now.` : cryptographicMessages[failure.kind];
  return new KmsError(code, message, failure.detail);
}

export function cryptographicError(failure: XksProxyFailure): KmsError {
  return new KmsError('KMSInvalidStateException', cryptographicMessages[failure.kind], `${failure.kind}: ${failure.detail}`);
}
