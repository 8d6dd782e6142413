// The audit trail in SQLite. An append reads the head and inserts its records in one BEGIN
// IMMEDIATE transaction: the write lock is taken before the head is read, so two processes on one
// file never number two records alike, and a batch is committed whole or not at all. The lookup
// index is not part of the append: see audit-lookup-index.ts.
import { DuplicateRecordError } from '../../core/errors';
import { decodeAuditMarker, encodeAuditMarker } from '../../core/api/page-marker';
import { chainValue, GENESIS_CHAIN_VALUE, type AuditDigest, type AuditDraft, type AuditLookup, type AuditRecord } from '../../core/audit/record';
import type { AuditRepository, Page, PageRequest } from '../../core/ports';
import { pageOf } from '../page';
import { eventTimeKey, LOOKUP_CATCH_UP_SQL } from './audit-lookup-index';
import type { SqliteConnection } from './connection';

interface RecordRow {
  sequence: number;
  event_id: string;
  event_time: number;
  event_name: string;
  read_only: number;
  succeeded: number;
  username: string | null;
  access_key_id: string | null;
  /** JSON array of the record's resource names, in order. */
  resource_names: string;
  event: string;
  previous_chain_value: string;
  chain_value: string;
}

const RECORD_COLUMNS = `r.sequence, r.event_id, r.event_time, r.event_name, r.read_only, r.succeeded, r.username,
  r.access_key_id, r.resource_names, r.event, r.previous_chain_value, r.chain_value`;

/**
 * The lookup attributes found through audit_lookup l (its rows name the attribute); the others
 * are conditions on audit_records r itself: the event id has its own unique index, and ReadOnly
 * splits the trail in two large halves that a scan from the newest record answers as fast.
 */
const INDEXED_ATTRIBUTES = new Set(['EventName', 'Username', 'AccessKeyId', 'ResourceName']);
const RECORD_CONDITIONS: Record<string, string> = {
  EventId: 'r.event_id = @value',
  // LookupEvents compares the text: "true" and "false" match, anything else matches nothing.
  ReadOnly: `r.read_only = (CASE @value WHEN 'true' THEN 1 WHEN 'false' THEN 0 ELSE -1 END)`,
};

export class SqliteAuditRepository implements AuditRepository {
  constructor(private readonly db: SqliteConnection) {}

