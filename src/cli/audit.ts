// hsm-kms audit …: verify the trail (in the store, or an export directory), export it, follow it,
// and print the public key verifiers need. Each reads the server's configuration.
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { exportAuditTrail } from '../audit-export/exporter';
import { verifyExportDirectory } from '../audit-export/verify-dir';
import { loadConfigSections } from '../config';
import type { AuditRecord } from '../core/audit/record';
import { findAuditSigningKey, openAuditSigningKey, publicKeyPem } from '../core/audit/signing-key';
import { verifyAuditTrail, type AuditVerification } from '../core/audit/verify';
import type { CoreDeps } from '../core/deps';
import { PROCESS_INSTANCE } from '../core/jobs/maintenance';
import { EXIT_OK, EXIT_PROBLEM, UsageError, withCore, type CommandResult, type Env } from './command';

export const auditUsage = `usage: hsm-kms audit <command> [options] [--json]

  verify       [--from SEQ] [--dir EXPORT_DIR] [--public-key PEM_FILE]
               check the chain of records and every signed digest (or an export directory);
               prints the first broken record and exits 1 if there is one
  export       [--to DIR]   write CloudTrail-format log and signed digest files now
               (DIR defaults to KMS_AUDIT_EXPORT_DIR)
  tail         [-n N] [--follow]   the last N records (10), then new ones as they come
  public-key   the audit signing key's public key (PEM), for verifiers

The public key comes from the token (KMS_PIN) unless --public-key names a PEM file.`;

const usageOf: Record<string, string> = {
  verify: `usage: hsm-kms audit verify [--from SEQ] [--dir EXPORT_DIR] [--public-key PEM_FILE] [--json]

Verifies the audit trail in the metadata store: sequences without gaps, every record's chain value
recomputed, every digest's signature checked with the public key, and every digest's chain value
against the record it names. Records after the last digest are checked by their chain only.
With --dir, verifies an export directory instead. Exit 0: intact; 1: broken (the first broken
record is printed); 2: usage.`,
  export: `usage: hsm-kms audit export [--to DIR] [--json]

Writes the records not yet exported as CloudTrail log files ({"Records":[…]}, gzipped) and one
signed digest file into DIR (default KMS_AUDIT_EXPORT_DIR). Resumes where the last export ended.`,
  tail: `usage: hsm-kms audit tail [-n N] [--follow] [--json]

Prints the last N records (default 10), oldest first; with --follow, waits for new ones until
interrupted. --json prints one CloudTrail event a line, with its sequence.`,
  'public-key': `usage: hsm-kms audit public-key [--json]

Prints the public key of the audit signing key (SubjectPublicKeyInfo, PEM). The key is made in
the token if it does not exist yet.`,
};

const options = {
  from: { type: 'string' },
  dir: { type: 'string' },
  'public-key': { type: 'string' },
  to: { type: 'string' },
  n: { type: 'string', short: 'n' },
  follow: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const allowed: Record<string, readonly string[]> = {
  verify: ['from', 'dir', 'public-key'],
  export: ['to'],
  tail: ['n', 'follow'],
  'public-key': [],
};

function positiveInteger(text: string | undefined, name: string, usage: string, fallback?: number): number | undefined {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${name} must be a whole number of at least 1`, usage);
  return value;
}

export function auditCommandUsage(command: string | undefined): string {
  return (command && usageOf[command]) || auditUsage;
}

export async function runAudit(argv: string[], env: Env, write: (line: string) => void): Promise<CommandResult> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h') throw new UsageError(command === undefined ? 'an audit command is required' : '', auditUsage);
  const usage = usageOf[command];
  if (!usage) throw new UsageError(`unknown audit command '${command}'`, auditUsage);
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message, usage);
  }
  const { values, positionals } = parsed;
  if (values.help) throw new UsageError('', usage);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`, usage);
  const misplaced = Object.keys(values).find((name) => name !== 'json' && !allowed[command]!.includes(name));
  if (misplaced) throw new UsageError(`--${misplaced} does not apply to 'audit ${command}'`, usage);
  switch (command) {
    case 'verify': return verify(values, env, usage);
    case 'export': return exportNow(values.to, env, usage);
    case 'tail': return tail(positiveInteger(values.n, '-n', usage, 10)!, values.follow === true, values.json === true, env, write);
    default: return publicKey(env);
  }
}

