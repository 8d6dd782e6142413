// Wildcard matching for the Action, Resource and Principal elements and for the string and ARN
// condition operators.
//
// Patterns are compiled to a token array (a UTF-16 code unit, or STAR, or ANY_ONE) rather than
// to a RegExp: a policy value like "a*a*a*a*b" would make a backtracking regex engine take
// polynomial-to-exponential time on a long request value, whereas the two-pointer matcher
// below is O(pattern × text) at worst. Tokens also let a policy variable insert literal text
// that contains '*' without it becoming a wildcard.

export const STAR = -1;
export const ANY_ONE = -2;
export type Glob = readonly number[];

export function compileGlob(pattern: string): Glob {
  const out: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charCodeAt(i);
    out.push(c === 0x2a ? STAR : c === 0x3f ? ANY_ONE : c);
  }
  return out;
}

export function literalGlob(text: string): Glob {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i));
  return out;
}

export function globMatches(glob: Glob, text: string): boolean {
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    const tok = glob[p];
    if (tok !== undefined && (tok === ANY_ONE || tok === text.charCodeAt(t))) {
      p++;
      t++;
    } else if (tok === STAR) {
      starP = p++;
      starT = t;
    } else if (starP >= 0) {
      // Let the last star swallow one more character and retry from there.
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (glob[p] === STAR) p++;
  return p === glob.length;
}

export function wildcardMatches(pattern: string, text: string): boolean {
  return globMatches(compileGlob(pattern), text);
}

/**
 * An ARN's six parts: "arn", partition, service, region, account and resource. The resource
 * part keeps any further colons. Undefined when the text is not shaped like an ARN.
 */
export function splitArn(text: string): string[] | undefined {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < 5; i++) {
    const colon = text.indexOf(':', start);
    if (colon < 0) return undefined;
    parts.push(text.slice(start, colon));
    start = colon + 1;
  }
  parts.push(text.slice(start));
  return parts;
}

/**
 * ArnEquals/ArnLike and the Resource element: each of the six colon-separated parts is matched
 * on its own, case-sensitively, with '*' and '?' wildcards, so a '*' in the region never
 * swallows the account. A pattern that is not ARN-shaped matches everything if it is only
 * stars ("*"), and nothing otherwise: "arn:aws:iam::*" is not a prefix match.
 */
export function arnMatches(pattern: string | Glob, text: string): boolean {
  const glob = typeof pattern === 'string' ? compileGlob(pattern) : pattern;
  const patternParts = splitGlobArn(glob);
  if (!patternParts) return glob.length > 0 && glob.every((t) => t === STAR);
  const textParts = splitArn(text);
  if (!textParts) return false;
  return patternParts.every((part, i) => globMatches(part, textParts[i]!));
}

function splitGlobArn(glob: Glob): Glob[] | undefined {
  const parts: Glob[] = [];
  let start = 0;
  for (let i = 0; i < 5; i++) {
    const colon = glob.indexOf(0x3a, start);
    if (colon < 0) return undefined;
    parts.push(glob.slice(start, colon));
    start = colon + 1;
  }
  parts.push(glob.slice(start));
  return parts;
}

/** Actions are matched case-insensitively: "KMS:encrypt" is kms:Encrypt. */
export function actionMatches(pattern: string, action: string): boolean {
  return wildcardMatches(pattern.toLowerCase(), action.toLowerCase());
}

/** "*" matches any resource, including "*" itself (the resource of ListKeys and friends). */
export function resourceMatches(pattern: string, resource: string): boolean {
  if (pattern === '*') return true;
  return arnMatches(pattern, resource);
}

// ---------------------------------------------------------------------------------------------
// Principals

const accountIdPattern = /^\d{12}$/;
const rootArnPattern = /^arn:([a-z][a-z-]*):iam::(\d{12}):root$/;
const roleArnPattern = /^arn:([a-z][a-z-]*):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/;
const sessionArnPattern = /^arn:([a-z][a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/;

/** The caller as the policy engine sees it; core's Principal fits this shape. */
export interface PolicyPrincipal {
  /** arn:aws:iam::<account>:root, a user or role ARN, or an sts assumed-role session ARN. */
  readonly arn: string;
  readonly accountId: string;
}

export function isRootPrincipal(principal: PolicyPrincipal): boolean {
  const m = rootArnPattern.exec(principal.arn);
  return m !== null && m[2] === principal.accountId;
}

/** The account a principal-element entry stands for, when it names a whole account. */
export function accountOfEntry(entry: string): string | undefined {
  if (accountIdPattern.test(entry)) return entry;
  return rootArnPattern.exec(entry)?.[2];
}

/** A role ARN names every session of that role, as in AWS. */
function entryNamesCaller(entry: string, caller: PolicyPrincipal): boolean {
  if (entry === caller.arn) return true;
  const session = sessionArnPattern.exec(caller.arn);
  const role = roleArnPattern.exec(entry);
  return session !== null && role !== null && session[1] === role[1] && session[2] === role[2] && session[3] === role[3];
}

/**
 * How a principal entry covers the caller:
 * - 'direct': the entry names the caller itself ("*", its ARN, the role of its session, or
 *   its own account when the caller is that account's root);
 * - 'account': the entry names the caller's account, which in a resource policy delegates
 *   to the account: the caller also needs an allow in its identity policies;
 * - 'none'.
 */
export type PrincipalCoverage = 'direct' | 'account' | 'none';

export function entryCoverage(entry: string, caller: PolicyPrincipal): PrincipalCoverage {
  if (entry === '*') return 'direct';
  const account = accountOfEntry(entry);
  if (account !== undefined) {
    if (account !== caller.accountId) return 'none';
    return isRootPrincipal(caller) ? 'direct' : 'account';
  }
  return entryNamesCaller(entry, caller) ? 'direct' : 'none';
}

export function bestCoverage(entries: readonly string[], caller: PolicyPrincipal): PrincipalCoverage {
  let best: PrincipalCoverage = 'none';
  for (const entry of entries) {
    const c = entryCoverage(entry, caller);
    if (c === 'direct') return 'direct';
    if (c === 'account') best = 'account';
  }
  return best;
}

/**
 * NotPrincipal excludes a caller only when every identity the caller acts as is listed: its
 * own ARN, the role behind a role session, and its account. This is AWS's rule, and it is the
 * safe reading for the usual Deny + NotPrincipal: listing only a user still denies that user.
 */
export function notPrincipalExcludes(entries: readonly string[], caller: PolicyPrincipal): boolean {
  if (entries.includes('*')) return true;
  const namesAccount = entries.some((e) => accountOfEntry(e) === caller.accountId);
  if (isRootPrincipal(caller)) return namesAccount;
  if (!namesAccount) return false;
  if (!entries.includes(caller.arn)) return false;
  const session = sessionArnPattern.exec(caller.arn);
  if (session) return entries.some((e) => entryNamesCaller(e, caller) && e !== caller.arn);
  return true;
}

/** Shapes accepted in an "AWS" principal entry. IAM groups and partial wildcards are not principals. */
export function isValidAwsPrincipalEntry(entry: string): boolean {
  if (entry === '*' || accountIdPattern.test(entry) || rootArnPattern.test(entry)) return true;
  if (entry.includes('*') || entry.includes('?')) return false;
  return /^arn:[a-z][a-z-]*:iam::\d{12}:(?:user|role)\/[\w+=,.@/-]+$/.test(entry)
    || /^arn:[a-z][a-z-]*:sts::\d{12}:(?:assumed-role\/[\w+=,.@-]+\/[\w+=,.@-]+|federated-user\/[\w+=,.@-]+)$/.test(entry);
}
