// Why a policy document was refused. `MalformedPolicyDocumentException` is not (yet) in core's
// closed set of error codes, so the policy library throws its own error and the operation that
// stores a policy maps it to the wire error. `reason` lets that mapping tell apart the two
// checks AWS makes at the protocol layer (size, characters: ValidationException on the wire)
// from the document checks (MalformedPolicyDocumentException).

export type PolicyValidationReason =
  | 'size'
  | 'characters'
  | 'json'
  | 'document'
  | 'version'
  | 'statement'
  | 'effect'
  | 'principal'
  | 'action'
  | 'resource'
  | 'condition'
  | 'overlyPermissiveCondition'
  | 'lockout';

export class PolicyValidationError extends Error {
  constructor(readonly reason: PolicyValidationReason, message: string) {
    super(message);
    this.name = 'PolicyValidationError';
  }
}

export function isPolicyValidationError(e: unknown): e is PolicyValidationError {
  return e instanceof PolicyValidationError;
}
