// The XKS proxy API's error table: each core error code as one of the spec's error names, with
// the spec's status codes, written as {"errorName", "errorMessage"}. The message is printable
// ASCII under 512 characters; internal detail never leaves.
import type { Response } from 'express';
import type { ErrorCode, KmsError } from '../../core/errors';

export const xksErrorNames = [
  'ValidationException', 'InvalidStateException', 'InvalidCiphertextException', 'InvalidKeyUsageException',
  'AuthenticationFailedException', 'AccessDeniedException', 'KeyNotFoundException', 'InvalidUriPathException',
  'ThrottlingException', 'UnsupportedOperationException', 'DependencyTimeoutException', 'InternalException',
] as const;
export type XksErrorName = (typeof xksErrorNames)[number];

export const xksStatusOf: Record<XksErrorName, number> = {
  ValidationException: 400,
  InvalidStateException: 400,
  InvalidCiphertextException: 400,
  InvalidKeyUsageException: 400,
  AuthenticationFailedException: 401,
  AccessDeniedException: 403,
  KeyNotFoundException: 404,
  InvalidUriPathException: 404,
  ThrottlingException: 429,
  UnsupportedOperationException: 501,
  DependencyTimeoutException: 503,
  InternalException: 500,
};

/** The spec's scenario for each name, for errors whose core message is empty. */
const defaultMessages: Record<XksErrorName, string> = {
  ValidationException: 'One or more input parameters is invalid.',
  InvalidStateException: 'The external key or key store is disabled, deactivated or blocked.',
  InvalidCiphertextException: 'The ciphertext, initialization vector, additional authenticated data or authentication tag is corrupted, missing, or otherwise invalid.',
  InvalidKeyUsageException: 'The external key does not support the requested operation.',
  AuthenticationFailedException: 'The request signature is invalid.',
  AccessDeniedException: 'The operation is not authorized based on the request metadata.',
  KeyNotFoundException: 'The external key is not found.',
  InvalidUriPathException: 'The URI path is not valid.',
  ThrottlingException: 'The request rate is too high.',
  UnsupportedOperationException: 'The operation or a parameter size is not supported.',
  DependencyTimeoutException: 'The proxy timed out while accessing the external key manager.',
  InternalException: 'An internal error occurred.',
};

/** Every core code as an XKS error name: the compiler refuses a code without one. */
export const xksErrorFor: Record<ErrorCode, XksErrorName> = {
  ValidationException: 'ValidationException',
  SerializationException: 'ValidationException',
  DisabledException: 'InvalidStateException',
  KMSInvalidStateException: 'InvalidStateException',
  InvalidCiphertextException: 'InvalidCiphertextException',
  InvalidKeyUsageException: 'InvalidKeyUsageException',
  MissingAuthenticationTokenException: 'AuthenticationFailedException',
  UnrecognizedClientException: 'AuthenticationFailedException',
  InvalidSignatureException: 'AuthenticationFailedException',
  IncompleteSignatureException: 'AuthenticationFailedException',
  AccessDeniedException: 'AccessDeniedException',
  NotFoundException: 'KeyNotFoundException',
  UnknownOperationException: 'InvalidUriPathException',
  ThrottlingException: 'ThrottlingException',
  UnsupportedOperationException: 'UnsupportedOperationException',
  RequestEntityTooLargeException: 'UnsupportedOperationException',
  DependencyTimeoutException: 'DependencyTimeoutException',
  KMSInternalException: 'InternalException',
  KeyUnavailableException: 'InternalException',
  // Codes the XKS operations never raise: if one ever did, it is the proxy's fault.
  AlreadyExistsException: 'InternalException',
  DryRunOperationException: 'InternalException',
  ExpiredImportTokenException: 'InternalException',
  IncorrectKeyException: 'InternalException',
  IncorrectKeyMaterialException: 'InternalException',
  InvalidAliasNameException: 'InternalException',
  InvalidArnException: 'InternalException',
  InvalidGrantIdException: 'InternalException',
  InvalidGrantTokenException: 'InternalException',
  InvalidImportTokenException: 'InternalException',
  InvalidMarkerException: 'InternalException',
  KMSInvalidMacException: 'InternalException',
  KMSInvalidSignatureException: 'InternalException',
  LimitExceededException: 'InternalException',
  CloudHsmClusterInUseException: 'InternalException',
  CloudHsmClusterInvalidConfigurationException: 'InternalException',
  CloudHsmClusterNotActiveException: 'InternalException',
  CloudHsmClusterNotFoundException: 'InternalException',
  CloudHsmClusterNotRelatedException: 'InternalException',
  CustomKeyStoreHasCMKsException: 'InternalException',
  CustomKeyStoreInvalidStateException: 'InternalException',
  CustomKeyStoreNameInUseException: 'InternalException',
  CustomKeyStoreNotFoundException: 'InternalException',
  IncorrectTrustAnchorException: 'InternalException',
  XksKeyAlreadyInUseException: 'InternalException',
  XksKeyInvalidConfigurationException: 'InternalException',
  XksKeyNotFoundException: 'InternalException',
  XksProxyIncorrectAuthenticationCredentialException: 'InternalException',
  XksProxyInvalidConfigurationException: 'InternalException',
  XksProxyInvalidResponseException: 'InternalException',
  XksProxyUriEndpointInUseException: 'InternalException',
  XksProxyUriInUseException: 'InternalException',
  XksProxyUriUnreachableException: 'InternalException',
  XksProxyVpcEndpointServiceInUseException: 'InternalException',
  XksProxyVpcEndpointServiceInvalidConfigurationException: 'InternalException',
  XksProxyVpcEndpointServiceNotFoundException: 'InternalException',
  MalformedPolicyDocumentException: 'InternalException',
  InvalidEventCategoryException: 'InternalException',
  InvalidLookupAttributesException: 'InternalException',
  InvalidMaxResultsException: 'InternalException',
  InvalidNextTokenException: 'InternalException',
  InvalidTimeRangeException: 'InternalException',
  TagException: 'InternalException',
};

/** The HTTP status an XKS caller is answered with for a core code. */
export function xksHttpStatusFor(code: ErrorCode): number {
  return xksStatusOf[xksErrorFor[code]];
}

const MAX_MESSAGE = 511;

/** Printable ASCII (0x20-0x7e), under 512 characters, as the spec requires of errorMessage. */
export function xksErrorMessage(message: string): string {
  const printable = message.replace(/[^\x20-\x7e]/g, '?');
  return printable.length <= MAX_MESSAGE ? printable : `${printable.slice(0, MAX_MESSAGE - 3)}...`;
}

/** Writes `error` in the spec's shape; `status` overrides the table (405 for a method not allowed). */
export function writeXksError(res: Response, error: KmsError, status?: number): void {
  const name = xksErrorFor[error.code];
  // Internal errors never show their message: it may describe the proxy's insides.
  const message = name === 'InternalException' ? defaultMessages.InternalException : error.message || defaultMessages[name];
  res.status(status ?? xksStatusOf[name]).type('application/json');
  res.send(JSON.stringify({ errorName: name, errorMessage: xksErrorMessage(message) }));
}
