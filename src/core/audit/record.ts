// The audit trail's stored shapes. A record is one CloudTrail event (canonical JSON, the bytes
// that are hashed) plus the few fields LookupEvents and GetKeyLastUsage filter on, and its place
// in the one chain every instance appends to. A digest is the chain head signed in the token.
import { createHash } from 'node:crypto';

/** What the trail is given to append: a CloudTrail event and its lookup fields. */
export interface AuditDraft {
  eventId: string;
  eventTime: Date;
  /** The operation (eventName), e.g. Encrypt, or an internal event such as RotateKey. */
  eventName: string;
  readOnly: boolean;
  /** Whether the call succeeded (no errorCode): GetKeyLastUsage only counts successes. */
  succeeded: boolean;
  /** userIdentity.userName or the principal ARN's last part (LookupEvents Username). */
  username?: string;
  /** userIdentity.accessKeyId (LookupEvents AccessKeyId). */
  accessKeyId?: string;
  /** Key ARNs and alias names the event names (LookupEvents ResourceName, GetKeyLastUsage). */
  resourceNames: string[];
  /** The CloudTrail event as canonical JSON (sorted keys, no insignificant space). */
  event: string;
}

/** A draft as stored: numbered and chained. */
export interface AuditRecord extends AuditDraft {
  /** 1, 2, 3, … without gaps: one order for every instance sharing the store. */
  sequence: number;
  /** Hex SHA-256 chain value of the record before (GENESIS_CHAIN_VALUE for sequence 1). */
  previousChainValue: string;
  /** Hex chainValue(previousChainValue, sequence, event). */
  chainValue: string;
}

/** A signed statement of the chain head at one moment (CloudTrail's digest file). */
export interface AuditDigest {
  /** The head's sequence when signed (0 for an empty trail). */
  sequence: number;
  chainValue: string;
  signedAt: Date;
  /** The signing key's identity (a fingerprint of its public key), so verifiers pick the right key. */
  signingKeyId: string;
  /** Signature algorithm as AWS names it, e.g. ECDSA_SHA_256. */
  signatureAlgorithm: string;
  /** Base64 signature over digestSigningInput(digest). */
  signature: string;
  /** Records with a lower sequence were pruned; this digest vouches for the chain value before them. */
  prunedBefore?: number;
}

export const GENESIS_CHAIN_VALUE = '0'.repeat(64);

/** The chain value of one record: binds its sequence, its bytes and everything before it. */
export function chainValue(previousChainValue: string, sequence: number, event: string): string {
  return createHash('sha256').update(`${previousChainValue}\n${sequence}\n`).update(event).digest('hex');
}

/** The lookup attributes of CloudTrail's LookupEvents the trail can filter on. */
export type AuditLookupAttribute = 'EventId' | 'EventName' | 'ReadOnly' | 'Username' | 'ResourceName' | 'AccessKeyId';

export interface AuditLookup {
  attribute?: { key: AuditLookupAttribute; value: string };
  /** Inclusive bounds on eventTime. */
  startTime?: Date;
  endTime?: Date;
}
