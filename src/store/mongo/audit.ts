// The audit trail in MongoDB. Every instance sharing the database appends to one chain: an append
// is a transaction that reads the head document, moves it on only if it is still where it was
// read, and inserts the records (unique on sequence and on eventId). Two instances racing for the
// same head make one transaction fail with a write conflict; the driver's withTransaction retries
// it (TransientTransactionError), and it then reads the new head. A server without transactions
// (a standalone mongod) appends one record at a time, claiming each sequence by the unique index.
import { MongoServerError, type Collection, type Filter } from 'mongodb';
import { DuplicateRecordError } from '../../core/errors';
import { decodeAuditMarker, encodeAuditMarker } from '../../core/api/page-marker';
import { chainValue, GENESIS_CHAIN_VALUE, type AuditDigest, type AuditDraft, type AuditLookup, type AuditRecord } from '../../core/audit/record';
import type { AuditRepository, Page, PageRequest } from '../../core/ports';
import { pageOf } from '../page';
import { inTransaction, type MongoConnection, type SessionBound } from './connection';

export const AUDIT_HEAD_ID = 'audit-head';
const DUPLICATE_KEY_ERROR = 11000;
/** Write conflicts between instances are retried by the driver; this bounds our own retries on top. */
const MAX_ATTEMPTS = 50;

export interface AuditHeadDoc {
  _id: string;
  sequence: number;
  chainValue: string;
}

/** A record as stored: the record's fields, resourceNames an indexed array. */
export type AuditRecordDoc = AuditRecord;
export type AuditDigestDoc = AuditDigest;

interface AuditCollections {
  auditHead: Collection<AuditHeadDoc>;
  auditRecords: Collection<AuditRecordDoc>;
  auditDigests: Collection<AuditDigestDoc>;
}

export class MongoAuditRepository implements AuditRepository {
  constructor(private readonly connection: MongoConnection) {}

  async append(drafts: readonly AuditDraft[]): Promise<AuditRecord[]> {
    if (drafts.length === 0) return [];
    const { client, supportsTransactions } = this.connection.open();
    if (!supportsTransactions) return this.appendOneByOne(drafts);
    for (let attempt = 1; ; attempt++) {
      try {
        const { auditHead, auditRecords } = this.collections();
        return await inTransaction(client, { auditHead, auditRecords }, (tx) => this.appendInTransaction(drafts, tx));
      } catch (e) {
        // withTransaction retries transient errors for up to two minutes; a head that moved
        // under us between read and update surfaces here as a conflict of our own making.
        if (!(e instanceof HeadMovedError) || attempt >= MAX_ATTEMPTS) throw mapDuplicate(e, drafts);
      }
    }
  }

  private async appendInTransaction(
    drafts: readonly AuditDraft[], { auditHead, auditRecords }: SessionBound<Pick<AuditCollections, 'auditHead' | 'auditRecords'>>,
  ): Promise<AuditRecord[]> {
    const head = await auditHead.findOne({ _id: AUDIT_HEAD_ID });
    const records = chain(drafts, head?.sequence ?? 0, head?.chainValue ?? GENESIS_CHAIN_VALUE);
    const last = records[records.length - 1]!;
    if (head) {
      const moved = await auditHead.updateOne(
        { _id: AUDIT_HEAD_ID, sequence: head.sequence },
        { $set: { sequence: last.sequence, chainValue: last.chainValue } },
      );
      if (moved.modifiedCount !== 1) throw new HeadMovedError();
    } else {
      // Two first appends both insert the head: the unique _id makes one of them fail.
      await auditHead.insertOne({ _id: AUDIT_HEAD_ID, sequence: last.sequence, chainValue: last.chainValue })
        .catch((e: unknown) => { throw isDuplicateKey(e) && /_id_/.test(String((e as Error).message)) ? new HeadMovedError() : e; });
    }
    // Copies: the driver writes an _id into each document it is given.
    await auditRecords.insertMany(records.map((r) => ({ ...r })), { ordered: true });
    return records;
  }

  /** Without transactions: each record claims the next sequence through the unique index, then moves the head on. */
  private async appendOneByOne(drafts: readonly AuditDraft[]): Promise<AuditRecord[]> {
    const { auditHead, auditRecords } = this.collections();
    const stored: AuditRecord[] = [];
    for (const draft of drafts) {
      for (let attempt = 1; ; attempt++) {
        const [head, newest] = await Promise.all([
          auditHead.findOne({ _id: AUDIT_HEAD_ID }),
          auditRecords.find({}).sort({ sequence: -1 }).limit(1).next(),
        ]);
        // The newest record wins over a head document that a crashed append did not move on.
        const after = newest && (!head || newest.sequence >= head.sequence) ? newest : head;
        const [record] = chain([draft], after?.sequence ?? 0, after?.chainValue ?? GENESIS_CHAIN_VALUE);
        try {
          await auditRecords.insertOne({ ...record! });
        } catch (e) {
          if (isDuplicateKey(e) && /sequence/.test(String((e as Error).message)) && attempt < MAX_ATTEMPTS) continue;
          throw mapDuplicate(e, [draft]);
        }
        await auditHead.updateOne(
          { _id: AUDIT_HEAD_ID, sequence: { $lt: record!.sequence } },
          { $set: { sequence: record!.sequence, chainValue: record!.chainValue } },
          { upsert: true },
        ).catch((e: unknown) => { if (!isDuplicateKey(e)) throw e; });
        stored.push(record!);
        break;
      }
    }
    return stored;
  }

  async head(): Promise<AuditRecord | undefined> {
    const doc = await this.collections().auditRecords.find({}).sort({ sequence: -1 }).limit(1).next();
    return doc ? recordOf(doc) : undefined;
  }

