// The XKS proxy client adapter: how hsm-kms, acting as AWS KMS, calls an external key store
// proxy (core's XksProxyConnector port, src/core/key-stores/connectors.ts).
export { XKS_CLIENT_DEFAULTS, XksHttpClient, XksHttpConnector, type XksClientOptions } from './client';
export { NodeSha256, XKS_SIGNING_SERVICE, XksRequestSigner } from './signing';
