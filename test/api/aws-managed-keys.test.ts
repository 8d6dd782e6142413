// AWS managed keys through the AWS SDK: the predefined alias/aws/* aliases in ListAliases, the key
// an AWS service's first use creates, AWS's managed-key policy (use only through the service,
// metadata for the account) and what that policy refuses.
import {
  CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DecryptCommand, DeleteAliasCommand, DescribeKeyCommand, DisableKeyCommand, EnableKeyRotationCommand,
  EncryptCommand, GenerateDataKeyCommand, GetKeyPolicyCommand, GetPublicKeyCommand, GetKeyRotationStatusCommand, KMSClient, ListAliasesCommand, ListKeysCommand,
  PutKeyPolicyCommand, ScheduleKeyDeletionCommand, TagResourceCommand, UpdateKeyDescriptionCommand, type AliasListEntry,
} from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { awsManagedKeyId } from '../../src/core/keys/aws-managed-keys';
import { ACCOUNT, REGION, ROOT, sdkClient, startTestService, type TestService } from '../support/service';
import { rejection } from '../support/sdk-rejection';
import { listTokenObjects } from '../support/token-objects';

/** A principal standing for the S3 integration: its requests carry kms:ViaService s3.<region>.amazonaws.com. */
const S3_GATEWAY = {
  accessKeyId: 'AKIAS3GATEWAY0000001', secretAccessKey: 's3-gateway-secret-for-tests-only-000001',
  principalArn: `arn:aws:iam::${ACCOUNT}:user/s3-gateway`, viaService: `s3.${REGION}.amazonaws.com`,
};
/** The same for EBS: it may use alias/aws/ebs's key, not alias/aws/s3's. */
const EBS_GATEWAY = {
  accessKeyId: 'AKIAEBSGATEWAY000001', secretAccessKey: 'ebs-gateway-secret-for-tests-only-00001',
  principalArn: `arn:aws:iam::${ACCOUNT}:user/ebs-gateway`, viaService: `ebs.${REGION}.amazonaws.com`,
};

let dir: string;
let svc: TestService;
let root: KMSClient;
let s3: KMSClient;
let ebs: KMSClient;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-managed-'));
  const credentialsFile = path.join(dir, 'credentials.json');
  writeFileSync(credentialsFile, JSON.stringify([S3_GATEWAY, EBS_GATEWAY]));
  svc = await startTestService({ listen: true, credentialsFile });
  root = sdkClient(svc, ROOT);
  s3 = sdkClient(svc, S3_GATEWAY);
  ebs = sdkClient(svc, EBS_GATEWAY);
});

afterAll(async () => {
  for (const client of [root, s3, ebs]) client.destroy();
  await svc.close();
  rmSync(dir, { recursive: true, force: true });
});

async function everyAlias(client: KMSClient, limit: number): Promise<AliasListEntry[]> {
  const all: AliasListEntry[] = [];
  let marker: string | undefined;
  do {
    const page = await client.send(new ListAliasesCommand({ Limit: limit, Marker: marker }));
    expect(page.Aliases!.length).toBeLessThanOrEqual(limit);
    all.push(...page.Aliases!);
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker);
  return all;
}

