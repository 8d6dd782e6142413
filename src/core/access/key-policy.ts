// Key policies as the operations see them: validated on the way in (CreateKey, PutKeyPolicy),
// with AWS's lockout safety check, and the one policy name AWS knows.
import type { Principal } from '../api/context';
import { KmsError } from '../errors';
import { isPolicyValidationError, lockoutSafetyCheck, parsePolicy, policyMessages } from './policy';

/** Every key has exactly one policy, and this is its name. */
export const POLICY_NAME = 'default';

/** GetKeyPolicy and PutKeyPolicy: a PolicyName, when given, must name the one policy a key has. */
export function assertPolicyName(name: string | undefined): void {
  if (name !== undefined && name !== POLICY_NAME) throw new KmsError('NotFoundException', `No such policy exists: ${name}. The only key policy name is ${POLICY_NAME}.`);
}

/** Throws MalformedPolicyDocumentException with the reason when the text is not a valid key policy. */
export function validateKeyPolicy(text: string): void {
  try {
    parsePolicy(text, 'key');
  } catch (e) {
    if (isPolicyValidationError(e)) throw new KmsError('MalformedPolicyDocumentException', e.message);
    throw e;
  }
}

// Precondition: a key policy that would stop the caller from changing it again is refused unless the lockout check is bypassed.
export function assertNoLockout(text: string, caller: Principal, key: { arn: string; accountId: string } | undefined, bypass: boolean | undefined): void {
  if (bypass) return;
  const stillAllowed = lockoutSafetyCheck(text, { arn: caller.arn, accountId: caller.accountId, policies: caller.policies }, key ? { key } : undefined);
  if (!stillAllowed) throw new KmsError('MalformedPolicyDocumentException', policyMessages.lockout);
}
