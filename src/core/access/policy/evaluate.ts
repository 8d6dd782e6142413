// The authorisation decision, in AWS's order:
//   1. an explicit Deny in the key policy or in the caller's identity policies wins;
//   2. allowed if the key policy allows the caller itself;
//   3. allowed if the key policy allows the caller's account (delegation to IAM) and one of the
//      caller's identity policies allows the request;
//   4. allowed if a grant allows it (grants are looked up by the caller of this function);
//   5. denied.
// Cross-account calls need both sides: the key policy (naming the caller or its account) and
// the caller's identity policies. Operations without a key resource are decided by identity
// policies alone. An account's root user has every identity permission in its own account,
// as in AWS, but the key policy still has to let it in.
import { conditionsHold } from './conditions';
import { kmsAction, toRequestValues, withoutIdentityOnlyKeys, type ConditionValues, type PolicyRequestContext, type PolicyResource, type RequestValues } from './context';
import { parsePolicy, type PolicyDocument, type PolicyKind, type PolicyStatement } from './document';
import { actionMatches, bestCoverage, isRootPrincipal, notPrincipalExcludes, resourceMatches, type PolicyPrincipal, type PrincipalCoverage } from './matching';

/** A policy as stored (JSON text) or already parsed. */
export type PolicyInput = string | PolicyDocument;

/** Which statement decided, for logs and audit records. */
export interface MatchedStatement {
  readonly policy: PolicyKind;
  /** Index into identityPolicies; 0 for the key policy. */
  readonly policyIndex: number;
  readonly statementIndex: number;
  readonly sid?: string;
}

export type AccessDecision =
  | {
      readonly allowed: true;
      readonly reason: 'keyPolicy' | 'identityPolicy' | 'grant';
      readonly deniedBy?: undefined;
      /** Absent when a grant or the root user's implicit identity permissions decided. */
      readonly matched?: MatchedStatement;
    }
  | {
      readonly allowed: false;
      readonly reason: 'explicitDeny' | 'implicitDeny';
      /** Which kind of policy to name in the AccessDeniedException message. */
      readonly deniedBy: 'resource' | 'identity';
      /** The Deny statement, for explicit denies. */
      readonly matched?: MatchedStatement;
    };

export interface AccessRequest {
  readonly context: PolicyRequestContext;
  /** The key's policy. Required for operations on a key: without one nothing is allowed. */
  readonly keyPolicy?: PolicyInput;
  /** The caller's identity (IAM) policies. */
  readonly identityPolicies?: readonly PolicyInput[];
  /**
   * Whether a grant on the key allows this request (grantee, operation, constraints and grant
   * tokens are the caller's business). A function is called only when the policies alone do
   * not decide, so grants are not looked up for requests the policies already settle.
   */
  readonly grantAllows?: boolean | ((context: PolicyRequestContext) => boolean);
}

// Parsed policies by text. Stored policies are parsed on every request otherwise; a bounded
// map keeps the common ones (a handful of key and identity policies) warm. Only valid
// documents are cached.
const cacheLimit = 512;
const cache = new Map<string, PolicyDocument>();

function policyFrom(input: PolicyInput, kind: PolicyKind): PolicyDocument {
  if (typeof input !== 'string') {
    if (input.kind !== kind) throw new TypeError(`a ${input.kind} policy was passed where a ${kind} policy belongs`);
    return input;
  }
  const cacheKey = `${kind}\u0000${input}`;
  const hit = cache.get(cacheKey);
  if (hit) return hit;
  const parsed = parsePolicy(input, kind);
  if (cache.size >= cacheLimit) cache.delete(cache.keys().next().value!);
  cache.set(cacheKey, parsed);
  return parsed;
}

function actionAndResourceApply(statement: PolicyStatement, action: string, resource: string): boolean {
  // Precondition: a statement without Action or Resource never applies.
  if (!statement.action || !statement.resource) return false;
  const actionListed = statement.action.patterns.some((p) => actionMatches(p, action));
  if (actionListed === statement.action.negated) return false;
  const resourceListed = statement.resource.patterns.some((p) => resourceMatches(p, resource));
  return resourceListed !== statement.resource.negated;
}

