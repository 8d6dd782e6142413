// Tag rules that go beyond per-field lengths (those live in the field description), and
// the tag-set arithmetic of TagResource, UntagResource and ListResourceTags.
import { createHash } from 'node:crypto';
import { KmsError } from '../errors';
import type { Tag } from '../model';

export const MAX_TAGS_PER_KEY = 50;

const reservedMessage = 'Tags beginning with aws: are reserved';
const tooManyMessage = 'Too many tags';

function isReserved(tagKey: string): boolean {
  return tagKey.toLowerCase().startsWith('aws:');
}

export function validateTags(tags: Tag[]): Tag[] {
  // Precondition: tag keys beginning with aws: (any case) are reserved.
  if (tags.some((t) => isReserved(t.TagKey))) throw new KmsError('TagException', reservedMessage);
  // Precondition: a request may not name the same tag key twice.
  if (new Set(tags.map((t) => t.TagKey)).size !== tags.length) throw new KmsError('TagException', 'Duplicate tag keys');
  if (tags.length > MAX_TAGS_PER_KEY) throw new KmsError('TagException', tooManyMessage);
  return tags.map((t) => ({ TagKey: t.TagKey, TagValue: t.TagValue }));
}

/** The tags a TagResource request adds or changes: CreateKey's rules, and at least one tag. */
export function validateTagsToAdd(tags: Tag[]): Tag[] {
  // Precondition: TagResource must name at least one tag (KMS-SPEC §1.3).
  if (tags.length === 0) throw new KmsError('TagException', 'At least one tag must be specified');
  return validateTags(tags);
}

/** The tag keys an UntagResource request removes. */
export function validateTagKeysToRemove(tagKeys: string[]): string[] {
  // Precondition: UntagResource must name at least one tag key (KMS-SPEC §1.3).
  if (tagKeys.length === 0) throw new KmsError('TagException', 'At least one tag key must be specified');
  // Precondition: aws: tags are AWS's; they cannot be removed any more than added.
  if (tagKeys.some(isReserved)) throw new KmsError('TagException', reservedMessage);
  return tagKeys;
}

/**
 * `current` with `changes` applied: an existing key keeps its place and takes the new
 * value, a new key is appended. The result may hold at most MAX_TAGS_PER_KEY tags.
 */
export function mergeTags(current: Tag[], changes: Tag[]): Tag[] {
  const merged = new Map(current.map((t) => [t.TagKey, t.TagValue]));
  for (const t of changes) merged.set(t.TagKey, t.TagValue);
  // Precondition: a key never holds more than 50 tags, counting those it already has.
  if (merged.size > MAX_TAGS_PER_KEY) throw new KmsError('TagException', tooManyMessage);
  return [...merged].map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
}

/** `current` without the tags named in `tagKeys`; keys it does not have are ignored. */
export function removeTags(current: Tag[], tagKeys: string[]): Tag[] {
  const removed = new Set(tagKeys);
  return current.filter((t) => !removed.has(t.TagKey));
}

// ListResourceTags pages. A marker cannot carry the last tag key itself: 128 characters of
// UTF-8 can exceed the 320-character Marker limit once base64-encoded. It carries the
// position after the last tag returned and a digest of that tag's key instead, so the next
// page resumes after that key even if tags before it were removed meanwhile.

const MARKER_PATTERN = /^tag:(\d{1,3}):([A-Za-z0-9_-]{22})$/;

function digestOf(tagKey: string): string {
  return createHash('sha256').update(tagKey, 'utf8').digest('base64url').slice(0, 22);
}

function encodeTagMarker(position: number, lastTagKey: string): string {
  return Buffer.from(`tag:${position}:${digestOf(lastTagKey)}`, 'utf8').toString('base64url');
}

// Precondition: a marker the service did not issue is refused with InvalidMarkerException.
function resumeIndex(sorted: Tag[], marker: string): number {
  const text = Buffer.from(marker, 'base64url').toString('utf8');
  const match = MARKER_PATTERN.exec(text);
  // Re-encoding catches what Buffer.from silently skips: characters outside base64url, and garbage.
  if (!match || Buffer.from(text, 'utf8').toString('base64url') !== marker) throw new KmsError('InvalidMarkerException', 'Marker is invalid');
  const [, position, digest] = match;
  const last = sorted.findIndex((t) => digestOf(t.TagKey) === digest);
  if (last >= 0) return last + 1;
  // The last tag returned was removed since: the next one has moved up into its place.
  return Math.min(Math.max(Number(position) - 1, 0), sorted.length);
}

/** One page of a key's tags, sorted by tag key. */
export function pageOfTags(tags: Tag[], limit: number, marker?: string): { items: Tag[]; nextMarker?: string } {
  const sorted = [...tags].sort((a, b) => (a.TagKey < b.TagKey ? -1 : a.TagKey > b.TagKey ? 1 : 0));
  const start = marker === undefined ? 0 : resumeIndex(sorted, marker);
  const end = start + limit;
  const items = sorted.slice(start, end);
  const last = items[items.length - 1];
  return end < sorted.length && last ? { items, nextMarker: encodeTagMarker(end, last.TagKey) } : { items };
}
