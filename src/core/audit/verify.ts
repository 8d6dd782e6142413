// Verifies the audit trail in the store: every digest's signature (with node:crypto, against the
// public key alone: the verifier needs no token), and the records page by page: gap-free
// sequences, each chain value recomputed from the record's bytes and the one before, and each
// digest's chain value equal to that of the record it names. The first defect found is reported.
import type { AuditRepository } from '../ports';
import { digestSignatureValid, inSigningOrder } from './digests';
import { chainValue, GENESIS_CHAIN_VALUE, type AuditDigest, type AuditRecord } from './record';

export type AuditDefect =
  /** A digest whose signature does not verify with the public key (forged, re-signed, edited or one removed before it). */
  | 'digest-signature'
  /** A record whose chain value does not match its own bytes and its predecessor's chain value (edited or moved). */
  | 'record-altered'
  /** A sequence number missing between two records, or records missing at the start. */
  | 'record-missing'
  /** Records that chain correctly but differ from what a signed digest vouches for (rewritten with recomputed chain values). */
  | 'digest-mismatch'
  /** Records a signed digest vouches for are gone from the end of the trail. */
  | 'tail-truncated';

export interface AuditProblem {
  defect: AuditDefect;
  /** The first record found broken (for a digest: the sequence it vouches for). */
  sequence: number;
  message: string;
}

export interface AuditVerification {
  ok: boolean;
  problem?: AuditProblem;
  recordsChecked: number;
  digestsChecked: number;
  firstSequence?: number;
  lastSequence?: number;
  /** The highest sequence a valid digest vouches for. */
  lastDigestSequence?: number;
  /** What the check could not cover, in plain words. */
  notes: string[];
}

export interface VerifyOptions {
  /** Start at this sequence, trusting its previous chain value (unless a digest vouches for it). */
  fromSequence?: number;
  pageSize?: number;
}

const DEFAULT_PAGE_SIZE = 1000;

