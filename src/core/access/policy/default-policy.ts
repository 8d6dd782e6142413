// The key policy KMS attaches when CreateKey (or ReplicateKey) is called without one: it gives
// the account's root full access, which delegates access to the account's identity policies.
// The text is AWS's, byte for byte (KMS-SPEC §5.1), because GetKeyPolicy returns it verbatim.

export const DEFAULT_KEY_POLICY_ID = 'key-default-1';

export function defaultKeyPolicy(accountId: string): string {
  return `{"Version":"2012-10-17","Id":"${DEFAULT_KEY_POLICY_ID}","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::${accountId}:root"},"Action":"kms:*","Resource":"*"}]}`;
}
