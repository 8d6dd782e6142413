// CloudTrail's dispatch table: the one operation of the CloudTrail API served on the KMS
// endpoint, by its X-Amz-Target name. A typed table, as the TrentService one is.
import type { DispatchableOperation } from '../../core/api/operation';
import { lookupEvents } from '../../core/audit/lookup-events';

/**
 * The X-Amz-Target prefixes that name CloudTrail's API: the one in CloudTrail's API reference (and
 * the AWS CLI's service model), and the shorter one the AWS SDK for JavaScript v3 sends.
 */
export const CLOUDTRAIL_TARGET_PREFIXES = ['com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.', 'CloudTrail_20131101.'] as const;

export const cloudTrailOperations = {
  LookupEvents: lookupEvents,
} satisfies Record<string, DispatchableOperation>;

export type CloudTrailOperationName = keyof typeof cloudTrailOperations;
