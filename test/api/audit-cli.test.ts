// hsm-kms audit … and doctor as an operator runs them: a real process on the server's environment,
// a real SoftHSM token and the embedded store. The trail is tampered with directly in the SQLite
// file, as someone with the database but not the token could; signatures are checked here again
// with node:crypto and the exported public key alone.
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { composeCore } from '../../src/compose';
import { digestHead, digestSigningInput, inSigningOrder } from '../../src/core/audit/digests';
import { chainValue, type AuditDigest, type AuditDraft } from '../../src/core/audit/record';
import { pruneExpiredRecords } from '../../src/core/audit/retention';
import { openAuditSigningKey, AUDIT_SIGNING_KEY_OBJECT_ID } from '../../src/core/audit/signing-key';
import { exitCodeOf, runCli } from '../../src/cli/hsm-kms';
import { createLogger } from '../../src/log/logger';
import { EmbeddedStore } from '../../src/store/embedded';
import { startTestService } from '../support/service';
import { kmsCall } from '../support/signed';
import { createTestToken, openTestToken, type TestToken } from '../support/softhsm';

const run = promisify(execFile);
const CLI = path.join(__dirname, '..', '..', 'src', 'cli', 'hsm-kms.ts');
const REGISTER = path.join(__dirname, '..', 'support', 'ts-register.cjs');
const DAY_MS = 24 * 60 * 60 * 1000;
// Each command is a fresh node process transpiling the sources: slow on a busy machine.
jest.setTimeout(240_000);

let root: string;
let token: TestToken;

interface Run { code: number; out: string; err: string }

async function cli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['-r', REGISTER, CLI, ...args], { env, timeout: 180_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const failed = e as { code: number; stdout: string; stderr: string };
    return { code: failed.code, out: failed.stdout, err: failed.stderr };
  }
}

/** Only what the commands read: nothing of the developer's KMS_* leaks in. */
function envFor(dir: string, overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF, KMS_DATA_DIR: dir, KMS_TOKEN_LABEL: token.label, KMS_PIN: token.pin, KMS_PORT: '0', KMS_LOG_LEVEL: 'warn', ...overrides };
}

function draft(i: number, eventTime: Date): AuditDraft {
  const eventId = randomUUID();
  const event = { eventID: eventId, eventName: i % 2 ? 'Encrypt' : 'Decrypt', eventSource: 'kms.amazonaws.com', eventTime: eventTime.toISOString(), eventVersion: '1.11', readOnly: true };
  return { eventId, eventTime, eventName: event.eventName, readOnly: true, succeeded: true, username: 'alice', resourceNames: [`arn:aws:kms:us-east-1:111122223333:key/k${i}`], event: JSON.stringify(event) };
}

/** A data directory whose store holds `count` records (the first `old` of them 30 days old) and a signed digest of the head. */
async function trail(count: number, options: { old?: number; retentionDays?: number; moreAfterDigest?: number } = {}): Promise<string> {
  const dir = mkdtempSync(path.join(root, 'data-'));
  const store = new EmbeddedStore(path.join(dir, 'metadata.sqlite'));
  await store.init();
  const keyStore = openTestToken(token);
  const logger = createLogger({ level: 'error', silent: true });
  try {
    const { deps } = composeCore({ store, defaultKeyStore: keyStore, logger });
    const now = Date.now();
    await store.audit.append(Array.from({ length: count }, (_, i) => draft(i + 1, new Date(i < (options.old ?? 0) ? now - 30 * DAY_MS + i : now - 1000 + i))));
    const key = await openAuditSigningKey(deps, 'test');
    await digestHead(deps, key, 'test');
    if (options.retentionDays !== undefined) await pruneExpiredRecords(deps, key, options.retentionDays, 'test');
    if (options.moreAfterDigest) await store.audit.append(Array.from({ length: options.moreAfterDigest }, (_, i) => draft(count + i + 1, new Date())));
  } finally {
    await keyStore.close();
    await store.close();
  }
  return dir;
}

