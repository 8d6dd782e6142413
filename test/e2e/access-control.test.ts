// Access control as AWS does it, through the unmodified SDK, with three principals: the
// account root, bob (an identity policy) and alice (no policy at all).
import {
  CreateGrantCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, DisableKeyCommand, EncryptCommand,
  GenerateDataKeyCommand, GenerateRandomCommand, KMSClient, ListGrantsCommand, ListKeysCommand, ListRetirableGrantsCommand,
  PutKeyPolicyCommand, RetireGrantCommand, RevokeGrantCommand,
} from '@aws-sdk/client-kms';
import { ACCOUNT, ALICE, BOB, ROOT, startTestService, type TestService, sdkClient } from '../support/service';

let svc: TestService;
let root: KMSClient;
let bob: KMSClient;
let alice: KMSClient;
const client = (credentials: { accessKeyId: string; secretAccessKey: string }) => sdkClient(svc, credentials);

beforeAll(async () => {
  svc = await startTestService({ listen: true });
  [root, bob, alice] = [client(ROOT), client(BOB), client(ALICE)];
});
afterAll(async () => {
  for (const c of [root, bob, alice]) c.destroy();
  await svc.close();
});

async function newKey(policy?: object): Promise<{ KeyId: string; Arn: string }> {
  const out = await root.send(new CreateKeyCommand(policy ? { Policy: JSON.stringify(policy) } : {}));
  return { KeyId: out.KeyMetadata!.KeyId!, Arn: out.KeyMetadata!.Arn! };
}

async function denied(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (e: { name: string; message: string }) => e);
  expect(error?.name).toBe('AccessDeniedException');
  return error!.message;
}

const ROOT_ARN = () => `arn:aws:iam::${ACCOUNT}:root`;
const defaultStatement = { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' };

it('every call is allowed only by a key policy, an identity policy or a grant, and never against an explicit deny.', async () => {
  const key = await newKey();
  // Key policy (root) allows; nothing allows alice; bob's identity policy allows Encrypt only.
  await root.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }));
  await bob.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }));
  await denied(alice.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') })));
  // An explicit deny in the key policy beats bob's identity allow and the root's key-policy allow.
  await root.send(new PutKeyPolicyCommand({
    KeyId: key.KeyId, PolicyName: 'default', BypassPolicyLockoutSafetyCheck: false,
    Policy: JSON.stringify({ Version: '2012-10-17', Statement: [defaultStatement, { Effect: 'Deny', Principal: '*', Action: 'kms:Encrypt', Resource: '*' }] }),
  }));
  expect(await denied(bob.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }))))
    .toBe(`User: ${BOB.principalArn} is not authorized to perform: kms:Encrypt on resource: ${key.Arn} with an explicit deny in a resource-based policy`);
  await denied(root.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') })));
});

it('a principal with no policy is refused everything', async () => {
  const key = await newKey();
  const message = await denied(alice.send(new EncryptCommand({ KeyId: key.Arn, Plaintext: Buffer.from('x') })));
  expect(message).toBe(`User: ${ALICE.principalArn} is not authorized to perform: kms:Encrypt on resource: ${key.Arn} because no resource-based policy allows the kms:Encrypt action`);
  await denied(alice.send(new DescribeKeyCommand({ KeyId: key.KeyId })));
  await denied(alice.send(new DisableKeyCommand({ KeyId: key.KeyId })));
  expect(await denied(alice.send(new ListKeysCommand({}))))
    .toBe(`User: ${ALICE.principalArn} is not authorized to perform: kms:ListKeys on resource: * because no identity-based policy allows the kms:ListKeys action`);
  await denied(alice.send(new CreateKeyCommand({})));
  await denied(alice.send(new GenerateRandomCommand({ NumberOfBytes: 8 })));
});

it('an identity policy opens exactly what it says', async () => {
  const key = await newKey();
  const { CiphertextBlob } = await bob.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('bob') }));
  expect((await bob.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata?.KeyId).toBe(key.KeyId);
  expect((await bob.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256' }))).Plaintext).toHaveLength(32);
  expect((await bob.send(new ListKeysCommand({}))).Keys?.map((k) => k.KeyId)).toContain(key.KeyId);
  await denied(bob.send(new DecryptCommand({ CiphertextBlob })));
  await denied(bob.send(new DisableKeyCommand({ KeyId: key.KeyId })));
  await denied(bob.send(new CreateKeyCommand({})));
  await denied(bob.send(new GenerateRandomCommand({ NumberOfBytes: 8 })));
  // Without the key policy's delegation to the account, bob's identity policy is not enough.
  const undelegated = await newKey({ Version: '2012-10-17', Statement: [{ ...defaultStatement, Principal: { AWS: ROOT_ARN() } }] });
  await root.send(new PutKeyPolicyCommand({
    KeyId: undelegated.KeyId, PolicyName: 'default', BypassPolicyLockoutSafetyCheck: true,
    Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: ALICE.principalArn }, Action: 'kms:*', Resource: '*' }] }),
  }));
  await denied(bob.send(new EncryptCommand({ KeyId: undelegated.KeyId, Plaintext: Buffer.from('x') })));
  // ... while the key policy naming alice directly lets her in with no identity policy at all.
  await alice.send(new EncryptCommand({ KeyId: undelegated.KeyId, Plaintext: Buffer.from('x') }));
});
it('a key-policy Deny with a kms:EncryptionContext: condition blocks only the matching requests', async () => {
  const key = await newKey({
    Version: '2012-10-17',
    Statement: [defaultStatement, {
      Sid: 'NoSecrets', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:Encrypt', Resource: '*',
      Condition: { StringEquals: { 'kms:EncryptionContext:dept': 'secret' } },
    }],
  });
  await bob.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x'), EncryptionContext: { dept: 'public' } }));
  await bob.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }));
  await denied(bob.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x'), EncryptionContext: { dept: 'secret' } })));
  // The context key name matches case-insensitively, as in AWS.
  await denied(root.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x'), EncryptionContext: { DEPT: 'secret' } })));
  await root.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x'), EncryptionContext: { dept: 'Secret' } }));
});