  async range(fromSequence: number, limit: number): Promise<AuditRecord[]> {
    if (limit <= 0) return [];
    const docs = await this.collections().auditRecords.find({ sequence: { $gte: fromSequence } }).sort({ sequence: 1 }).limit(limit).toArray();
    return docs.map(recordOf);
  }

  async lookup(filter: AuditLookup, page: PageRequest): Promise<Page<AuditRecord>> {
    const query: Filter<AuditRecordDoc> = {};
    if (page.marker !== undefined) query.sequence = { $lt: decodeAuditMarker(page.marker) };
    if (filter.startTime || filter.endTime) {
      query.eventTime = { ...(filter.startTime ? { $gte: filter.startTime } : {}), ...(filter.endTime ? { $lte: filter.endTime } : {}) };
    }
    if (filter.attribute) {
      const { key, value } = filter.attribute;
      switch (key) {
        case 'EventId': query.eventId = value; break;
        case 'EventName': query.eventName = value; break;
        // LookupEvents compares the text: "true" and "false" match, anything else matches nothing.
        case 'ReadOnly':
          if (value !== 'true' && value !== 'false') return { items: [] };
          query.readOnly = value === 'true';
          break;
        case 'Username': query.username = value; break;
        case 'AccessKeyId': query.accessKeyId = value; break;
        case 'ResourceName': query.resourceNames = value; break;
      }
    }
    const docs = await this.collections().auditRecords.find(query).sort({ sequence: -1 }).limit(page.limit + 1).toArray();
    return pageOf(docs, page.limit, recordOf, encodeAuditMarker);
  }

  async lastOf(resourceName: string, eventNames: readonly string[]): Promise<AuditRecord | undefined> {
    if (eventNames.length === 0) return undefined;
    const doc = await this.collections().auditRecords
      .find({ resourceNames: resourceName, succeeded: true, eventName: { $in: [...eventNames] } })
      .sort({ sequence: -1 }).limit(1).next();
    return doc ? recordOf(doc) : undefined;
  }

  async insertDigest(digest: AuditDigest): Promise<void> {
    await this.collections().auditDigests.insertOne({ ...digest });
  }

  async listDigests(): Promise<AuditDigest[]> {
    const docs = await this.collections().auditDigests.find({}).sort({ sequence: 1, signedAt: 1, _id: 1 }).toArray();
    return docs.map(({ _id, ...digest }) => digest as AuditDigest);
  }

  async clear(): Promise<void> {
    const { client, supportsTransactions } = this.connection.open();
    const { auditHead, auditRecords, auditDigests } = this.collections();
    if (supportsTransactions) {
      // An append racing this transaction conflicts on the head and is retried against the new chain.
      await inTransaction(client, { auditHead, auditRecords, auditDigests }, async (tx) => {
        await tx.auditRecords.deleteMany({});
        await tx.auditDigests.deleteMany({});
        await tx.auditHead.deleteOne({ _id: AUDIT_HEAD_ID });
      });
      return;
    }
    // A standalone server: one collection at a time, so an append meanwhile may survive the clear.
    await auditRecords.deleteMany({});
    await auditDigests.deleteMany({});
    await auditHead.deleteOne({ _id: AUDIT_HEAD_ID });
  }

  async prune(beforeSequence: number, olderThan: Date): Promise<number> {
    const { auditRecords } = this.collections();
    // Only a prefix goes: up to the first record that is too young, even if older ones follow it.
    const firstYoung = await auditRecords.find({ eventTime: { $gte: olderThan } }).sort({ sequence: 1 }).limit(1).next();
    const bound = Math.min(beforeSequence, firstYoung?.sequence ?? Infinity);
    if (!Number.isFinite(bound)) return 0;
    const result = await auditRecords.deleteMany({ sequence: { $lt: bound } });
    return result.deletedCount;
  }

  private collections(): AuditCollections {
    const { db } = this.connection.open();
    return {
      auditHead: db.collection<AuditHeadDoc>('auditHead'),
      auditRecords: db.collection<AuditRecordDoc>('auditRecords'),
      auditDigests: db.collection<AuditDigestDoc>('auditDigests'),
    };
  }
}

/** The head moved between our read and our update: another instance appended first. */
class HeadMovedError extends Error {
  constructor() {
    super('the audit head moved during the append');
  }
}

/** `drafts` numbered and chained after `sequence` and `previous`. */
function chain(drafts: readonly AuditDraft[], sequence: number, previous: string): AuditRecord[] {
  return drafts.map((draft) => {
    sequence += 1;
    const record: AuditRecord = {
      eventId: draft.eventId,
      eventTime: new Date(draft.eventTime.getTime()),
      eventName: draft.eventName,
      readOnly: draft.readOnly,
      succeeded: draft.succeeded,
      ...(draft.username !== undefined ? { username: draft.username } : {}),
      ...(draft.accessKeyId !== undefined ? { accessKeyId: draft.accessKeyId } : {}),
      resourceNames: [...draft.resourceNames],
      event: draft.event,
      sequence,
      previousChainValue: previous,
      chainValue: chainValue(previous, sequence, draft.event),
    };
    previous = record.chainValue;
    return record;
  });
}

function recordOf(doc: AuditRecordDoc & { _id?: unknown }): AuditRecord {
  const { _id, ...record } = doc;
  return record;
}

function isDuplicateKey(e: unknown): boolean {
  return e instanceof MongoServerError && e.code === DUPLICATE_KEY_ERROR;
}

function mapDuplicate(e: unknown, drafts: readonly AuditDraft[]): unknown {
  return isDuplicateKey(e) && /eventId/.test(String((e as Error).message))
    ? new DuplicateRecordError(`audit event among ${drafts.map((d) => d.eventId).join(', ')}`)
    : e;
}
