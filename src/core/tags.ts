// Tag rules that go beyond per-field lengths (those live in the field description).
import { KmsError } from './errors';
import type { Tag } from './model';

export const MAX_TAGS_PER_KEY = 50;

export function validateTags(tags: Tag[]): Tag[] {
  // Precondition: tag keys beginning with aws: (any case) are reserved.
  if (tags.some((t) => t.TagKey.toLowerCase().startsWith('aws:'))) throw new KmsError('TagException', 'Tags beginning with aws: are reserved');
  // Precondition: a request may not name the same tag key twice.
  if (new Set(tags.map((t) => t.TagKey)).size !== tags.length) throw new KmsError('TagException', 'Duplicate tag keys');
  if (tags.length > MAX_TAGS_PER_KEY) throw new KmsError('TagException', 'Too many tags');
  return tags.map((t) => ({ TagKey: t.TagKey, TagValue: t.TagValue }));
}
