// Requests as metrics: one observer on the core seam (CoreService) counts every call and records
// its latency by source, operation, outcome and error code. XKS proxy calls this service serves
// also feed AWS's XksProxyErrors/XksProxyLatency dimensions. It runs on every request, so it
// does no more than a map lookup and a few additions (fast-series.ts); labels are formatted
// only when Prometheus scrapes.
import type { Registry } from 'prom-client';
import type { CallEvent, CallObserver } from '../core/calls/event';
import { xksErrorFor } from '../http/xks/errors';
import { BoundedLabel } from './bounded-label';
import { FastCounter, FastHistogram, type CounterSeries, type HistogramSeries } from './fast-series';
import { LATENCY_BUCKETS, PREFIX } from './registry';
import { xksErrorType } from './xks-dimensions';

interface CallSeries {
  count: CounterSeries;
  latency: HistogramSeries;
}

export function callMetrics(registry: Registry): CallObserver {
  const requests = new FastCounter(`${PREFIX}requests_total`, 'Calls through the core seam, by source (kms, xks, cli, internal), operation, outcome and error code.', registry);
  const latency = new FastHistogram(`${PREFIX}request_duration_seconds`, 'Latency of calls through the core seam, from decoding to the answer.', LATENCY_BUCKETS, registry);
  const xksLatency = new FastHistogram(
    `${PREFIX}xks_proxy_latency_seconds`, 'XKS proxy API calls this service served (AWS XksProxyLatency dimensions; CustomKeyStoreId is the URI path prefix).', LATENCY_BUCKETS, registry,
  );
  const xksErrors = new FastCounter(`${PREFIX}xks_proxy_errors_total`, 'XKS proxy API calls this service answered with an error (AWS XksProxyErrors dimensions).', registry);
  const series = new Map<string, CallSeries>();
  // kmsOperation comes from the caller's request body: bounded, as is the key store prefix.
  const kmsOperations = new BoundedLabel(64);
  const keyStores = new BoundedLabel(256);

  const seriesOf = (event: CallEvent): CallSeries => {
    const operation = event.operation ?? '';
    const code = event.errorCode ?? '';
    const key = `${event.source}\0${operation}\0${event.outcome}\0${code}`;
    let found = series.get(key);
    if (!found) {
      const labels = () => ({ source: event.source, operation, outcome: event.outcome, error_code: code });
      found = { count: requests.child(key, labels), latency: latency.child(key, labels) };
      series.set(key, found);
    }
    return found;
  };

  const xks = (event: CallEvent, seconds: number) => {
    const CustomKeyStoreId = keyStores.of(event.attributes?.keyStorePrefix);
    const KmsOperation = kmsOperations.of(event.attributes?.kmsOperation);
    const XksOperation = event.operation ?? '';
    const key = `${CustomKeyStoreId}\0${KmsOperation}\0${XksOperation}`;
    xksLatency.child(key, () => ({ CustomKeyStoreId, KmsOperation, XksOperation })).observe(seconds);
    if (event.outcome === 'failure') {
      const ExceptionName = xksErrorFor[event.errorCode ?? 'KMSInternalException'];
      const ErrorType = xksErrorType(ExceptionName);
      xksErrors.child(`${key}\0${ExceptionName}`, () => ({ CustomKeyStoreId, KmsOperation, XksOperation, ErrorType, ExceptionName })).inc();
    }
  };

  return (event) => {
    const seconds = event.latencyMs / 1000;
    const { count, latency: histogram } = seriesOf(event);
    count.inc();
    histogram.observe(seconds);
    if (event.source === 'xks') xks(event, seconds);
  };
}
