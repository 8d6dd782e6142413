// A CallEvent as the CloudTrail event AWS KMS would log for it (KMS-SPEC §7), field by field,
// and as the draft the audit trail stores. Built only from what the event may carry: the
// request members the input schema does not declare secret, narrowed further by an allow-list
// per operation, and the output members audit/recordable-output.ts allows. So no plaintext,
// ciphertext, data key, signature, MAC, PIN, secret key, password or returned key policy can
// reach a record, whatever an operation's input or output holds.
//
// Sources: KMS API calls and the service's internal events use eventSource kms.amazonaws.com,
// as AWS does. Calls to this service's XKS proxy API are not KMS calls: they are recorded with
// eventSource "xks-proxy.hsm-kms" (the operation named as the XKS spec names it), and the
// operator's admin CLI commands with "cli.hsm-kms", so a LookupEvents reader tells them apart.
import type { CallEvent } from '../calls/event';
import type { AuditDraft } from './record';
import { canonicalJson } from './canonical-json';

export const KMS_EVENT_SOURCE = 'kms.amazonaws.com';
export const XKS_PROXY_EVENT_SOURCE = 'xks-proxy.hsm-kms';
export const CLI_EVENT_SOURCE = 'cli.hsm-kms';
/** Reading the trail through LookupEvents, as CloudTrail records its own API calls. */
export const CLOUDTRAIL_EVENT_SOURCE = 'cloudtrail.amazonaws.com';
const EVENT_VERSION = '1.08';

/**
 * Request members (the API's names) recorded per KMS operation, in CloudTrail's camelCase;
 * null: requestParameters is null. DryRun is recorded wherever it was sent. An operation
 * missing here records no parameters at all, so a new operation cannot leak by default.
 */
export const REQUEST_MEMBERS: Readonly<Record<string, readonly string[] | null>> = {
  CancelKeyDeletion: ['KeyId'],
  ConnectCustomKeyStore: ['CustomKeyStoreId'],
  CreateCustomKeyStore: [
    'CustomKeyStoreName', 'CloudHsmClusterId', 'CustomKeyStoreType', 'XksProxyUriEndpoint', 'XksProxyUriPath',
    'XksProxyVpcEndpointServiceName', 'XksProxyConnectivity',
  ],
  DeleteCustomKeyStore: ['CustomKeyStoreId'],
  DescribeCustomKeyStores: ['CustomKeyStoreId', 'CustomKeyStoreName', 'Limit', 'Marker'],
  DisconnectCustomKeyStore: ['CustomKeyStoreId'],
  UpdateCustomKeyStore: [
    'CustomKeyStoreId', 'NewCustomKeyStoreName', 'CloudHsmClusterId', 'XksProxyUriEndpoint', 'XksProxyUriPath',
    'XksProxyVpcEndpointServiceName', 'XksProxyConnectivity',
  ],
  CreateAlias: ['AliasName', 'TargetKeyId'],
  CreateGrant: ['KeyId', 'Constraints', 'Operations', 'GranteePrincipal', 'RetiringPrincipal', 'Name'],
  CreateKey: [
    'Description', 'Origin', 'BypassPolicyLockoutSafetyCheck', 'KeySpec', 'CustomerMasterKeySpec', 'KeyUsage', 'Tags', 'MultiRegion',
    'CustomKeyStoreId', 'XksKeyId',
  ],
  Decapsulate: ['KeyId', 'EncapsulationAlgorithm'],
  Decrypt: ['KeyId', 'EncryptionContext', 'EncryptionAlgorithm'],
  DeleteAlias: ['AliasName'],
  DeleteImportedKeyMaterial: ['KeyId', 'KeyMaterialId'],
  DeriveSharedSecret: ['KeyId', 'KeyAgreementAlgorithm'],
  DescribeKey: ['KeyId'],
  DisableKey: ['KeyId'],
  DisableKeyRotation: ['KeyId'],
  EnableKey: ['KeyId'],
  EnableKeyRotation: ['KeyId', 'RotationPeriodInDays'],
  Encapsulate: ['KeyId', 'EncapsulationAlgorithm'],
  Encrypt: ['KeyId', 'EncryptionContext', 'EncryptionAlgorithm'],
  GenerateDataKey: ['KeyId', 'KeySpec', 'NumberOfBytes', 'EncryptionContext'],
  GenerateDataKeyWithoutPlaintext: ['KeyId', 'KeySpec', 'NumberOfBytes', 'EncryptionContext'],
  GenerateDataKeyPair: ['KeyPairSpec', 'EncryptionContext', 'KeyId'],
  GenerateDataKeyPairWithoutPlaintext: ['KeyPairSpec', 'EncryptionContext', 'KeyId'],
  GenerateMac: ['MacAlgorithm', 'KeyId'],
  GenerateRandom: null,
  GetKeyPolicy: ['KeyId', 'PolicyName'],
  GetKeyLastUsage: ['KeyId'],
  LookupEvents: ['LookupAttributes', 'StartTime', 'EndTime', 'EventCategory', 'MaxResults'],
  GetKeyRotationStatus: ['KeyId'],
  GetParametersForImport: ['KeyId', 'WrappingAlgorithm', 'WrappingKeySpec'],
  GetPublicKey: ['KeyId'],
  ImportKeyMaterial: ['KeyId', 'ValidTo', 'ExpirationModel', 'ImportType', 'KeyMaterialDescription', 'KeyMaterialId'],
  ListAliases: ['KeyId', 'Limit', 'Marker'],
  ListGrants: ['KeyId', 'Marker', 'Limit', 'GrantId', 'GranteePrincipal'],
  ListKeyPolicies: ['KeyId', 'Limit', 'Marker'],
  ListKeyRotations: ['KeyId', 'Limit', 'Marker'],
  ListKeys: ['Limit', 'Marker'],
  ListResourceTags: ['KeyId', 'Limit', 'Marker'],
  ListRetirableGrants: ['RetiringPrincipal', 'Limit', 'Marker'],
  PutKeyPolicy: ['KeyId', 'PolicyName', 'Policy', 'BypassPolicyLockoutSafetyCheck'],
  ReEncrypt: [
    'SourceKeyId', 'DestinationKeyId', 'SourceEncryptionContext', 'DestinationEncryptionContext', 'SourceEncryptionAlgorithm',
    'DestinationEncryptionAlgorithm',
  ],
  ReplicateKey: ['KeyId', 'ReplicaRegion', 'BypassPolicyLockoutSafetyCheck', 'Description'],
  RetireGrant: null,
  RevokeGrant: ['KeyId', 'GrantId'],
  RotateKeyOnDemand: ['KeyId'],
  ScheduleKeyDeletion: ['KeyId', 'PendingWindowInDays'],
  Sign: ['KeyId', 'MessageType', 'SigningAlgorithm'],
  TagResource: ['KeyId', 'Tags'],
  UntagResource: ['KeyId', 'TagKeys'],
  UpdateAlias: ['AliasName', 'TargetKeyId'],
  UpdateKeyDescription: ['KeyId', 'Description'],
  UpdatePrimaryRegion: ['KeyId', 'PrimaryRegion'],
  Verify: ['KeyId', 'MessageType', 'SigningAlgorithm'],
  VerifyMac: ['MacAlgorithm', 'KeyId'],
};

