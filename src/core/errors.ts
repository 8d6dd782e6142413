// The closed set of errors the service can answer with. Every wire protocol maps each code
// in its own Record<ErrorCode, ...> table, so a new code without a mapping fails to compile.

export const errorCodes = [
  // KMS API errors
  'AccessDeniedException',
  'AlreadyExistsException',
  'DependencyTimeoutException',
  'DisabledException',
  'DryRunOperationException',
  'ExpiredImportTokenException',
  'IncorrectKeyException',
  'IncorrectKeyMaterialException',
  'InvalidAliasNameException',
  'InvalidArnException',
  'InvalidCiphertextException',
  'InvalidGrantIdException',
  'InvalidGrantTokenException',
  'InvalidImportTokenException',
  'InvalidKeyUsageException',
  'InvalidMarkerException',
  'KMSInternalException',
  'KMSInvalidMacException',
  'KMSInvalidSignatureException',
  'KMSInvalidStateException',
  'KeyUnavailableException',
  'LimitExceededException',
  'MalformedPolicyDocumentException',
  'NotFoundException',
  'TagException',
  'ThrottlingException',
  'UnsupportedOperationException',
  'ValidationException',
  // custom key store errors
  'CloudHsmClusterInUseException',
  'CloudHsmClusterInvalidConfigurationException',
  'CloudHsmClusterNotActiveException',
  'CloudHsmClusterNotFoundException',
  'CloudHsmClusterNotRelatedException',
  'CustomKeyStoreHasCMKsException',
  'CustomKeyStoreInvalidStateException',
  'CustomKeyStoreNameInUseException',
  'CustomKeyStoreNotFoundException',
  'IncorrectTrustAnchorException',
  'XksKeyAlreadyInUseException',
  'XksKeyInvalidConfigurationException',
  'XksKeyNotFoundException',
  'XksProxyIncorrectAuthenticationCredentialException',
  'XksProxyInvalidConfigurationException',
  'XksProxyInvalidResponseException',
  'XksProxyUriEndpointInUseException',
  'XksProxyUriInUseException',
  'XksProxyUriUnreachableException',
  'XksProxyVpcEndpointServiceInUseException',
  'XksProxyVpcEndpointServiceInvalidConfigurationException',
  'XksProxyVpcEndpointServiceNotFoundException',
  // CloudTrail LookupEvents errors
  'InvalidEventCategoryException',
  'InvalidLookupAttributesException',
  'InvalidMaxResultsException',
  'InvalidNextTokenException',
  'InvalidTimeRangeException',
  // protocol and authentication errors
  'SerializationException',
  'UnknownOperationException',
  'MissingAuthenticationTokenException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'RequestEntityTooLargeException',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

export class KmsError extends Error {
  /** Diagnostic detail for logs only; never sent to the caller. */
  readonly detail?: string;

  constructor(readonly code: ErrorCode, message = '', detail?: string) {
    super(message);
    this.name = code;
    this.detail = detail;
  }
}

export function isKmsError(e: unknown): e is KmsError {
  return e instanceof KmsError;
}

/** Thrown by a store when an optimistic-concurrency check fails; operations retry. */
export class RevisionConflictError extends Error {
  constructor(what: string) {
    super(`revision conflict on ${what}`);
    this.name = 'RevisionConflictError';
  }
}

/** Thrown by a store when a unique key already exists. */
export class DuplicateRecordError extends Error {
  constructor(what: string) {
    super(`duplicate ${what}`);
    this.name = 'DuplicateRecordError';
  }
}

/** Messages AWS uses verbatim; kept together so every operation words them the same way. */
export const messages = {
  keyDoesNotExist: (arn: string) => `Key '${arn}' does not exist`,
  invalidKeyId: (keyId: string) => `Invalid keyId '${keyId}'`,
  aliasDoesNotExist: (aliasArn: string) => `Alias ${aliasArn} is not found.`,
  disabled: (arn: string) => `${arn} is disabled.`,
  pendingDeletion: (arn: string) => `${arn} is pending deletion.`,
  pendingImport: (arn: string) => `${arn} is pending import.`,
  unavailable: (arn: string) => `${arn} is unavailable.`,
  keyUnavailable: 'The request was rejected because the specified KMS key was not available.',
  incorrectKey: 'The key ID in the request does not identify a CMK that can perform this operation.',
  dryRun: 'The request would have succeeded, but the DryRun option is set.',
  wrongUsage: (arn: string, usage: string, op: string) => `${arn} key usage is ${usage} which is not valid for ${op}.`,
  incompatibleAlgorithm: (algorithm: string, spec: string) => `Algorithm ${algorithm} is incompatible with key spec ${spec}.`,
  internal: 'An internal error occurred. Retry the request; if it keeps failing, contact the operator with the request id.',
} as const;

/** Any failure as a KmsError: one that is not is a bug or an adapter failure, and its detail stays internal. */
export function asKmsError(e: unknown): KmsError {
  if (e instanceof KmsError) return e;
  return new KmsError('KMSInternalException', messages.internal, e instanceof Error ? `${e.name}: ${e.message}` : String(e));
}
