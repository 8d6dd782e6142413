// External keys: the keys this service holds for the other side of AWS's external key store
// design, where hsm-kms is the XKS proxy. Each is an AES-256 key in a token, in one key store
// (a URI path prefix of the proxy), with a permitted usage the token itself enforces. Only this
// metadata is stored; the key is a token object named by `backing`.

export const externalKeyUsages = ['ENCRYPT', 'DECRYPT'] as const;
export type ExternalKeyUsage = (typeof externalKeyUsages)[number];

export const externalKeyStatuses = ['ENABLED', 'DISABLED'] as const;
export type ExternalKeyStatus = (typeof externalKeyStatuses)[number];

export interface ExternalKeyRecord {
  /** The key store's URI path prefix: '' or, for example, '/keystores/alpha'. */
  keyStorePrefix: string;
  /** The id the XKS APIs name the key by: 1 to 128 of [A-Za-z0-9._-]. */
  externalKeyId: string;
  /** What the token lets the key do (CKA_ENCRYPT, CKA_DECRYPT), in this order, each at most once. */
  usage: ExternalKeyUsage[];
  status: ExternalKeyStatus;
  /** The token holding the key (a key store id, "default" for the default token) and the object's CKA_ID. */
  backing: { tokenId: string; objectId: string };
  createdAt: Date;
  updatedAt: Date;
  /** Bumped by every stored change: optimistic concurrency. */
  revision: number;
}

export const EXTERNAL_KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** What the spec allows in an XksProxyUriPath: a-z, A-Z, 0-9, '/', '-' and '_'. */
const prefixPattern = /^(?:\/[A-Za-z0-9_-]+)+$/;
export const KEY_STORE_PREFIX_LENGTH = { min: 9, max: 117 } as const;

/** '' or 9 to 117 characters of '/'-separated, non-empty segments of [A-Za-z0-9_-]. */
export function isKeyStorePrefix(prefix: string): boolean {
  if (prefix === '') return true;
  return prefix.length >= KEY_STORE_PREFIX_LENGTH.min && prefix.length <= KEY_STORE_PREFIX_LENGTH.max && prefixPattern.test(prefix);
}

/** The usages in canonical order, without repeats. */
export function canonicalUsage(usage: readonly ExternalKeyUsage[]): ExternalKeyUsage[] {
  return externalKeyUsages.filter((u) => usage.includes(u));
}

/** What the admin command shows of a key: everything but the revision. */
export function externalKeyView(key: ExternalKeyRecord) {
  return {
    keyStorePrefix: key.keyStorePrefix,
    externalKeyId: key.externalKeyId,
    usage: key.usage,
    status: key.status,
    tokenId: key.backing.tokenId,
    objectId: key.backing.objectId,
    createdAt: key.createdAt,
    updatedAt: key.updatedAt,
  };
}
