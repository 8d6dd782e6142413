// Writes the audit trail to a directory as CloudTrail would deliver it: log files rolled by size
// and by age, then one signed digest file covering them. One instance at a time (a lease), and
// resumable: the directory's state file remembers the last exported sequence and digest, and
// names the files of a run in progress so a crash's leftovers are removed before the next run.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { AuditRecord } from '../core/audit/record';
import type { AuditSigningKey } from '../core/audit/signing-key';
import type { CoreDeps } from '../core/deps';
import {
  digestFileName, digestSigningString, EXPORT_SIGNATURE_ALGORITHM, logFileJson, logFileName, sha256Hex, STATE_FILE,
  type ExportedDigest, type ExportedLogFile,
} from './files';

export const EXPORT_LEASE = 'job:audit-export';
const EXPORT_LEASE_TTL_MS = 5 * 60 * 1000;
const PAGE = 500;

export interface ExportOptions {
  dir: string;
  accountId: string;
  region: string;
  maxFileBytes: number;
  maxFileSeconds: number;
  /** Write the records pending even if no file is full or old enough (the CLI, shutdown). */
  flush: boolean;
}

export interface ExportReport {
  logFiles: string[];
  digestFile?: string;
  /** The last sequence exported so far. */
  lastSequence: number;
}

interface ExportState {
  lastSequence: number;
  lastChainValue: string;
  previousDigest?: { s3Object: string; hashValue: string; signature: string };
  /** Files written by a run that had not yet written its digest. */
  pending?: string[];
}

function writeAtomically(file: string, bytes: Buffer | string): void {
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, bytes, { mode: 0o640 });
  renameSync(temporary, file);
}

function readState(dir: string): ExportState | undefined {
  const file = path.join(dir, STATE_FILE);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) as ExportState : undefined;
}

const saveState = (dir: string, state: ExportState) => writeAtomically(path.join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);

/** One log file being filled. */
interface OpenFile { records: AuditRecord[]; bytes: number }

/** Exports what is due under the export lease; undefined when another instance holds it. */
export async function exportAuditTrail(deps: CoreDeps, key: AuditSigningKey, owner: string, options: ExportOptions): Promise<ExportReport | undefined> {
  if (!(await deps.store.leases.acquire(EXPORT_LEASE, owner, deps.clock.now(), EXPORT_LEASE_TTL_MS))) return undefined;
  try {
    return await exportDue(deps, key, options);
  } finally {
    await deps.store.leases.release(EXPORT_LEASE, owner).catch(() => undefined);
  }
}

async function exportDue(deps: CoreDeps, key: AuditSigningKey, options: ExportOptions): Promise<ExportReport> {
  mkdirSync(options.dir, { recursive: true, mode: 0o750 });
  let state = readState(options.dir);
  if (state?.pending) {
    // A run died between its log files and its digest: nothing vouches for those files.
    for (const name of state.pending) rmSync(path.join(options.dir, name), { force: true });
    state = { ...state, pending: undefined };
    saveState(options.dir, state);
  }
  const now = deps.clock.now();
  const written: { name: string; file: ExportedLogFile; first: AuditRecord; last: AuditRecord }[] = [];
  let open: OpenFile = { records: [], bytes: 0 };
  const pending: string[] = [];
  const writeLogFile = () => {
    const { records } = open;
    const first = records[0]!;
    const last = records.at(-1)!;
    const name = logFileName(options.accountId, options.region, now, first.sequence, last.sequence);
    pending.push(name);
    saveState(options.dir, { ...(state ?? { lastSequence: first.sequence - 1, lastChainValue: first.previousChainValue }), pending });
    const gz = gzipSync(logFileJson(records.map((r) => r.event)));
    writeAtomically(path.join(options.dir, name), gz);
    const times = records.map((r) => r.eventTime.getTime());
    written.push({
      name, first, last,
      file: { s3Object: name, hashValue: sha256Hex(gz), hashAlgorithm: 'SHA-256', oldestEventTime: new Date(Math.min(...times)).toISOString(), newestEventTime: new Date(Math.max(...times)).toISOString() },
    });
    open = { records: [], bytes: 0 };
  };

  let from = (state?.lastSequence ?? 0) + 1;
  for (;;) {
    const page = await deps.store.audit.range(from, PAGE);
    for (const record of page) {
      open.records.push(record);
      open.bytes += Buffer.byteLength(record.event) + 1;
      if (open.bytes >= options.maxFileBytes) writeLogFile();
    }
    if (page.length < PAGE) break;
    from = page.at(-1)!.sequence + 1;
  }
  // The last, partial file goes out once its oldest record is old enough (CloudTrail delivers about every five minutes).
  const oldest = open.records[0];
  if (oldest && (options.flush || now.getTime() - oldest.eventTime.getTime() >= options.maxFileSeconds * 1000)) writeLogFile();
  if (written.length === 0) return { logFiles: [], lastSequence: state?.lastSequence ?? 0 };

  const first = written[0]!.first;
  const last = written.at(-1)!.last;
  // Precondition: an export continues the chain where the previous export ended
  if (state && first.previousChainValue !== state.lastChainValue) {
    throw new Error(`record ${first.sequence} does not continue the exported chain (record ${state.lastSequence}); run 'hsm-kms audit verify'`);
  }
  const digestName = uniqueDigestName(options, now);
  const unsigned: Omit<ExportedDigest, 'digestSignature'> = {
    awsAccountId: options.accountId,
    digestStartTime: first.eventTime.toISOString(),
    digestEndTime: now.toISOString(),
    digestS3Object: digestName,
    digestPublicKeyFingerprint: key.keyId,
    digestSignatureAlgorithm: EXPORT_SIGNATURE_ALGORITHM,
    oldestEventTime: written.map((w) => w.file.oldestEventTime).sort()[0]!,
    newestEventTime: written.map((w) => w.file.newestEventTime).sort().at(-1)!,
    previousDigestS3Object: state?.previousDigest?.s3Object ?? null,
    previousDigestHashValue: state?.previousDigest?.hashValue ?? null,
    previousDigestHashAlgorithm: state?.previousDigest ? 'SHA-256' : null,
    previousDigestSignature: state?.previousDigest?.signature ?? null,
    logFiles: written.map((w) => w.file),
    hsmKmsChain: { firstSequence: first.sequence, lastSequence: last.sequence, previousChainValue: first.previousChainValue, chainValue: last.chainValue },
  };
  const digestSignature = (await key.sign(digestSigningString(unsigned))).toString('hex');
  const gz = gzipSync(JSON.stringify({ ...unsigned, digestSignature }));
  writeAtomically(path.join(options.dir, digestName), gz);
  saveState(options.dir, {
    lastSequence: last.sequence, lastChainValue: last.chainValue, previousDigest: { s3Object: digestName, hashValue: sha256Hex(gz), signature: digestSignature },
  });
  return { logFiles: written.map((w) => w.name), digestFile: digestName, lastSequence: last.sequence };
}

/** Digest files are named to the second: a second run within one second waits for the next name. */
function uniqueDigestName(options: ExportOptions, at: Date): string {
  for (let t = at.getTime(); ; t += 1000) {
    const name = digestFileName(options.accountId, options.region, new Date(t));
    if (!existsSync(path.join(options.dir, name))) return name;
  }
}
