// LookupEvents (CloudTrail): the audit trail read back, newest first, one lookup attribute at a
// time, within a time range, a page at a time, in CloudTrail's shapes and with its errors.
//
// The trail holds every account and region this deployment serves, and CloudTrail shows an
// account only its own events in the region asked: a record is shown to the caller's account
// when that account made the call or owns a resource it names, and only when it happened in the
// request's region. Records that belong to no account at all (the XKS proxy API's calls, admin
// commands naming no key) are the deployment's own, and are shown to every caller allowed to look
// events up: who may do that is the operator's choice, through identity policies. Those checks, and the EventSource and ResourceType attributes the store
// cannot filter on, are applied here to what the store returns, reading at most a bounded number
// of records per call; a page may then hold fewer than MaxResults events and still carry a
// NextToken, as CloudTrail's may.
import { createHash } from 'node:crypto';
import { authorize } from '../access/authorize';
import type { RequestContext } from '../api/context';
import { defineOperation } from '../api/operation';
import { encodeAuditMarker } from '../api/page-marker';
import { s, schema } from '../api/schema';
import { KmsError } from '../errors';
import type { AuditLookup, AuditLookupAttribute, AuditRecord } from './record';

export const LOOKUP_EVENTS_ACTION = 'cloudtrail:LookupEvents';
export const DEFAULT_MAX_RESULTS = 50;
/** Records the store is asked for at once (at least the largest MaxResults). */
const STORE_PAGE = 50;
/** Records read per call before answering with what was found and a NextToken. */
const MAX_RECORDS_READ = 1000;
/** CloudTrail's limit on AttributeValue, where '_', ' ', ',' and '\n' count twice. */
const MAX_ATTRIBUTE_VALUE_WEIGHT = 2000;
const KMS_EVENT_SOURCE = 'kms.amazonaws.com';

const storeAttributes = ['EventId', 'EventName', 'ReadOnly', 'Username', 'ResourceName', 'AccessKeyId'] as const satisfies readonly AuditLookupAttribute[];
/** Attributes the store cannot filter on: read from each record's CloudTrail event instead. */
const eventAttributes = ['EventSource', 'ResourceType'] as const;
const lookupAttributeKeys: readonly string[] = [...storeAttributes, ...eventAttributes];
type LookupAttributeKey = (typeof storeAttributes)[number] | (typeof eventAttributes)[number];
const eventCategories = ['insight'];

const messages = {
  oneAttribute: 'LookupAttributes can contain at most one lookup attribute.',
  attributeKey: (key: string | undefined) =>
    `AttributeKey ${key === undefined ? 'is missing' : `'${key}' is not valid`}; it must be one of ${lookupAttributeKeys.join(', ')}.`,
  attributeValue: `AttributeValue must be 1 to ${MAX_ATTRIBUTE_VALUE_WEIGHT} characters long ('_', ' ', ',' and line feeds count as two).`,
  maxResults: (value: number) => `MaxResults ${value} is not valid; it must be between 1 and 50.`,
  timeRange: 'StartTime must not be after EndTime.',
  eventCategory: (value: string) => `EventCategory '${value}' is not valid; the only event category is insight.`,
  nextToken: 'The NextToken is not valid, or was issued for a request with other parameters.',
};

/** What the request asked for, less the page: the part a NextToken is bound to. */
interface Query {
  attribute?: { key: LookupAttributeKey; value: string };
  startTime?: Date;
  endTime?: Date;
  eventCategory?: string;
}

