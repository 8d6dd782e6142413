// The audit trail's core with fakes: the CloudTrail builder for every source, the group commit,
// the KMS_AUDIT setting, and the internal event of a custom key store connection.
import { ConfigError, loadConfigSections } from '../../src/config';
import type { RequestContext } from '../../src/core/api/context';
import { canonicalJson } from '../../src/core/audit/canonical-json';
import { auditDraftOf, cloudTrailEvent, REQUEST_MEMBERS } from '../../src/core/audit/cloudtrail-event';
import { AuditTrail, timeOrderedEventId } from '../../src/core/audit/trail';
import type { CallEvent } from '../../src/core/calls/event';
import { CoreService } from '../../src/core/calls/service';
import { kmsOperations } from '../../src/http/kms/operations';
import { callOperation, newCoreDeps } from '../support/core-harness';
import { CLUSTER, FakeClusters, FakeProxy, PIN, trustAnchorPem } from '../support/fake-connectors';
import { MemoryStore } from '../support/memory-store';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const at = new Date('2026-12-02T10:11:12.345Z');
const base: CallEvent = {
  source: 'kms', operation: 'Encrypt', requestId: 'req-1', principal: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, region: REGION,
  resources: [], outcome: 'success', startedAt: at, latencyMs: 1,
};

describe('the CloudTrail event', () => {
  it('has a request-parameter allow-list for every operation of the dispatch table', () => {
    expect(Object.keys(kmsOperations).filter((name) => !(name in REQUEST_MEMBERS))).toEqual([]);
  });

  it('records no parameter of an operation missing from the allow-list', () => {
    const { record } = cloudTrailEvent({ ...base, operation: 'SomeNewOperation', parameters: { Anything: 'x' } }, 'e-1');
    expect(record.requestParameters).toEqual({});
  });

  it('eventTime is ISO-8601 in whole seconds', () => {
    expect(cloudTrailEvent(base, 'e-1').record.eventTime).toBe('2026-12-02T10:11:12Z');
  });

  it('keeps encryption context keys as the caller wrote them, camelCasing only the API members', () => {
    const { record } = cloudTrailEvent({ ...base, parameters: { KeyId: 'k', EncryptionContext: { Department: 'A', 'x-Y': 'b' } } }, 'e-1');
    expect(record.requestParameters).toEqual({ keyId: 'k', encryptionContext: { Department: 'A', 'x-Y': 'b' }, encryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
  });

  it('an XKS proxy call has its own eventSource, its schema\'s recordable members and its request facts', () => {
    const { record } = cloudTrailEvent({
      ...base, source: 'xks', operation: 'Encrypt', principal: `arn:aws:iam::${ACCOUNT}:user/kms-xks`, accessKeyId: 'XKSACCESS',
      parameters: { requestMetadata: { kmsOperation: 'Encrypt' }, encryptionAlgorithm: 'AES_GCM' },
      attributes: { kmsRequestId: 'kms-req-1', externalKeyId: 'ext-1' },
    }, 'e-1');
    expect(record).toMatchObject({
      eventSource: 'xks-proxy.hsm-kms', eventType: 'AwsApiCall', readOnly: true, responseElements: null,
      requestParameters: { requestMetadata: { kmsOperation: 'Encrypt' }, encryptionAlgorithm: 'AES_GCM' },
      additionalEventData: { kmsRequestId: 'kms-req-1', externalKeyId: 'ext-1' },
      userIdentity: { type: 'IAMUser', userName: 'kms-xks', accessKeyId: 'XKSACCESS' },
    });
  });

  it('an admin CLI command names the local operator and its own eventSource', () => {
    const draft = auditDraftOf({ ...base, source: 'cli', operation: 'CreateExternalKey', principal: 'local-operator:alice', accountId: '', region: '' }, 'e-1');
    const record = JSON.parse(draft.event) as Record<string, unknown>;
    expect(record).toMatchObject({ eventSource: 'cli.hsm-kms', userIdentity: { type: 'LocalOperator', userName: 'alice' }, readOnly: false });
    expect(draft.username).toBe('alice');
  });

  it('a failure carries errorCode and errorMessage, and no response elements', () => {
    const { record } = cloudTrailEvent({ ...base, operation: 'CreateGrant', outcome: 'failure', errorCode: 'NotFoundException', errorMessage: 'gone', results: { GrantId: 'g' } }, 'e-1');
    expect(record).toMatchObject({ errorCode: 'NotFoundException', errorMessage: 'gone', responseElements: null });
  });

  it('the stored event is canonical JSON: sorted keys, the same bytes for the same event', () => {
    const draft = auditDraftOf(base, 'e-1');
    expect(draft.event).toBe(canonicalJson(JSON.parse(draft.event)));
    expect(Object.keys(JSON.parse(draft.event) as object)).toEqual([...Object.keys(JSON.parse(draft.event) as object)].sort());
    expect(() => canonicalJson({ blob: Buffer.from('secret') })).toThrow(TypeError);
  });
});

describe('AuditTrail', () => {
  it('calls finishing together share one append, and each gets its own record', async () => {
    const store = new MemoryStore();
    const sizes: number[] = [];
    const append = store.audit.append.bind(store.audit);
    store.audit.append = async (drafts) => {
      sizes.push(drafts.length);
      return append(drafts);
    };
    const trail = new AuditTrail(store.audit);
    const records = await Promise.all(Array.from({ length: 10 }, (_, i) => trail.record({ ...base, requestId: `req-${i}` })));
    expect(sizes).toEqual([10]);
    expect(records.map((r) => JSON.parse(r.event).requestID)).toEqual(Array.from({ length: 10 }, (_, i) => `req-${i}`));
    expect(records.map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('a failed append fails every call waiting on it, and the next append goes ahead', async () => {
    const store = new MemoryStore();
    let fail = true;
    const append = store.audit.append.bind(store.audit);
    store.audit.append = async (drafts) => {
      if (fail) throw new Error('disk full');
      return append(drafts);
    };
    const trail = new AuditTrail(store.audit);
    await expect(Promise.all([trail.record(base), trail.record(base)])).rejects.toThrow('disk full');
    fail = false;
    expect((await trail.record(base)).sequence).toBe(1);
  });
});

describe('KMS_AUDIT', () => {
  it('is on by default, off when set to off, and refuses anything else', () => {
    expect(loadConfigSections(['audit'], {}).audit.enabled).toBe(true);
    expect(loadConfigSections(['audit'], { KMS_AUDIT: 'off' }).audit.enabled).toBe(false);
    expect(loadConfigSections(['audit'], { KMS_AUDIT: 'ON' }).audit.enabled).toBe(true);
    expect(() => loadConfigSections(['audit'], { KMS_AUDIT: 'maybe' })).toThrow(ConfigError);
  });
});

describe('custom key store connections', () => {
  it('a connection settled in the background is recorded once, as a service event naming the store', async () => {
    const { deps, store } = await newCoreDeps();
    deps.connectors = { tokenClusters: new FakeClusters(), xksProxies: new FakeProxy() };
    const service = new CoreService(deps, [new AuditTrail(store.audit).observer]);
    deps.internalEvents = (event) => service.emit(event);
    const root: RequestContext = { principal: { arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, policies: [] }, region: REGION, requestId: 'req-1' };
    const { CustomKeyStoreId } = await callOperation(deps, root, 'CreateCustomKeyStore', {
      CustomKeyStoreName: 'tenant-a', CloudHsmClusterId: CLUSTER, TrustAnchorCertificate: trustAnchorPem(), KeyStorePassword: PIN,
    });
    await callOperation(deps, root, 'ConnectCustomKeyStore', { CustomKeyStoreId });
    const deadline = Date.now() + 5000;
    while ((await store.audit.range(1, 10)).length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    const records = await store.audit.range(1, 10);
    expect(records).toHaveLength(1);
    expect(JSON.parse(records[0]!.event)).toMatchObject({
      eventName: 'ConnectCustomKeyStore', eventType: 'AwsServiceEvent', requestParameters: null, recipientAccountId: ACCOUNT, awsRegion: REGION,
      serviceEventDetails: { customKeyStoreId: CustomKeyStoreId, connectionState: 'CONNECTED' },
    });
    expect(PIN.length).toBeGreaterThan(6);
    expect(records[0]!.event.includes(PIN)).toBe(false);
  });
});

describe('event ids', () => {
  it('are RFC 9562 version-7 UUIDs: time first, so later ids sort after earlier ones, and random after', () => {
    const at = Date.UTC(2026, 11, 3, 10, 0, 0);
    const ids = [at, at + 1, at + 1000, at + 86_400_000].map((t) => timeOrderedEventId(t));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(parseInt(ids[0]!.replace('-', '').slice(0, 12), 16)).toBe(at);
    // The same millisecond still gives distinct ids.
    expect(new Set(Array.from({ length: 1000 }, () => timeOrderedEventId(at))).size).toBe(1000);
  });
});
