// AWS JSON 1.1 encoding: blobs are base64, timestamps are epoch seconds.
import { KmsError } from '../../core/errors';

/** Keys that could reach an object's prototype if a later step copied them naively. */
const forbiddenKeys = new Set(['__proto__']);

// Precondition: request bodies with prototype-pollution keys are rejected.
export function parseRequestJson(body: Buffer): unknown {
  const text = body.length === 0 ? '{}' : body.toString('utf8');
  try {
    return JSON.parse(text, (key, value: unknown) => {
      if (forbiddenKeys.has(key)) throw new KmsError('SerializationException', `Member name '${key}' is not allowed`);
      return value;
    });
  } catch (e) {
    if (e instanceof KmsError) throw e;
    throw new KmsError('SerializationException', 'Start of structure or map found where not expected, or the body is not valid JSON.');
  }
}

export function toWire(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (value instanceof Date) return value.getTime() / 1000;
  if (Array.isArray(value)) return value.map(toWire);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, toWire(v)]));
  }
  return value;
}