it('a grant with an EncryptionContextSubset constraint allows only matching contexts and only the granted operations', async () => {
  const key = await newKey();
  const grant = await root.send(new CreateGrantCommand({
    KeyId: key.KeyId, GranteePrincipal: ALICE.principalArn, Operations: ['GenerateDataKey', 'Decrypt'],
    Constraints: { EncryptionContextSubset: { project: 'apollo' } },
  }));
  expect(grant.GrantId).toMatch(/^[0-9a-f]{64}$/);
  const made = await alice.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256', EncryptionContext: { project: 'apollo', stage: 'test' } }));
  const opened = await alice.send(new DecryptCommand({ CiphertextBlob: made.CiphertextBlob, EncryptionContext: { project: 'apollo', stage: 'test' } }));
  expect(Buffer.from(opened.Plaintext!).equals(Buffer.from(made.Plaintext!))).toBe(true);
  await denied(alice.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256', EncryptionContext: { project: 'gemini' } })));
  await denied(alice.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256' })));
  await denied(alice.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x'), EncryptionContext: { project: 'apollo' } })));
  await denied(alice.send(new DescribeKeyCommand({ KeyId: key.KeyId })));
});

it('RetireGrant and RevokeGrant take effect at once, and the grant lists are right', async () => {
  const key = await newKey();
  const toRetire = await root.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: ALICE.principalArn, Operations: ['Encrypt'], RetiringPrincipal: BOB.principalArn, Name: 'retire-me' }));
  const toRevoke = await root.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: ALICE.principalArn, Operations: ['GenerateDataKey'] }));
  const listed = await root.send(new ListGrantsCommand({ KeyId: key.KeyId }));
  expect(listed.Grants?.map((g) => g.GrantId).sort()).toEqual([toRetire.GrantId, toRevoke.GrantId].sort());
  expect(listed.Grants?.find((g) => g.GrantId === toRetire.GrantId)).toMatchObject({ KeyId: key.Arn, GranteePrincipal: ALICE.principalArn, RetiringPrincipal: BOB.principalArn, Operations: ['Encrypt'], Name: 'retire-me', IssuingAccount: `arn:aws:iam::${ACCOUNT}:root` });
  const retirable = await root.send(new ListRetirableGrantsCommand({ RetiringPrincipal: BOB.principalArn }));
  expect(retirable.Grants?.map((g) => g.GrantId)).toContain(toRetire.GrantId);
  expect(retirable.Grants?.map((g) => g.GrantId)).not.toContain(toRevoke.GrantId);

  await alice.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }));
  await bob.send(new RetireGrantCommand({ GrantToken: toRetire.GrantToken }));
  await denied(alice.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') })));

  await alice.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, NumberOfBytes: 16 }));
  await root.send(new RevokeGrantCommand({ KeyId: key.KeyId, GrantId: toRevoke.GrantId }));
  await denied(alice.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, NumberOfBytes: 16 })));
  expect((await root.send(new ListGrantsCommand({ KeyId: key.KeyId }))).Grants).toEqual([]);
});

it('the lockout check refuses a self-locking policy, and a malformed policy is refused', async () => {
  const key = await newKey();
  const selfLocking = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: ALICE.principalArn }, Action: 'kms:*', Resource: '*' }] });
  const lockout = await root.send(new PutKeyPolicyCommand({ KeyId: key.KeyId, PolicyName: 'default', Policy: selfLocking })).catch((e: Error) => e);
  expect(lockout).toMatchObject({ name: 'MalformedPolicyDocumentException' });
  const createLockout = await root.send(new CreateKeyCommand({ Policy: selfLocking })).catch((e: Error) => e);
  expect(createLockout).toMatchObject({ name: 'MalformedPolicyDocumentException' });
  const malformed = await root.send(new CreateKeyCommand({ Policy: '{"Statement": "nope"' })).catch((e: Error) => e);
  expect(malformed).toMatchObject({ name: 'MalformedPolicyDocumentException' });
});
