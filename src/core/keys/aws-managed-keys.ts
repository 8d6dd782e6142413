// AWS managed keys: the keys behind AWS's predefined aliases (alias/aws/s3, alias/aws/ebs, ...).
// ListAliases shows every predefined alias, without a target until its key exists; the first
// Encrypt, GenerateDataKey(WithoutPlaintext), ReEncrypt or DescribeKey naming one creates the key,
// as an AWS service's first use does. The key is symmetric, KeyManager AWS, rotates yearly, and its
// policy is AWS's for managed keys: use only through the service (kms:ViaService) by principals of
// the account, metadata (Describe*, Get*, List*) for the account. Everything else (PutKeyPolicy,
// ScheduleKeyDeletion, tagging, disabling, rotation settings, aliases) that policy denies, with
// AccessDeniedException, as AWS does.
import { createHash } from 'node:crypto';
import type { CoreDeps } from '../deps';
import { DuplicateRecordError, KmsError } from '../errors';
import type { AliasRecord, KeyRecord, KeyScope } from '../model';
import { RESERVED_ALIAS_PREFIX } from './aliases';
import { newKeyMaterialId } from './key-id';
import { generateDraftMaterial } from './new-material';

/** AWS managed keys rotate every year (since May 2022), and nobody can change that. */
const ROTATION_PERIOD_DAYS = 365;

/** The predefined aliases, each with what AWS's description of its key says the service protects. */
const predefined: Record<string, string> = {
  acm: 'ACM private keys',
  backup: 'Backup vaults',
  codecommit: 'CodeCommit repositories',
  dynamodb: 'DynamoDB tables',
  ebs: 'EBS volumes',
  elasticfilesystem: 'EFS file systems',
  es: 'Elasticsearch domains',
  fsx: 'FSx file systems',
  glue: 'Glue data',
  kinesis: 'Kinesis data streams',
  kinesisvideo: 'Kinesis Video Streams data',
  lambda: 'Lambda functions',
  rds: 'RDS database volumes',
  redshift: 'Redshift clusters',
  s3: 'S3 objects',
  secretsmanager: 'Secrets Manager data',
  sns: 'SNS topics',
  sqs: 'SQS queues',
  ssm: 'SSM parameters',
  xray: 'X-Ray data',
};

/** The predefined alias names, in ListAliases order (by name). */
export const predefinedAliasNames: readonly string[] = Object.keys(predefined).map((service) => `${RESERVED_ALIAS_PREFIX}${service}`).sort();

export function isPredefinedAlias(aliasName: string): boolean {
  return aliasName.startsWith(RESERVED_ALIAS_PREFIX) && Object.hasOwn(predefined, aliasName.slice(RESERVED_ALIAS_PREFIX.length));
}

/** The service endpoint an AWS managed key's policy names in kms:ViaService. */
export function viaServiceOf(aliasName: string, region: string): string {
  return `${aliasName.slice(RESERVED_ALIAS_PREFIX.length)}.${region}.amazonaws.com`;
}

/** AWS's key policy for a managed key (the shape of its "auto-<service>" policies). */
export function awsManagedKeyPolicy(scope: KeyScope, aliasName: string): string {
  const service = aliasName.slice(RESERVED_ALIAS_PREFIX.length);
  return JSON.stringify({
    Version: '2012-10-17',
    Id: `auto-${service}-1`,
    Statement: [
      {
        Sid: `Allow access through ${service} for all principals in the account that are authorized to use ${service}`,
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
        Resource: '*',
        Condition: { StringEquals: { 'kms:CallerAccount': scope.accountId, 'kms:ViaService': viaServiceOf(aliasName, scope.region) } },
      },
      {
        Sid: 'Allow direct access to key metadata to the account',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${scope.accountId}:root` },
        Action: ['kms:Describe*', 'kms:Get*', 'kms:List*'],
        Resource: '*',
      },
    ],
  });
}

/**
 * One key id per account, region and alias, derived rather than random: instances racing to
 * create the same managed key collide on the key id, and a creation cut short between the key and
 * its alias is finished by the next use instead of leaving a second key behind.
 */
export function awsManagedKeyId(scope: KeyScope, aliasName: string): string {
  const h = createHash('sha256').update(`aws-managed-key\0${scope.accountId}\0${scope.region}\0${aliasName}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** How long a use waits for another instance's creation of the same key to finish. */
const CREATION_WAIT_MS = 10_000;
const CREATION_POLL_MS = 25;

/** The alias of a predefined name, creating its AWS managed key first when it has none. */
export async function ensureAwsManagedKey(deps: CoreDeps, scope: KeyScope, aliasName: string): Promise<AliasRecord> {
  const keyId = awsManagedKeyId(scope, aliasName);
  const deadline = Date.now() + CREATION_WAIT_MS;
  for (;;) {
    const alias = await deps.store.aliases.get(scope, aliasName);
    if (alias) return alias;
    const key = await deps.store.keys.get(scope, keyId) ?? await createManagedKey(deps, scope, aliasName, keyId);
    if (key && !key.incomplete) {
      const now = deps.clock.now();
      try {
        await deps.store.aliases.insert({ ...scope, aliasName, targetKeyId: keyId, createdAt: now, updatedAt: now });
      } catch (e) {
        if (!(e instanceof DuplicateRecordError)) throw e;
      }
      continue;
    }
    // Another instance is creating it (or crashed doing so, and recovery will remove its draft).
    if (Date.now() >= deadline) throw new KmsError('KMSInternalException', `The AWS managed key for ${aliasName} is still being created. Try again.`);
    await new Promise((resolve) => setTimeout(resolve, CREATION_POLL_MS));
  }
}

/** Undefined when another instance inserted the key first. */
async function createManagedKey(deps: CoreDeps, scope: KeyScope, aliasName: string, keyId: string): Promise<KeyRecord | undefined> {
  const store = deps.keyStores.storeFor();
  const now = deps.clock.now();
  const versionId = newKeyMaterialId();
  const draft: KeyRecord = {
    ...scope,
    keyId,
    createdAt: now,
    updatedAt: now,
    description: `Default key that protects my ${predefined[aliasName.slice(RESERVED_ALIAS_PREFIX.length)]} when no other key is defined`,
    keySpec: 'SYMMETRIC_DEFAULT',
    keyUsage: 'ENCRYPT_DECRYPT',
    origin: 'AWS_KMS',
    keyManager: 'AWS',
    multiRegion: false,
    state: 'Enabled',
    versions: [{ id: versionId, backing: { kind: 'pkcs11', tokenId: store.id, objectId: versionId }, createdAt: now, status: 'PENDING' }],
    tags: [],
    policy: awsManagedKeyPolicy(scope, aliasName),
    rotation: {
      enabled: true,
      periodInDays: ROTATION_PERIOD_DAYS,
      nextRotationDate: new Date(now.getTime() + ROTATION_PERIOD_DAYS * 86_400_000),
      onDemandCount: 0,
      history: [],
      inProgress: [],
    },
    incomplete: true,
    revision: 0,
  };
  try {
    await deps.store.keys.insert(draft);
  } catch (e) {
    if (e instanceof DuplicateRecordError) return undefined;
    throw e;
  }
  return generateDraftMaterial(deps, store, draft, `kms:${keyId}`);
}
