// GetKeyLastUsage: the last successful cryptographic operation on a key, its time and its
// CloudTrail event id, answered from the audit trail rather than from a counter on the key, so
// the answer always names a record LookupEvents can show.
//
// TrackingStartDate is the later of the key's creation and the moment this deployment's trail
// begins: the time of the oldest record the trail still holds (retention may have pruned older
// ones, and what was pruned can no longer be answered for), or now when the trail is empty.
import { keyIdField } from '../api/fields';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import type { AuditRecord } from '../audit/record';
import type { CoreDeps } from '../deps';
import { KmsError, messages } from '../errors';
import { parseKeyReference } from '../keys/key-id';
import { keyForOperation } from '../keys/resolve';

/**
 * The operations AWS counts as use of a key (the API's KeyLastUsageTrackingOperation, less
 * Encapsulate and Decapsulate, which need ML-KEM keys this service does not make). ReEncrypt
 * counts for both its source and its destination key: its record names both.
 */
export const keyUsageOperations = [
  'Decrypt', 'DeriveSharedSecret', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext',
  'GenerateDataKeyWithoutPlaintext', 'GenerateMac', 'ReEncrypt', 'Sign', 'Verify', 'VerifyMac',
] as const;

/** When the trail this deployment keeps begins: its oldest record, or now for an empty trail. */
async function trackingBegan(deps: CoreDeps): Promise<Date> {
  const [oldest] = await deps.store.audit.range(0, 1);
  return oldest?.eventTime ?? deps.clock.now();
}

/** The request id the record's CloudTrail event carries, if it carries one. */
function requestIdOf(record: AuditRecord): string | undefined {
  try {
    const requestId = (JSON.parse(record.event) as { requestID?: unknown }).requestID;
    return typeof requestId === 'string' ? requestId : undefined;
  } catch {
    return undefined;
  }
}

export const getKeyLastUsage = defineOperation({
  name: 'GetKeyLastUsage',
  input: schema({ KeyId: s.required(keyIdField()) }),
  async run(deps, ctx, input) {
    const reference = parseKeyReference(input.KeyId);
    // Precondition: GetKeyLastUsage answers only for keys of the caller's own account.
    if (reference.kind === 'keyArn' && reference.accountId !== ctx.principal.accountId) {
      throw new KmsError('NotFoundException', messages.keyDoesNotExist(input.KeyId));
    }
    // Key id or key ARN only ("Alias names are not supported"): an alias is an invalid key id here.
    const { key, arn } = await keyForOperation(deps, ctx, 'GetKeyLastUsage', input.KeyId, { aliases: false });
    const [last, began] = await Promise.all([deps.store.audit.lastOf(arn, keyUsageOperations), trackingBegan(deps)]);
    const requestId = last && requestIdOf(last);
    return {
      KeyId: key.keyId,
      KeyCreationDate: key.createdAt,
      TrackingStartDate: new Date(Math.max(key.createdAt.getTime(), began.getTime())),
      // The SDK model: an empty object when the key has not been used since tracking began.
      KeyLastUsage: last
        ? { Operation: last.eventName, Timestamp: last.eventTime, CloudTrailEventId: last.eventId, ...(requestId ? { KmsRequestId: requestId } : {}) }
        : {},
    };
  },
});