/** The public key from a PEM file, as DER SPKI. */
function publicKeyFromFile(file: string): Buffer {
  return createPublicKey(readFileSync(file, 'utf8')).export({ type: 'spki', format: 'der' });
}

async function verify(values: { from?: string; dir?: string; 'public-key'?: string }, env: Env, usage: string): Promise<CommandResult> {
  const fromSequence = positiveInteger(values.from, '--from', usage);
  const givenKey = values['public-key'] !== undefined ? publicKeyFromFile(values['public-key']) : undefined;
  if (values.dir !== undefined) {
    if (fromSequence !== undefined) throw new UsageError('--from does not apply with --dir', usage);
    const dir = values.dir;
    const verifyDir = (key: Buffer | undefined) => (key ? verifyExportDirectory(dir, key) : undefined);
    // With --public-key an auditor verifies an export anywhere, without the store or the token
    // (and so without a record); otherwise the key comes from the token and the run is recorded.
    const report = givenKey
      ? verifyDir(givenKey)
      : await withCore(env, true, async (deps) => verifyDir((await findAuditSigningKey(deps))?.publicKeySpki),
        { operation: 'AuditVerify', parameters: { dir } }, (r) => (r ? { intact: r.ok } : { intact: false }));
    if (!report) return { exitCode: EXIT_PROBLEM, text: 'the token holds no audit signing key: nothing can have been signed with it', json: { ok: false, problem: { message: 'no audit signing key in the token' } } };
    const text = report.ok
      ? [`OK: ${report.digestFiles} digest files, ${report.logFiles} log files and ${report.records} records in ${dir} verify${report.lastSequence !== undefined ? ` (records ${report.firstSequence} to ${report.lastSequence})` : ''}.`, ...report.notes.map((n) => `note: ${n}`)].join('\n')
      : `BROKEN: ${report.problem!.file}${report.problem!.sequence !== undefined ? ` (record ${report.problem!.sequence})` : ''}: ${report.problem!.message}`;
    return { exitCode: report.ok ? EXIT_OK : EXIT_PROBLEM, text, json: report };
  }
  const parameters = { ...(fromSequence !== undefined ? { from: fromSequence } : {}), publicKey: givenKey ? 'file' : 'token' };
  const report = await withCore(env, givenKey === undefined, async (deps) => {
    const key = givenKey ?? (await findAuditSigningKey(deps))?.publicKeySpki;
    if (key) return verifyAuditTrail(deps.store.audit, key, fromSequence !== undefined ? { fromSequence } : {});
    return verifyWithoutKey(deps, fromSequence);
  }, { operation: 'AuditVerify', parameters }, (r) => ({ intact: r.ok, ...(r.problem ? { brokenAt: r.problem.sequence } : {}) }));
  return { exitCode: report.ok ? EXIT_OK : EXIT_PROBLEM, text: describeVerification(report), json: report };
}

/** No signing key in the token yet: no digest can be genuine, so any digest is a problem; the chain is still checked. */
async function verifyWithoutKey(deps: CoreDeps, fromSequence: number | undefined): Promise<AuditVerification> {
  const digests = await deps.store.audit.listDigests();
  if (digests.length > 0) {
    return { ok: false, problem: { defect: 'digest-signature', sequence: digests[0]!.sequence, message: 'the store holds signed digests but the token holds no audit signing key that could have signed them' }, recordsChecked: 0, digestsChecked: 0, notes: [] };
  }
  // Any key will do for a trail without digests: only the chain is checked.
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const report = await verifyAuditTrail(deps.store.audit, publicKey.export({ type: 'spki', format: 'der' }), fromSequence !== undefined ? { fromSequence } : {});
  report.notes.push('the token holds no audit signing key yet (the server makes it at start-up): no digest was signed, so only the chain was checked');
  return report;
}

