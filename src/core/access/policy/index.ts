// The policy engine: parse and validate key and identity policies, and decide requests the way
// AWS KMS does (key policy, identity policies, grants). Pure: no I/O, no clock, no store.
export { PolicyValidationError, isPolicyValidationError, type PolicyValidationReason } from './errors';
export {
  MAX_POLICY_BYTES,
  parsePolicy,
  policyVersions,
  type Effect,
  type ParsePolicyOptions,
  type PolicyDocument,
  type PolicyKind,
  type PolicyStatement,
  type PrincipalSet,
} from './document';
export {
  buildConditionValues,
  kmsAction,
  type ConditionValue,
  type ConditionValues,
  type ConditionValuesInput,
  type PolicyRequestContext,
  type PolicyResource,
} from './context';
export type { PolicyPrincipal } from './matching';
export type { BaseOperator, ConditionClause, SetQualifier } from './conditions';
export {
  evaluateAccess,
  evaluatePolicySet,
  lockoutSafetyCheck,
  type AccessDecision,
  type AccessRequest,
  type LockoutCheckOptions,
  type MatchedStatement,
  type PolicyInput,
  type PolicySetDecision,
  type PolicySetRequest,
} from './evaluate';
export { DEFAULT_KEY_POLICY_ID, defaultKeyPolicy } from './default-policy';
export { accessDeniedMessage, policyMessages, type AccessDeniedSubject, type DeniedDecision } from './messages';
