// The audit trail's lookup index, kept apart from the append. An append writes only the record,
// its event id and the head: three pages per commit instead of ten, which is most of what the
// trail cost every call (an append with the lookup indexes in it measured 2.6-3.4 times slower).
// The index of the attributes LookupEvents and GetKeyLastUsage filter on (event name, time,
// username, access key id, resource names) is built after, in chunks: by the store's background
// thread as the trail grows, and by every lookup for whatever the thread has not reached yet, so
// a lookup always sees every record. The statements are plain SQL, without parameters, so that
// the background thread (which loads nothing of the project) runs exactly what the store runs.
// audit_head.indexed_sequence says how far the index goes; it only ever moves forward.

/** Records indexed per transaction: bounds how long the write lock is held. */
export const LOOKUP_CHUNK = 1000;

/** EventTime values are zero-padded epoch milliseconds, so that text order is time order. */
export function eventTimeKey(time: Date): string {
  return String(time.getTime()).padStart(15, '0');
}

/**
 * One chunk of catching up, in order, in one IMMEDIATE transaction: the lookup rows of the next
 * records, then the new high-water mark. The second statement changes nothing once caught up.
 */
export const LOOKUP_CATCH_UP_SQL: readonly string[] = [
  `WITH pending AS (
     SELECT r.sequence, r.event_name, r.event_time, r.username, r.access_key_id, r.resource_names
       FROM audit_head h JOIN audit_records r
         ON r.sequence > h.indexed_sequence AND r.sequence <= min(h.sequence, h.indexed_sequence + ${LOOKUP_CHUNK})
      WHERE h.id = 1
   )
   INSERT OR IGNORE INTO audit_lookup (attribute, value, sequence)
   SELECT 'EventName', event_name, sequence FROM pending
   UNION ALL SELECT 'EventTime', printf('%015d', event_time), sequence FROM pending
   UNION ALL SELECT 'Username', username, sequence FROM pending WHERE username IS NOT NULL
   UNION ALL SELECT 'AccessKeyId', access_key_id, sequence FROM pending WHERE access_key_id IS NOT NULL
   UNION ALL SELECT 'ResourceName', j.value, p.sequence FROM pending p, json_each(p.resource_names) j`,
  `UPDATE audit_head SET indexed_sequence = min(sequence, indexed_sequence + ${LOOKUP_CHUNK})
    WHERE id = 1 AND indexed_sequence < sequence`,
];
