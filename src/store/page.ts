// Paging shared by every store: each fetches one row more than the page holds.
import type { Page } from '../core/ports';

/**
 * The page in `rows`, fetched with a limit of `limit + 1`: the extra row only tells whether
 * another page follows, and is not returned.
 */
export function pageOf<Row, T>(rows: Row[], limit: number, decode: (row: Row) => T, markerAfter: (last: T) => string): Page<T> {
  const items = rows.slice(0, limit).map(decode);
  const last = items[items.length - 1];
  return rows.length > limit && last ? { items, nextMarker: markerAfter(last) } : { items };
}