  async append(drafts: readonly AuditDraft[]): Promise<AuditRecord[]> {
    if (drafts.length === 0) return [];
    const readHead = this.db.statement<[], { sequence: number; chain_value: string }>('SELECT sequence, chain_value FROM audit_head WHERE id = 1');
    const insertRecord = this.db.statement<[RecordRow]>(
      `INSERT INTO audit_records (sequence, event_id, event_time, event_name, read_only, succeeded, username, access_key_id, resource_names, event, previous_chain_value, chain_value)
       VALUES (@sequence, @event_id, @event_time, @event_name, @read_only, @succeeded, @username, @access_key_id, @resource_names, @event, @previous_chain_value, @chain_value)`,
    );
    const writeHead = this.db.statement<[{ sequence: number; chainValue: string }]>(
      `INSERT INTO audit_head (id, sequence, chain_value) VALUES (1, @sequence, @chainValue)
       ON CONFLICT (id) DO UPDATE SET sequence = excluded.sequence, chain_value = excluded.chain_value`,
    );
    // Durable against kill -9, not power loss, as the trail promises: no fsync on the event loop per batch.
    return this.db.immediateTransactionWithoutSync(() => {
      const head = readHead.get();
      let sequence = head?.sequence ?? 0;
      let previous = head?.chain_value ?? GENESIS_CHAIN_VALUE;
      const stored: AuditRecord[] = [];
      for (const draft of drafts) {
        sequence += 1;
        const record: AuditRecord = {
          ...copyDraft(draft), sequence, previousChainValue: previous, chainValue: chainValue(previous, sequence, draft.event),
        };
        try {
          insertRecord.run(rowOf(record));
        } catch (e) {
          // The sequence is ours under the lock, so a unique violation can only be the event id.
          throw (e as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE' ? new DuplicateRecordError(`audit event ${draft.eventId}`) : e;
        }
        stored.push(record);
        previous = record.chainValue;
      }
      writeHead.run({ sequence, chainValue: previous });
      return stored;
    });
  }

  async head(): Promise<AuditRecord | undefined> {
    const row = this.db.statement<[], RecordRow>(`SELECT ${RECORD_COLUMNS} FROM audit_records r ORDER BY r.sequence DESC LIMIT 1`).get();
    return row && recordOf(row);
  }

  async range(fromSequence: number, limit: number): Promise<AuditRecord[]> {
    if (limit <= 0) return [];
    return this.db.statement<[{ fromSequence: number; limit: number }], RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM audit_records r WHERE r.sequence >= @fromSequence ORDER BY r.sequence LIMIT @limit`,
    ).all({ fromSequence, limit }).map(recordOf);
  }

  async lookup(filter: AuditLookup, page: PageRequest): Promise<Page<AuditRecord>> {
    this.catchUpLookupIndex();
    const before = page.marker === undefined ? undefined : decodeAuditMarker(page.marker);
    const indexed = filter.attribute !== undefined && INDEXED_ATTRIBUTES.has(filter.attribute.key);
    // Through the index: the attribute's rows, newest first. Otherwise the records, newest first,
    // and a time range alone is taken from the index's EventTime rows.
    const from = indexed ? 'audit_lookup l JOIN audit_records r ON r.sequence = l.sequence' : 'audit_records r';
    const sequence = indexed ? 'l.sequence' : 'r.sequence';
    const conditions: string[] = [];
    const params: Record<string, string | number> = { limit: page.limit + 1 };
    if (indexed) {
      conditions.push('l.attribute = @attribute AND l.value = @value');
      params.attribute = filter.attribute!.key;
    } else if (filter.attribute) {
      conditions.push(RECORD_CONDITIONS[filter.attribute.key]!);
    }
    if (filter.attribute) params.value = filter.attribute.value;
    if (before !== undefined) {
      conditions.push(`${sequence} < @before`);
      params.before = before;
    }
    if (!indexed && (filter.startTime || filter.endTime)) {
      conditions.push(`r.sequence IN (SELECT sequence FROM audit_lookup WHERE attribute = 'EventTime' AND value BETWEEN @startKey AND @endKey)`);
      params.startKey = eventTimeKey(filter.startTime ?? new Date(0));
      params.endKey = eventTimeKey(filter.endTime ?? new Date(8.64e15));
    }
    if (filter.startTime) {
      conditions.push('r.event_time >= @startTime');
      params.startTime = filter.startTime.getTime();
    }
    if (filter.endTime) {
      conditions.push('r.event_time <= @endTime');
      params.endTime = filter.endTime.getTime();
    }
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    // A handful of shapes, each prepared once and cached by its text.
    const rows = this.db.statement<[Record<string, string | number>], RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM ${from} ${where} ORDER BY ${sequence} DESC LIMIT @limit`,
    ).all(params);
    return pageOf(rows, page.limit, recordOf, encodeAuditMarker);
  }

