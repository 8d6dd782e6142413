// Shared fixtures for the policy engine tests.
import {
  evaluateAccess,
  type AccessDecision,
  type AccessRequest,
  type ConditionValues,
  type PolicyPrincipal,
  type PolicyResource,
} from '../../../src/core/access/policy';

export const ACCOUNT = '111122223333';
export const OTHER = '444455556666';
export const KEY_ARN = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
export const OTHER_KEY_ARN = `arn:aws:kms:us-east-1:${ACCOUNT}:key/ffffffff-12ab-34cd-56ef-1234567890ab`;
export const KEY: PolicyResource = { arn: KEY_ARN, accountId: ACCOUNT };

export const root: PolicyPrincipal = { arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT };
export const alice: PolicyPrincipal = { arn: `arn:aws:iam::${ACCOUNT}:user/alice`, accountId: ACCOUNT };
export const bob: PolicyPrincipal = { arn: `arn:aws:iam::${ACCOUNT}:user/bob`, accountId: ACCOUNT };
export const adminSession: PolicyPrincipal = { arn: `arn:aws:sts::${ACCOUNT}:assumed-role/Admin/session-1`, accountId: ACCOUNT };
export const otherRoot: PolicyPrincipal = { arn: `arn:aws:iam::${OTHER}:root`, accountId: OTHER };
export const carol: PolicyPrincipal = { arn: `arn:aws:iam::${OTHER}:user/carol`, accountId: OTHER };

/** A one-or-more statement policy as JSON text. */
export function policy(...statements: object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

export const allowAll = { Effect: 'Allow', Action: 'kms:*', Resource: '*' };
export const denyAll = { Effect: 'Deny', Action: 'kms:*', Resource: '*' };

export interface Call {
  principal?: PolicyPrincipal;
  action?: string;
  resource?: PolicyResource | null;
  keyPolicy?: string;
  identity?: string[];
  values?: ConditionValues;
  grant?: AccessRequest['grantAllows'];
}

/** Evaluates a call on KEY (or without a resource when `resource: null`). */
export function decide(call: Call): AccessDecision {
  const principal = call.principal ?? alice;
  return evaluateAccess({
    context: {
      principal,
      action: call.action ?? 'kms:Encrypt',
      resource: call.resource === null ? undefined : (call.resource ?? KEY),
      conditionValues: call.values ?? { 'aws:principalarn': principal.arn },
    },
    keyPolicy: call.keyPolicy,
    identityPolicies: call.identity ?? [],
    grantAllows: call.grant,
  });
}

/**
 * Whether a Condition block holds: an identity policy allowing everything under that condition
 * is evaluated for a user on an operation without a key resource.
 */
export function holds(condition: object, values: ConditionValues, version = '2012-10-17'): boolean {
  const text = JSON.stringify({ Version: version, Statement: [{ ...allowAll, Condition: condition }] });
  return evaluateAccess({
    context: { principal: alice, action: 'kms:ListKeys', conditionValues: values },
    identityPolicies: [text],
  }).allowed;
}
