// What the metrics adapters record, without a token or a network: the XKS client decorator and
// the XKS proxy's calls with AWS's XksProxyErrors/XksProxyLatency dimensions, caller-chosen
// label values kept bounded, and the audit trail's hook.
import { XksProxyFailure, type XksProxyClient, type XksProxyConnector } from '../../src/core/key-stores/connectors';
import { ServiceMetrics } from '../../src/metrics';
import { BoundedLabel } from '../../src/metrics/bounded-label';
import { parseExposition, valueOf } from '../support/prometheus';

const call = { operation: 'Encrypt', requestId: 'r-1', principalArn: 'arn:aws:iam::111122223333:root', keyArn: 'arn:aws:kms:us-east-1:111122223333:key/k' };

function fakeConnector(failWith?: XksProxyFailure): XksProxyConnector {
  const answer = <T>(value: T) => (failWith ? Promise.reject(failWith) : Promise.resolve(value));
  return {
    open: (): XksProxyClient => ({
      encrypt: () => answer({ iv: Buffer.alloc(12), ciphertext: Buffer.alloc(1), tag: Buffer.alloc(16) }),
      decrypt: () => answer(Buffer.alloc(1)),
      getKeyMetadata: () => answer({ keySpec: 'AES_256', keyUsage: ['ENCRYPT', 'DECRYPT'], keyStatus: 'ENABLED' }),
      getHealthStatus: () => answer({ xksProxyFleetSize: 1, xksProxyVendor: 'v', xksProxyModel: 'm', ekmVendor: 'e', ekmFleetDetails: [] } as never),
      close: async () => {},
    }),
  };
}

const endpoint = { uriEndpoint: 'https://xks.example', uriPath: '/kms/xks/v1', accessKeyId: 'A', rawSecretAccessKey: 'S', customKeyStoreId: 'cks-1234567890abcdef0' };

it('records each call to an external key store proxy with AWS XKS dimensions, and failures by ErrorType and ExceptionName', async () => {
  const metrics = new ServiceMetrics();
  await metrics.instrumentXks(fakeConnector()).open(endpoint).encrypt('key-1', Buffer.alloc(0), Buffer.from('x'), call);
  const timedOut = metrics.instrumentXks(fakeConnector(new XksProxyFailure('XksProxyTimedOut', 'slow'))).open(endpoint);
  await expect(timedOut.decrypt('key-1', Buffer.alloc(0), { iv: Buffer.alloc(12), ciphertext: Buffer.alloc(1), tag: Buffer.alloc(16) }, { ...call, operation: 'Decrypt' })).rejects.toBeInstanceOf(XksProxyFailure);
  const refused = metrics.instrumentXks(fakeConnector(new XksProxyFailure('AuthenticationFailedException', 'bad signature'))).open(endpoint);
  await expect(refused.getKeyMetadata('key-1', { ...call, operation: 'CreateKey' })).rejects.toBeInstanceOf(XksProxyFailure);

  const samples = parseExposition(await metrics.registry.metrics());
  const store = { CustomKeyStoreId: 'cks-1234567890abcdef0' };
  expect(valueOf(samples, 'hsm_kms_xks_client_latency_seconds_count', { ...store, KmsOperation: 'Encrypt', XksOperation: 'Encrypt' })).toBe(1);
  expect(valueOf(samples, 'hsm_kms_xks_client_errors_total', { ...store, KmsOperation: 'Encrypt' })).toBeUndefined();
  expect(valueOf(samples, 'hsm_kms_xks_client_errors_total', { ...store, KmsOperation: 'Decrypt', XksOperation: 'Decrypt', ErrorType: 'retryable', ExceptionName: 'XksProxyTimedOut' })).toBe(1);
  expect(valueOf(samples, 'hsm_kms_xks_client_errors_total', { ...store, KmsOperation: 'CreateKey', XksOperation: 'GetKeyMetadata', ErrorType: 'non-retryable', ExceptionName: 'AuthenticationFailedException' })).toBe(1);
});

it('records XKS proxy calls this service serves under the XKS error names', async () => {
  const metrics = new ServiceMetrics();
  const base = { source: 'xks' as const, operation: 'Decrypt', requestId: 'r', resources: [], startedAt: new Date(), latencyMs: 4, attributes: { keyStorePrefix: 'alpha', kmsOperation: 'Decrypt' } };
  await metrics.calls({ ...base, outcome: 'success' });
  await metrics.calls({ ...base, outcome: 'failure', errorCode: 'InvalidCiphertextException' });
  await metrics.calls({ ...base, outcome: 'failure', errorCode: 'ThrottlingException' });
  const samples = parseExposition(await metrics.registry.metrics());
  const dims = { CustomKeyStoreId: 'alpha', KmsOperation: 'Decrypt', XksOperation: 'Decrypt' };
  expect(valueOf(samples, 'hsm_kms_xks_proxy_latency_seconds_count', dims)).toBe(3);
  expect(valueOf(samples, 'hsm_kms_xks_proxy_errors_total', { ...dims, ErrorType: 'non-retryable', ExceptionName: 'InvalidCiphertextException' })).toBe(1);
  expect(valueOf(samples, 'hsm_kms_xks_proxy_errors_total', { ...dims, ErrorType: 'retryable', ExceptionName: 'ThrottlingException' })).toBe(1);
  expect(valueOf(samples, 'hsm_kms_requests_total', { source: 'xks', operation: 'Decrypt', outcome: 'failure', error_code: 'ThrottlingException' })).toBe(1);
});

it('keeps label values a caller chooses to a bounded set', () => {
  const label = new BoundedLabel(2);
  expect([label.of('Encrypt'), label.of('Decrypt'), label.of('Sign'), label.of('Encrypt'), label.of('bad value with spaces'), label.of(undefined)]).toEqual(['Encrypt', 'Decrypt', 'other', 'Encrypt', 'other', '']);
});

it('gives the audit trail a hook for append latency and chain length', async () => {
  const metrics = new ServiceMetrics();
  metrics.audit.recordAppend(0.002);
  metrics.audit.recordAppend(0.004);
  let before = parseExposition(await metrics.registry.metrics());
  expect(valueOf(before, 'hsm_kms_audit_chain_length')).toBeUndefined();
  metrics.audit.chainLengthFrom(async () => 42);
  before = parseExposition(await metrics.registry.metrics());
  expect(valueOf(before, 'hsm_kms_audit_append_duration_seconds_count')).toBe(2);
  expect(valueOf(before, 'hsm_kms_audit_chain_length')).toBe(42);
});
