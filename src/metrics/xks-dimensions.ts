// AWS's dimensions of XksProxyErrors and XksProxyLatency (KMS-SPEC §CloudWatch metrics), shared
// by the proxy this service serves (calls.ts) and the proxies it calls as AWS KMS (xks-client.ts).
// Label names are AWS's own, so a dashboard built for CloudWatch maps one to one.

export const XKS_LATENCY_LABELS = ['CustomKeyStoreId', 'KmsOperation', 'XksOperation'] as const;
export const XKS_ERROR_LABELS = ['CustomKeyStoreId', 'KmsOperation', 'XksOperation', 'ErrorType', 'ExceptionName'] as const;

/**
 * Errors worth retrying, as AWS splits ErrorType: the proxy was busy, slow or unreachable.
 * Everything else (a refused signature, a missing key, a bad answer) will fail again.
 */
const retryable = new Set(['ThrottlingException', 'DependencyTimeoutException', 'InternalException', 'XksProxyUnreachableException', 'XksProxyTimedOut']);

export function xksErrorType(exceptionName: string): 'retryable' | 'non-retryable' {
  return retryable.has(exceptionName) ? 'retryable' : 'non-retryable';
}