it('ListAliases shows the predefined alias/aws/* aliases without a target, among the account\'s own, on every page size', async () => {
  const key = (await root.send(new CreateKeyCommand({}))).KeyMetadata!;
  for (const name of ['alias/app', 'alias/zeta']) await root.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: key.KeyId }));

  const whole = await everyAlias(root, 100);
  const names = whole.map((a) => a.AliasName!);
  expect(names).toEqual([...names].sort());
  expect(names).toEqual(expect.arrayContaining(['alias/app', 'alias/zeta', 'alias/aws/s3', 'alias/aws/ebs', 'alias/aws/secretsmanager']));
  const s3Alias = whole.find((a) => a.AliasName === 'alias/aws/s3')!;
  expect(s3Alias).toEqual({ AliasName: 'alias/aws/s3', AliasArn: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/aws/s3` });
  expect(whole.find((a) => a.AliasName === 'alias/app')!.TargetKeyId).toBe(key.KeyId);
  // Pages of every size list the same names once each, in the same order.
  for (const limit of [1, 3, 7]) expect((await everyAlias(root, limit)).map((a) => a.AliasName)).toEqual(names);
  // Filtered by a key: only that key's aliases.
  expect((await root.send(new ListAliasesCommand({ KeyId: key.KeyId }))).Aliases!.map((a) => a.AliasName)).toEqual(['alias/app', 'alias/zeta']);
});

it('the first use creates one AWS managed key, even when many requests race for it, and the alias then names it', async () => {
  const described = await Promise.all(Array.from({ length: 8 }, () => root.send(new DescribeKeyCommand({ KeyId: 'alias/aws/ebs' }))));
  const keyIds = new Set(described.map((d) => d.KeyMetadata!.KeyId));
  expect(keyIds.size).toBe(1);
  const metadata = described[0]!.KeyMetadata!;
  expect(metadata).toMatchObject({
    KeyId: awsManagedKeyId({ accountId: ACCOUNT, region: REGION }, 'alias/aws/ebs'),
    KeyManager: 'AWS', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', Origin: 'AWS_KMS', KeyState: 'Enabled', Enabled: true,
    Description: 'Default key that protects my EBS volumes when no other key is defined', MultiRegion: false,
  });
  const alias = (await everyAlias(root, 100)).find((a) => a.AliasName === 'alias/aws/ebs')!;
  expect(alias.TargetKeyId).toBe(metadata.KeyId);
  expect(alias.CreationDate).toBeInstanceOf(Date);
  // One key, one token object.
  expect((await root.send(new ListKeysCommand({}))).Keys!.filter((k) => k.KeyId === metadata.KeyId)).toHaveLength(1);
  expect((await svc.store.keys.get({ accountId: ACCOUNT, region: REGION }, metadata.KeyId!))!.versions).toHaveLength(1);
  const objectId = (await svc.store.keys.get({ accountId: ACCOUNT, region: REGION }, metadata.KeyId!))!.versions[0]!.backing;
  expect((await listTokenObjects(svc.token)).filter((o) => objectId.kind === 'pkcs11' && o.id === objectId.objectId)).toHaveLength(1);
});

it('its policy is AWS\'s for managed keys, and it rotates every year', async () => {
  const keyId = (await root.send(new DescribeKeyCommand({ KeyId: 'alias/aws/s3' }))).KeyMetadata!.KeyId!;
  const policy = JSON.parse((await root.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }))).Policy!) as { Statement: { Principal: unknown; Action: string[]; Condition?: unknown }[] };
  expect(policy.Statement).toEqual([
    expect.objectContaining({
      Principal: { AWS: '*' },
      Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
      Condition: { StringEquals: { 'kms:CallerAccount': ACCOUNT, 'kms:ViaService': `s3.${REGION}.amazonaws.com` } },
    }),
    expect.objectContaining({ Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: ['kms:Describe*', 'kms:Get*', 'kms:List*'] }),
  ]);
  expect(await root.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 365 });
});

it('the key is used through its service only: the S3 integration encrypts and decrypts, the account root and another service are refused', async () => {
  // Another service's key: created by the attempt, as any first use does, but not usable by S3.
  expect((await rejection(s3.send(new GenerateDataKeyCommand({ KeyId: 'alias/aws/secretsmanager', KeySpec: 'AES_256' })))).name).toBe('AccessDeniedException');
  expect((await everyAlias(root, 100)).find((a) => a.AliasName === 'alias/aws/secretsmanager')!.TargetKeyId).toBeDefined();
  const sealed = await s3.send(new EncryptCommand({ KeyId: 'alias/aws/s3', Plaintext: Buffer.from('object body'), EncryptionContext: { bucket: 'b' } }));
  expect(sealed.KeyId).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${awsManagedKeyId({ accountId: ACCOUNT, region: REGION }, 'alias/aws/s3')}`);
  const opened = await s3.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: { bucket: 'b' } }));
  expect(Buffer.from(opened.Plaintext!).toString()).toBe('object body');

  for (const client of [root, ebs]) {
    expect((await rejection(client.send(new EncryptCommand({ KeyId: 'alias/aws/s3', Plaintext: Buffer.from('x') })))).name).toBe('AccessDeniedException');
    expect((await rejection(client.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: { bucket: 'b' } })))).name).toBe('AccessDeniedException');
  }
  // The EBS integration uses its own.
  const ebsSealed = await ebs.send(new GenerateDataKeyCommand({ KeyId: 'alias/aws/ebs', KeySpec: 'AES_256' }));
  expect(ebsSealed.Plaintext).toHaveLength(32);
});