/** Members AWS logs even when the request left them out, with the value the call used. */
const LOGGED_DEFAULTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  Decrypt: { EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
  Encrypt: { EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
  ReEncrypt: { SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
};

/** Since December 2022, these log responseElements.keyId = the key ARN even when the API returns nothing. */
const KEY_ARN_IN_RESPONSE = new Set([
  'CreateAlias', 'CreateGrant', 'DeleteAlias', 'DeleteKey', 'DisableKey', 'EnableKey', 'EnableKeyRotation', 'ImportKeyMaterial', 'RotateKey',
  'RotateKeyOnDemand', 'SynchronizeMultiRegionKey', 'TagResource', 'UntagResource', 'UpdateAlias', 'UpdatePrimaryRegion', 'CancelKeyDeletion',
  'ScheduleKeyDeletion',
]);

/** Custom key store operations: additionalEventData names the store and its cluster. */
const KEY_STORE_OPERATIONS = new Set([
  'CreateCustomKeyStore', 'UpdateCustomKeyStore', 'ConnectCustomKeyStore', 'DisconnectCustomKeyStore', 'DeleteCustomKeyStore',
]);

/** KMS operations that change nothing: CloudTrail marks their events readOnly (cryptographic operations included). */
const READ_ONLY_OPERATIONS = new Set([
  'Encrypt', 'Decrypt', 'ReEncrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'GenerateMac', 'VerifyMac', 'Sign', 'Verify', 'GenerateRandom', 'DeriveSharedSecret', 'Encapsulate', 'Decapsulate',
  // The XKS proxy API's calls change nothing either, nor does reading the trail.
  'GetHealthStatus', 'GetKeyMetadata', 'LookupEvents',
  // The admin CLI's checks that only read (AuditExport writes files and moves the export mark).
  'AuditVerify', 'AuditTail', 'Doctor',
]);

export function isReadOnly(operation: string): boolean {
  return READ_ONLY_OPERATIONS.has(operation) || /^(List|Describe|Get)[A-Z]/.test(operation);
}

/** A member name as CloudTrail writes it: KeyId → keyId, CloudHsmClusterId → cloudHsmClusterId. */
function camel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/**
 * `value` with every member name camelCased, all the way down, except inside encryption
 * contexts: their keys are the caller's data, logged as given.
 */
function camelDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelDeep);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(value)) out[camel(name)] = camelMember(name, member);
  return out;
}