export async function verifyAuditTrail(audit: AuditRepository, publicKeySpki: Buffer, options: VerifyOptions = {}): Promise<AuditVerification> {
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const notes: string[] = [];
  const result = (problem?: AuditProblem, extra: Partial<AuditVerification> = {}): AuditVerification =>
    ({ ok: problem === undefined, ...(problem ? { problem } : {}), recordsChecked: 0, digestsChecked: 0, notes, ...extra });

  // 1. Digests: each signed over its fields and its predecessor's signature.
  const digests = inSigningOrder(await audit.listDigests());
  let previous: string | undefined;
  for (const digest of digests) {
    if (!digestSignatureValid(digest, previous, publicKeySpki)) {
      return result({
        defect: 'digest-signature', sequence: digest.sequence,
        message: `the digest signed at ${digest.signedAt.toISOString()} for record ${digest.sequence} does not verify with the audit signing key: it was forged or edited, or a digest before it was removed`,
      }, { digestsChecked: digests.indexOf(digest) });
    }
    previous = digest.signature;
  }
  const bySequence = new Map<number, AuditDigest[]>();
  for (const digest of digests) bySequence.set(digest.sequence, [...(bySequence.get(digest.sequence) ?? []), digest]);
  const lastDigestSequence = digests.length > 0 ? Math.max(...digests.map((d) => d.sequence)) : undefined;
  const extra = (records: number, first?: number, last?: number): Partial<AuditVerification> => ({
    recordsChecked: records, digestsChecked: digests.length,
    ...(first !== undefined ? { firstSequence: first } : {}), ...(last !== undefined ? { lastSequence: last } : {}),
    ...(lastDigestSequence !== undefined ? { lastDigestSequence } : {}),
  });
  for (const digest of bySequence.get(0) ?? []) {
    if (digest.chainValue !== GENESIS_CHAIN_VALUE) return result({ defect: 'digest-mismatch', sequence: 0, message: 'the digest of the empty trail does not state the genesis chain value' }, extra(0));
  }

  // 2. Records, page by page.
  let checked = 0;
  let first: AuditRecord | undefined;
  let before: AuditRecord | undefined;
  /** The last sequence a digest matched, to say where a rewrite can have started. */
  let lastVouched = 0;
  let from = options.fromSequence ?? 1;
  for (;;) {
    const page = await audit.range(from, pageSize);
    for (const record of page) {
      if (first === undefined) {
        first = record;
        const problem = checkStart(record, digests, options.fromSequence, notes);
        if (problem) return result(problem, extra(0, record.sequence));
      } else {
        if (record.sequence !== before!.sequence + 1) {
          const missing = before!.sequence + 1;
          return result({ defect: 'record-missing', sequence: missing, message: `record ${missing} is missing${record.sequence > missing + 1 ? ` (records ${missing} to ${record.sequence - 1})` : ''}: the next record stored is ${record.sequence}` }, extra(checked, first.sequence, before!.sequence));
        }
        if (record.previousChainValue !== before!.chainValue) {
          return result({ defect: 'record-altered', sequence: record.sequence, message: `record ${record.sequence} does not follow record ${before!.sequence}: its previous chain value differs from that record's chain value (edited, reordered or replaced)` }, extra(checked, first.sequence, before!.sequence));
        }
      }
      if (chainValue(record.previousChainValue, record.sequence, record.event) !== record.chainValue) {
        return result({ defect: 'record-altered', sequence: record.sequence, message: `record ${record.sequence} (event ${record.eventId}) was altered: its chain value does not match its content` }, extra(checked, first.sequence, before?.sequence));
      }
      for (const digest of bySequence.get(record.sequence) ?? []) {
        if (digest.chainValue !== record.chainValue) {
          return result({
            defect: 'digest-mismatch', sequence: record.sequence,
            message: `records ${lastVouched + 1} to ${record.sequence} were rewritten: record ${record.sequence} does not match the digest signed at ${digest.signedAt.toISOString()} (its chain values were recomputed without the token)`,
          }, extra(checked, first.sequence, record.sequence));
        }
        lastVouched = record.sequence;
      }
      before = record;
      checked += 1;
    }
    if (page.length < pageSize) break;
    from = page.at(-1)!.sequence + 1;
  }

  // 3. The end: a digest may vouch for records that are gone.
  const last = before?.sequence ?? (options.fromSequence !== undefined ? options.fromSequence - 1 : 0);
  if (lastDigestSequence !== undefined && lastDigestSequence > last && (before !== undefined || (options.fromSequence === undefined && !prunedToNothing(digests, lastDigestSequence)))) {
    const gone = last + 1;
    return result({ defect: 'tail-truncated', sequence: gone, message: `records ${gone} to ${lastDigestSequence} are missing: a signed digest vouches for record ${lastDigestSequence} but the trail ends at ${last}` }, extra(checked, first?.sequence, before?.sequence));
  }
  if (before !== undefined && (lastDigestSequence === undefined || before.sequence > lastDigestSequence)) {
    const unsigned = (lastDigestSequence ?? 0) + 1;
    notes.push(`records ${Math.max(unsigned, first!.sequence)} to ${before.sequence} come after the last signed digest: they are checked by their chain only, so removing some of them from the end would not be detected until the next digest`);
  }
  return result(undefined, extra(checked, first?.sequence, before?.sequence));
}

/** Whether every record up to `sequence` was pruned, as a signed pruning digest says. */
function prunedToNothing(digests: readonly AuditDigest[], sequence: number): boolean {
  return digests.some((d) => d.prunedBefore !== undefined && d.prunedBefore > sequence);
}

/** The first record must follow genesis, a signed pruning digest, or (with --from) is trusted. */
function checkStart(record: AuditRecord, digests: readonly AuditDigest[], fromSequence: number | undefined, notes: string[]): AuditProblem | undefined {
  const vouching = digests.filter((d) => d.sequence === record.sequence - 1 && d.chainValue === record.previousChainValue);
  if (fromSequence !== undefined && record.sequence === fromSequence && fromSequence > 1) {
    if (vouching.length === 0) notes.push(`verification started at record ${fromSequence}: records before it were not checked and its link to them is trusted`);
    return undefined;
  }
  if (fromSequence !== undefined && record.sequence !== fromSequence) {
    return { defect: 'record-missing', sequence: fromSequence, message: `record ${fromSequence} is missing: the first record stored from there is ${record.sequence}` };
  }
  if (record.sequence === 1) {
    return record.previousChainValue === GENESIS_CHAIN_VALUE ? undefined
      : { defect: 'record-altered', sequence: 1, message: 'record 1 does not start the chain: its previous chain value is not the genesis value' };
  }
  // Precondition: records before the first retained one may only be missing when a signed pruning digest vouches for them
  if (vouching.some((d) => d.prunedBefore === record.sequence)) {
    notes.push(`records 1 to ${record.sequence - 1} were pruned; a signed digest vouches for the chain value before record ${record.sequence}`);
    return undefined;
  }
  return { defect: 'record-missing', sequence: record.sequence - 1, message: `records before ${record.sequence} are missing and no signed pruning digest vouches for them (record ${record.sequence - 1} was deleted)` };
}
