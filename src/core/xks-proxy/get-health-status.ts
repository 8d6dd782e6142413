// XKS GetHealthStatus: the proxy and every token behind it, each checked with a real
// encryption and decryption (answers cached for a few seconds). Never subject to secondary
// authorization. A token that fails is reported UNAVAILABLE; the call itself still succeeds.
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { xksDepsOf } from './keys';
import { healthRequestMetadata } from './request-metadata';

export const XKS_PROXY_VENDOR = 'hsm-kms';
export const XKS_PROXY_MODEL = 'hsm-kms XKS proxy 0.1.0 (XKS proxy API 1.0)';

export const xksGetHealthStatus = defineOperation({
  name: 'GetHealthStatus',
  input: schema({ requestMetadata: s.required(healthRequestMetadata()) }),
  async run(deps) {
    const proxy = xksDepsOf(deps);
    const fleet = await proxy.health.fleet();
    const vendors = [...new Set(fleet.map((member) => member.vendor))];
    return {
      xksProxyFleetSize: proxy.fleetSize(),
      xksProxyVendor: XKS_PROXY_VENDOR,
      xksProxyModel: XKS_PROXY_MODEL,
      ekmVendor: vendors.join(', ') || 'none',
      ekmFleetDetails: fleet.map(({ id, model, healthStatus }) => ({ id, model, healthStatus })),
    };
  },
});