function principalCoverage(statement: PolicyStatement, caller: PolicyPrincipal): PrincipalCoverage {
  const p = statement.principal;
  if (!p) return 'none';
  if (p.negated) {
    const entries = p.set.any ? ['*', ...p.set.aws] : p.set.aws;
    return notPrincipalExcludes(entries, caller) ? 'none' : 'direct';
  }
  if (p.set.any) return 'direct';
  return bestCoverage(p.set.aws, caller);
}

interface IdentityResult {
  deny?: MatchedStatement;
  allow?: MatchedStatement;
}

function evaluateIdentity(policies: readonly PolicyDocument[], action: string, resource: string, values: RequestValues): IdentityResult {
  const result: IdentityResult = {};
  policies.forEach((doc, policyIndex) => {
    doc.statements.forEach((s, statementIndex) => {
      if (result.deny) return;
      if (s.effect === 'Allow' && result.allow) return;
      if (!actionAndResourceApply(s, action, resource) || !conditionsHold(s.conditions, values)) return;
      const matched: MatchedStatement = { policy: 'identity', policyIndex, statementIndex, sid: s.sid };
      if (s.effect === 'Deny') result.deny = matched;
      else result.allow = matched;
    });
  });
  return result;
}

interface KeyPolicyResult {
  deny?: MatchedStatement;
  direct?: MatchedStatement;
  account?: MatchedStatement;
}

function evaluateKeyPolicy(doc: PolicyDocument | undefined, caller: PolicyPrincipal, action: string, resource: string, values: RequestValues): KeyPolicyResult {
  const result: KeyPolicyResult = {};
  if (!doc) return result;
  doc.statements.forEach((s, statementIndex) => {
    if (result.deny) return;
    if (!actionAndResourceApply(s, action, resource)) return;
    const coverage = principalCoverage(s, caller);
    if (coverage === 'none') return;
    if (s.effect === 'Allow' && (result.direct || (coverage === 'account' && result.account))) return;
    if (!conditionsHold(s.conditions, values)) return;
    const matched: MatchedStatement = { policy: 'key', policyIndex: 0, statementIndex, sid: s.sid };
    // A Deny naming the caller's account applies to every principal of that account.
    if (s.effect === 'Deny') result.deny = matched;
    else if (coverage === 'direct') result.direct = matched;
    else result.account = matched;
  });
  return result;
}

/** Decides one request. Throws only PolicyValidationError, for a stored policy that is invalid. */
export function evaluateAccess(request: AccessRequest): AccessDecision {
  const { context } = request;
  const caller = context.principal;
  const action = kmsAction(context.action);
  const values = toRequestValues(context.conditionValues);
  const identityPolicies = (request.identityPolicies ?? []).map((p) => policyFrom(p, 'identity'));
  const key = context.resource;
  const resource = key?.arn ?? '*';

  const identity = evaluateIdentity(identityPolicies, action, resource, values);
  // The root user of an account is not subject to identity policies' allows: it has them all.
  const identityAllows = identity.allow !== undefined || isRootPrincipal(caller);

  if (!key) {
    // Precondition: an operation without a key resource is decided by identity policies alone.
    if (identity.deny) return { allowed: false, reason: 'explicitDeny', deniedBy: 'identity', matched: identity.deny };
    if (identityAllows) return { allowed: true, reason: 'identityPolicy', matched: identity.allow };
    return { allowed: false, reason: 'implicitDeny', deniedBy: 'identity' };
  }

  const keyDoc = request.keyPolicy === undefined ? undefined : policyFrom(request.keyPolicy, 'key');
  const keyResult = evaluateKeyPolicy(keyDoc, caller, action, resource, withoutIdentityOnlyKeys(values));

  // Precondition: an explicit deny in the key policy or in an identity policy overrides every allow.
  if (keyResult.deny) return { allowed: false, reason: 'explicitDeny', deniedBy: 'resource', matched: keyResult.deny };
  if (identity.deny) return { allowed: false, reason: 'explicitDeny', deniedBy: 'identity', matched: identity.deny };

  const sameAccount = caller.accountId === key.accountId;
  const keyPolicyLetsIn = keyResult.direct !== undefined || keyResult.account !== undefined;
  if (sameAccount) {
    if (keyResult.direct) return { allowed: true, reason: 'keyPolicy', matched: keyResult.direct };
    // Precondition: a key policy statement naming the account allows a principal only with an identity policy allow.
    if (keyResult.account && identityAllows) return { allowed: true, reason: 'identityPolicy', matched: identity.allow };
  } else if (keyPolicyLetsIn && identityAllows) {
    // Precondition: cross-account access needs an allow in both the key policy and the caller identity policies.
    return { allowed: true, reason: 'identityPolicy', matched: identity.allow };
  }

  // Precondition: grants are consulted only for operations on a key and only after the policies allow nothing.
  const grant = typeof request.grantAllows === 'function' ? request.grantAllows(context) : request.grantAllows === true;
  if (grant) return { allowed: true, reason: 'grant' };

  return { allowed: false, reason: 'implicitDeny', deniedBy: keyPolicyLetsIn ? 'identity' : 'resource' };
}