/** A NextToken binds a position in the trail (the last record read) to the query it was issued for. */
function fingerprint(query: Query): string {
  const parts = [query.attribute?.key ?? '', query.attribute?.value ?? '', query.startTime?.getTime() ?? '', query.endTime?.getTime() ?? '', query.eventCategory ?? ''];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

function encodeNextToken(lastSequence: number, query: Query): string {
  return Buffer.from(`lookup:${lastSequence}:${fingerprint(query)}`, 'utf8').toString('base64url');
}

// Precondition: a NextToken the service did not issue for the same lookup parameters is refused with InvalidNextTokenException.
function decodeNextToken(token: string, query: Query): number {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const match = /^lookup:(\d{1,15}):([0-9a-f]{16})$/.exec(text);
  const sequence = Number(match?.[1]);
  // Re-encoding catches what Buffer.from silently skips: characters outside base64url, and padding.
  if (!match || match[2] !== fingerprint(query) || !Number.isSafeInteger(sequence) || sequence < 1 || Buffer.from(text, 'utf8').toString('base64url') !== token) {
    throw new KmsError('InvalidNextTokenException', messages.nextToken);
  }
  return sequence;
}

function attributeValueWeight(value: string): number {
  let weight = 0;
  for (const character of value) weight += character === '_' || character === ' ' || character === ',' || character === '\n' ? 2 : 1;
  return weight;
}

function attributeOf(attributes: readonly { AttributeKey?: string; AttributeValue?: string }[] | undefined): Query['attribute'] {
  if (attributes === undefined || attributes.length === 0) return undefined;
  if (attributes.length > 1) throw new KmsError('InvalidLookupAttributesException', messages.oneAttribute);
  const [{ AttributeKey: key, AttributeValue: value }] = attributes as [{ AttributeKey?: string; AttributeValue?: string }];
  if (key === undefined || !lookupAttributeKeys.includes(key)) throw new KmsError('InvalidLookupAttributesException', messages.attributeKey(key));
  if (value === undefined || value === '' || attributeValueWeight(value) > MAX_ATTRIBUTE_VALUE_WEIGHT) {
    throw new KmsError('InvalidLookupAttributesException', messages.attributeValue);
  }
  return { key: key as LookupAttributeKey, value };
}

/** The few fields of a stored CloudTrail event that LookupEvents reads. */
interface StoredEvent {
  eventSource?: unknown;
  awsRegion?: unknown;
  recipientAccountId?: unknown;
  userIdentity?: { accountId?: unknown };
  resources?: { ARN?: unknown; type?: unknown; accountId?: unknown }[];
}

function parseEvent(record: AuditRecord): StoredEvent {
  try {
    const parsed: unknown = JSON.parse(record.event);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as StoredEvent) : {};
  } catch {
    return {};
  }
}

const accountInArn = /^arn:[^:]*:[^:]*:[^:]*:(\d{12}):/;