function sqlite(dir: string, fn: (db: Database.Database) => void): void {
  const db = new Database(path.join(dir, 'metadata.sqlite'));
  try {
    fn(db);
  } finally {
    db.close();
  }
}

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'hsm-kms-audit-cli-'));
  token = createTestToken('audit-cli');
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('audit verify', () => {
  let pristine: string;
  beforeAll(async () => {
    pristine = await trail(12, { moreAfterDigest: 2 });
  });
  /** A copy of the pristine trail to tamper with. */
  const copy = () => {
    const dir = mkdtempSync(path.join(root, 'copy-'));
    cpSync(pristine, dir, { recursive: true });
    return dir;
  };

  it('passes an untouched trail, and says the records after the last digest are checked by chain only', async () => {
    const dir = copy();
    const result = await cli(envFor(dir), 'audit', 'verify');
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^OK: records 1 to 14 and 1 signed digests verify/);
    expect(result.out).toMatch(/records 13 to 14 come after the last signed digest: they are checked by their chain only/);
    // The first run is itself record 15 (AuditVerify), and verifies with the rest.
    const json = await cli(envFor(dir), 'audit', 'verify', '--json');
    expect(JSON.parse(json.out)).toMatchObject({ ok: true, recordsChecked: 15, digestsChecked: 1, lastDigestSequence: 12 });
  });

  it('detects an edited record and names it', async () => {
    const dir = copy();
    sqlite(dir, (db) => db.prepare("UPDATE audit_records SET event = replace(event, 'Decrypt', 'GenerateDataKey') WHERE sequence = 6").run());
    const result = await cli(envFor(dir), 'audit', 'verify');
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/BROKEN at record 6: record 6 .* was altered/);
    expect(JSON.parse((await cli(envFor(dir), 'audit', 'verify', '--json')).out)).toMatchObject({ ok: false, problem: { defect: 'record-altered', sequence: 6 } });
  });

  it('detects a deleted record and names it', async () => {
    const dir = copy();
    sqlite(dir, (db) => db.prepare('DELETE FROM audit_records WHERE sequence = 7').run());
    const result = await cli(envFor(dir), 'audit', 'verify');
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/BROKEN at record 7: record 7 is missing/);
  });

  it('detects the first record deleted', async () => {
    const dir = copy();
    sqlite(dir, (db) => db.prepare('DELETE FROM audit_records WHERE sequence = 1').run());
    const result = await cli(envFor(dir), 'audit', 'verify');
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/BROKEN at record 1: records before 2 are missing and no signed pruning digest vouches for them/);
  });

  it('detects reordered records', async () => {
    const dir = copy();
    sqlite(dir, (db) => {
      // Swap the sequence numbers of records 3 and 4 (through a free number).
      db.prepare('UPDATE audit_records SET sequence = -1 WHERE sequence = 3').run();
      db.prepare('UPDATE audit_records SET sequence = 3 WHERE sequence = 4').run();
      db.prepare('UPDATE audit_records SET sequence = 4 WHERE sequence = -1').run();
    });
    const result = await cli(envFor(dir), 'audit', 'verify');
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/BROKEN at record 3:/);
  });

  it('detects records rewritten with recomputed chain values, from the signed digest', async () => {
    const dir = copy();
    sqlite(dir, (db) => {
      const rows = db.prepare('SELECT sequence, event, previous_chain_value FROM audit_records WHERE sequence >= 5 ORDER BY sequence').all() as { sequence: number; event: string; previous_chain_value: string }[];
      let previous = rows[0]!.previous_chain_value;
      for (const row of rows) {
        const event = row.sequence === 5 ? row.event.replace('Encrypt', 'Sign') : row.event;
        const value = chainValue(previous, row.sequence, event);
        db.prepare('UPDATE audit_records SET event = ?, previous_chain_value = ?, chain_value = ? WHERE sequence = ?').run(event, previous, value, row.sequence);
        previous = value;
      }
    });
    const result = await cli(envFor(dir), 'audit', 'verify');
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/BROKEN at record 12: records 1 to 12 were rewritten/);
  });

  it('detects a digest re-signed with a key outside the token', async () => {
    const dir = copy();
    const outsider = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    sqlite(dir, (db) => {
      const row = db.prepare('SELECT rowid, doc FROM audit_digests').get() as { rowid: number; doc: string };
      const digest = JSON.parse(row.doc) as Omit<AuditDigest, 'signedAt'> & { signedAt: string };
      const input = digestSigningInput({ ...digest, signedAt: new Date(digest.signedAt) }, undefined);
      digest.signature = sign('sha256', input, { key: outsider.privateKey, dsaEncoding: 'der' }).toString('base64');
      db.prepare('UPDATE audit_digests SET doc = ? WHERE rowid = ?').run(JSON.stringify(digest), row.rowid);
    });
    const result = await cli(envFor(dir), 'audit', 'verify');
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/BROKEN at record 12: the digest signed at .* does not verify with the audit signing key/);
  });

  it('detects a truncated tail up to the last digest', async () => {
    const dir = copy();
    sqlite(dir, (db) => db.prepare('DELETE FROM audit_records WHERE sequence >= 10').run());
    const result = await cli(envFor(dir), 'audit', 'verify');
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/BROKEN at record 10: records 10 to 12 are missing: a signed digest vouches for record 12/);
  });

  it('verifies from a given sequence, saying what it trusted', async () => {
    const result = await cli(envFor(copy()), 'audit', 'verify', '--from', '5');
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/OK: records 5 to 14/);
    expect(result.out).toMatch(/started at record 5: records before it were not checked/);
  });

  it('prints the public key, and the stored digests verify with it and node:crypto alone', async () => {
    const result = await cli(envFor(pristine), 'audit', 'public-key');
    expect(result.code).toBe(0);
    const publicKey = createPublicKey(result.out);
    expect(publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: 'prime256v1' });
    const json = JSON.parse((await cli(envFor(pristine), 'audit', 'public-key', '--json')).out) as { signingKeyId: string; publicKeyPem: string };
    expect(json.signingKeyId).toBe(createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex'));
    const store = new EmbeddedStore(path.join(pristine, 'metadata.sqlite'));
    await store.init();
    try {
      let previous: string | undefined;
      for (const digest of inSigningOrder(await store.audit.listDigests())) {
        expect(verify('sha256', digestSigningInput(digest, previous), { key: publicKey, dsaEncoding: 'der' }, Buffer.from(digest.signature, 'base64'))).toBe(true);
        previous = digest.signature;
      }
      expect(previous).toBeDefined();
    } finally {
      await store.close();
    }
  });

  it('keeps the signing key in the token sensitive and non-extractable', async () => {
    const opened = openTestToken(token);
    try {
      const { CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_ID, CKA_CLASS, CKO_PRIVATE_KEY, CKA_LABEL } = await import('pkcs11js');
      const attributes = await opened.connection.withSession(async (session) => {
        const lib = opened.connection.lib;
        lib.C_FindObjectsInit(session, [{ type: CKA_ID, value: Buffer.from(AUDIT_SIGNING_KEY_OBJECT_ID, 'hex') }, { type: CKA_CLASS, value: CKO_PRIVATE_KEY }]);
        const handles = lib.C_FindObjects(session, 4);
        lib.C_FindObjectsFinal(session);
        return handles.map((h) => lib.C_GetAttributeValue(session, h, [{ type: CKA_SENSITIVE }, { type: CKA_EXTRACTABLE }, { type: CKA_LABEL }]).map((a) => a.value as Buffer));
      });
      expect(attributes).toHaveLength(1);
      expect([attributes[0]![0]![0], attributes[0]![1]![0], attributes[0]![2]!.toString()]).toEqual([1, 0, 'hsm-kms-audit-signing']);
    } finally {
      await opened.close();
    }
  });
});

