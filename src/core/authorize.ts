// Authorisation. Until key policies, identity policies and grants arrive, the account's
// root principal may do everything and every other principal nothing.
import { isAccountRoot, type Principal } from './context';
import { KmsError } from './errors';

/** `resource` is a key ARN, or "*" for operations without a key resource. */
export function authorize(principal: Principal, action: string, resource: string, resourceAccountId?: string): void {
  // Precondition: only the root principal of the key's own account is allowed.
  const ownAccount = resourceAccountId === undefined || resourceAccountId === principal.accountId;
  if (isAccountRoot(principal) && ownAccount) return;
  const basis = resource === '*' ? 'no identity-based policy allows' : 'no resource-based policy allows';
  throw new KmsError(
    'AccessDeniedException',
    `User: ${principal.arn} is not authorized to perform: kms:${action} on resource: ${resource} because ${basis} the kms:${action} action`,
  );
}
