// The KMS API's error table: HTTP status for each core error code, as AWS KMS answers them,
// and the error shape {"__type", "message"} with x-amzn-ErrorType.
import type { ServerResponse } from 'node:http';
import type { ErrorCode, KmsError } from '../../core/errors';

export const httpStatusFor: Record<ErrorCode, number> = {
  AccessDeniedException: 400,
  AlreadyExistsException: 400,
  DependencyTimeoutException: 503,
  DisabledException: 400,
  DryRunOperationException: 400,
  ExpiredImportTokenException: 400,
  IncorrectKeyException: 400,
  IncorrectKeyMaterialException: 400,
  InvalidAliasNameException: 400,
  InvalidArnException: 400,
  InvalidCiphertextException: 400,
  InvalidGrantIdException: 400,
  InvalidGrantTokenException: 400,
  InvalidImportTokenException: 400,
  InvalidKeyUsageException: 400,
  InvalidMarkerException: 400,
  KMSInternalException: 500,
  KMSInvalidMacException: 400,
  KMSInvalidSignatureException: 400,
  KMSInvalidStateException: 400,
  KeyUnavailableException: 500,
  LimitExceededException: 400,
  MalformedPolicyDocumentException: 400,
  NotFoundException: 400,
  TagException: 400,
  ThrottlingException: 400,
  UnsupportedOperationException: 400,
  ValidationException: 400,
  CloudHsmClusterInUseException: 400,
  CloudHsmClusterInvalidConfigurationException: 400,
  CloudHsmClusterNotActiveException: 400,
  CloudHsmClusterNotFoundException: 400,
  CloudHsmClusterNotRelatedException: 400,
  CustomKeyStoreHasCMKsException: 400,
  CustomKeyStoreInvalidStateException: 400,
  CustomKeyStoreNameInUseException: 400,
  CustomKeyStoreNotFoundException: 400,
  IncorrectTrustAnchorException: 400,
  XksKeyAlreadyInUseException: 400,
  XksKeyInvalidConfigurationException: 400,
  XksKeyNotFoundException: 400,
  XksProxyIncorrectAuthenticationCredentialException: 400,
  XksProxyInvalidConfigurationException: 400,
  XksProxyInvalidResponseException: 400,
  XksProxyUriEndpointInUseException: 400,
  XksProxyUriInUseException: 400,
  XksProxyUriUnreachableException: 400,
  XksProxyVpcEndpointServiceInUseException: 400,
  XksProxyVpcEndpointServiceInvalidConfigurationException: 400,
  XksProxyVpcEndpointServiceNotFoundException: 400,
  InvalidEventCategoryException: 400,
  InvalidLookupAttributesException: 400,
  InvalidMaxResultsException: 400,
  InvalidNextTokenException: 400,
  InvalidTimeRangeException: 400,
  SerializationException: 400,
  UnknownOperationException: 400,
  MissingAuthenticationTokenException: 403,
  UnrecognizedClientException: 400,
  InvalidSignatureException: 400,
  IncompleteSignatureException: 400,
  RequestEntityTooLargeException: 413,
};

/** The header every KMS response carries its request id in. */
export const REQUEST_ID_HEADER = 'x-amzn-RequestId';

/**
 * Writes `error` in AWS's JSON 1.1 shape; `status` overrides the table (a 404 for an unknown
 * path). Node's own response methods, so it serves Express's routes and the KMS hot path alike.
 */
export function writeKmsError(res: ServerResponse, error: KmsError, status = httpStatusFor[error.code]): void {
  const payload = Buffer.from(JSON.stringify({ __type: error.code, message: error.message }));
  res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1', 'Content-Length': payload.length, 'x-amzn-ErrorType': error.code });
  res.end(payload);
}