/** The resource type of a name the trail records, as CloudTrail types KMS resources; undefined when not known. */
function resourceTypeOf(name: string): string | undefined {
  if (/^arn:[^:]+:kms:[^:]*:\d{12}:key\//.test(name)) return 'AWS::KMS::Key';
  if (name.startsWith('alias/') || /^arn:[^:]+:kms:[^:]*:\d{12}:alias\//.test(name)) return 'AWS::KMS::Alias';
  return undefined;
}

interface WireResource { ResourceType?: string; ResourceName: string }

/** The event's own resources, then any further name the record was filed under. */
function resourcesOf(record: AuditRecord, event: StoredEvent): WireResource[] {
  const resources: WireResource[] = [];
  const seen = new Set<string>();
  for (const resource of Array.isArray(event.resources) ? event.resources : []) {
    if (typeof resource?.ARN !== 'string' || seen.has(resource.ARN)) continue;
    seen.add(resource.ARN);
    const type = typeof resource.type === 'string' ? resource.type : resourceTypeOf(resource.ARN);
    resources.push({ ...(type ? { ResourceType: type } : {}), ResourceName: resource.ARN });
  }
  for (const name of record.resourceNames) {
    if (seen.has(name)) continue;
    seen.add(name);
    const type = resourceTypeOf(name);
    resources.push({ ...(type ? { ResourceType: type } : {}), ResourceName: name });
  }
  return resources;
}

/** Whether the caller's account sees the record: it made the call or owns a resource named, in the request's region. */
function visibleTo(ctx: RequestContext, record: AuditRecord, event: StoredEvent): boolean {
  if (typeof event.awsRegion === 'string' && event.awsRegion !== ctx.region) return false;
  const accounts = new Set<unknown>([event.userIdentity?.accountId, event.recipientAccountId]);
  for (const resource of Array.isArray(event.resources) ? event.resources : []) accounts.add(resource?.accountId);
  for (const name of record.resourceNames) accounts.add(accountInArn.exec(name)?.[1]);
  accounts.delete(undefined);
  return accounts.size === 0 || accounts.has(ctx.principal.accountId);
}

function eventSourceOf(event: StoredEvent): string {
  return typeof event.eventSource === 'string' ? event.eventSource : KMS_EVENT_SOURCE;
}

function toWireEvent(record: AuditRecord, event: StoredEvent, resources: WireResource[]) {
  return {
    EventId: record.eventId,
    EventName: record.eventName,
    ReadOnly: String(record.readOnly),
    ...(record.accessKeyId !== undefined ? { AccessKeyId: record.accessKeyId } : {}),
    EventTime: record.eventTime,
    EventSource: eventSourceOf(event),
    ...(record.username !== undefined ? { Username: record.username } : {}),
    Resources: resources,
    CloudTrailEvent: record.event,
  };
}

export const lookupEvents = defineOperation({
  name: 'LookupEvents',
  // Bounds are checked in run(), so that they fail with CloudTrail's own exceptions rather than a generic validation error.
  input: schema({
    LookupAttributes: s.list(s.structure({ AttributeKey: s.string(), AttributeValue: s.string() })),
    StartTime: s.timestamp(),
    EndTime: s.timestamp(),
    EventCategory: s.string(),
    MaxResults: s.integer(),
    NextToken: s.string(),
  }),
  async run(deps, ctx, input) {
    // Precondition: LookupEvents is allowed only by an identity policy allowing cloudtrail:LookupEvents, or to the account's root.
    await authorize(deps, ctx, { action: LOOKUP_EVENTS_ACTION });
    const attribute = attributeOf(input.LookupAttributes);
    const maxResults = input.MaxResults ?? DEFAULT_MAX_RESULTS;
    if (maxResults < 1 || maxResults > 50) throw new KmsError('InvalidMaxResultsException', messages.maxResults(maxResults));
    if (input.StartTime && input.EndTime && input.StartTime.getTime() > input.EndTime.getTime()) {
      throw new KmsError('InvalidTimeRangeException', messages.timeRange);
    }
    if (input.EventCategory !== undefined && !eventCategories.includes(input.EventCategory)) {
      throw new KmsError('InvalidEventCategoryException', messages.eventCategory(input.EventCategory));
    }
    const query: Query = { attribute, startTime: input.StartTime, endTime: input.EndTime, eventCategory: input.EventCategory };
    const after = input.NextToken === undefined ? undefined : decodeNextToken(input.NextToken, query);
    // The trail records API calls only: asking for Insights events finds none.
    if (input.EventCategory === 'insight') return { Events: [] };

    const filter: AuditLookup = {
      ...(attribute && (storeAttributes as readonly string[]).includes(attribute.key) ? { attribute: attribute as AuditLookup['attribute'] } : {}),
      ...(input.StartTime ? { startTime: input.StartTime } : {}),
      ...(input.EndTime ? { endTime: input.EndTime } : {}),
    };
    const events: ReturnType<typeof toWireEvent>[] = [];
    let marker = after === undefined ? undefined : encodeAuditMarker({ sequence: after });
    let read = 0;
    for (;;) {
      const page = await deps.store.audit.lookup(filter, { limit: STORE_PAGE, ...(marker ? { marker } : {}) });
      for (const [index, record] of page.items.entries()) {
        read++;
        const event = parseEvent(record);
        if (!visibleTo(ctx, record, event)) continue;
        const resources = resourcesOf(record, event);
        if (attribute?.key === 'EventSource' && eventSourceOf(event) !== attribute.value) continue;
        if (attribute?.key === 'ResourceType' && !resources.some((r) => r.ResourceType === attribute.value)) continue;
        events.push(toWireEvent(record, event, resources));
        if (events.length === maxResults) {
          const more = index < page.items.length - 1 || page.nextMarker !== undefined;
          return { Events: events, ...(more ? { NextToken: encodeNextToken(record.sequence, query) } : {}) };
        }
      }
      const last = page.items[page.items.length - 1];
      if (page.nextMarker === undefined || last === undefined) return { Events: events };
      if (read >= MAX_RECORDS_READ) return { Events: events, NextToken: encodeNextToken(last.sequence, query) };
      marker = page.nextMarker;
    }
  },
});
