// What an XKS proxy call knows besides its body: the key store its URI names (already matched
// to the credential that signed it), the external key in the URI, and the store's policies.
import type { XksHealthMonitor } from './health';

export interface XksCallContext {
  /** The key store's URI path prefix ('' for none). */
  keyStorePrefix: string;
  /** The {externalKeyId} of the key APIs' URIs, as received. */
  externalKeyId?: string;
  /** Secondary authorization: identity-style policy documents (JSON); none turns it off. */
  policies: readonly string[];
}

/** What the XKS proxy's operations need beyond CoreDeps' ports. */
export interface XksProxyDeps {
  health: XksHealthMonitor;
  /** xksProxyFleetSize for GetHealthStatus: how many proxy instances serve these key stores. */
  fleetSize(): number;
  /** How long a token call may take before the proxy answers DependencyTimeoutException. */
  tokenTimeoutMs: number;
}
