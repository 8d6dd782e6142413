// Policy documents: text in, validated and normalised statements out. Everything a statement
// can say is checked here, once, so evaluation can trust its input and never has to throw.
//
// Key policies and identity policies share the grammar but differ in three ways, following
// AWS: a key-policy statement must name a principal and an identity-policy statement must not;
// a key-policy statement may lack Action or Resource (PutKeyPolicy accepts it, the statement
// just never applies) while IAM refuses such an identity policy; and IAM restricts Sid to
// alphanumerics and requires it to be unique, while key-policy Sids may contain spaces.
import { invalidValueReason, parseOperator, type ConditionClause } from './conditions';
import { PolicyValidationError, type PolicyValidationReason } from './errors';
import { isJsonObject, JsonSyntaxError, parseStrictJson, type JsonObject, type JsonValue } from './json';
import { isValidAwsPrincipalEntry } from './matching';
import { policyMessages } from './messages';

export type PolicyKind = 'key' | 'identity';
export type Effect = 'Allow' | 'Deny';

/** The largest policy document, in UTF-8 bytes. */
export const MAX_POLICY_BYTES = 32_768;
export const policyVersions = ['2012-10-17', '2008-10-17'] as const;

export interface PrincipalSet {
  /** "*" or {"AWS": "*"}: every caller. */
  readonly any: boolean;
  /** "AWS" entries other than "*": account ids, account root ARNs, user, role and session ARNs. */
  readonly aws: readonly string[];
  /**
   * "Service", "Federated" and "CanonicalUser" entries. Accepted so that policies written for
   * AWS load, but no caller of this service is one of them, so they never match.
   */
  readonly other: readonly string[];
}

export interface PolicyStatement {
  readonly sid?: string;
  readonly effect: Effect;
  /** Principal or NotPrincipal. Always present in key policies, never in identity policies. */
  readonly principal?: { readonly negated: boolean; readonly set: PrincipalSet };
  /** Action or NotAction. Absent only in a key-policy statement, which then never applies. */
  readonly action?: { readonly negated: boolean; readonly patterns: readonly string[] };
  /** Resource or NotResource. Absent only in a key-policy statement, which then never applies. */
  readonly resource?: { readonly negated: boolean; readonly patterns: readonly string[] };
  readonly conditions: readonly ConditionClause[];
}

export interface PolicyDocument {
  readonly kind: PolicyKind;
  readonly version?: string;
  readonly id?: string;
  readonly statements: readonly PolicyStatement[];
}

export interface ParsePolicyOptions {
  /**
   * Whether a user or role ARN names an existing principal. AWS refuses key policies naming
   * principals it cannot see; without this callback only the ARN's shape is checked.
   */
  principalExists?: (arn: string) => boolean;
}

const documentMembers = new Set(['Version', 'Id', 'Statement']);
const statementMembers = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);
const principalTypes = new Set(['AWS', 'Service', 'Federated', 'CanonicalUser']);

function invalid(reason: PolicyValidationReason, message: string): never {
  throw new PolicyValidationError(reason, message);
}

function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** The first character outside tab, LF, CR and U+0020–U+00FF, as AWS's pattern allows. */
function firstDisallowedCharacter(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x09 || c === 0x0a || c === 0x0d || (c >= 0x20 && c <= 0xff)) continue;
    return i;
  }
  return -1;
}

/**
 * Parses and validates a policy document. Throws PolicyValidationError with a readable reason.
 */
export function parsePolicy(text: string, kind: PolicyKind, options: ParsePolicyOptions = {}): PolicyDocument {
  if (typeof text !== 'string') invalid('json', 'The policy document must be a string.');
  // Precondition: a policy document larger than 32768 bytes is rejected.
  // The cheap length bound comes first so an enormous input is not encoded just to be refused.
  if (text.length > MAX_POLICY_BYTES || utf8Length(text) > MAX_POLICY_BYTES) {
    invalid('size', policyMessages.tooLarge(utf8Length(text)));
  }
  // Precondition: a policy document with a character outside tab, LF, CR and U+0020 to U+00FF is rejected.
  const bad = firstDisallowedCharacter(text);
  if (bad >= 0) invalid('characters', policyMessages.badCharacter(text.charCodeAt(bad), bad));

  let root: JsonValue;
  try {
    // Precondition: a policy document with duplicate JSON member names is rejected.
    root = parseStrictJson(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) invalid('json', `The policy document is not valid JSON: ${e.message}.`);
    throw e;
  }
  return validateDocument(root, kind, options);
}

