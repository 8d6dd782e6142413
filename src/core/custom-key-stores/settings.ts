// The settings of a custom key store as CreateCustomKeyStore and UpdateCustomKeyStore take
// them: their fields, AWS's constraints, and the on-premises differences (a port may be given;
// plain http only to a loopback proxy; no VPC endpoint services).
import { X509Certificate } from 'node:crypto';
import type { CoreDeps } from '../deps';
import { KmsError } from '../errors';
import type { XksProxyEndpoint } from '../key-stores/connectors';
import { s } from '../api/schema';
import { xksProxyConnectivities, type KeyScope, type XksProxyConnectivity } from '../model';
import { checkProxyHealth } from './external-key-store';
import { keyStoreManagementError } from './xks-failures';

export const customKeyStoreIdField = () => s.string({ min: 1, max: 64 });
export const customKeyStoreNameField = () => s.string({ min: 1, max: 256 });
/** AWS: cluster-<11-16 base32 characters>, 19-24 characters. */
export const cloudHsmClusterIdField = () => s.string({ min: 19, max: 24 });
export const trustAnchorCertificateField = () => s.string({ min: 1, max: 5000 });
/** The kmsuser password: 7-32 characters. Secret: never recorded. */
export const keyStorePasswordField = () => s.secret(s.string({ min: 7, max: 32 }));
export const xksProxyUriEndpointField = () => s.string({ min: 10, max: 128 });
export const xksProxyUriPathField = () => s.string({ min: 10, max: 128, pattern: /^(\/[a-zA-Z0-9/_-]+\/kms\/xks\/v\d{1,2})$|^(\/kms\/xks\/v\d{1,2})$/ });
export const xksProxyVpcEndpointServiceNameField = () => s.string({ min: 20, max: 64 });
export const xksProxyConnectivityField = () => s.enum(xksProxyConnectivities);
/** Both members are secret to the record (AWS's SDKs mark both sensitive). */
export const xksProxyAuthenticationCredentialField = () => s.secret(s.structure({
  AccessKeyId: s.required(s.string({ min: 20, max: 30, pattern: /^[A-Z2-7]+$/ })),
  RawSecretAccessKey: s.required(s.string({ min: 43, max: 64, pattern: /^[a-zA-Z0-9/+=]+$/ })),
}));

/** The XKS proxy settings, as both CreateCustomKeyStore and UpdateCustomKeyStore take them. */
export const xksProxySettingsFields = () => ({
  XksProxyUriEndpoint: xksProxyUriEndpointField(),
  XksProxyUriPath: xksProxyUriPathField(),
  XksProxyVpcEndpointServiceName: xksProxyVpcEndpointServiceNameField(),
  XksProxyAuthenticationCredential: xksProxyAuthenticationCredentialField(),
  XksProxyConnectivity: xksProxyConnectivityField(),
});

/** Cluster ids as the operator declares them: AWS's form. */
export const CLUSTER_ID_PATTERN = /^cluster-[a-z2-7]{11,16}$/;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const endpointPattern = /^(https?):\/\/([a-zA-Z0-9.-]+|\[::1\])(?::(\d{1,5}))?$/;

// Precondition: an XKS proxy endpoint is https (a port may be given), or http to a loopback host only.
export function checkXksProxyUriEndpoint(endpoint: string): void {
  const match = endpointPattern.exec(endpoint);
  if (!match) throw new KmsError('ValidationException', `XksProxyUriEndpoint '${endpoint}' is not valid. Specify https:// and a host name, optionally with :port, and nothing else.`);
  const [, scheme, host, port] = match as unknown as [string, string, string, string | undefined];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw new KmsError('ValidationException', `XksProxyUriEndpoint '${endpoint}' has an invalid port.`);
  if (scheme === 'http' && !LOOPBACK_HOSTS.has(host.toLowerCase())) {
    throw new KmsError('ValidationException', `XksProxyUriEndpoint must use https://; plain http:// is accepted only for a proxy on a loopback address (127.0.0.1, localhost, [::1]).`);
  }
}

// Precondition: VPC endpoint service connectivity has no meaning on-premises and is refused.
export function checkXksProxyConnectivity(connectivity: XksProxyConnectivity, vpcEndpointServiceName: string | undefined): void {
  if (connectivity === 'VPC_ENDPOINT_SERVICE' || vpcEndpointServiceName !== undefined) {
    throw new KmsError('UnsupportedOperationException', 'XksProxyConnectivity VPC_ENDPOINT_SERVICE is not supported by this on-premises service: there is no Amazon VPC. Use PUBLIC_ENDPOINT with the proxy\'s https:// endpoint.');
  }
}

// Precondition: the trust anchor certificate is a PEM X.509 certificate.
export function checkTrustAnchorCertificate(pem: string): void {
  try {
    new X509Certificate(pem);
  } catch {
    throw new KmsError('IncorrectTrustAnchorException', 'The trust anchor certificate is not a valid PEM-encoded X.509 certificate.');
  }
}

/** Endpoint + path are unique per account and region (XksProxyUriInUseException). */
export async function checkXksProxyUriUnused(deps: CoreDeps, scope: KeyScope, uriEndpoint: string, uriPath: string, exceptId?: string): Promise<void> {
  let marker: string | undefined;
  do {
    const page = await deps.store.customKeyStores.list(scope, { limit: 100, marker });
    for (const other of page.items) {
      if (other.customKeyStoreId === exceptId || !other.xks) continue;
      if (other.xks.uriEndpoint === uriEndpoint && other.xks.uriPath === uriPath) {
        throw new KmsError('XksProxyUriInUseException', `The XKS proxy URI ${uriEndpoint}${uriPath} is already used by custom key store ${other.customKeyStoreId}.`);
      }
    }
    marker = page.nextMarker;
  } while (marker);
}

/** Create and Update validate a proxy with GetHealthStatus before they record it. */
export async function validateXksProxy(deps: CoreDeps, endpoint: XksProxyEndpoint, requestId: string, operation: string): Promise<void> {
  const proxies = deps.connectors?.xksProxies;
  if (!proxies) throw new KmsError('UnsupportedOperationException', 'External key stores are not available on this instance.');
  const client = proxies.open(endpoint);
  try {
    const { outcome, detail } = await checkProxyHealth(client, requestId, operation);
    if (outcome) throw keyStoreManagementError(outcome, detail);
  } finally {
    await client.close();
  }
}

/** AWS: a cluster must be declared to this service; an undeclared one does not exist. */
export function checkClusterDeclared(deps: CoreDeps, clusterId: string): void {
  if (!deps.connectors?.tokenClusters?.has(clusterId)) {
    throw new KmsError('CloudHsmClusterNotFoundException', `Cluster '${clusterId}' is not found. Declare it in the service's cluster file (KMS_HSM_CLUSTERS_FILE).`);
  }
}

/** A cluster serves one custom key store. */
export async function checkClusterUnused(deps: CoreDeps, clusterId: string, exceptId?: string): Promise<void> {
  const users = (await deps.store.customKeyStores.findByClusterId(clusterId)).filter((r) => r.customKeyStoreId !== exceptId);
  if (users.length > 0) throw new KmsError('CloudHsmClusterInUseException', `Cluster '${clusterId}' is already associated with a custom key store.`);
}
