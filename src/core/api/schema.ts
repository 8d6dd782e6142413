// One description per operation input, from which decoding and validation follow, with
// AWS's error wording. Handlers receive typed, already-validated values and check nothing
// the description can say.
import { KmsError } from '../errors';

type Issue = string;

interface Ctx {
  path: string;
  issues: Issue[];
}

export interface Field<T> {
  readonly kind: string;
  /** Message used when the field is absent; a field without it is optional. */
  readonly requiredMessage?: string;
  /** Never recorded (in logs, audit records, metrics): plaintext, ciphertexts, key material, grant tokens ... */
  readonly secret?: boolean;
  decode(value: unknown, ctx: Ctx): T | undefined;
}

type JsonKind = 'STRING' | 'NUMBER' | 'BOOLEAN' | 'LIST' | 'MAP' | 'NULL';

function jsonKind(value: unknown): JsonKind {
  if (value === null) return 'NULL';
  if (Array.isArray(value)) return 'LIST';
  switch (typeof value) {
    case 'string': return 'STRING';
    case 'number': return 'NUMBER';
    case 'boolean': return 'BOOLEAN';
    default: return 'MAP';
  }
}

function wrongType(value: unknown, expected: string, path: string): KmsError {
  // Type errors are deserialisation failures in AWS, not validation errors.
  return new KmsError('SerializationException', `${jsonKind(value)}_VALUE can not be converted to ${expected} at '${path}'`);
}

// In unicode mode \p{Cs} matches only unpaired surrogates: strings UTF-8 cannot represent,
// which would otherwise collapse to U+FFFD and make distinct values encode alike.
const loneSurrogate = /\p{Cs}/u;

// Precondition: strings must be well-formed Unicode.
function assertWellFormed(value: string, path: string): void {
  if (loneSurrogate.test(value)) throw new KmsError('SerializationException', `Value at '${path}' is not a well-formed Unicode string`);
}

function shown(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : `'${String(value)}'`;
}

function lengthIssue(ctx: Ctx, value: unknown, length: number, min?: number, max?: number, hideValue = false) {
  const v = hideValue ? '' : ` ${shown(value)}`;
  const at = hideValue ? `Value at '${ctx.path}'` : `Value${v} at '${ctx.path}'`;
  if (min !== undefined && length < min) ctx.issues.push(`${at} failed to satisfy constraint: Member must have length greater than or equal to ${min}`);
  if (max !== undefined && length > max) ctx.issues.push(`${at} failed to satisfy constraint: Member must have length less than or equal to ${max}`);
}

/** Marks a field required; `message` replaces AWS's generic "must not be null" where AWS words it specially. */
function required<F extends Field<unknown>>(field: F, message?: string): F & { requiredMessage: string } {
  return { ...field, requiredMessage: message ?? '' };
}

export interface StringOptions { min?: number; max?: number; pattern?: RegExp }

