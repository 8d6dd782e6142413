// A strict JSON reader for policy documents. JSON.parse silently keeps the last of two equal
// object keys, so a document with two "Statement" (or two "Effect") members would mean one
// thing to us and possibly another to the tool that showed it to its author: a Deny could hide
// behind a duplicate key. This reader refuses duplicates instead. Objects are built without a
// prototype so a member named "__proto__" is just a member.

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export class JsonSyntaxError extends Error {
  constructor(message: string, readonly position: number) {
    super(`${message} at position ${position}`);
    this.name = 'JsonSyntaxError';
  }
}

/** Nesting deeper than this is refused: no valid policy comes close, and recursion is bounded. */
const MAX_DEPTH = 64;

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseStrictJson(text: string): JsonValue {
  let pos = 0;

  const fail = (message: string): never => {
    throw new JsonSyntaxError(message, pos);
  };

  const skipWhitespace = () => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++;
      else break;
    }
  };

  const expect = (literal: string) => {
    if (text.startsWith(literal, pos)) pos += literal.length;
    else fail(`expected '${literal}'`);
  };

  const readString = (): string => {
    // The caller has seen the opening quote.
    pos++;
    let out = '';
    let start = pos;
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(start, pos);
        pos++;
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        out += text.slice(start, pos);
        const e = text[pos + 1];
        pos += 2;
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            const hex = text.slice(pos, pos + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('invalid \\u escape');
            out += String.fromCharCode(parseInt(hex, 16));
            pos += 4;
            break;
          }
          default:
            pos -= 1;
            fail('invalid escape');
        }
        start = pos;
        continue;
      }
      pos++;
    }
    return fail('unterminated string');
  };

  const readNumber = (): number => {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(pos, pos + 400));
    if (!m) return fail('invalid number');
    pos += m[0].length;
    return Number(m[0]);
  };

  const readValue = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    skipWhitespace();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const obj = Object.create(null) as JsonObject;
      skipWhitespace();
      if (text[pos] === '}') {
        pos++;
        return obj;
      }
      for (;;) {
        skipWhitespace();
        if (text[pos] !== '"') fail('expected a member name');
        const keyAt = pos;
        const key = readString();
        if (Object.hasOwn(obj, key)) {
          pos = keyAt;
          fail(`duplicate member "${key}"`);
        }
        skipWhitespace();
        expect(':');
        obj[key] = readValue(depth + 1);
        skipWhitespace();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      pos++;
      const arr: JsonValue[] = [];
      skipWhitespace();
      if (text[pos] === ']') {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(readValue(depth + 1));
        skipWhitespace();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === ']') {
          pos++;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return readString();
    if (c === 't') {
      expect('true');
      return true;
    }
    if (c === 'f') {
      expect('false');
      return false;
    }
    if (c === 'n') {
      expect('null');
      return null;
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return readNumber();
    return fail(c === undefined ? 'unexpected end of input' : `unexpected character '${c}'`);
  };

  const value = readValue(0);
  skipWhitespace();
  if (pos !== text.length) fail('unexpected content after the document');
  return value;
}
