#!/usr/bin/env node
// The operator's command, `hsm-kms <area> [command] [options]`: the same configuration (environment)
// as the server, core called directly (never over HTTP). hsm-kms-admin (`npm run admin`) remains
// the name of its `xks` area alone.
import { ConfigError } from '../config';
import { KmsError } from '../core/errors';
import { runAdmin, UsageError as AdminUsageError, usage as xksUsage } from './admin';
import { auditCommandUsage, auditUsage, runAudit } from './audit';
import { EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, UsageError, type CommandResult, type Env } from './command';
import { doctorUsage, runDoctor } from './doctor';

export const usage = `usage: hsm-kms <command> [options] [--json]

  doctor                 check the module, token, PIN, profile, store, clock and listeners
  audit verify           verify the audit trail (or an export directory with --dir)
  audit export           write CloudTrail-format log files and signed digest files
  audit tail             print the last records, and follow new ones
  audit public-key       the audit signing key's public key, for verifiers
  xks <command>          the XKS proxy's external keys (create, list, enable, disable, delete, …)

Every command takes --help. Output is for people unless --json is given.
It reads the server's environment (KMS_DATA_DIR, KMS_METADATA_URI, KMS_PKCS11_MODULE,
KMS_TOKEN_LABEL, KMS_PIN or KMS_PIN_FILE, …).

Exit codes: 0 all well; 1 a problem was found or the command failed; 2 the command line is wrong.`;

/** What to print and the exit code; `write` takes lines as a command streams them (audit tail). */
export async function runCli(argv: string[], env: Env, write: (line: string) => void): Promise<CommandResult> {
  const [area, ...rest] = argv;
  switch (area) {
    case undefined:
      throw new UsageError('a command is required', usage);
    case '--help': case '-h': case 'help':
      return { exitCode: EXIT_OK, text: usage, json: { usage } };
    case 'doctor':
      if (rest.some((a) => a === '--help' || a === '-h')) return helpOf(doctorUsage);
      if (rest.some((a) => a !== '--json')) throw new UsageError(`unexpected argument '${rest.find((a) => a !== '--json')}'`, doctorUsage);
      return runDoctor(env);
    case 'audit':
      if (rest.length > 0 && rest.slice(1).some((a) => a === '--help' || a === '-h')) return helpOf(auditCommandUsage(rest[0]));
      if (rest[0] === '--help' || rest[0] === '-h') return helpOf(auditUsage);
      return runAudit(rest, env, write);
    case 'xks': {
      const args = rest.filter((a) => a !== '--json');
      if (args.includes('--help') || args.includes('-h')) return helpOf(xksUsage.replace('npm run admin -- xks', 'hsm-kms xks'));
      const output = await runAdmin(['xks', ...args], env);
      return { exitCode: EXIT_OK, text: JSON.stringify(output, null, 2), json: output };
    }
    default:
      throw new UsageError(`unknown command '${area}'`, usage);
  }
}

const helpOf = (text: string): CommandResult => ({ exitCode: EXIT_OK, text, json: { usage: text } });

/** The exit code and message for a command that threw. */
export function failure(e: unknown): { code: number; message: string } {
  if (e instanceof UsageError) return { code: EXIT_USAGE, message: `${e.message ? `${e.message}\n\n` : ''}${e.usage}` };
  if (e instanceof AdminUsageError) return { code: EXIT_USAGE, message: `${e.message ? `${e.message}\n\n` : ''}${xksUsage.replace('npm run admin -- xks', 'hsm-kms xks')}` };
  if (e instanceof TypeError && (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) return { code: EXIT_USAGE, message: `${e.message}\n\n(see hsm-kms --help)` };
  if (e instanceof KmsError) return { code: EXIT_PROBLEM, message: `${e.code}: ${e.message || e.detail || ''}` };
  if (e instanceof ConfigError) return { code: EXIT_PROBLEM, message: `configuration error: ${e.message} (run 'hsm-kms doctor')` };
  return { code: EXIT_PROBLEM, message: `failed: ${e instanceof Error ? e.message : String(e)}` };
}

export const exitCodeOf = (e: unknown): number => failure(e).code;

if (require.main === module) {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  runCli(argv, process.env, (line) => process.stdout.write(`${line}\n`)).then((result) => {
    if (json && result.json !== undefined) process.stdout.write(`${JSON.stringify(result.json, null, 2)}\n`);
    else if (!json && result.text) process.stdout.write(`${result.text}\n`);
    process.exitCode = result.exitCode;
  }, (e: unknown) => {
    const { code, message } = failure(e);
    if (json && code !== EXIT_USAGE) process.stdout.write(`${JSON.stringify({ ok: false, error: message })}\n`);
    else process.stderr.write(`${message}\n`);
    process.exitCode = code;
  });
}
