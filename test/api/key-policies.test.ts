// GetKeyPolicy, PutKeyPolicy and ListKeyPolicies: validation and the lockout safety check.
import { kmsCall } from '../support/signed';
import { ACCOUNT, startTestService, type TestService } from '../support/service';

let svc: TestService;
beforeAll(async () => { svc = await startTestService(); });
afterAll(async () => { await svc.close(); });

const rootPolicy = (sid = 'Enable IAM User Permissions') => JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: sid, Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
});

async function newKey(): Promise<string> {
  return (await kmsCall(svc.app, 'CreateKey', {})).body.KeyMetadata.KeyId;
}

it('returns the default key policy of a key created without one', async () => {
  const keyId = await newKey();
  const res = await kmsCall(svc.app, 'GetKeyPolicy', { KeyId: keyId, PolicyName: 'default' });
  expect(res.status).toBe(200);
  expect(res.body.PolicyName).toBe('default');
  expect(JSON.parse(res.body.Policy)).toEqual({
    Version: '2012-10-17', Id: 'key-default-1',
    Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
  });
});

it('replaces the policy and returns the new text verbatim', async () => {
  const keyId = await newKey();
  const policy = rootPolicy('Replaced');
  expect((await kmsCall(svc.app, 'PutKeyPolicy', { KeyId: keyId, PolicyName: 'default', Policy: policy })).status).toBe(200);
  expect((await kmsCall(svc.app, 'GetKeyPolicy', { KeyId: keyId })).body.Policy).toBe(policy);
});

it('lists exactly one policy, named default', async () => {
  const keyId = await newKey();
  expect((await kmsCall(svc.app, 'ListKeyPolicies', { KeyId: keyId })).body).toEqual({ PolicyNames: ['default'], Truncated: false });
  expect((await kmsCall(svc.app, 'ListKeyPolicies', { KeyId: keyId, Limit: 1 })).body).toEqual({ PolicyNames: ['default'], Truncated: false });
  // No answer is ever truncated, so any marker is one the service did not issue.
  const res = await kmsCall(svc.app, 'ListKeyPolicies', { KeyId: keyId, Marker: 'bm90LWlzc3VlZA' });
  expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: { __type: 'InvalidMarkerException', message: 'Marker is invalid' } });
});

it('knows one policy name, default: GetKeyPolicy and PutKeyPolicy refuse any other', async () => {
  const keyId = await newKey();
  const before = (await kmsCall(svc.app, 'GetKeyPolicy', { KeyId: keyId })).body.Policy;
  for (const [operation, body] of [['GetKeyPolicy', {}], ['PutKeyPolicy', { Policy: rootPolicy('Other') }]] as const) {
    const res = await kmsCall(svc.app, operation, { KeyId: keyId, PolicyName: 'other', ...body });
    expect({ status: res.status, body: res.body }).toEqual({
      status: 400, body: { __type: 'NotFoundException', message: 'No such policy exists: other. The only key policy name is default.' },
    });
  }
  expect((await kmsCall(svc.app, 'GetKeyPolicy', { KeyId: keyId })).body.Policy).toBe(before);
});

it('refuses malformed policies with MalformedPolicyDocumentException', async () => {
  const keyId = await newKey();
  const malformed = [
    'not json',
    '{"Version":"2012-10-17"}',
    JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Maybe', Principal: '*', Action: 'kms:*', Resource: '*' }] }),
    JSON.stringify({ Version: '1999-01-01', Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' }] }),
    JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] }),
    JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*', Condition: { NoSuchOperator: { 'kms:CallerAccount': '1' } } }] }),
    JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*', Bogus: 1 }] }),
  ];
  for (const policy of malformed) {
    const res = await kmsCall(svc.app, 'PutKeyPolicy', { KeyId: keyId, Policy: policy });
    expect(res.status).toBe(400);
    expect(res.body.__type).toBe('MalformedPolicyDocumentException');
  }
  const big = rootPolicy('x'.repeat(33_000));
  expect((await kmsCall(svc.app, 'PutKeyPolicy', { KeyId: keyId, Policy: big })).body.__type).toBe('MalformedPolicyDocumentException');
});

it('a key policy that would stop the caller from changing it again is refused unless the lockout check is bypassed.', async () => {
  const keyId = await newKey();
  const onlyAlice = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/alice` }, Action: 'kms:*', Resource: '*' }],
  });
  const refused = await kmsCall(svc.app, 'PutKeyPolicy', { KeyId: keyId, Policy: onlyAlice });
  expect(refused.body).toEqual({ __type: 'MalformedPolicyDocumentException', message: 'The new key policy will not allow you to update the key policy in the future.' });
  expect((await kmsCall(svc.app, 'GetKeyPolicy', { KeyId: keyId })).body.Policy).not.toBe(onlyAlice);
  expect((await kmsCall(svc.app, 'PutKeyPolicy', { KeyId: keyId, Policy: onlyAlice, BypassPolicyLockoutSafetyCheck: true })).status).toBe(200);
});
