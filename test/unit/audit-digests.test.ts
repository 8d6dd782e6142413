// The audit trail's signed digests, verification, retention and export in core, on the memory
// store and the fake token (the SoftHSM and SQLite runs are in test/api/audit-cli.test.ts).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportAuditTrail } from '../../src/audit-export/exporter';
import { STATE_FILE } from '../../src/audit-export/files';
import { verifyExportDirectory } from '../../src/audit-export/verify-dir';
import { composeCore } from '../../src/compose';
import { digestHead } from '../../src/core/audit/digests';
import type { AuditDraft } from '../../src/core/audit/record';
import { pruneExpiredRecords } from '../../src/core/audit/retention';
import { openAuditSigningKey } from '../../src/core/audit/signing-key';
import { verifyAuditTrail } from '../../src/core/audit/verify';
import type { CoreDeps } from '../../src/core/deps';
import type { Clock } from '../../src/core/ports';
import { createLogger } from '../../src/log/logger';
import { FakeToken } from '../support/fake-token';
import { MemoryStore } from '../support/memory-store';

const DAY_MS = 86_400_000;

function draft(at: Date): AuditDraft {
  const eventId = randomUUID();
  return { eventId, eventTime: at, eventName: 'Encrypt', readOnly: true, succeeded: true, resourceNames: [], event: JSON.stringify({ eventID: eventId, eventName: 'Encrypt', eventTime: at.toISOString() }) };
}

function setup(clock: Clock = { now: () => new Date() }): { deps: CoreDeps; token: FakeToken; store: MemoryStore } {
  const store = new MemoryStore();
  const token = new FakeToken();
  const { deps } = composeCore({ store, defaultKeyStore: token, clock, logger: createLogger({ level: 'error', silent: true }) });
  return { deps, token, store };
}

it('makes one signing key when two instances open it at once', async () => {
  const { deps, token } = setup();
  const generate = jest.spyOn(token, 'generateKeyPair');
  const [a, b] = await Promise.all([openAuditSigningKey(deps, 'a'), openAuditSigningKey(deps, 'b')]);
  expect(a.keyId).toBe(b.keyId);
  expect(generate).toHaveBeenCalledTimes(1);
});

it('signs an empty trail at sequence 0, and only signs again when the head moves', async () => {
  const { deps } = setup();
  const key = await openAuditSigningKey(deps, 'a');
  expect(await digestHead(deps, key, 'a')).toMatchObject({ sequence: 0 });
  expect(await digestHead(deps, key, 'a')).toBeUndefined();
  await deps.store.audit.append([draft(new Date()), draft(new Date())]);
  expect(await digestHead(deps, key, 'a')).toMatchObject({ sequence: 2 });
  expect(await verifyAuditTrail(deps.store.audit, key.publicKeySpki)).toMatchObject({ ok: true, digestsChecked: 2, recordsChecked: 2 });
});

it('detects a digest removed between two others: the next one no longer verifies', async () => {
  const { deps } = setup();
  const key = await openAuditSigningKey(deps, 'a');
  for (let i = 0; i < 3; i++) {
    await deps.store.audit.append([draft(new Date())]);
    await digestHead(deps, key, 'a');
  }
  const digests = await deps.store.audit.listDigests();
  const audit = deps.store.audit;
  const withoutSecond = { ...audit, range: audit.range.bind(audit), listDigests: async () => digests.filter((d) => d.sequence !== 2) };
  expect(await verifyAuditTrail(withoutSecond as typeof audit, key.publicKeySpki)).toMatchObject({ ok: false, problem: { defect: 'digest-signature', sequence: 3 } });
});

it('stays verifiable when retention prunes every record', async () => {
  let now = Date.now();
  const { deps } = setup({ now: () => new Date(now) });
  const key = await openAuditSigningKey(deps, 'a');
  await deps.store.audit.append([draft(new Date(now)), draft(new Date(now))]);
  await digestHead(deps, key, 'a');
  now += 10 * DAY_MS;
  expect(await pruneExpiredRecords(deps, key, 1, 'a')).toEqual({ pruned: 2, prunedBefore: 3 });
  const report = await verifyAuditTrail(deps.store.audit, key.publicKeySpki);
  expect(report).toMatchObject({ ok: true, recordsChecked: 0 });
  await deps.store.audit.append([draft(new Date(now))]);
  expect(await verifyAuditTrail(deps.store.audit, key.publicKeySpki)).toMatchObject({ ok: true, firstSequence: 3, lastSequence: 3 });
});

describe('export', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-export-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const options = (flush: boolean) => ({ dir, accountId: '111122223333', region: 'us-east-1', maxFileBytes: 300, maxFileSeconds: 300, flush });

  it('holds back a young, small log file until it is old enough or flushed', async () => {
    const { deps } = setup();
    const key = await openAuditSigningKey(deps, 'a');
    await deps.store.audit.append([draft(new Date())]);
    expect(await exportAuditTrail(deps, key, 'a', options(false))).toMatchObject({ logFiles: [], lastSequence: 0 });
    expect(await exportAuditTrail(deps, key, 'a', options(true))).toMatchObject({ logFiles: [expect.any(String)], lastSequence: 1 });
    expect(verifyExportDirectory(dir, key.publicKeySpki)).toMatchObject({ ok: true, records: 1 });
    // Nothing new since: nothing written, not even a digest file.
    const files = readdirSync(dir).length;
    expect(await exportAuditTrail(deps, key, 'a', options(true))).toMatchObject({ logFiles: [], lastSequence: 1 });
    expect(readdirSync(dir)).toHaveLength(files);
  });

  it('an export continues the chain where the previous export ended', async () => {
    const { deps } = setup();
    const key = await openAuditSigningKey(deps, 'a');
    await deps.store.audit.append([draft(new Date())]);
    await exportAuditTrail(deps, key, 'a', options(true));
    const stateFile = path.join(dir, STATE_FILE);
    writeFileSync(stateFile, JSON.stringify({ ...JSON.parse(readFileSync(stateFile, 'utf8')), lastChainValue: 'f'.repeat(64) }));
    await deps.store.audit.append([draft(new Date())]);
    await expect(exportAuditTrail(deps, key, 'a', options(true))).rejects.toThrow(/record 2 does not continue the exported chain/);
  });

  it('writes nothing while another instance holds the export lease', async () => {
    const { deps } = setup();
    const key = await openAuditSigningKey(deps, 'a');
    await deps.store.leases.acquire('job:audit-export', 'b', new Date(), 60_000);
    expect(await exportAuditTrail(deps, key, 'a', options(true))).toBeUndefined();
  });
});
