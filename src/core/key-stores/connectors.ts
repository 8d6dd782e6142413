// How core reaches the key stores behind custom key stores: further PKCS#11 tokens the operator
// declared (AWS_CLOUDHSM stores) and XKS proxies (EXTERNAL_KEY_STORE stores). Adapters
// implement these ports (src/pkcs11/clusters.ts, src/xks-client); core decides what each
// outcome means for the API (custom-key-stores/).
import type { ConnectionErrorCode } from '../model';
import type { AesGcmSealed, KeyStore, KeyStoreCall } from './port';

/** A connection attempt that failed, with the ConnectionErrorCode AWS would report. */
export class KeyStoreConnectionError extends Error {
  constructor(readonly code: ConnectionErrorCode, readonly detail: string) {
    super(`${code}: ${detail}`);
    this.name = 'KeyStoreConnectionError';
  }
}

/** The tokens custom key stores may use, declared by the operator and named by cluster id. */
export interface TokenClusters {
  has(clusterId: string): boolean;
  /**
   * Logs in to the cluster's token as the user with `pin` and opens a session pool: a KeyStore
   * whose id is `customKeyStoreId` (the id its BackingKeyRefs carry), offering keyObjects (AES
   * keys only) and randomBytes. Throws KeyStoreConnectionError: INVALID_CREDENTIALS for a wrong
   * PIN, USER_LOCKED_OUT for a locked one, CLUSTER_NOT_FOUND for a missing module or token,
   * NETWORK_ERRORS when the token does not answer. Closing the store logs out.
   */
  connect(customKeyStoreId: string, clusterId: string, pin: string): Promise<KeyStore>;
}

/** Where an XKS proxy is and how to sign for it. */
export interface XksProxyEndpoint {
  /** "https://host[:port]" (http:// only for loopback hosts, checked by core). */
  uriEndpoint: string;
  /** Ends in "/kms/xks/v1". */
  uriPath: string;
  accessKeyId: string;
  rawSecretAccessKey: string;
  /** The region of the custom key store: requests are signed for it, as AWS KMS signs in its own region. */
  region?: string;
  /** The custom key store this endpoint serves, once it exists (for metrics; absent while CreateCustomKeyStore validates). */
  customKeyStoreId?: string;
}

/**
 * What went wrong in a call to an XKS proxy: the error name the proxy returned (XKS proxy API
 * §errors), or one of ours for what happened on the way.
 */
export const xksProxyFailureKinds = [
  'AccessDeniedException', 'AuthenticationFailedException', 'DependencyTimeoutException', 'InternalException',
  'InvalidCiphertextException', 'InvalidKeyUsageException', 'InvalidStateException', 'InvalidUriPathException',
  'KeyNotFoundException', 'ThrottlingException', 'UnsupportedOperationException', 'ValidationException',
  /** No connection: refused, reset, unknown host. */
  'XksProxyUnreachableException',
  /** No answer within the deadline (after the one retry of a network timeout). */
  'XksProxyTimedOut',
  /** An answer that is not what the API specifies: not JSON, missing fields, wrong sizes, a CDIV that does not match. */
  'XksProxyInvalidResponse',
  /** TLS failed: the certificate did not verify, or the handshake was refused. */
  'XksProxyInvalidTlsConfiguration',
] as const;
export type XksProxyFailureKind = (typeof xksProxyFailureKinds)[number];

export class XksProxyFailure extends Error {
  constructor(readonly kind: XksProxyFailureKind, readonly detail: string) {
    super(`${kind}: ${detail}`);
    this.name = 'XksProxyFailure';
  }
}

/** The proxy's Encrypt answer; `metadata` is its optional ciphertextMetadata (≤ 20 bytes). IV of 12 or 16 bytes. */
export interface XksSealed extends AesGcmSealed {
  metadata?: Buffer;
}

export interface XksKeyMetadata {
  keySpec: string;
  keyUsage: string[];
  keyStatus: string;
}

export interface XksHealth {
  xksProxyFleetSize: number;
  xksProxyVendor: string;
  xksProxyModel: string;
  ekmVendor: string;
  ekmFleetDetails: { id: string; model: string; healthStatus: string }[];
}

/**
 * One XKS proxy, over kept-alive connections, every request SigV4-signed (service
 * "kms-xks-proxy") with the store's credential and carrying requestMetadata from `call`. Each
 * call throws XksProxyFailure for every failure. Encrypt asks for a SHA_256 CDIV and checks it.
 */
export interface XksProxyClient {
  encrypt(xksKeyId: string, aad: Buffer, plaintext: Buffer, call: KeyStoreCall): Promise<XksSealed>;
  decrypt(xksKeyId: string, aad: Buffer, sealed: XksSealed, call: KeyStoreCall): Promise<Buffer>;
  getKeyMetadata(xksKeyId: string, call: KeyStoreCall): Promise<XksKeyMetadata>;
  /** requestMetadata carries only the operation and request id, as AWS sends for health checks. */
  getHealthStatus(call: Pick<KeyStoreCall, 'operation' | 'requestId'>): Promise<XksHealth>;
  close(): Promise<void>;
}

export interface XksProxyConnector {
  /** A client for `endpoint`; opening does no I/O. */
  open(endpoint: XksProxyEndpoint): XksProxyClient;
}

/** The connectors core is given; absent ones make the matching store type unavailable. */
export interface KeyStoreConnectors {
  tokenClusters?: TokenClusters;
  xksProxies?: XksProxyConnector;
}