describe('retention', () => {
  it('records are pruned only after a signed digest vouches for the chain value of the last one pruned', async () => {
    const dir = await trail(10, { old: 4, retentionDays: 7 });
    sqlite(dir, (db) => {
      expect((db.prepare('SELECT min(sequence) AS first FROM audit_records').get() as { first: number }).first).toBe(5);
      const docs = (db.prepare('SELECT doc FROM audit_digests').all() as { doc: string }[]).map((r) => JSON.parse(r.doc) as { sequence: number; prunedBefore?: number });
      expect(docs).toContainEqual(expect.objectContaining({ sequence: 4, prunedBefore: 5 }));
    });
    const result = await cli(envFor(dir), 'audit', 'verify');
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/OK: records 5 to 10/);
    expect(result.out).toMatch(/records 1 to 4 were pruned; a signed digest vouches/);
  });

  it('records before the first retained one may only be missing when a signed pruning digest vouches for them', async () => {
    const dir = await trail(10, { old: 4, retentionDays: 7 });
    sqlite(dir, (db) => db.prepare('DELETE FROM audit_records WHERE sequence = 5').run());
    const result = await cli(envFor(dir), 'audit', 'verify');
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/BROKEN at record 5: records before 6 are missing/);
  });
});

describe('audit export', () => {
  it('writes gzipped CloudTrail log files and signed digest files that verify, resumes, and detects a changed file', async () => {
    const dir = await trail(30);
    const out = path.join(root, 'export');
    const first = await cli(envFor(dir, { KMS_AUDIT_EXPORT_MAX_FILE_BYTES: '2048' }), 'audit', 'export', '--to', out, '--json');
    expect(first.code).toBe(0);
    const report = JSON.parse(first.out) as { logFiles: string[]; digestFile: string; lastSequence: number };
    expect(report.lastSequence).toBe(30);
    expect(report.logFiles.length).toBeGreaterThan(1);
    for (const name of report.logFiles) {
      expect(name).toMatch(/^111122223333_CloudTrail_us-east-1_\d{8}T\d{4}Z_\d{12}-\d{12}\.json\.gz$/);
      const { Records } = JSON.parse(gunzipSync(readFileSync(path.join(out, name))).toString()) as { Records: { eventSource: string; eventName: string }[] };
      expect(Records.length).toBeGreaterThan(0);
      for (const record of Records) expect(record).toMatchObject({ eventSource: 'kms.amazonaws.com', eventName: expect.any(String) });
    }
    const digest = JSON.parse(gunzipSync(readFileSync(path.join(out, report.digestFile))).toString()) as Record<string, unknown>;
    expect(digest).toMatchObject({
      awsAccountId: '111122223333', digestSignatureAlgorithm: 'SHA256withECDSA', previousDigestSignature: null,
      logFiles: report.logFiles.map((s3Object) => expect.objectContaining({ s3Object, hashAlgorithm: 'SHA-256' })),
    });
    expect((await cli(envFor(dir), 'audit', 'verify', '--dir', out)).code).toBe(0);

    // More records: the two commands' own (31 AuditExport, 32 AuditVerify) and two more. A second
    // digest links to the first.
    const store = new EmbeddedStore(path.join(dir, 'metadata.sqlite'));
    await store.init();
    await store.audit.append([draft(33, new Date()), draft(34, new Date())]);
    await store.close();
    const second = JSON.parse((await cli(envFor(dir), 'audit', 'export', '--to', out, '--json')).out) as { digestFile: string; lastSequence: number; logFiles: string[] };
    expect(second.lastSequence).toBe(34);
    const exported = second.logFiles.flatMap((name) => (JSON.parse(gunzipSync(readFileSync(path.join(out, name))).toString()) as { Records: { eventSource: string; eventName: string }[] }).Records);
    expect(exported.slice(0, 2)).toMatchObject([{ eventSource: 'cli.hsm-kms', eventName: 'AuditExport' }, { eventSource: 'cli.hsm-kms', eventName: 'AuditVerify' }]);
    const next = JSON.parse(gunzipSync(readFileSync(path.join(out, second.digestFile))).toString()) as Record<string, unknown>;
    expect(next).toMatchObject({ previousDigestS3Object: report.digestFile, previousDigestSignature: digest.digestSignature });
    const verified = await cli(envFor(dir), 'audit', 'verify', '--dir', out, '--json');
    expect(JSON.parse(verified.out)).toMatchObject({ ok: true, records: 34, digestFiles: 2 });

    // The public key alone verifies it (no token): from a PEM file.
    const pem = path.join(root, 'audit.pem');
    writeFileSync(pem, (await cli(envFor(dir), 'audit', 'public-key')).out);
    expect((await cli({ PATH: process.env.PATH }, 'audit', 'verify', '--dir', out, '--public-key', pem)).code).toBe(0);

    // A log file edited and re-gzipped.
    const victim = report.logFiles[0]!;
    const text = gunzipSync(readFileSync(path.join(out, victim))).toString().replace('Decrypt', 'Encrypt');
    writeFileSync(path.join(out, victim), gzipSync(text));
    const broken = await cli(envFor(dir), 'audit', 'verify', '--dir', out);
    expect(broken.code).toBe(1);
    expect(broken.out).toContain(`BROKEN: ${victim}`);
    expect(readdirSync(out)).toContain('hsm-kms-export-state.json');
  });
});