it('nobody manages it: policy, deletion, tags, state, rotation, description, grants and aliases are refused with AccessDeniedException', async () => {
  const keyId = (await root.send(new DescribeKeyCommand({ KeyId: 'alias/aws/s3' }))).KeyMetadata!.KeyId!;
  const attempts = [
    new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:*', Resource: '*' }] }) }),
    new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }),
    new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'k', TagValue: 'v' }] }),
    new DisableKeyCommand({ KeyId: keyId }),
    new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 90 }),
    new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: 'mine now' }),
    new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: `arn:aws:iam::${ACCOUNT}:user/alice`, Operations: ['Decrypt'] }),
    new CreateAliasCommand({ AliasName: 'alias/points-at-managed', TargetKeyId: keyId }),
  ];
  for (const command of attempts) {
    // Every principal: the root, and the integration that may use the key.
    for (const client of [root, s3]) expect({ command: command.constructor.name, error: (await rejection(client.send(command as never))).name }).toEqual({ command: command.constructor.name, error: 'AccessDeniedException' });
  }
  // The predefined alias itself is AWS's: it can be neither deleted nor made.
  expect((await rejection(root.send(new DeleteAliasCommand({ AliasName: 'alias/aws/s3' })))).name).toBe('InvalidAliasNameException');
  expect((await rejection(root.send(new CreateAliasCommand({ AliasName: 'alias/aws/mine', TargetKeyId: (await root.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId })))).name).toBe('InvalidAliasNameException');
  expect(await root.send(new DescribeKeyCommand({ KeyId: keyId }))).toMatchObject({ KeyMetadata: { KeyState: 'Enabled', Description: 'Default key that protects my S3 objects when no other key is defined' } });
});

it('a name that is not predefined, or another account\'s predefined alias, creates nothing', async () => {
  expect((await rejection(root.send(new DescribeKeyCommand({ KeyId: 'alias/aws/not-a-service' })))).name).toBe('NotFoundException');
  expect((await rejection(root.send(new DescribeKeyCommand({ KeyId: `arn:aws:kms:${REGION}:444455556666:alias/aws/rds` })))).name).toBe('NotFoundException');
  expect(await svc.store.keys.get({ accountId: '444455556666', region: REGION }, awsManagedKeyId({ accountId: '444455556666', region: REGION }, 'alias/aws/rds'))).toBeUndefined();
  // GetPublicKey is not a first use.
  expect((await rejection(root.send(new GetPublicKeyCommand({ KeyId: 'alias/aws/rds' })))).name).toBe('NotFoundException');
  expect((await everyAlias(root, 100)).find((a) => a.AliasName === 'alias/aws/rds')!.TargetKeyId).toBeUndefined();
});

it('a creation cut short after the key and before its alias is finished by the next use, with the same key', async () => {
  const scope = { accountId: ACCOUNT, region: REGION };
  const keyId = (await root.send(new DescribeKeyCommand({ KeyId: 'alias/aws/dynamodb' }))).KeyMetadata!.KeyId!;
  // What a crash between the two writes leaves: the key without its alias.
  expect(await svc.store.aliases.delete(scope, 'alias/aws/dynamodb')).toBe(true);
  expect((await everyAlias(root, 100)).find((a) => a.AliasName === 'alias/aws/dynamodb')!.TargetKeyId).toBeUndefined();
  expect((await root.send(new DescribeKeyCommand({ KeyId: 'alias/aws/dynamodb' }))).KeyMetadata!.KeyId).toBe(keyId);
  expect((await everyAlias(root, 100)).find((a) => a.AliasName === 'alias/aws/dynamodb')!.TargetKeyId).toBe(keyId);
  expect((await root.send(new ListKeysCommand({ Limit: 1000 }))).Keys!.filter((k) => k.KeyId === keyId)).toHaveLength(1);
});
