// Aliases: the name rules AWS applies beyond the input schema, the key "type" UpdateAlias
// compares, and an alias as ListAliases returns it.
import { KmsError } from '../errors';
import { PARTITION } from './key-id';
import { aliasArn, type AliasRecord, type KeyRecord, type KeyScope, type KeySpec } from '../model';

export const ALIAS_PREFIX = 'alias/';
/** Reserved for AWS managed keys (alias/aws/s3, alias/aws/ebs, ...). */
export const RESERVED_ALIAS_PREFIX = 'alias/aws/';
/** Resource quota "Aliases per KMS key" (KMS-SPEC §8.1). */
export const MAX_ALIASES_PER_KEY = 50;

export const aliasMessages = {
  /** Recorded from AWS (aws-kms-recorded-responses.json, test_create_alias). */
  missingPrefix: 'Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html',
  /** The schema pattern admits ':', alias names do not. */
  invalidCharacters: (name: string) => `${name} contains invalid characters for an alias`,
  emptyName: (name: string) => `${name} is not a valid alias name: it needs at least one character after the prefix "alias/"`,
  reserved: (name: string) => `${name} is not a valid alias name: the prefix "${RESERVED_ALIAS_PREFIX}" is reserved for AWS managed keys`,
  alreadyExists: (arn: string) => `An alias with the name ${arn} already exists`,
  tooManyAliases: (keyArn: string) => `${keyArn} already has ${MAX_ALIASES_PER_KEY} aliases, the most a KMS key can have`,
} as const;

/**
 * The checks AWS makes on an AliasName after the schema (length 1-256 and the pattern
 * ^[a-zA-Z0-9:/_-]+$) has accepted it. Every alias operation applies them.
 */
export function checkAliasName(name: string): void {
  if (!name.startsWith(ALIAS_PREFIX)) throw new KmsError('ValidationException', aliasMessages.missingPrefix);
  // Precondition: alias names beginning with alias/aws/ are reserved for AWS managed keys.
  if (name.startsWith(RESERVED_ALIAS_PREFIX)) throw new KmsError('InvalidAliasNameException', aliasMessages.reserved(name));
  if (name.includes(':')) throw new KmsError('ValidationException', aliasMessages.invalidCharacters(name));
  if (name.length === ALIAS_PREFIX.length) throw new KmsError('ValidationException', aliasMessages.emptyName(name));
}

export type KeyType = 'symmetric' | 'asymmetric' | 'HMAC';

/** The key type UpdateAlias compares: symmetric encryption, asymmetric, or HMAC. */
export function keyTypeOf(spec: KeySpec): KeyType {
  if (spec === 'SYMMETRIC_DEFAULT') return 'symmetric';
  if (spec.startsWith('HMAC_')) return 'HMAC';
  return 'asymmetric';
}

export function sameKind(a: KeyRecord, b: KeyRecord): boolean {
  return keyTypeOf(a.keySpec) === keyTypeOf(b.keySpec) && a.keyUsage === b.keyUsage;
}

export function aliasArnOf(scope: KeyScope, aliasName: string): string {
  return aliasArn(PARTITION, scope, aliasName);
}

/** One entry of ListAliases' `Aliases`. */
export function aliasListEntry(alias: AliasRecord) {
  return {
    AliasName: alias.aliasName,
    AliasArn: aliasArnOf(alias, alias.aliasName),
    TargetKeyId: alias.targetKeyId,
    CreationDate: alias.createdAt,
    LastUpdatedDate: alias.updatedAt,
  };
}