function describeVerification(report: AuditVerification): string {
  if (!report.ok) return `BROKEN at record ${report.problem!.sequence}: ${report.problem!.message}`;
  const range = report.firstSequence !== undefined ? `records ${report.firstSequence} to ${report.lastSequence}` : 'no records';
  return [`OK: ${range} and ${report.digestsChecked} signed digests verify.`, ...report.notes.map((n) => `note: ${n}`)].join('\n');
}

async function exportNow(to: string | undefined, env: Env, usage: string): Promise<CommandResult> {
  const config = loadConfigSections(['auditIntegrity', 'account'], env);
  const dir = to ?? config.auditIntegrity.exportDir;
  if (dir === undefined) throw new UsageError('name the directory with --to, or set KMS_AUDIT_EXPORT_DIR', usage);
  const report = await withCore(env, true, async (deps) => {
    const key = await openAuditSigningKey(deps, PROCESS_INSTANCE);
    return exportAuditTrail(deps, key, PROCESS_INSTANCE, {
      dir, accountId: config.accountId, region: config.region, maxFileBytes: config.auditIntegrity.exportMaxFileBytes, maxFileSeconds: config.auditIntegrity.exportMaxFileSeconds, flush: true,
    });
  }, { operation: 'AuditExport', parameters: { to: dir } }, (r) => (r ? { lastSequence: r.lastSequence, logFiles: r.logFiles.length, ...(r.digestFile ? { digestFile: r.digestFile } : {}) } : { busy: true }));
  if (!report) return { exitCode: EXIT_PROBLEM, text: 'another instance is exporting right now (it holds the export lease); try again shortly', json: { ok: false, busy: true } };
  const text = report.digestFile
    ? `exported ${report.logFiles.length} log files up to record ${report.lastSequence} to ${dir}, signed by ${report.digestFile}`
    : `nothing new to export: ${dir} holds records up to ${report.lastSequence}`;
  return { exitCode: EXIT_OK, text, json: { ok: true, dir, ...report } };
}

function recordLine(record: AuditRecord): string {
  const event = JSON.parse(record.event) as { errorCode?: string; sourceIPAddress?: string };
  return [
    String(record.sequence).padStart(8), record.eventTime.toISOString(), record.eventName, record.succeeded ? 'ok' : (event.errorCode ?? 'failed'),
    record.username ?? '-', record.resourceNames.join(',') || '-',
  ].join('  ');
}

const jsonLine = (record: AuditRecord) => JSON.stringify({ sequence: record.sequence, ...(JSON.parse(record.event) as object) });

async function tail(count: number, follow: boolean, json: boolean, env: Env, write: (line: string) => void): Promise<CommandResult> {
  let shown = 0;
  return withCore(env, false, async (deps) => {
    const head = await deps.store.audit.head();
    let next = head ? Math.max(1, head.sequence - count + 1) : 1;
    const show = async () => {
      for (;;) {
        const page = await deps.store.audit.range(next, 500);
        for (const record of page) write(json ? jsonLine(record) : recordLine(record));
        shown += page.length;
        if (page.length > 0) next = page.at(-1)!.sequence + 1;
        if (page.length < 500) return;
      }
    };
    if (head) await show();
    if (follow) {
      let stopped = false;
      const stop = () => { stopped = true; };
      process.once('SIGINT', stop).once('SIGTERM', stop);
      while (!stopped) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await show();
      }
    }
    // Lines were written as they came; nothing more to say.
    return { exitCode: EXIT_OK, text: '', json: undefined } as CommandResult;
  }, { operation: 'AuditTail', parameters: { n: count, follow } }, () => ({ records: shown }));
}

async function publicKey(env: Env): Promise<CommandResult> {
  const key = await withCore(env, true, (deps) => openAuditSigningKey(deps, PROCESS_INSTANCE), { operation: 'AuditPublicKey' }, (k) => ({ signingKeyId: k.keyId }));
  const pem = publicKeyPem(key.publicKeySpki);
  return { exitCode: EXIT_OK, text: pem.trimEnd(), json: { signingKeyId: key.keyId, signatureAlgorithm: 'ECDSA_SHA_256', publicKeyPem: pem } };
}
