// The exported files, in CloudTrail's shapes: gzipped log files of {"Records":[…]} and gzipped
// digest files with CloudTrail's digest field names where they fit. A digest file names the log
// files it covers with their SHA-256, links to the digest file before it (its name, hash and
// signature), states the chain values the covered records run between, and is signed in the token.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { signingKeyIdOf } from '../core/audit/signing-key';

/** How CloudTrail names the digest signature algorithm; ours is ECDSA over P-256. */
export const EXPORT_SIGNATURE_ALGORITHM = 'SHA256withECDSA';
export const STATE_FILE = 'hsm-kms-export-state.json';
export const LOG_FILE = /^\d{12}_CloudTrail_[a-z0-9-]+_\d{8}T\d{4}Z_(\d{12})-(\d{12})\.json\.gz$/;
export const DIGEST_FILE = /^\d{12}_CloudTrail-Digest_[a-z0-9-]+_hsm-kms_[a-z0-9-]+_\d{8}T\d{6}Z\.json\.gz$/;

export interface ExportedLogFile {
  s3Object: string;
  hashValue: string;
  hashAlgorithm: 'SHA-256';
  oldestEventTime: string;
  newestEventTime: string;
}

/** The chain values the records of one digest's log files run between (hsm-kms's own fields). */
export interface ExportedChain {
  firstSequence: number;
  lastSequence: number;
  /** The chain value of the record before firstSequence. */
  previousChainValue: string;
  chainValue: string;
}

export interface ExportedDigest {
  awsAccountId: string;
  digestStartTime: string;
  digestEndTime: string;
  digestS3Object: string;
  digestPublicKeyFingerprint: string;
  digestSignatureAlgorithm: string;
  oldestEventTime: string;
  newestEventTime: string;
  previousDigestS3Object: string | null;
  previousDigestHashValue: string | null;
  previousDigestHashAlgorithm: 'SHA-256' | null;
  previousDigestSignature: string | null;
  logFiles: ExportedLogFile[];
  hsmKmsChain: ExportedChain;
  /** Hex, as CloudTrail's x-amz-meta-signature; over digestSigningString. */
  digestSignature: string;
}

/** yyyyMMddTHHmm(ss)Z, as CloudTrail's file names. */
function stamp(at: Date, seconds: boolean): string {
  const iso = at.toISOString().replace(/[-:]/g, '');
  return `${iso.slice(0, seconds ? 15 : 13)}Z`;
}

const pad = (n: number) => String(n).padStart(12, '0');

/** CloudTrail's AccountID_CloudTrail_Region_Time_Unique, with the sequences as the unique part. */
export function logFileName(accountId: string, region: string, at: Date, firstSequence: number, lastSequence: number): string {
  return `${accountId}_CloudTrail_${region}_${stamp(at, false)}_${pad(firstSequence)}-${pad(lastSequence)}.json.gz`;
}

export function digestFileName(accountId: string, region: string, at: Date): string {
  return `${accountId}_CloudTrail-Digest_${region}_hsm-kms_${region}_${stamp(at, true)}.json.gz`;
}

/** The records' canonical JSON, verbatim, so the chain can be recomputed from the file. */
export function logFileJson(events: readonly string[]): string {
  return `{"Records":[${events.join(',')}]}`;
}

export const sha256Hex = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/**
 * What a digest file's signature covers, in CloudTrail's order (end time, object, hash of the
 * digest, previous signature); the hash is over the digest's JSON without its signature field.
 */
export function digestSigningString(digest: Omit<ExportedDigest, 'digestSignature'>): Buffer {
  return Buffer.from(`${digest.digestEndTime}\n${digest.digestS3Object}\n${sha256Hex(JSON.stringify(digest))}\n${digest.previousDigestSignature ?? 'null'}`, 'utf8');
}

export function exportedDigestValid(digest: ExportedDigest, publicKeySpki: Buffer): boolean {
  if (digest.digestSignatureAlgorithm !== EXPORT_SIGNATURE_ALGORITHM || digest.digestPublicKeyFingerprint !== signingKeyIdOf(publicKeySpki)) return false;
  const { digestSignature, ...unsigned } = digest;
  try {
    return verify('sha256', digestSigningString(unsigned), { key: createPublicKey({ key: publicKeySpki, format: 'der', type: 'spki' }), dsaEncoding: 'der' }, Buffer.from(digestSignature, 'hex'));
  } catch {
    return false;
  }
}