export const s = {
  string(options: StringOptions = {}): Field<string> {
    return {
      kind: 'string',
      decode(value, ctx) {
        if (typeof value !== 'string') throw wrongType(value, 'String', ctx.path);
        assertWellFormed(value, ctx.path);
        lengthIssue(ctx, value, [...value].length, options.min, options.max);
        if (options.pattern && !options.pattern.test(value)) {
          ctx.issues.push(`Value ${shown(value)} at '${ctx.path}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${options.pattern.source}`);
        }
        return value;
      },
    };
  },

  /**
   * Base64 on the wire, bytes in the handler. Kept out of messages, and secret: a blob is
   * plaintext, a ciphertext, a signature or key material, none of which is ever recorded.
   */
  blob(options: { min?: number; max?: number } = {}): Field<Buffer> {
    return {
      kind: 'blob',
      secret: true,
      decode(value, ctx) {
        if (typeof value !== 'string') throw wrongType(value, 'Blob', ctx.path);
        // Precondition: blob fields must be canonical base64.
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
          throw new KmsError('SerializationException', `Value at '${ctx.path}' is not valid base64`);
        }
        const bytes = Buffer.from(value, 'base64');
        lengthIssue(ctx, value, bytes.length, options.min, options.max, true);
        return bytes;
      },
    };
  },

  integer(options: { min?: number; max?: number } = {}): Field<number> {
    return {
      kind: 'integer',
      decode(value, ctx) {
        if (typeof value !== 'number' || !Number.isInteger(value)) throw wrongType(value, 'Integer', ctx.path);
        if (options.min !== undefined && value < options.min) ctx.issues.push(`Value '${value}' at '${ctx.path}' failed to satisfy constraint: Member must have value greater than or equal to ${options.min}`);
        if (options.max !== undefined && value > options.max) ctx.issues.push(`Value '${value}' at '${ctx.path}' failed to satisfy constraint: Member must have value less than or equal to ${options.max}`);
        return value;
      },
    };
  },

  /** AWS JSON 1.1 timestamps: epoch seconds, fractions allowed (the AWS SDKs send milliseconds as a fraction). */
  timestamp(): Field<Date> {
    return {
      kind: 'timestamp',
      decode(value, ctx) {
        if (typeof value !== 'number' || !Number.isFinite(value)) throw wrongType(value, 'Timestamp', ctx.path);
        const date = new Date(value * 1000);
        // Beyond ±8.64e15 ms a Date is invalid; such a number is no time at all.
        if (Number.isNaN(date.getTime())) throw new KmsError('SerializationException', `Value '${value}' at '${ctx.path}' is not a valid timestamp`);
        return date;
      },
    };
  },

  boolean(): Field<boolean> {
    return {
      kind: 'boolean',
      decode(value, ctx) {
        if (typeof value !== 'boolean') throw wrongType(value, 'Boolean', ctx.path);
        return value;
      },
    };
  },

  /** `listedAs` is the order AWS prints the allowed values in (it is not alphabetical). */
  enum<const V extends readonly string[]>(values: V, listedAs: readonly string[] = values): Field<V[number]> {
    return {
      kind: 'enum',
      decode(value, ctx) {
        if (typeof value !== 'string') throw wrongType(value, 'String', ctx.path);
        if (!values.includes(value)) {
          ctx.issues.push(`Value ${shown(value)} at '${ctx.path}' failed to satisfy constraint: Member must satisfy enum value set: [${listedAs.join(', ')}]`);
        }
        return value as V[number];
      },
    };
  },

  list<T>(item: Field<T>, options: { min?: number; max?: number } = {}): Field<T[]> {
    return {
      kind: 'list',
      decode(value, ctx) {
        if (!Array.isArray(value)) throw wrongType(value, 'List', ctx.path);
        if (options.min !== undefined && value.length < options.min) ctx.issues.push(`Value at '${ctx.path}' failed to satisfy constraint: Member must have length greater than or equal to ${options.min}`);
        if (options.max !== undefined && value.length > options.max) ctx.issues.push(`Value at '${ctx.path}' failed to satisfy constraint: Member must have length less than or equal to ${options.max}`);
        return value.map((element, i) => {
          if (element === null) throw wrongType(element, 'list member', `${ctx.path}.${i + 1}.member`);
          return item.decode(element, { path: `${ctx.path}.${i + 1}.member`, issues: ctx.issues }) as T;
        });
      },
    };
  },

  /** String-to-string map, held in a null-prototype object so keys like "constructor" are plain data. */
  stringMap(options: { keyMin?: number; keyMax?: number; valueMin?: number; valueMax?: number } = {}): Field<Record<string, string>> {
    return {
      kind: 'map',
      decode(value, ctx) {
        if (jsonKind(value) !== 'MAP') throw wrongType(value, 'Map', ctx.path);
        const out = Object.create(null) as Record<string, string>;
        for (const [k, v] of Object.entries(value as object)) {
          if (typeof v !== 'string') throw wrongType(v, 'String', `${ctx.path}.${k}`);
          assertWellFormed(k, `${ctx.path}.key`);
          assertWellFormed(v, `${ctx.path}.value`);
          lengthIssue({ path: `${ctx.path}.key`, issues: ctx.issues }, k, [...k].length, options.keyMin, options.keyMax);
          lengthIssue({ path: `${ctx.path}.value`, issues: ctx.issues }, v, [...v].length, options.valueMin, options.valueMax);
          out[k] = v;
        }
        return out;
      },
    };
  },

  structure<F extends Record<string, Field<unknown>>>(fields: F): Field<Decoded<F>> {
    return {
      kind: 'structure',
      decode(value, ctx) {
        if (jsonKind(value) !== 'MAP') throw wrongType(value, 'Structure', ctx.path);
        return decodeMembers(fields, value as Record<string, unknown>, ctx);
      },
    };
  },

  required,

  /** Marks a field never to be recorded. */
  secret<F extends Field<unknown>>(field: F): F & { secret: true } {
    return { ...field, secret: true };
  },
};

