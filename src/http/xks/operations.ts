// The XKS proxy API's dispatch table: the last segment of each URI, and the core operation.
import type { DispatchableOperation } from '../../core/api/operation';
import { xksDecrypt } from '../../core/xks-proxy/decrypt';
import { xksEncrypt } from '../../core/xks-proxy/encrypt';
import { xksGetHealthStatus } from '../../core/xks-proxy/get-health-status';
import { xksGetKeyMetadata } from '../../core/xks-proxy/get-key-metadata';
import { XKS_API_PATH } from '../../xks-config';

export type XksApi = 'health' | 'metadata' | 'encrypt' | 'decrypt';

export const xksOperations: Record<XksApi, DispatchableOperation> = {
  health: xksGetHealthStatus,
  metadata: xksGetKeyMetadata,
  encrypt: xksEncrypt,
  decrypt: xksDecrypt,
};


export interface XksRoute {
  /** The key store's URI path prefix, as received: '' or '/…'. */
  prefix: string;
  api: XksApi;
  /** The key APIs' {externalKeyId}, as received (not yet checked). */
  externalKeyId?: string;
}

const keyRoute = /^(.*)\/kms\/xks\/v1\/keys\/([^/]*)\/(metadata|encrypt|decrypt)$/;
const healthSuffix = `${XKS_API_PATH}/health`;

/** The route a raw path names, or undefined when it names no XKS API. The prefix is not checked here. */
export function xksRoute(path: string): XksRoute | undefined {
  if (path.endsWith(healthSuffix)) return { prefix: path.slice(0, -healthSuffix.length), api: 'health' };
  const m = keyRoute.exec(path);
  return m ? { prefix: m[1]!, api: m[3] as XksApi, externalKeyId: m[2]! } : undefined;
}
