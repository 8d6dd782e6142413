// The KMS API's error table: HTTP status for each core error code, as AWS KMS answers them,
// and the error shape {"__type", "message"} with x-amzn-ErrorType.
import type { Response } from 'express';
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
  SerializationException: 400,
  UnknownOperationException: 400,
  MissingAuthenticationTokenException: 403,
  UnrecognizedClientException: 400,
  InvalidSignatureException: 400,
  IncompleteSignatureException: 400,
  RequestEntityTooLargeException: 413,
};

/** Writes `error` in AWS's JSON 1.1 shape; `status` overrides the table (a 404 for an unknown path). */
export function writeKmsError(res: Response, error: KmsError, status = httpStatusFor[error.code]): void {
  res.status(status).type('application/x-amz-json-1.1').setHeader('x-amzn-ErrorType', error.code);
  res.send(JSON.stringify({ __type: error.code, message: error.message }));
}
