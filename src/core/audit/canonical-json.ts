// Canonical JSON: the bytes an audit record's chain value is computed over. Keys sorted by code
// unit, no insignificant space, undefined members left out, Dates as ISO-8601 strings. The same
// value always gives the same bytes, so a verifier can recompute every chain value.

export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value));
}

function canonical(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  // Bytes never belong in a record (blobs are secret or bulky): refuse rather than encode them.
  if (value instanceof Uint8Array) throw new TypeError('an audit record may not hold bytes');
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : canonical(item)));
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) sorted[key] = canonical(member);
    }
    return sorted;
  }
  return value;
}
