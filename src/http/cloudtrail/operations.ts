// CloudTrail's dispatch table: the one operation of the CloudTrail API served on the KMS
// endpoint, by its X-Amz-Target name. A typed table, as the TrentService one is.
import type { DispatchableOperation } from '../../core/api/operation';
import { lookupEvents } from '../../core/audit/lookup-events';

export const CLOUDTRAIL_TARGET_PREFIX = 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.';

export const cloudTrailOperations = {
  LookupEvents: lookupEvents,
} satisfies Record<string, DispatchableOperation>;

export type CloudTrailOperationName = keyof typeof cloudTrailOperations;
