// Requests as metrics: one observer on the core seam (CoreService) counts every call and records
// its latency by source, operation, outcome and error code. XKS proxy calls this service serves
// also feed AWS's XksProxyErrors/XksProxyLatency dimensions. It runs on every request, so it does
// no more than a map lookup and two increments: children are cached by their label key instead
// of letting prom-client hash a label object each time.
import { Counter, Histogram, type Registry } from 'prom-client';
import type { CallEvent, CallObserver } from '../core/calls/event';
import { xksErrorFor } from '../http/xks/errors';
import { BoundedLabel } from './bounded-label';
import { LATENCY_BUCKETS, PREFIX } from './registry';
import { XKS_ERROR_LABELS, XKS_LATENCY_LABELS, xksErrorType } from './xks-dimensions';

const CALL_LABELS = ['source', 'operation', 'outcome', 'error_code'] as const;

interface CallSeries {
  count: Counter.Internal;
  latency: Histogram.Internal<(typeof CALL_LABELS)[number]>;
}

export function callMetrics(registry: Registry): CallObserver {
  const requests = new Counter({
    name: `${PREFIX}requests_total`, help: 'Calls through the core seam, by source (kms, xks, cli, internal), operation, outcome and error code.',
    labelNames: CALL_LABELS, registers: [registry],
  });
  const latency = new Histogram({
    name: `${PREFIX}request_duration_seconds`, help: 'Latency of calls through the core seam, from decoding to the answer.',
    labelNames: CALL_LABELS, buckets: LATENCY_BUCKETS, registers: [registry],
  });
  const xksLatency = new Histogram({
    name: `${PREFIX}xks_proxy_latency_seconds`, help: 'XKS proxy API calls this service served (AWS XksProxyLatency dimensions; CustomKeyStoreId is the URI path prefix).',
    labelNames: XKS_LATENCY_LABELS, buckets: LATENCY_BUCKETS, registers: [registry],
  });
  const xksErrors = new Counter({
    name: `${PREFIX}xks_proxy_errors_total`, help: 'XKS proxy API calls this service answered with an error (AWS XksProxyErrors dimensions).',
    labelNames: XKS_ERROR_LABELS, registers: [registry],
  });
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
      const labels = { source: event.source, operation, outcome: event.outcome, error_code: code };
      found = { count: requests.labels(labels), latency: latency.labels(labels) };
      series.set(key, found);
    }
    return found;
  };

  const xks = (event: CallEvent, seconds: number) => {
    const labels = {
      CustomKeyStoreId: keyStores.of(event.attributes?.keyStorePrefix), KmsOperation: kmsOperations.of(event.attributes?.kmsOperation), XksOperation: event.operation ?? '',
    };
    xksLatency.observe(labels, seconds);
    if (event.outcome === 'failure') {
      const exceptionName = xksErrorFor[event.errorCode ?? 'KMSInternalException'];
      xksErrors.inc({ ...labels, ErrorType: xksErrorType(exceptionName), ExceptionName: exceptionName });
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
