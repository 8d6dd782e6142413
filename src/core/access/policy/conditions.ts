// Condition operators, following the IAM policy language:
// - several operators in a Condition block, and several keys under one operator: AND;
// - several values for one key: OR; for a negated operator (StringNotEquals, NotIpAddress,
//   ArnNotLike, …) the negation of that OR, i.e. NOR;
// - a key missing from the request: the condition is false, except that negated operators are
//   true, ...IfExists variants are true, ForAllValues is true and ForAnyValue is false;
// - ForAnyValue: at least one request value satisfies the operator; ForAllValues: every one
//   does (vacuously true for an empty or missing set). With a negated operator "satisfies" is
//   per value: ForAllValues:StringNotEquals means no request value is among the policy values.
// - an operator without a set qualifier on a multi-valued key: true when any request value
//   matches (negated operators: when none does), so a Deny on one value of a set still bites.
import type { RequestValues } from './context';
import { cidrContains, parseCidr, parseIpAddress } from './ip';
import { arnMatches, compileGlob, globMatches, literalGlob, type Glob } from './matching';

const positiveOperators = [
  'StringEquals', 'StringEqualsIgnoreCase', 'StringLike',
  'NumericEquals', 'NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals',
  'DateEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals',
  'Bool', 'BinaryEquals', 'IpAddress', 'ArnEquals', 'ArnLike',
] as const;
type PositiveOperator = (typeof positiveOperators)[number];

/** Each negated operator and the operator it negates. */
const negatedOperators = {
  StringNotEquals: 'StringEquals',
  StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase',
  StringNotLike: 'StringLike',
  NumericNotEquals: 'NumericEquals',
  DateNotEquals: 'DateEquals',
  NotIpAddress: 'IpAddress',
  ArnNotEquals: 'ArnEquals',
  ArnNotLike: 'ArnLike',
} as const satisfies Record<string, PositiveOperator>;
type NegatedOperator = keyof typeof negatedOperators;

export type BaseOperator = PositiveOperator | NegatedOperator | 'Null';
export type SetQualifier = 'ForAnyValue' | 'ForAllValues';

export const baseOperators: readonly BaseOperator[] = [...positiveOperators, ...(Object.keys(negatedOperators) as NegatedOperator[]), 'Null'];

const canonicalOperator = new Map(baseOperators.map((op) => [op.toLowerCase(), op]));

export interface ParsedOperator {
  base: BaseOperator;
  qualifier?: SetQualifier;
  ifExists: boolean;
}

/**
 * "ForAnyValue:StringLikeIfExists" → { base: StringLike, qualifier: ForAnyValue, ifExists }.
 * Matched case-insensitively. Undefined for anything that is not an operator; Null takes
 * neither a set qualifier nor IfExists (it is itself the existence test).
 */
export function parseOperator(name: string): ParsedOperator | undefined {
  let rest = name;
  let qualifier: SetQualifier | undefined;
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const q = rest.slice(0, colon).toLowerCase();
    if (q === 'foranyvalue') qualifier = 'ForAnyValue';
    else if (q === 'forallvalues') qualifier = 'ForAllValues';
    else return undefined;
    rest = rest.slice(colon + 1);
  }
  let ifExists = false;
  if (/ifexists$/i.test(rest)) {
    ifExists = true;
    rest = rest.slice(0, -'IfExists'.length);
  }
  const base = canonicalOperator.get(rest.toLowerCase());
  if (!base) return undefined;
  if (base === 'Null' && (ifExists || qualifier)) return undefined;
  return { base, qualifier, ifExists };
}

/** One key under one operator, after validation. */
export interface ConditionClause {
  /** The operator as written in the policy. */
  readonly operator: string;
  readonly base: BaseOperator;
  readonly qualifier?: SetQualifier;
  readonly ifExists: boolean;
  /** The condition key, lower-cased (condition key names are case-insensitive). */
  readonly key: string;
  /** The policy values, as strings ("true", "30", …). */
  readonly values: readonly string[];
  /** Whether ${…} policy variables are substituted in the values. */
  readonly variables: boolean;
}

// ---------------------------------------------------------------------------------------------
// Value parsing, shared by validation (policy values) and evaluation (request values)

