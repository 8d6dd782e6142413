// The key-state table (KMS-SPEC §3), cell by cell: every operation that exists, against a
// key in every state, through the HTTP API. Expectations are written out here from the
// specification, independently of src/core/key-state.ts.
import { keyStates, type KeyState } from '../../src/core/model';
import { kmsCall } from '../support/signed';
import { ACCOUNT, REGION, startTestService, type TestService } from '../support/service';

const scope = { accountId: ACCOUNT, region: REGION };
let svc: TestService;
beforeAll(async () => { svc = await startTestService(); });
afterAll(async () => { await svc.close(); });

type Expectation = 'ok' | 'disabled' | 'pendingDeletion' | 'pendingImport' | 'unavailable' | 'creating' | 'updating' | 'notPendingDeletion';

const crypto: Record<KeyState, Expectation> = {
  Enabled: 'ok', Disabled: 'disabled', PendingDeletion: 'pendingDeletion', PendingReplicaDeletion: 'pendingDeletion',
  PendingImport: 'pendingImport', Unavailable: 'unavailable', Creating: 'creating', Updating: 'ok',
};
const always: Record<KeyState, Expectation> = {
  Enabled: 'ok', Disabled: 'ok', PendingDeletion: 'ok', PendingReplicaDeletion: 'ok', PendingImport: 'ok', Unavailable: 'ok', Creating: 'ok', Updating: 'ok',
};
const managed: Record<KeyState, Expectation> = { ...always, PendingDeletion: 'pendingDeletion', PendingReplicaDeletion: 'pendingDeletion' };
const enableDisable: Record<KeyState, Expectation> = {
  ...always, PendingDeletion: 'pendingDeletion', PendingReplicaDeletion: 'pendingDeletion', PendingImport: 'pendingImport', Creating: 'creating', Updating: 'updating',
};
const cancelDeletion: Record<KeyState, Expectation> = {
  Enabled: 'notPendingDeletion', Disabled: 'notPendingDeletion', PendingDeletion: 'ok', PendingReplicaDeletion: 'ok',
  PendingImport: 'notPendingDeletion', Unavailable: 'notPendingDeletion', Creating: 'notPendingDeletion', Updating: 'notPendingDeletion',
};
const scheduleDeletion: Record<KeyState, Expectation> = { ...managed, Updating: 'updating' };

const table: Record<string, Record<KeyState, Expectation>> = {
  Encrypt: crypto, Decrypt: crypto, ReEncrypt: crypto, GenerateDataKey: crypto, GenerateDataKeyWithoutPlaintext: crypto,
  DescribeKey: always, ListResourceTags: always, DeleteAlias: always,
  EnableKey: enableDisable, DisableKey: enableDisable,
  UpdateKeyDescription: managed, CreateAlias: managed, UpdateAlias: managed, TagResource: managed, UntagResource: managed,
  ScheduleKeyDeletion: scheduleDeletion, CancelKeyDeletion: cancelDeletion,
};

function expectedError(expectation: Expectation, arn: string): { __type: string; message: string } | undefined {
  switch (expectation) {
    case 'ok': return undefined;
    case 'disabled': return { __type: 'DisabledException', message: `${arn} is disabled.` };
    case 'pendingDeletion': return { __type: 'KMSInvalidStateException', message: `${arn} is pending deletion.` };
    case 'pendingImport': return { __type: 'KMSInvalidStateException', message: `${arn} is pending import.` };
    case 'unavailable': return { __type: 'KMSInvalidStateException', message: `${arn} is unavailable.` };
    case 'creating': return { __type: 'KMSInvalidStateException', message: `${arn} is creating.` };
    case 'updating': return { __type: 'KMSInvalidStateException', message: `${arn} is updating.` };
    case 'notPendingDeletion': return { __type: 'KMSInvalidStateException', message: `${arn} is not pending deletion.` };
  }
}

let aliasCounter = 0;
const nextAlias = () => `alias/state-table-${aliasCounter++}`;

/** A key in `state`, plus whatever the operation needs prepared while the key was still Enabled. */
async function prepare(operation: string, state: KeyState) {
  const meta = (await kmsCall(svc.app, 'CreateKey', {})).body.KeyMetadata as { KeyId: string; Arn: string };
  const ciphertext = (await kmsCall(svc.app, 'Encrypt', { KeyId: meta.KeyId, Plaintext: 'c3RhdGU=' })).body.CiphertextBlob as string;
  let request: Record<string, unknown> = { KeyId: meta.KeyId };
  if (operation === 'Encrypt') request = { KeyId: meta.KeyId, Plaintext: 'c3RhdGU=' };
  if (operation === 'Decrypt') request = { CiphertextBlob: ciphertext };
  if (operation === 'ReEncrypt') request = { CiphertextBlob: ciphertext, DestinationKeyId: meta.KeyId };
  if (operation.startsWith('GenerateDataKey')) request = { KeyId: meta.KeyId, KeySpec: 'AES_256' };
  if (operation === 'UpdateKeyDescription') request = { KeyId: meta.KeyId, Description: 'x' };
  if (operation === 'ScheduleKeyDeletion') request = { KeyId: meta.KeyId, PendingWindowInDays: 7 };
  if (operation === 'CreateAlias') request = { AliasName: nextAlias(), TargetKeyId: meta.KeyId };
  if (operation === 'TagResource') request = { KeyId: meta.KeyId, Tags: [{ TagKey: 'k', TagValue: 'v' }] };
  if (operation === 'UntagResource') request = { KeyId: meta.KeyId, TagKeys: ['k'] };
  if (operation === 'DeleteAlias') {
    const AliasName = nextAlias();
    await kmsCall(svc.app, 'CreateAlias', { AliasName, TargetKeyId: meta.KeyId });
    request = { AliasName };
  }
  if (operation === 'UpdateAlias') {
    // The alias moves from an ordinary key to the key under test, whose state is what counts.
    const other = (await kmsCall(svc.app, 'CreateKey', {})).body.KeyMetadata as { KeyId: string };
    const AliasName = nextAlias();
    await kmsCall(svc.app, 'CreateAlias', { AliasName, TargetKeyId: other.KeyId });
    request = { AliasName, TargetKeyId: meta.KeyId };
  }
  const stored = (await svc.store.getKey(scope, meta.KeyId))!;
  const pending = state === 'PendingDeletion' || state === 'PendingReplicaDeletion';
  await svc.store.replaceKey({ ...stored, state, ...(pending ? { deletionDate: new Date(Date.now() + 7 * 86_400_000), pendingWindowInDays: 7 } : {}) });
  return { arn: meta.Arn, request };
}

describe.each(Object.keys(table))('%s', (operation) => {
  it.each([...keyStates])('in state %s', async (state) => {
    const { arn, request } = await prepare(operation, state);
    const res = await kmsCall(svc.app, operation, request);
    const error = expectedError(table[operation]![state], arn);
    if (error) {
      expect(res.status).toBe(400);
      expect(res.body).toEqual(error);
    } else {
      expect({ status: res.status, body: res.status === 200 ? 'ok' : res.body }).toEqual({ status: 200, body: 'ok' });
    }
  });
});

it('covers every operation the service offers that takes a key', async () => {
  const { operations } = await import('../../src/core/operations');
  const keyless = ['CreateKey', 'ListKeys', 'GenerateRandom', 'ListAliases'];
  expect(Object.keys(operations).filter((name) => !keyless.includes(name)).sort()).toEqual(Object.keys(table).sort());
});