function validateDocument(root: JsonValue, kind: PolicyKind, options: ParsePolicyOptions): PolicyDocument {
  if (!isJsonObject(root)) invalid('document', 'The policy document must be a JSON object.');
  for (const member of Object.keys(root)) {
    if (!documentMembers.has(member)) invalid('document', `The policy document has an unknown element '${member}'.`);
  }

  const version = root['Version'];
  if (version !== undefined && !(typeof version === 'string' && (policyVersions as readonly string[]).includes(version))) {
    invalid('version', `The policy Version must be "2012-10-17" or "2008-10-17".`);
  }
  const id = root['Id'];
  if (id !== undefined && typeof id !== 'string') invalid('document', 'The policy Id must be a string.');

  const raw = root['Statement'];
  if (raw === undefined) invalid('statement', 'The policy document has no Statement.');
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) invalid('statement', 'The policy Statement must contain at least one statement.');

  const sids = new Set<string>();
  const statements = list.map((s, i) => {
    const statement = validateStatement(s, i, kind, version as string | undefined, options);
    if (kind === 'identity' && statement.sid !== undefined && statement.sid !== '') {
      if (sids.has(statement.sid)) invalid('statement', `Statement IDs (SID) in a single policy must be unique: '${statement.sid}'.`);
      sids.add(statement.sid);
    }
    return statement;
  });
  return { kind, version: version as string | undefined, id: id as string | undefined, statements };
}

function stringList(value: JsonValue, what: string, reason: PolicyValidationReason): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) return value as string[];
  return invalid(reason, `${what} must be a string or a non-empty list of strings.`);
}

function validateStatement(
  value: JsonValue,
  index: number,
  kind: PolicyKind,
  version: string | undefined,
  options: ParsePolicyOptions,
): PolicyStatement {
  const where = `Statement ${index + 1}`;
  if (!isJsonObject(value)) invalid('statement', `${where} must be a JSON object.`);
  for (const member of Object.keys(value)) {
    if (!statementMembers.has(member)) invalid('statement', `${where} has an unknown element '${member}'.`);
  }

  const sid = value['Sid'];
  if (sid !== undefined) {
    if (typeof sid !== 'string') invalid('statement', `${where}: Sid must be a string.`);
    if (kind === 'identity' && !/^[A-Za-z0-9]*$/.test(sid)) {
      invalid('statement', `${where}: an identity-policy Sid may contain only letters and digits.`);
    }
  }

  const effect = value['Effect'];
  if (effect !== 'Allow' && effect !== 'Deny') invalid('effect', `${where}: Effect must be "Allow" or "Deny".`);

  const hasPrincipal = value['Principal'] !== undefined;
  const hasNotPrincipal = value['NotPrincipal'] !== undefined;
  let principal: PolicyStatement['principal'];
  if (kind === 'identity') {
    // Precondition: an identity policy statement with a Principal or NotPrincipal is rejected.
    if (hasPrincipal || hasNotPrincipal) invalid('principal', `${where}: an identity-based policy must not contain Principal or NotPrincipal.`);
  } else {
    // Precondition: a key policy statement without a Principal or NotPrincipal is rejected.
    if (hasPrincipal === hasNotPrincipal) {
      invalid('principal', hasPrincipal
        ? `${where} must not contain both Principal and NotPrincipal.`
        : `${where}: a key policy statement must contain Principal or NotPrincipal.`);
    }
    const negated = hasNotPrincipal;
    principal = { negated, set: validatePrincipal(value[negated ? 'NotPrincipal' : 'Principal']!, options) };
  }

  const action = pair(value, 'Action', 'NotAction', where, 'action', kind, validateAction);
  const resource = pair(value, 'Resource', 'NotResource', where, 'resource', kind, validateResource);

  const conditions = value['Condition'] === undefined ? [] : validateCondition(value['Condition'], where, version);
  return { sid: sid as string | undefined, effect, principal, action, resource, conditions };
}

function pair(
  statement: JsonObject,
  name: string,
  notName: string,
  where: string,
  reason: PolicyValidationReason,
  kind: PolicyKind,
  check: (pattern: string, where: string) => void,
): { negated: boolean; patterns: string[] } | undefined {
  const plain = statement[name];
  const negatedValue = statement[notName];
  if (plain !== undefined && negatedValue !== undefined) invalid(reason, `${where} must not contain both ${name} and ${notName}.`);
  if (plain === undefined && negatedValue === undefined) {
    // A key-policy statement without Action or Resource is accepted and ineffective (as in
    // AWS); IAM refuses such an identity policy.
    if (kind === 'identity') invalid(reason, `${where} must contain ${name} or ${notName}.`);
    return undefined;
  }
  const negated = plain === undefined;
  const patterns = stringList((negated ? negatedValue : plain)!, `${where}: ${negated ? notName : name}`, reason);
  for (const p of patterns) check(p, where);
  return { negated, patterns };
}

