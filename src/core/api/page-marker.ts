// Pagination markers, shared by every store so they mean the same thing everywhere:
// base64url of "<kind>:<sort key of the last item returned>", opaque to callers.
import { KmsError } from '../errors';

export type MarkerKind = 'key' | 'alias' | 'grant' | 'customKeyStore' | 'auditEvent';

export function encodeMarker(kind: MarkerKind, lastSortKey: string): string {
  return Buffer.from(`${kind}:${lastSortKey}`, 'utf8').toString('base64url');
}

// Precondition: a marker the service did not issue is refused with InvalidMarkerException.
export function decodeMarker(kind: MarkerKind, marker: string): string {
  const text = Buffer.from(marker, 'base64url').toString('utf8');
  const lastSortKey = text.slice(kind.length + 1);
  // Re-encoding catches what Buffer.from silently skips: characters outside base64url, and garbage.
  if (!text.startsWith(`${kind}:`) || lastSortKey === '' || encodeMarker(kind, lastSortKey) !== marker) {
    throw new KmsError('InvalidMarkerException', 'Marker is invalid');
  }
  return lastSortKey;
}

/** Custom key stores list by creation date, then id: the marker holds both (epoch milliseconds). */
export function encodeCustomKeyStoreMarker(last: { createdAt: Date; customKeyStoreId: string }): string {
  return encodeMarker('customKeyStore', `${last.createdAt.getTime()}:${last.customKeyStoreId}`);
}

export function decodeCustomKeyStoreMarker(marker: string): { createdAt: number; customKeyStoreId: string } {
  const match = /^(-?\d{1,16}):(.+)$/s.exec(decodeMarker('customKeyStore', marker));
  const createdAt = Number(match?.[1]);
  if (!match?.[2] || !Number.isSafeInteger(createdAt)) throw new KmsError('InvalidMarkerException', 'Marker is invalid');
  return { createdAt, customKeyStoreId: match[2] };
}

/** The audit trail pages newest first: the marker holds the sequence of the last record returned. */
export function encodeAuditMarker(last: { sequence: number }): string {
  return encodeMarker('auditEvent', String(last.sequence));
}

export function decodeAuditMarker(marker: string): number {
  const text = decodeMarker('auditEvent', marker);
  const sequence = Number(text);
  if (!/^\d{1,15}$/.test(text) || !Number.isSafeInteger(sequence)) throw new KmsError('InvalidMarkerException', 'Marker is invalid');
  return sequence;
}
