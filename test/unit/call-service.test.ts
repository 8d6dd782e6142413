// The core seam: one event per call, success or failure, with the resources it resolved and
// only the parameters the input description does not declare secret.
import type { CallEvent } from '../../src/core/calls/event';
import { CoreService } from '../../src/core/calls/service';
import type { RequestContext } from '../../src/core/api/context';
import { KmsError } from '../../src/core/errors';
import { kmsOperations } from '../../src/http/kms/operations';
import { newCoreDeps } from '../support/core-harness';

const ACCOUNT = '111122223333';
const root: RequestContext = { principal: { arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, policies: [] }, region: 'us-east-1', requestId: 'req-1' };

async function serviceWithEvents() {
  const { deps } = await newCoreDeps();
  const events: CallEvent[] = [];
  return { service: new CoreService(deps, [(event) => { events.push(event); }]), events };
}

it('emits one event per successful call, with the resolved key and no secret parameter', async () => {
  const { service, events } = await serviceWithEvents();
  const created = await service.invoke('kms', kmsOperations.CreateKey, root, { Description: 'seam' });
  const arn = created.KeyMetadata.Arn;
  await service.invoke('kms', kmsOperations.Encrypt, { ...root, requestId: 'req-2' }, {
    KeyId: created.KeyMetadata.KeyId, Plaintext: Buffer.from('top secret').toString('base64'), EncryptionContext: { purpose: 'test' }, GrantTokens: ['x'.repeat(10)],
  }).catch(() => undefined);
  await service.invoke('kms', kmsOperations.Encrypt, { ...root, requestId: 'req-3' }, {
    KeyId: created.KeyMetadata.KeyId, Plaintext: Buffer.from('top secret').toString('base64'), EncryptionContext: { purpose: 'test' },
  });
  expect(events.map((e) => [e.operation, e.requestId])).toEqual([['CreateKey', 'req-1'], ['Encrypt', 'req-2'], ['Encrypt', 'req-3']]);
  const encrypt = events[2]!;
  expect(encrypt).toMatchObject({ source: 'kms', outcome: 'success', principal: root.principal.arn, keyReference: created.KeyMetadata.KeyId, resources: [arn] });
  expect(encrypt.parameters).toEqual({ KeyId: created.KeyMetadata.KeyId, EncryptionContext: { purpose: 'test' } });
  // Plaintext (a blob) and GrantTokens (declared secret) never reach an observer.
  expect(JSON.stringify(events)).not.toContain(Buffer.from('top secret').toString('base64'));
  expect(JSON.stringify(events)).not.toContain('x'.repeat(10));
  expect(events[0]!.keyReference).toBe(arn);
});

it('emits one failure event with the error code, and rethrows a KmsError', async () => {
  const { service, events } = await serviceWithEvents();
  const error = await service.invoke('kms', kmsOperations.DescribeKey, root, { KeyId: 'alias/none' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(KmsError);
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({ operation: 'DescribeKey', outcome: 'failure', errorCode: 'NotFoundException', keyReference: 'alias/none', resources: [] });
  await service.invoke('kms', kmsOperations.DescribeKey, root, { KeyId: 7 }).catch(() => undefined);
  expect(events[1]).toMatchObject({ outcome: 'failure', errorCode: 'SerializationException', parameters: undefined });
});

it('records a call refused before any operation ran, and turns an unexpected error into KMSInternalException', async () => {
  const { service, events } = await serviceWithEvents();
  const refused = await service.refuse({ source: 'kms', requestId: 'req-9', error: new Error('boom') });
  expect(refused.code).toBe('KMSInternalException');
  expect(events).toEqual([expect.objectContaining({ requestId: 'req-9', outcome: 'failure', errorCode: 'KMSInternalException', errorDetail: 'Error: boom' })]);
  expect(events[0]!.stack).toContain('boom');
});

it('fails the call when an observer fails (fail closed)', async () => {
  const { deps } = await newCoreDeps();
  const service = new CoreService(deps, [() => { throw new Error('audit device down'); }]);
  const error = await service.invoke('kms', kmsOperations.ListKeys, root, {}).catch((e: unknown) => e);
  expect(error).toMatchObject({ code: 'KMSInternalException' });
});
