// Wording, kept in one place so every operation says the same thing the way AWS says it.
import type { AccessDecision } from './evaluate';

export const policyMessages = {
  /** AWS's MalformedPolicyDocumentException text when the lockout safety check fails. */
  lockout: 'The new key policy will not allow you to update the key policy in the future.',
  /** AWS's text for a principal it cannot accept. */
  invalidPrincipals: 'Policy contains a statement with one or more invalid principals.',
  overlyPermissive: (what: 'encryption context' | 'tag') =>
    `OverlyPermissiveCondition: Using the ForAllValues set operator with a single-valued condition key matches requests without the specified ${what} or with an unspecified ${what}. To fix, remove ForAllValues.`,
  tooLarge: (bytes: number) => `The policy document is ${bytes} bytes; the maximum is 32768 bytes.`,
  badCharacter: (code: number, index: number) =>
    `The policy document contains the character U+${code.toString(16).toUpperCase().padStart(4, '0')} at position ${index}; only tab, line feed, carriage return and U+0020 to U+00FF are allowed.`,
};

/** A decision that denied: the only kind there is a message for. */
export type DeniedDecision = Extract<AccessDecision, { allowed: false }>;

export interface AccessDeniedSubject {
  principalArn: string;
  /** "kms:Encrypt"; a bare operation name is prefixed with "kms:". */
  action: string;
  /** The key ARN, or "*" for operations without a key resource. */
  resource: string;
}

/**
 * AWS's AccessDeniedException message for a denied decision, e.g.
 * "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Encrypt on
 * resource: arn:aws:kms:…:key/… because no resource-based policy allows the kms:Encrypt action".
 */
export function accessDeniedMessage(decision: DeniedDecision, subject: AccessDeniedSubject): string {
  const action = subject.action.includes(':') ? subject.action : `kms:${subject.action}`;
  const head = `User: ${subject.principalArn} is not authorized to perform: ${action} on resource: ${subject.resource}`;
  const where = decision.deniedBy === 'resource' ? 'resource-based' : 'identity-based';
  if (decision.reason === 'explicitDeny') return `${head} with an explicit deny in ${where === 'resource-based' ? 'a' : 'an'} ${where} policy`;
  return `${head} because no ${where} policy allows the ${action} action`;
}
