// Audit drafts for core tests that read the trail (LookupEvents, GetKeyLastUsage) before any
// observer writes it: each carries a CloudTrail event with the fields the trail's writer puts
// there (userIdentity, eventSource, awsRegion, resources, requestID, recipientAccountId).
import { randomUUID } from 'node:crypto';
import type { AuditDraft } from '../../src/core/audit/record';

export interface DraftOptions {
  eventName: string;
  eventTime: Date;
  succeeded?: boolean;
  readOnly?: boolean;
  /** Principal ARN of the caller; its account and last part fill userIdentity and Username. */
  principalArn?: string;
  accessKeyId?: string;
  /** Key ARNs (and alias names) the event names. */
  resourceNames?: string[];
  region?: string;
  eventSource?: string;
  requestId?: string;
  eventId?: string;
}

export function auditDraft(o: DraftOptions): AuditDraft {
  const principalArn = o.principalArn ?? 'arn:aws:iam::111122223333:root';
  const accountId = /::(\d{12}):/.exec(principalArn)?.[1] ?? '111122223333';
  const username = principalArn.endsWith(':root') ? 'root' : principalArn.split('/').pop()!;
  const eventId = o.eventId ?? randomUUID();
  const resourceNames = o.resourceNames ?? [];
  const event = {
    awsRegion: o.region ?? 'us-east-1',
    eventID: eventId,
    eventName: o.eventName,
    eventSource: o.eventSource ?? 'kms.amazonaws.com',
    eventTime: o.eventTime.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventVersion: '1.11',
    readOnly: o.readOnly ?? false,
    recipientAccountId: accountId,
    requestID: o.requestId ?? randomUUID(),
    resources: resourceNames.filter((name) => name.startsWith('arn:')).map((ARN) => ({ ARN, accountId: ARN.split(':')[4], type: 'AWS::KMS::Key' })),
    userIdentity: { accountId, arn: principalArn, ...(o.accessKeyId ? { accessKeyId: o.accessKeyId } : {}), type: username === 'root' ? 'Root' : 'IAMUser', userName: username },
    ...(o.succeeded === false ? { errorCode: 'AccessDeniedException', errorMessage: 'denied' } : {}),
  };
  return {
    eventId,
    eventTime: o.eventTime,
    eventName: o.eventName,
    readOnly: o.readOnly ?? false,
    succeeded: o.succeeded ?? true,
    username,
    ...(o.accessKeyId ? { accessKeyId: o.accessKeyId } : {}),
    resourceNames,
    event: JSON.stringify(event),
  };
}