export interface PolicySetRequest {
  /** The IAM-style action, e.g. "kms:Encrypt". */
  readonly action: string;
  /** An ARN, or "*" when the request names no resource. */
  readonly resource: string;
  readonly conditionValues: ConditionValues;
  /** Identity-style documents (no Principal): who they bind is the caller's business. */
  readonly policies: readonly PolicyInput[];
}

export type PolicySetDecision =
  | { readonly allowed: true; readonly matched: MatchedStatement }
  | { readonly allowed: false; readonly reason: 'explicitDeny' | 'implicitDeny'; readonly matched?: MatchedStatement };

/**
 * A request decided by one set of identity-style policies and nothing else: allowed only by an
 * Allow statement that applies, unless a Deny applies. No caller is allowed implicitly (an
 * account's root gets nothing here that a statement does not give), and there is no key
 * policy or grant. An external key store's secondary authorization is decided this way.
 */
export function evaluatePolicySet(request: PolicySetRequest): PolicySetDecision {
  const policies = request.policies.map((p) => policyFrom(p, 'identity'));
  const result = evaluateIdentity(policies, kmsAction(request.action), request.resource, toRequestValues(request.conditionValues));
  // Precondition: a policy set allows a request only through an Allow statement, and any Deny that applies overrides it.
  if (result.deny) return { allowed: false, reason: 'explicitDeny', matched: result.deny };
  if (result.allow) return { allowed: true, matched: result.allow };
  return { allowed: false, reason: 'implicitDeny' };
}

export interface LockoutCheckOptions {
  /**
   * The key the policy is for. Without it, key-policy and identity-policy statements apply
   * only if their Resource is "*", which errs towards reporting a lockout.
   */
  key?: PolicyResource;
  /** The condition keys of the PutKeyPolicy/CreateKey request being checked. */
  conditionValues?: ConditionValues;
}

/**
 * The lockout safety check of CreateKey and PutKeyPolicy: whether `principal` could still call
 * PutKeyPolicy on the key under the new policy, directly or through delegation to its account
 * and its identity policies. Grants cannot give PutKeyPolicy and are not considered. Throws
 * PolicyValidationError when the policy text is invalid.
 */
export function lockoutSafetyCheck(
  policy: PolicyInput,
  principal: PolicyPrincipal & { readonly policies?: readonly PolicyInput[] },
  options: LockoutCheckOptions = {},
): boolean {
  const conditionValues = options.conditionValues ?? {
    'aws:principalarn': principal.arn,
    'aws:principalaccount': principal.accountId,
    'kms:calleraccount': principal.accountId,
  };
  // Precondition: the lockout safety check passes only if the new policy still lets the caller call kms:PutKeyPolicy.
  const decision = evaluateAccess({
    context: {
      principal: { arn: principal.arn, accountId: principal.accountId },
      action: 'kms:PutKeyPolicy',
      resource: options.key ?? { arn: '*', accountId: principal.accountId },
      conditionValues,
    },
    keyPolicy: policy,
    identityPolicies: principal.policies ?? [],
    grantAllows: false,
  });
  return decision.allowed;
}
