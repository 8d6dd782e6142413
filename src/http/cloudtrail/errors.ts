// CloudTrail's error table: each core error code as the name and HTTP status CloudTrail answers
// with, written in AWS JSON 1.1's error shape with CloudTrail's `Message` member. LookupEvents
// raises only CloudTrail's own codes and the protocol's; a KMS-only code reaching this table is
// a fault of ours and answers as an internal failure, with no detail.
import type { ServerResponse } from 'node:http';
import type { ErrorCode, KmsError } from '../../core/errors';

export interface CloudTrailError {
  /** The `__type` and x-amzn-ErrorType the caller sees. */
  type: string;
  status: number;
}

/** AWS's common error for an unexpected server-side failure. */
const internalFailure: CloudTrailError = { type: 'InternalFailure', status: 500 };
const INTERNAL_FAILURE_MESSAGE = 'An internal error occurred. Retry the request; if it keeps failing, contact the operator with the request id.';

export const cloudTrailErrorFor: Record<ErrorCode, CloudTrailError> = {
  AccessDeniedException: { type: 'AccessDeniedException', status: 400 },
  AlreadyExistsException: internalFailure,
  DependencyTimeoutException: internalFailure,
  DisabledException: internalFailure,
  DryRunOperationException: internalFailure,
  ExpiredImportTokenException: internalFailure,
  IncorrectKeyException: internalFailure,
  IncorrectKeyMaterialException: internalFailure,
  InvalidAliasNameException: internalFailure,
  InvalidArnException: internalFailure,
  InvalidCiphertextException: internalFailure,
  InvalidGrantIdException: internalFailure,
  InvalidGrantTokenException: internalFailure,
  InvalidImportTokenException: internalFailure,
  InvalidKeyUsageException: internalFailure,
  InvalidMarkerException: internalFailure,
  KMSInternalException: internalFailure,
  KMSInvalidMacException: internalFailure,
  KMSInvalidSignatureException: internalFailure,
  KMSInvalidStateException: internalFailure,
  KeyUnavailableException: internalFailure,
  LimitExceededException: internalFailure,
  MalformedPolicyDocumentException: internalFailure,
  NotFoundException: internalFailure,
  TagException: internalFailure,
  ThrottlingException: { type: 'ThrottlingException', status: 400 },
  UnsupportedOperationException: { type: 'UnsupportedOperationException', status: 400 },
  ValidationException: { type: 'ValidationException', status: 400 },
  CloudHsmClusterInUseException: internalFailure,
  CloudHsmClusterInvalidConfigurationException: internalFailure,
  CloudHsmClusterNotActiveException: internalFailure,
  CloudHsmClusterNotFoundException: internalFailure,
  CloudHsmClusterNotRelatedException: internalFailure,
  CustomKeyStoreHasCMKsException: internalFailure,
  CustomKeyStoreInvalidStateException: internalFailure,
  CustomKeyStoreNameInUseException: internalFailure,
  CustomKeyStoreNotFoundException: internalFailure,
  IncorrectTrustAnchorException: internalFailure,
  XksKeyAlreadyInUseException: internalFailure,
  XksKeyInvalidConfigurationException: internalFailure,
  XksKeyNotFoundException: internalFailure,
  XksProxyIncorrectAuthenticationCredentialException: internalFailure,
  XksProxyInvalidConfigurationException: internalFailure,
  XksProxyInvalidResponseException: internalFailure,
  XksProxyUriEndpointInUseException: internalFailure,
  XksProxyUriInUseException: internalFailure,
  XksProxyUriUnreachableException: internalFailure,
  XksProxyVpcEndpointServiceInUseException: internalFailure,
  XksProxyVpcEndpointServiceInvalidConfigurationException: internalFailure,
  XksProxyVpcEndpointServiceNotFoundException: internalFailure,
  InvalidEventCategoryException: { type: 'InvalidEventCategoryException', status: 400 },
  InvalidLookupAttributesException: { type: 'InvalidLookupAttributesException', status: 400 },
  InvalidMaxResultsException: { type: 'InvalidMaxResultsException', status: 400 },
  InvalidNextTokenException: { type: 'InvalidNextTokenException', status: 400 },
  InvalidTimeRangeException: { type: 'InvalidTimeRangeException', status: 400 },
  SerializationException: { type: 'SerializationException', status: 400 },
  UnknownOperationException: { type: 'UnknownOperationException', status: 400 },
  MissingAuthenticationTokenException: { type: 'MissingAuthenticationTokenException', status: 403 },
  UnrecognizedClientException: { type: 'UnrecognizedClientException', status: 400 },
  InvalidSignatureException: { type: 'InvalidSignatureException', status: 400 },
  IncompleteSignatureException: { type: 'IncompleteSignatureException', status: 400 },
  RequestEntityTooLargeException: { type: 'RequestEntityTooLargeException', status: 413 },};

/** Writes `error` as CloudTrail does; `status` overrides the table. Internal failures never show their message. */
export function writeCloudTrailError(res: ServerResponse, error: KmsError, status?: number): void {
  const { type, status: tableStatus } = cloudTrailErrorFor[error.code];
  const message = type === internalFailure.type ? INTERNAL_FAILURE_MESSAGE : error.message;
  const payload = Buffer.from(JSON.stringify({ __type: type, Message: message }));
  res.writeHead(status ?? tableStatus, { 'Content-Type': 'application/x-amz-json-1.1', 'Content-Length': payload.length, 'x-amzn-ErrorType': type });
  res.end(payload);
}
