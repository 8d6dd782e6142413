// Verifies an export directory with the public key alone: each digest file's signature and its
// link to the digest file before it (name, hash, signature), each log file's hash, and the chain
// recomputed over the records of the log files, continuing from one digest to the next. Log files
// no digest covers are reported: the exporter removes its own unfinished ones.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { chainValue } from '../core/audit/record';
import { DIGEST_FILE, exportedDigestValid, LOG_FILE, sha256Hex, type ExportedDigest } from './files';

export interface ExportProblem {
  file: string;
  /** The first record found broken, where one is known. */
  sequence?: number;
  message: string;
}

export interface ExportVerification {
  ok: boolean;
  problem?: ExportProblem;
  digestFiles: number;
  logFiles: number;
  records: number;
  firstSequence?: number;
  lastSequence?: number;
  notes: string[];
}

function gunzipJson(file: string): unknown {
  return JSON.parse(gunzipSync(readFileSync(file)).toString('utf8'));
}

export function verifyExportDirectory(dir: string, publicKeySpki: Buffer): ExportVerification {
  const names = readdirSync(dir);
  const digestNames = names.filter((n) => DIGEST_FILE.test(n)).sort();
  const covered = new Set<string>();
  const notes: string[] = [];
  let records = 0;
  let logFiles = 0;
  let previous: { name: string; digest: ExportedDigest; bytes: Buffer } | undefined;
  let firstSequence: number | undefined;
  const done = (problem?: ExportProblem): ExportVerification => ({
    ok: problem === undefined, ...(problem ? { problem } : {}), digestFiles: digestNames.length, logFiles, records, notes,
    ...(firstSequence !== undefined ? { firstSequence } : {}), ...(previous ? { lastSequence: previous.digest.hsmKmsChain.lastSequence } : {}),
  });

  for (const name of digestNames) {
    const bytes = readFileSync(path.join(dir, name));
    let digest: ExportedDigest;
    try {
      digest = JSON.parse(gunzipSync(bytes).toString('utf8')) as ExportedDigest;
    } catch {
      return done({ file: name, message: 'the digest file is not gzipped JSON' });
    }
    if (!exportedDigestValid(digest, publicKeySpki) || digest.digestS3Object !== name) {
      return done({ file: name, sequence: digest.hsmKmsChain?.firstSequence, message: 'the digest file\'s signature does not verify with the audit signing key (forged, edited or renamed)' });
    }
    const chain = digest.hsmKmsChain;
    if (previous) {
      if (digest.previousDigestS3Object !== previous.name || digest.previousDigestSignature !== previous.digest.digestSignature || digest.previousDigestHashValue !== sha256Hex(previous.bytes)) {
        return done({ file: name, message: `the digest file does not follow ${previous.name}: a digest file between them was removed or replaced` });
      }
      if (chain.firstSequence !== previous.digest.hsmKmsChain.lastSequence + 1 || chain.previousChainValue !== previous.digest.hsmKmsChain.chainValue) {
        return done({ file: name, sequence: chain.firstSequence, message: `record ${chain.firstSequence} does not continue the chain of ${previous.name}` });
      }
    } else {
      if (digest.previousDigestS3Object !== null) {
        return done({ file: name, message: `the first digest file names a previous one (${digest.previousDigestS3Object}) that is not in the directory` });
      }
      firstSequence = chain.firstSequence;
      if (chain.firstSequence > 1) notes.push(`the export starts at record ${chain.firstSequence}: its link to earlier records is trusted`);
    }
    let sequence = chain.firstSequence;
    let value = chain.previousChainValue;
    for (const log of digest.logFiles) {
      covered.add(log.s3Object);
      const file = path.join(dir, log.s3Object);
      if (!existsSync(file)) return done({ file: log.s3Object, sequence, message: `the log file is missing (records from ${sequence})` });
      const logBytes = readFileSync(file);
      if (sha256Hex(logBytes) !== log.hashValue) return done({ file: log.s3Object, sequence, message: 'the log file was changed: its SHA-256 differs from the signed digest\'s' });
      let events: unknown[];
      try {
        events = (gunzipJson(file) as { Records: unknown[] }).Records;
        if (!Array.isArray(events)) throw new Error('no Records');
      } catch {
        return done({ file: log.s3Object, sequence, message: 'the log file is not gzipped JSON with a Records array' });
      }
      for (const event of events) {
        value = chainValue(value, sequence, JSON.stringify(event));
        sequence += 1;
        records += 1;
      }
      logFiles += 1;
    }
    if (sequence - 1 !== chain.lastSequence || value !== chain.chainValue) {
      return done({ file: name, sequence: chain.firstSequence, message: `the records of the log files do not reach the chain value the digest signs for record ${chain.lastSequence}` });
    }
    previous = { name, digest, bytes };
  }
  const stray = names.filter((n) => LOG_FILE.test(n) && !covered.has(n)).sort();
  if (stray.length > 0) return done({ file: stray[0]!, message: 'no signed digest file covers this log file (added, or left by an export that did not finish)' });
  if (digestNames.length === 0) notes.push('the directory holds no digest files');
  return done();
}