type RequiredKeys<F> = { [K in keyof F]: F[K] extends { requiredMessage: string } ? K : never }[keyof F];
type FieldValue<T> = T extends Field<infer V> ? V : never;
export type Decoded<F extends Record<string, Field<unknown>>> =
  { [K in RequiredKeys<F>]: FieldValue<F[K]> } & { [K in Exclude<keyof F, RequiredKeys<F>>]?: FieldValue<F[K]> };

/** AWS names members in messages with a lower-case first letter: NumberOfBytes → numberOfBytes. */
function memberPath(parent: string, name: string): string {
  const member = name.charAt(0).toLowerCase() + name.slice(1);
  return parent ? `${parent}.${member}` : member;
}

function decodeMembers<F extends Record<string, Field<unknown>>>(fields: F, input: Record<string, unknown>, ctx: Ctx): Decoded<F> {
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(fields)) {
    const path = memberPath(ctx.path, name);
    // Own properties only: never read through the prototype chain.
    const present = Object.prototype.hasOwnProperty.call(input, name) && input[name] !== null;
    if (!present) {
      if (field.requiredMessage !== undefined) {
        if (field.requiredMessage) throw new KmsError('ValidationException', field.requiredMessage);
        ctx.issues.push(`Value null at '${path}' failed to satisfy constraint: Member must not be null`);
      }
      continue;
    }
    out[name] = field.decode(input[name], { path, issues: ctx.issues });
  }
  return out as Decoded<F>;
}

export interface Schema<F extends Record<string, Field<unknown>>> {
  fields: F;
  /** Groups of members of which exactly one must be present, with AWS's message otherwise. */
  exactlyOneOf?: { members: (keyof F & string)[]; message: string }[];
}

export function schema<F extends Record<string, Field<unknown>>>(fields: F, rules: Omit<Schema<F>, 'fields'> = {}): Schema<F> {
  return { fields, ...rules };
}

/** Decodes a parsed JSON request body; throws SerializationException or ValidationException. */
export function decodeInput<F extends Record<string, Field<unknown>>>(description: Schema<F>, body: unknown): Decoded<F> {
  if (jsonKind(body) !== 'MAP') throw new KmsError('SerializationException', 'Request body must be a JSON object');
  const ctx: Ctx = { path: '', issues: [] };
  const value = decodeMembers(description.fields, body as Record<string, unknown>, ctx);
  if (ctx.issues.length > 0) {
    const n = ctx.issues.length;
    throw new KmsError('ValidationException', `${n} validation error${n === 1 ? '' : 's'} detected: ${ctx.issues.join('; ')}`);
  }
  // Cross-member rules come after the members themselves are valid.
  for (const rule of description.exactlyOneOf ?? []) {
    const present = rule.members.filter((m) => (value as Record<string, unknown>)[m] !== undefined).length;
    if (present !== 1) throw new KmsError('ValidationException', rule.message);
  }
  return value;
}

/** The members of a decoded input that may be recorded: every present member not declared secret. */
export function recordableParameters<F extends Record<string, Field<unknown>>>(description: Schema<F>, input: Decoded<F>): Record<string, unknown> {
  const recorded: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(description.fields)) {
    const value = (input as Record<string, unknown>)[name];
    if (value !== undefined && !field.secret) recorded[name] = value;
  }
  return recorded;
}
