// The few output members an audit record may carry, per operation, as CloudTrail records them in
// responseElements. An allow-list, never the whole output: outputs hold plaintexts, data keys,
// ciphertexts, signatures, MACs, key policies and grant tokens, and none of them may leave the
// call. Every other operation's responseElements is null (cryptographic operations, GetKeyPolicy,
// reads) or only the key ARN, which the record takes from the call's resources.

/** Output members (the API's names) recorded per operation; operations not listed record none. */
const RECORDABLE_OUTPUT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  CreateKey: ['KeyMetadata'],
  CreateGrant: ['GrantId'],
  ScheduleKeyDeletion: ['KeyState', 'DeletionDate', 'PendingWindowInDays'],
  CreateCustomKeyStore: ['CustomKeyStoreId'],
  // As CloudTrail records ReplicateKey; a key policy is no secret (PutKeyPolicy's request records it too).
  ReplicateKey: ['ReplicaKeyMetadata', 'ReplicaPolicy'],
};

/** The allow-listed members of `output`, or undefined when the operation records none. */
export function recordableOutput(operation: string | undefined, output: unknown): Record<string, unknown> | undefined {
  const members = operation === undefined ? undefined : RECORDABLE_OUTPUT_MEMBERS[operation];
  if (!members || output === null || typeof output !== 'object') return undefined;
  const recorded: Record<string, unknown> = {};
  for (const member of members) {
    const value = (output as Record<string, unknown>)[member];
    if (value !== undefined) recorded[member] = value;
  }
  return recorded;
}
