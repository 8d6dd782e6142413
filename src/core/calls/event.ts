// One structured event per call: what every observer (the request log, the audit trail,
// metrics) is given. Built from declarations only: parameters are the members the input
// description does not declare secret, so nothing secret can reach an observer by accident.
import type { ErrorCode } from '../errors';

/** Who made the call: a wire protocol, the admin CLI, or one of the service's own jobs. */
export type CallSource = 'kms' | 'xks' | 'cli' | 'internal';

export interface CallEvent {
  source: CallSource;
  /** The operation's name (AWS's, for the KMS API); absent when the request named none we know. */
  operation?: string;
  requestId: string;
  /** The caller's principal ARN, once authenticated. */
  principal?: string;
  /** The access key id the request was signed with (SigV4), if any. */
  accessKeyId?: string;
  /** The account the call acts in: the principal's, or the key's for internal events. */
  accountId?: string;
  sourceIp?: string;
  /** The client's User-Agent header, as sent. */
  userAgent?: string;
  region?: string;
  /** The key the request names, as given (KeyId, TargetKeyId), or what the response names. */
  keyReference?: string;
  /** ARNs of the keys the call resolved. */
  resources: string[];
  /** Request members that may be recorded. */
  parameters?: Record<string, unknown>;
  /** Output members that may be recorded: an allow-list per operation (audit/recordable-output.ts). */
  results?: Record<string, unknown>;
  /** The custom key stores of the keys the call resolved (CloudTrail's additionalEventData). */
  keyStores?: { customKeyStoreId: string; xksKeyId?: string }[];
  /** Non-secret facts the caller gave the call (RequestContext.attributes), e.g. the XKS kmsRequestId. */
  attributes?: Readonly<Record<string, string>>;
  outcome: 'success' | 'failure';
  errorCode?: ErrorCode;
  errorMessage?: string;
  /** Internal detail of a failure, for the operator's log only. */
  errorDetail?: string;
  /** Stack of an unexpected (non-KMS) error, for the operator's log only. */
  stack?: string;
  startedAt: Date;
  latencyMs: number;
}

/** Awaited before the caller answers; an observer that throws fails the call (fail closed, as an audit device must). */
export type CallObserver = (event: CallEvent) => void | Promise<void>;