/** One member's value as CloudTrail writes it: an encryption context verbatim, anything else camelCased. */
function camelMember(name: string, value: unknown): unknown {
  return /EncryptionContext/.test(name) ? value : camelDeep(value);
}

/** ISO-8601 in whole seconds, as CloudTrail writes eventTime. */
function isoSeconds(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

interface ArnParts {
  region: string;
  accountId: string;
}

function kmsArnParts(arn: string | undefined): ArnParts | undefined {
  const match = /^arn:[^:]+:kms:([^:]*):(\d{12}):/.exec(arn ?? '');
  return match ? { region: match[1]!, accountId: match[2]! } : undefined;
}

/** userIdentity, and the Username LookupEvents filters on. This service has no IAM unique ids: principalId is the account id for the root and the principal's name path otherwise. */
function identityOf(event: CallEvent): { userIdentity: Record<string, unknown>; username?: string } {
  if (event.source === 'internal') return { userIdentity: { accountId: event.accountId, invokedBy: KMS_EVENT_SOURCE } };
  const arn = event.principal;
  const match = arn ? /^arn:[^:]+:(?:iam|sts)::(\d{12}):(root|user\/(?:.*\/)?([^/]+)|role\/(?:.*\/)?([^/]+)|assumed-role\/([^/]+)\/(.+))$/.exec(arn) : null;
  const common = { arn, accountId: match?.[1] ?? event.accountId, accessKeyId: event.accessKeyId };
  if (!arn) return { userIdentity: { type: 'Unknown', accessKeyId: event.accessKeyId } };
  // The admin CLI runs as the local operating-system user, named in its principal.
  if (event.source === 'cli') {
    const operator = arn.replace(/^local-operator:/, '');
    return { userIdentity: { type: 'LocalOperator', principalId: arn, arn, userName: operator }, username: operator };
  }
  if (!match) return { userIdentity: { type: 'Unknown', principalId: arn, ...common }, username: arn };
  const [, accountId, path, userName, roleName, assumedRole, session] = match;
  if (path === 'root') return { userIdentity: { type: 'Root', principalId: accountId, ...common }, username: 'root' };
  if (userName) return { userIdentity: { type: 'IAMUser', principalId: path, ...common, userName }, username: userName };
  if (assumedRole) return { userIdentity: { type: 'AssumedRole', principalId: `${assumedRole}:${session}`, ...common }, username: session };
  return { userIdentity: { type: 'AssumedRole', principalId: path, ...common }, username: roleName };
}

function requestParametersOf(event: CallEvent, operation: string): Record<string, unknown> | null {
  if (event.source === 'internal') return null;
  const parameters = event.parameters ?? {};
  // XKS proxy and CLI calls have no AWS table: every member their schema lets be recorded.
  const members = event.source === 'kms' ? REQUEST_MEMBERS[operation] : Object.keys(parameters);
  if (members === null) return null;
  if (members === undefined) return {};
  const recorded: Record<string, unknown> = {};
  const defaults = event.source === 'kms' ? LOGGED_DEFAULTS[operation] ?? {} : {};
  for (const member of [...members, 'DryRun']) {
    const value = parameters[member] ?? defaults[member];
    if (value !== undefined) recorded[camel(member)] = camelMember(member, value);
  }
  return recorded;
}

function responseElementsOf(event: CallEvent, operation: string): Record<string, unknown> | null {
  if (event.outcome !== 'success' || event.source === 'internal') return null;
  const elements: Record<string, unknown> = {};
  // The key the call changed: the target key for alias operations, the (only) resolved key otherwise.
  const keyArn = event.resources[event.resources.length - 1];
  if (event.source === 'kms' && KEY_ARN_IN_RESPONSE.has(operation) && keyArn) elements.keyId = keyArn;
  for (const [name, value] of Object.entries(event.results ?? {})) elements[camel(name)] = camelMember(name, value);
  return Object.keys(elements).length > 0 ? elements : null;
}

function additionalEventDataOf(event: CallEvent, operation: string): Record<string, unknown> | undefined {
  const data: Record<string, unknown> = {};
  const keyStore = event.keyStores?.[0];
  if (keyStore) {
    data.customKeyStoreId = keyStore.customKeyStoreId;
    if (keyStore.xksKeyId) data.xksKeyId = keyStore.xksKeyId;
  }
  const parameters = event.parameters ?? {};
  if (KEY_STORE_OPERATIONS.has(operation)) {
    const name = parameters.NewCustomKeyStoreName ?? parameters.CustomKeyStoreName;
    if (typeof name === 'string') data.customKeyStoreName = name;
    if (typeof parameters.CloudHsmClusterId === 'string') data.clusterId = parameters.CloudHsmClusterId;
  }
  if (operation === 'RetireGrant' && typeof parameters.GrantId === 'string') data.grantId = parameters.GrantId;
  // The XKS proxy's request facts (kmsRequestId, kmsOperation, …): non-secret by RequestContext's rule.
  if (event.source === 'xks' && event.attributes) Object.assign(data, event.attributes);
  return Object.keys(data).length > 0 ? data : undefined;
}

/** An internal event's subject: the key (keyId) or, for a connection change, the custom key store and its state. */
function serviceEventDetailsOf(event: CallEvent): Record<string, unknown> {
  const keyId = event.keyReference ?? event.resources[0];
  return { ...(keyId ? { keyId } : {}), ...(event.attributes ?? {}) };
}

function eventSourceOf(event: CallEvent): string {
  if (event.source === 'xks') return XKS_PROXY_EVENT_SOURCE;
  if (event.source === 'cli') return CLI_EVENT_SOURCE;
  if (event.source === 'cloudtrail') return CLOUDTRAIL_EVENT_SOURCE;
  return KMS_EVENT_SOURCE;
}

/** The CloudTrail event of one call or internal event, and the fields the trail filters on. */
export function cloudTrailEvent(event: CallEvent, eventId: string): { record: Record<string, unknown>; username?: string } {
  const operation = event.operation ?? 'Unknown';
  const internal = event.source === 'internal';
  const arnParts = kmsArnParts(event.resources[0]);
  const accountId = event.accountId ?? arnParts?.accountId;
  const { userIdentity, username } = identityOf({ ...event, ...(accountId ? { accountId } : {}) });
  const record: Record<string, unknown> = {
    eventVersion: EVENT_VERSION,
    userIdentity,
    eventTime: isoSeconds(event.startedAt),
    eventSource: eventSourceOf(event),
    eventName: operation,
    awsRegion: event.region ?? arnParts?.region,
    sourceIPAddress: internal ? KMS_EVENT_SOURCE : event.sourceIp,
    userAgent: internal ? KMS_EVENT_SOURCE : event.userAgent,
    ...(event.outcome === 'failure' ? { errorCode: event.errorCode ?? 'KMSInternalException', errorMessage: event.errorMessage ?? '' } : {}),
    requestParameters: requestParametersOf(event, operation),
    responseElements: responseElementsOf(event, operation),
    additionalEventData: additionalEventDataOf(event, operation),
    requestID: event.requestId,
    eventID: eventId,
    readOnly: isReadOnly(operation),
    resources: event.resources.map((arn) => ({ accountId: kmsArnParts(arn)?.accountId ?? accountId, type: 'AWS::KMS::Key', ARN: arn })),
    eventType: internal ? 'AwsServiceEvent' : 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: arnParts?.accountId ?? accountId,
    eventCategory: 'Management',
    ...(internal ? { serviceEventDetails: serviceEventDetailsOf(event) } : {}),
  };
  return { record, ...(username ? { username } : {}) };
}

/** What the trail appends for `event`: the canonical CloudTrail event and its lookup fields. */
export function auditDraftOf(event: CallEvent, eventId: string): AuditDraft {
  const { record, username } = cloudTrailEvent(event, eventId);
  const operation = event.operation ?? 'Unknown';
  // Key ARNs, and the alias names the request used, so LookupEvents ResourceName finds either.
  const names = new Set(event.resources);
  for (const named of [event.keyReference, event.parameters?.AliasName, event.parameters?.TargetKeyId]) {
    if (typeof named === 'string' && (named.startsWith('alias/') || named.startsWith('arn:'))) names.add(named);
  }
  return {
    eventId,
    eventTime: event.startedAt,
    eventName: operation,
    readOnly: isReadOnly(operation),
    succeeded: event.outcome === 'success',
    ...(username ? { username } : {}),
    ...(event.accessKeyId ? { accessKeyId: event.accessKeyId } : {}),
    resourceNames: [...names],
    event: canonicalJson(record),
  };
}
