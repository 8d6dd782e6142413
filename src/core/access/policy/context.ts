// The request as the policy engine sees it: who calls, which action, on which key, and the
// condition keys of the request. Operations build this; the engine never reaches into the
// store, the token or the clock, so the same context always gets the same decision.
import type { PolicyPrincipal } from './matching';

/**
 * One condition key's value in the request. A string array is a multi-valued key
 * (kms:EncryptionContextKeys, kms:GrantOperations, kms:ResourceAliases, aws:TagKeys). An
 * undefined value or an empty array means the key is absent from the request.
 */
export type ConditionValue = string | readonly string[] | number | boolean | undefined;

/** Condition keys by name. Names are case-insensitive; buildConditionValues lower-cases them. */
export type ConditionValues = Readonly<Record<string, ConditionValue>>;

/** The KMS key an operation acts on. */
export interface PolicyResource {
  /** arn:aws:kms:<region>:<account>:key/<key-id> */
  readonly arn: string;
  /** The key's account: decides whether the call is cross-account. */
  readonly accountId: string;
}

export interface PolicyRequestContext {
  readonly principal: PolicyPrincipal;
  /** The IAM action, e.g. "kms:Encrypt". A bare operation name ("Encrypt") is read as kms:<name>. */
  readonly action: string;
  /**
   * The key the operation is authorised against. Absent for operations without a key resource
   * (CreateKey, ListKeys, ListAliases, GenerateRandom, custom key store operations): those are
   * decided by identity policies alone, against Resource "*".
   */
  readonly resource?: PolicyResource;
  readonly conditionValues: ConditionValues;
}

/** "Encrypt" → "kms:Encrypt"; an action that already has a service prefix is kept. */
export function kmsAction(action: string): string {
  return action.includes(':') ? action : `kms:${action}`;
}

export interface ConditionValuesInput {
  principalArn: string;
  principalAccount: string;
  sourceIp?: string;
  secureTransport?: boolean;
  now: Date;
  /** Tags of the key (aws:ResourceTag/<k>). */
  keyTags?: Readonly<Record<string, string>>;
  /** Alias names of the key, "alias/<name>" (kms:ResourceAliases). */
  keyAliases?: readonly string[];
  keySpec?: string;
  keyUsage?: string;
  keyOrigin?: string;
  /** The request's encryption context (kms:EncryptionContext:<k>, kms:EncryptionContextKeys). */
  encryptionContext?: Readonly<Record<string, string>>;
  /** Tags in a TagResource or CreateKey request (aws:RequestTag/<k>, aws:TagKeys). */
  requestTags?: Readonly<Record<string, string>>;
  /**
   * Any other condition keys, e.g. kms:EncryptionAlgorithm, kms:SigningAlgorithm,
   * kms:MacAlgorithm, kms:MessageType, kms:DataKeyPairSpec, kms:GrantOperations,
   * kms:GrantIsForAWSResource, kms:GranteePrincipal, kms:RetiringPrincipal, kms:RequestAlias,
   * kms:ScheduleKeyDeletionPendingWindowInDays, kms:RotationPeriodInDays,
   * kms:ReEncryptOnSameKey, kms:KeyAgreementAlgorithm, aws:TagKeys (for UntagResource). They
   * win over the keys derived above.
   */
  extra?: Readonly<Record<string, ConditionValue>>;
}

const userArnPattern = /^arn:[a-z][a-z-]*:iam::\d{12}:user\/(?:.*\/)?([^/]+)$/;

function principalType(arn: string): string | undefined {
  if (/:root$/.test(arn)) return 'Account';
  if (/:user\//.test(arn)) return 'User';
  if (/:assumed-role\//.test(arn)) return 'AssumedRole';
  if (/:federated-user\//.test(arn)) return 'FederatedUser';
  return undefined;
}

/**
 * The condition keys of a request, with lower-cased names. Keys whose source is absent are left
 * out, so conditions on them see a missing key (which matters for negated operators, IfExists,
 * Null and the set qualifiers). Operations pass request-parameter defaults (for example
 * kms:EncryptionAlgorithm SYMMETRIC_DEFAULT) in `extra`: AWS evaluates conditions against the
 * default when a parameter is omitted.
 */
export function buildConditionValues(input: ConditionValuesInput): Record<string, ConditionValue> {
  const out: Record<string, ConditionValue> = Object.create(null) as Record<string, ConditionValue>;
  const put = (name: string, value: ConditionValue) => {
    if (value === undefined) return;
    if (Array.isArray(value) && value.length === 0) return;
    const key = name.toLowerCase();
    const existing = out[key];
    // Two names that differ only in case (encryption context keys, tag keys) would otherwise
    // hide each other's value; keeping both means a Deny on either value still applies.
    out[key] = existing === undefined ? value : [...toStrings(existing), ...toStrings(value)];
  };

  put('aws:PrincipalArn', input.principalArn);
  put('aws:PrincipalAccount', input.principalAccount);
  put('kms:CallerAccount', input.principalAccount);
  put('aws:PrincipalType', principalType(input.principalArn));
  put('aws:username', userArnPattern.exec(input.principalArn)?.[1]);
  put('aws:SourceIp', input.sourceIp);
  put('aws:SecureTransport', input.secureTransport);
  put('aws:CurrentTime', input.now.toISOString());
  put('aws:EpochTime', Math.floor(input.now.getTime() / 1000));

  put('kms:KeySpec', input.keySpec);
  put('kms:CustomerMasterKeySpec', input.keySpec);
  put('kms:KeyUsage', input.keyUsage);
  put('kms:CustomerMasterKeyUsage', input.keyUsage);
  put('kms:KeyOrigin', input.keyOrigin);
  put('kms:ResourceAliases', input.keyAliases);
  for (const [k, v] of Object.entries(input.keyTags ?? {})) put(`aws:ResourceTag/${k}`, v);

  const context = input.encryptionContext ?? {};
  for (const [k, v] of Object.entries(context)) put(`kms:EncryptionContext:${k}`, v);
  put('kms:EncryptionContextKeys', Object.keys(context));

  const requestTags = input.requestTags ?? {};
  for (const [k, v] of Object.entries(requestTags)) put(`aws:RequestTag/${k}`, v);
  put('aws:TagKeys', Object.keys(requestTags));

  for (const [k, v] of Object.entries(input.extra ?? {})) {
    delete out[k.toLowerCase()];
    put(k, v);
  }
  return out;
}

function toStrings(value: Exclude<ConditionValue, undefined>): string[] {
  return Array.isArray(value) ? [...(value as readonly string[])] : [String(value)];
}

/** Condition values as the operators read them: lower-cased names, non-empty string lists. */
export type RequestValues = ReadonlyMap<string, readonly string[]>;

export function toRequestValues(values: ConditionValues): Map<string, readonly string[]> {
  const out = new Map<string, string[]>();
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const list = toStrings(value);
    if (list.length === 0) continue;
    const key = name.toLowerCase();
    const existing = out.get(key);
    if (existing) existing.push(...list);
    else out.set(key, list);
  }
  return out;
}

/**
 * Condition keys that KMS honours in IAM policies only (KMS-SPEC §5.3, §5.5). In a key policy
 * they are treated as absent from the request.
 */
export function isIdentityOnlyConditionKey(lowerName: string): boolean {
  return lowerName.startsWith('aws:resourcetag/') || lowerName === 'kms:resourcealiases';
}

export function withoutIdentityOnlyKeys(values: RequestValues): RequestValues {
  const out = new Map<string, readonly string[]>();
  for (const [k, v] of values) if (!isIdentityOnlyConditionKey(k)) out.set(k, v);
  return out;
}