function validateAction(pattern: string, where: string): void {
  if (pattern === '*' || /^[A-Za-z0-9-]+:[A-Za-z0-9*?_-]+$/.test(pattern)) return;
  invalid('action', `${where}: '${pattern}' is not a valid action; actions look like "kms:Encrypt", "kms:*" or "*".`);
}

function validateResource(pattern: string, where: string): void {
  if (pattern === '*' || /^arn:[^:]*:[^:]*:[^:]*:[^:]*:.+$/.test(pattern)) return;
  invalid('resource', `${where}: '${pattern}' is not a valid resource; use "*" or an ARN.`);
}

function validatePrincipal(value: JsonValue, options: ParsePolicyOptions): PrincipalSet {
  const invalidPrincipals = (): never => invalid('principal', policyMessages.invalidPrincipals);
  if (value === '*') return { any: true, aws: [], other: [] };
  if (!isJsonObject(value) || Object.keys(value).length === 0) return invalidPrincipals();
  let any = false;
  const aws: string[] = [];
  const other: string[] = [];
  for (const [type, entries] of Object.entries(value)) {
    if (!principalTypes.has(type)) return invalidPrincipals();
    const list = stringList(entries, `Principal ${type}`, 'principal');
    for (const entry of list) {
      if (type !== 'AWS') {
        if (entry.length === 0) invalidPrincipals();
        other.push(entry);
        continue;
      }
      // Precondition: a principal that is not "*", an account or an exact user, role or session ARN is rejected.
      if (!isValidAwsPrincipalEntry(entry)) invalidPrincipals();
      if (entry === '*') {
        any = true;
        continue;
      }
      if (options.principalExists && /:(?:user|role)\//.test(entry) && !options.principalExists(entry)) invalidPrincipals();
      aws.push(entry);
    }
  }
  return { any, aws, other };
}

function validateCondition(value: JsonValue, where: string, version: string | undefined): ConditionClause[] {
  if (!isJsonObject(value)) invalid('condition', `${where}: Condition must be a JSON object.`);
  const clauses: ConditionClause[] = [];
  for (const [operator, block] of Object.entries(value)) {
    const parsed = parseOperator(operator);
    // Precondition: an unknown condition operator is rejected.
    if (!parsed) invalid('condition', `${where}: '${operator}' is not a condition operator.`);
    if (!isJsonObject(block)) invalid('condition', `${where}: the value of '${operator}' must be a JSON object of condition keys.`);
    for (const [rawKey, rawValues] of Object.entries(block)) {
      if (!/^[A-Za-z0-9-]+:.+$/.test(rawKey)) invalid('condition', `${where}: '${rawKey}' is not a condition key.`);
      const key = rawKey.toLowerCase();
      const list = Array.isArray(rawValues) ? rawValues : [rawValues];
      if (list.length === 0) invalid('condition', `${where}: condition key '${rawKey}' has no values.`);
      const values = list.map((v) => {
        if (typeof v === 'string') return v;
        if (typeof v === 'number' || typeof v === 'boolean') return String(v);
        return invalid('condition', `${where}: values of condition key '${rawKey}' must be strings, numbers or booleans.`);
      });
      for (const v of values) {
        const problem = invalidValueReason(parsed.base, v);
        if (problem) invalid('condition', `${where}: ${operator} on '${rawKey}': ${problem}.`);
      }
      // Precondition: ForAllValues on an encryption context key or a request tag is rejected as overly permissive.
      if (parsed.qualifier === 'ForAllValues') {
        if (key.startsWith('kms:encryptioncontext:')) invalid('overlyPermissiveCondition', policyMessages.overlyPermissive('encryption context'));
        if (key.startsWith('aws:requesttag/')) invalid('overlyPermissiveCondition', policyMessages.overlyPermissive('tag'));
      }
      clauses.push({
        operator,
        base: parsed.base,
        qualifier: parsed.qualifier,
        ifExists: parsed.ifExists,
        key,
        values,
        // KMS allows policy variables only in kms:EncryptionContext:<k> values, and the policy
        // language only substitutes them from Version 2012-10-17 on.
        variables: version === '2012-10-17' && key.startsWith('kms:encryptioncontext:'),
      });
    }
  }
  return clauses;
}
