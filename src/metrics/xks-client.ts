// This service as AWS KMS, calling the XKS proxies of its external key stores: every call's
// latency and every failure with AWS's XksProxyLatency/XksProxyErrors dimensions. A decorator
// of the connector port, so src/xks-client knows nothing of metrics.
import { Counter, Histogram, type Registry } from 'prom-client';
import { XksProxyFailure, type XksProxyClient, type XksProxyConnector } from '../core/key-stores/connectors';
import { LATENCY_BUCKETS, PREFIX } from './registry';
import { XKS_ERROR_LABELS, XKS_LATENCY_LABELS, xksErrorType } from './xks-dimensions';

/** Registers the XKS client metrics once; returns the decorator for any number of connectors. */
export function xksClientMetrics(registry: Registry): (connector: XksProxyConnector) => XksProxyConnector {
  const latency = new Histogram({
    name: `${PREFIX}xks_client_latency_seconds`, help: 'Calls to external key stores\' XKS proxies (AWS XksProxyLatency dimensions).',
    labelNames: XKS_LATENCY_LABELS, buckets: LATENCY_BUCKETS, registers: [registry],
  });
  const errors = new Counter({
    name: `${PREFIX}xks_client_errors_total`, help: 'Failed calls to external key stores\' XKS proxies (AWS XksProxyErrors dimensions).',
    labelNames: XKS_ERROR_LABELS, registers: [registry],
  });
  return (connector) => ({
    open(endpoint) {
      const client = connector.open(endpoint);
      // While CreateCustomKeyStore validates a proxy, the store has no id yet.
      const CustomKeyStoreId = endpoint.customKeyStoreId ?? '';
      const timed = <T>(XksOperation: string, KmsOperation: string, call: () => Promise<T>): Promise<T> => {
        const labels = { CustomKeyStoreId, KmsOperation, XksOperation };
        const stop = latency.startTimer(labels);
        return call().then((result) => {
          stop();
          return result;
        }, (e: unknown) => {
          stop();
          const exceptionName = e instanceof XksProxyFailure ? e.kind : 'InternalException';
          errors.inc({ ...labels, ErrorType: xksErrorType(exceptionName), ExceptionName: exceptionName });
          throw e;
        });
      };
      const instrumented: XksProxyClient = {
        encrypt: (id, aad, plaintext, call) => timed('Encrypt', call.operation, () => client.encrypt(id, aad, plaintext, call)),
        decrypt: (id, aad, sealed, call) => timed('Decrypt', call.operation, () => client.decrypt(id, aad, sealed, call)),
        getKeyMetadata: (id, call) => timed('GetKeyMetadata', call.operation, () => client.getKeyMetadata(id, call)),
        getHealthStatus: (call) => timed('GetHealthStatus', call.operation, () => client.getHealthStatus(call)),
        close: () => client.close(),
      };
      return instrumented;
    },
  });
}