  async lastOf(resourceName: string, eventNames: readonly string[]): Promise<AuditRecord | undefined> {
    if (eventNames.length === 0) return undefined;
    this.catchUpLookupIndex();
    const row = this.db.statement<[{ resourceName: string; eventNames: string }], RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM audit_lookup l JOIN audit_records r ON r.sequence = l.sequence
       WHERE l.attribute = 'ResourceName' AND l.value = @resourceName AND r.succeeded = 1 AND r.event_name IN (SELECT value FROM json_each(@eventNames))
       ORDER BY l.sequence DESC LIMIT 1`,
    ).get({ resourceName, eventNames: JSON.stringify(eventNames) });
    return row && recordOf(row);
  }

  /** Indexes every record the lookup index has not reached yet (the background thread usually has). */
  private catchUpLookupIndex(): void {
    // Usually the thread is there already: a read says so without taking the write lock.
    const behind = this.db.statement<[], { behind: number }>('SELECT indexed_sequence < sequence AS behind FROM audit_head WHERE id = 1').get();
    if (!behind?.behind) return;
    while (this.db.immediateTransactionWithoutSync(() => this.indexNextChunk()));
  }

  /** Indexes the next chunk of records, inside the caller's transaction; false once none was left. */
  private indexNextChunk(): boolean {
    const [insertLookups, advance] = LOOKUP_CATCH_UP_SQL.map((sql) => this.db.statement(sql));
    insertLookups!.run();
    return advance!.run().changes > 0;
  }

  async insertDigest(digest: AuditDigest): Promise<void> {
    this.db.statement<[{ sequence: number; signedAt: number; doc: string }]>(
      'INSERT INTO audit_digests (sequence, signed_at, doc) VALUES (@sequence, @signedAt, @doc)',
    ).run({ sequence: digest.sequence, signedAt: digest.signedAt.getTime(), doc: JSON.stringify(digest) });
  }

  async listDigests(): Promise<AuditDigest[]> {
    const rows = this.db.statement<[], { doc: string }>('SELECT doc FROM audit_digests ORDER BY sequence, signed_at, rowid').all();
    return rows.map((row) => {
      const digest = JSON.parse(row.doc) as AuditDigest & { signedAt: string };
      return { ...digest, signedAt: new Date(digest.signedAt) };
    });
  }

  async clear(): Promise<void> {
    // Under the write lock, so an append either lands before (and goes) or starts the new chain.
    this.db.immediateTransaction(() => {
      for (const table of ['audit_lookup', 'audit_records', 'audit_digests', 'audit_head']) this.db.statement(`DELETE FROM ${table}`).run();
    });
  }

  async prune(beforeSequence: number, olderThan: Date): Promise<number> {
    return this.db.immediateTransaction(() => {
      // The bound comes from the index's EventTime rows: every record must be in it.
      while (this.indexNextChunk());
      // Only a prefix goes: up to the first record that is too young, even if older ones follow it.
      const firstYoung = this.db.statement<[{ olderThan: string }], { sequence: number | null }>(
        `SELECT min(sequence) AS sequence FROM audit_lookup WHERE attribute = 'EventTime' AND value >= @olderThan`,
      ).get({ olderThan: eventTimeKey(olderThan) })?.sequence;
      const bound = Math.min(beforeSequence, firstYoung ?? Infinity);
      if (!Number.isFinite(bound)) return 0;
      this.db.statement<[{ bound: number }]>('DELETE FROM audit_lookup WHERE sequence < @bound').run({ bound });
      return this.db.statement<[{ bound: number }]>('DELETE FROM audit_records WHERE sequence < @bound').run({ bound }).changes;
    });
  }
}

/** Only the draft's own fields, copied, so a caller's extra properties and later mutations stay out. */
function copyDraft(draft: AuditDraft): AuditDraft {
  return {
    eventId: draft.eventId,
    eventTime: new Date(draft.eventTime.getTime()),
    eventName: draft.eventName,
    readOnly: draft.readOnly,
    succeeded: draft.succeeded,
    ...(draft.username !== undefined ? { username: draft.username } : {}),
    ...(draft.accessKeyId !== undefined ? { accessKeyId: draft.accessKeyId } : {}),
    resourceNames: [...draft.resourceNames],
    event: draft.event,
  };
}

function rowOf(record: AuditRecord): RecordRow {
  return {
    sequence: record.sequence,
    event_id: record.eventId,
    event_time: record.eventTime.getTime(),
    event_name: record.eventName,
    read_only: record.readOnly ? 1 : 0,
    succeeded: record.succeeded ? 1 : 0,
    username: record.username ?? null,
    access_key_id: record.accessKeyId ?? null,
    resource_names: JSON.stringify(record.resourceNames),
    event: record.event,
    previous_chain_value: record.previousChainValue,
    chain_value: record.chainValue,
  };
}

function recordOf(row: RecordRow): AuditRecord {
  return {
    eventId: row.event_id,
    eventTime: new Date(row.event_time),
    eventName: row.event_name,
    readOnly: row.read_only === 1,
    succeeded: row.succeeded === 1,
    ...(row.username !== null ? { username: row.username } : {}),
    ...(row.access_key_id !== null ? { accessKeyId: row.access_key_id } : {}),
    resourceNames: JSON.parse(row.resource_names) as string[],
    event: row.event,
    sequence: row.sequence,
    previousChainValue: row.previous_chain_value,
    chainValue: row.chain_value,
  };
}