describe('a trail the service wrote', () => {
  it('verifies after real KMS calls, a shutdown digest and an export, and catches an edit of one of them', async () => {
    const svc = await startTestService();
    let dir: string;
    try {
      const created = await kmsCall(svc.app, 'CreateKey', {});
      expect(created.status).toBe(200);
      const keyId = (created.body as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId;
      for (let i = 0; i < 3; i++) expect((await kmsCall(svc.app, 'Encrypt', { KeyId: keyId, Plaintext: Buffer.from(`p${i}`).toString('base64') })).status).toBe(200);
      expect((await kmsCall(svc.app, 'Decrypt', { CiphertextBlob: Buffer.alloc(40).toString('base64') })).status).toBe(400);
      // What the server does on shutdown.
      await digestHead(svc.deps, await openAuditSigningKey(svc.deps, 'test'), 'test');
      dir = svc.dir;
    } finally {
      await svc.close({ keepData: true });
    }
    const env = { ...envFor(dir), KMS_TOKEN_LABEL: svc.token.label, KMS_PIN: svc.token.pin };
    const verified = await cli(env, 'audit', 'verify', '--json');
    expect(JSON.parse(verified.out)).toMatchObject({ ok: true, recordsChecked: 5, digestsChecked: 1, lastDigestSequence: 5 });
    const out = path.join(dir, 'export');
    expect((await cli(env, 'audit', 'export', '--to', out)).code).toBe(0);
    expect((await cli(env, 'audit', 'verify', '--dir', out)).code).toBe(0);
    sqlite(dir, (db) => db.prepare("UPDATE audit_records SET event = replace(event, '\"readOnly\":false', '\"readOnly\":true') WHERE sequence = 1").run());
    const broken = await cli(env, 'audit', 'verify');
    expect(broken).toMatchObject({ code: 1, out: expect.stringMatching(/^BROKEN at record 1: record 1 .* was altered/) });
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('audit tail', () => {
  it('prints the last records, for people and as JSON lines', async () => {
    const dir = await trail(8);
    const human = await cli(envFor(dir), 'audit', 'tail', '-n', '3');
    expect(human.code).toBe(0);
    expect(human.out.trim().split('\n').map((l) => l.trim().split(/\s+/)[0])).toEqual(['6', '7', '8']);
    // The first tail was itself recorded, as record 9.
    const json = await cli(envFor(dir), 'audit', 'tail', '-n', '2', '--json');
    const lines = json.out.trim().split('\n').map((l) => JSON.parse(l) as { sequence: number; eventName: string; eventSource: string });
    expect(lines.map((l) => l.sequence)).toEqual([8, 9]);
    expect(lines[1]).toMatchObject({ eventName: 'AuditTail', eventSource: 'cli.hsm-kms', requestParameters: { n: 3, follow: false }, responseElements: { records: 3 } });
  });
});

describe("the admin CLI's own calls", () => {
  it('each command that reaches the store writes exactly one record, eventSource cli.hsm-kms, naming the operator', async () => {
    const dir = await trail(2);
    const exportDir = mkdtempSync(path.join(root, 'export-'));
    const write = () => undefined;
    const commands: [string[], string, boolean][] = [
      [['doctor'], 'Doctor', true],
      [['audit', 'verify'], 'AuditVerify', true],
      [['audit', 'tail', '-n', '1'], 'AuditTail', true],
      [['audit', 'public-key'], 'AuditPublicKey', false],
      [['audit', 'export', '--to', exportDir], 'AuditExport', false],
      [['audit', 'verify', '--dir', exportDir], 'AuditVerify', true],
    ];
    for (const [args] of commands) expect({ args, code: (await runCli(args, envFor(dir), write)).exitCode }).toEqual({ args, code: 0 });
    const store = new EmbeddedStore(path.join(dir, 'metadata.sqlite'));
    await store.init();
    try {
      const records = await store.audit.range(3, 100);
      expect(records.map((r) => r.eventName)).toEqual(commands.map(([, name]) => name));
      for (const [index, record] of records.entries()) {
        const event = JSON.parse(record.event) as Record<string, unknown>;
        expect(event).toMatchObject({
          eventSource: 'cli.hsm-kms', eventType: 'AwsApiCall', userAgent: 'hsm-kms-cli', readOnly: commands[index]![2],
          userIdentity: { type: 'LocalOperator', userName: userInfo().username },
        });
        expect(event.errorCode).toBeUndefined();
        expect(record.succeeded).toBe(true);
      }
      expect(JSON.parse(records[1]!.event)).toMatchObject({ responseElements: { intact: true } });
      expect(JSON.parse(records[4]!.event)).toMatchObject({ requestParameters: { to: exportDir }, responseElements: { lastSequence: 6 } });
      // The chain still verifies with the CLI's records in it.
      expect(await runCli(['audit', 'verify'], envFor(dir), write)).toMatchObject({ exitCode: 0 });
    } finally {
      await store.close();
    }
  });

  it('a failing command is recorded as a failure with its error', async () => {
    const dir = await trail(1);
    const before = mkdtempSync(path.join(root, 'not-a-dir-'));
    const file = path.join(before, 'file');
    writeFileSync(file, 'x');
    // Exporting into a path under a regular file cannot work.
    await expect(runCli(['audit', 'export', '--to', path.join(file, 'sub')], envFor(dir), () => undefined)).rejects.toThrow();
    const store = new EmbeddedStore(path.join(dir, 'metadata.sqlite'));
    await store.init();
    try {
      const [record] = await store.audit.range(2, 10);
      expect(record).toMatchObject({ eventName: 'AuditExport', succeeded: false });
      expect(JSON.parse(record!.event)).toMatchObject({ errorCode: 'KMSInternalException', eventSource: 'cli.hsm-kms' });
    } finally {
      await store.close();
    }
  });
});

describe('doctor', () => {
  it('finds nothing wrong with a working setup', async () => {
    const dir = mkdtempSync(path.join(root, 'doctor-'));
    const result = await cli(envFor(dir), 'doctor');
    expect(result.out).toMatch(/ok +pin +the PIN logs in/);
    expect(result.out).toMatch(/ok +profile/);
    expect(result.code).toBe(0);
    expect(JSON.parse((await cli(envFor(dir), 'doctor', '--json')).out)).toMatchObject({ ok: true });
  });

  it('says in plain words that the PIN is wrong, without printing it', async () => {
    const dir = mkdtempSync(path.join(root, 'doctor-'));
    const wrongPin = 'wrong-pin-0000';
    const result = await cli(envFor(dir, { KMS_PIN: wrongPin }), 'doctor');
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/PROBLEM +pin +the token refused the PIN \(CKR_PIN_INCORRECT\)/);
    expect(result.out).toMatch(/fix: set KMS_PIN or KMS_PIN_FILE/);
    expect(result.out + result.err).not.toContain(wrongPin);
    expect(result.out + result.err).not.toContain(token.pin);
  });

  it('says in plain words that the module is missing', async () => {
    const dir = mkdtempSync(path.join(root, 'doctor-'));
    const result = await cli(envFor(dir, { KMS_PKCS11_MODULE: '/nonexistent/libpkcs11.so' }), 'doctor', '--json');
    expect(result.code).toBe(1);
    expect(JSON.parse(result.out)).toMatchObject({ ok: false, checks: expect.arrayContaining([expect.objectContaining({ check: 'module', status: 'problem', message: expect.stringMatching(/\/nonexistent\/libpkcs11.so .* does not exist/) })]) });
  });
});

describe('usage', () => {
  it('answers --help on every command with exit 0, and a wrong command line with exit 2', async () => {
    expect(await cli({ PATH: process.env.PATH }, '--help')).toMatchObject({ code: 0, out: expect.stringMatching(/^usage: hsm-kms <command>[\s\S]*Exit codes: 0/) });
    expect(await cli({ PATH: process.env.PATH }, 'audit', 'verify', '--bogus')).toMatchObject({ code: 2, err: expect.stringMatching(/usage: hsm-kms audit verify/) });
    // The rest in this process: the same function the bin runs.
    const write = () => undefined;
    for (const args of [['doctor', '--help'], ['audit', '--help'], ['audit', 'verify', '--help'], ['audit', 'export', '--help'], ['audit', 'tail', '--help'], ['audit', 'public-key', '--help'], ['xks', '--help'], ['xks', 'create', '--help']]) {
      const result = await runCli(args, {}, write);
      expect({ args, code: result.exitCode, text: result.text.slice(0, 14) }).toEqual({ args, code: 0, text: 'usage: hsm-kms' });
    }
    for (const args of [[], ['nonsense'], ['audit'], ['audit', 'verify', '--from', 'x'], ['audit', 'tail', '--to', 'x'], ['audit', 'verify', 'extra'], ['doctor', '--bogus']]) {
      const code = await runCli(args, {}, write).then((r) => r.exitCode, (e: unknown) => exitCodeOf(e));
      expect({ args, code }).toEqual({ args, code: 2 });
    }
  });
});