export function parseNumber(text: string): number | undefined {
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

const isoDatePattern =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/** Milliseconds since the epoch, from ISO 8601 (no zone means UTC) or epoch seconds. */
export function parseDate(text: string): number | undefined {
  if (/^-?\d+(?:\.\d+)?$/.test(text)) {
    const seconds = Number(text);
    return Number.isFinite(seconds) ? seconds * 1000 : undefined;
  }
  const m = isoDatePattern.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const millis = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
  let t = Date.UTC(year, month - 1, day, hour, minute, second) + millis;
  const zone = m[8];
  if (zone && zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offset = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
    t -= sign * offset * 60_000;
  }
  return Number.isFinite(t) ? t : undefined;
}

function parseBool(text: string): boolean | undefined {
  const lower = text.toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : undefined;
}

function parseBinary(text: string): Buffer | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

/** Why a policy value is unusable with an operator, or undefined if it is fine. */
export function invalidValueReason(base: BaseOperator, value: string): string | undefined {
  switch (operatorFamily(base)) {
    case 'numeric': return parseNumber(value) === undefined ? `'${value}' is not a number` : undefined;
    case 'date': return parseDate(value) === undefined ? `'${value}' is not an ISO 8601 date or epoch seconds` : undefined;
    case 'bool': return parseBool(value) === undefined ? `'${value}' is not true or false` : undefined;
    case 'null': return parseBool(value) === undefined ? `'${value}' is not true or false` : undefined;
    case 'binary': return parseBinary(value) === undefined ? `'${value}' is not base64` : undefined;
    case 'ip': return parseCidr(value) === undefined ? `'${value}' is not an IP address or CIDR block` : undefined;
    default: return undefined;
  }
}

type Family = 'string' | 'numeric' | 'date' | 'bool' | 'null' | 'binary' | 'ip' | 'arn';

function operatorFamily(base: BaseOperator): Family {
  if (base === 'Null') return 'null';
  if (base === 'Bool') return 'bool';
  if (base === 'BinaryEquals') return 'binary';
  if (base === 'IpAddress' || base === 'NotIpAddress') return 'ip';
  if (base.startsWith('Numeric')) return 'numeric';
  if (base.startsWith('Date')) return 'date';
  if (base.startsWith('Arn')) return 'arn';
  return 'string';
}

export function isNegated(base: BaseOperator): base is NegatedOperator {
  return Object.hasOwn(negatedOperators, base);
}

// ---------------------------------------------------------------------------------------------
// Policy variables

/** A policy value after ${…} substitution: as text (equality) and as a wildcard pattern. */
interface ResolvedValue {
  text: string;
  glob: Glob;
}

/**
 * Substitutes ${key} and ${key, 'default'} from the request's condition values, and the
 * escapes ${*}, ${?} and ${$}. Substituted text is literal, never a wildcard. Undefined when a
 * variable has no single value and no default: AWS then treats the condition as not met.
 */
function resolveValue(value: string, variables: boolean, request: RequestValues): ResolvedValue | undefined {
  if (!variables || !value.includes('${')) return { text: value, glob: compileGlob(value) };
  let text = '';
  const glob: number[] = [];
  const pattern = /\$\{([^}]*)\}/g;
  let last = 0;
  for (let m = pattern.exec(value); m; m = pattern.exec(value)) {
    const before = value.slice(last, m.index);
    text += before;
    glob.push(...compileGlob(before));
    last = m.index + m[0].length;
    const inner = m[1]!.trim();
    let literal: string | undefined;
    if (inner === '*' || inner === '?' || inner === '$') {
      literal = inner;
    } else {
      const d = /^([^,]+?)\s*,\s*'([^']*)'$/.exec(inner);
      const name = (d ? d[1]! : inner).trim().toLowerCase();
      const values = request.get(name);
      literal = values?.length === 1 ? values[0] : d?.[2];
    }
    if (literal === undefined) return undefined;
    text += literal;
    glob.push(...literalGlob(literal));
  }
  const after = value.slice(last);
  text += after;
  glob.push(...compileGlob(after));
  return { text, glob };
}

// ---------------------------------------------------------------------------------------------
// Evaluation

function positiveMatch(op: PositiveOperator, requestValue: string, policy: ResolvedValue): boolean {
  switch (op) {
    case 'StringEquals': return requestValue === policy.text;
    case 'StringEqualsIgnoreCase': return requestValue.toLowerCase() === policy.text.toLowerCase();
    case 'StringLike': return globMatches(policy.glob, requestValue);
    case 'ArnEquals':
    case 'ArnLike': return arnMatches(policy.glob, requestValue);
    case 'Bool': {
      const a = parseBool(requestValue);
      return a !== undefined && a === parseBool(policy.text);
    }
    case 'BinaryEquals': {
      const a = parseBinary(requestValue);
      const b = parseBinary(policy.text);
      return a !== undefined && b !== undefined && a.equals(b);
    }
    case 'IpAddress': {
      const address = parseIpAddress(requestValue);
      const block = parseCidr(policy.text);
      return address !== undefined && block !== undefined && cidrContains(block, address);
    }
    default: {
      const numeric = op.startsWith('Numeric');
      const parse = numeric ? parseNumber : parseDate;
      const a = parse(requestValue);
      const b = parse(policy.text);
      if (a === undefined || b === undefined) return false;
      const relation = op.slice(numeric ? 'Numeric'.length : 'Date'.length);
      switch (relation) {
        case 'Equals': return a === b;
        case 'LessThan': return a < b;
        case 'LessThanEquals': return a <= b;
        case 'GreaterThan': return a > b;
        case 'GreaterThanEquals': return a >= b;
        default: return false;
      }
    }
  }
}

/** Whether one condition clause holds for the request. Never throws. */
export function clauseHolds(clause: ConditionClause, request: RequestValues): boolean {
  const values = request.get(clause.key);
  const present = values !== undefined && values.length > 0;

  if (clause.base === 'Null') {
    // "true": the key must be absent; "false": it must be present. Several values: OR.
    return clause.values.some((v) => parseBool(v) === !present);
  }

  const negated = isNegated(clause.base);
  if (!present) {
    if (clause.ifExists) return true;
    if (clause.qualifier === 'ForAllValues') return true;
    if (clause.qualifier === 'ForAnyValue') return false;
    return negated;
  }

  const resolved: ResolvedValue[] = [];
  for (const v of clause.values) {
    const r = resolveValue(v, clause.variables, request);
    if (r === undefined) return false;
    resolved.push(r);
  }
  const positive: PositiveOperator = negated ? negatedOperators[clause.base as NegatedOperator] : (clause.base as PositiveOperator);
  const matchesAny = (requestValue: string) => resolved.some((p) => positiveMatch(positive, requestValue, p));
  const satisfies = (requestValue: string) => (negated ? !matchesAny(requestValue) : matchesAny(requestValue));

  if (clause.qualifier === 'ForAnyValue') return values.some(satisfies);
  if (clause.qualifier === 'ForAllValues') return values.every(satisfies);
  const any = values.some(matchesAny);
  return negated ? !any : any;
}

export function conditionsHold(clauses: readonly ConditionClause[], request: RequestValues): boolean {
  return clauses.every((c) => clauseHolds(c, request));
}
