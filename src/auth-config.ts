// Bearer JWT issuer configuration (KMS_JWT_ISSUERS): the shape and its validation, pure
// checks on already-parsed JSON. It sits beside config.ts, outside src/http, so the
// configuration module does not depend on the HTTP layer; http/auth/bearer.ts and
// http/auth/principals.ts import from here.
import { accountOfPrincipalArn } from './core/api/context';

/** Asymmetric JWS algorithms jose verifies; `none` and the HMAC family are never accepted. */
export const asymmetricAlgorithms = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
] as const;
export type JwtAlgorithm = (typeof asymmetricAlgorithms)[number];

export interface JwtIssuerConfig {
  /** Exact value of the tokens' `iss` claim. */
  issuer: string;
  /** Accepted `aud` values; a token must name at least one. */
  audience: string[];
  /** Absolute path of a JWKS file, read at start-up. Exactly one of jwksFile and jwksUrl. */
  jwksFile?: string;
  /** https URL of the issuer's JWKS, fetched and cached by jose. */
  jwksUrl?: string;
  /** Principal ARN with `{claim}` placeholders, e.g. arn:aws:iam::111122223333:role/{sub}. */
  principalTemplate: string;
  algorithms: JwtAlgorithm[];
  /** Region of the key ARNs for this issuer's callers; KMS_REGION unless set. */
  region?: string;
  /** Identity policies (JSON strings) of every principal mapped from this issuer. */
  policies: string[];
}

const regionPattern = /^[a-z]{2}(-[a-z]+)+-\d+$/;
export const placeholderPattern = /\{([^{}]*)\}/g;
const claimNamePattern = /^[A-Za-z0-9_:.-]{1,64}$/;
/** What a template must spell out before its first placeholder: partition, service, account and principal type. */
const templateHeadPattern = /^arn:aws:(?:iam|sts)::\d{12}:(?:root$|(?:user|role|assumed-role)\/)/;
const issuerKeys = new Set(['issuer', 'audience', 'jwksFile', 'jwksUrl', 'principalTemplate', 'algorithms', 'region', 'policies']);

/**
 * JSON.parse for files that hold secrets: a syntax error names only its position, because V8's
 * SyntaxError messages quote the text around the error, which may be a secret.
 */
export function parseSecretJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const position = /position (\d+)/.exec((e as Error).message)?.[1];
    throw new Error(`${file}: not valid JSON${position ? ` (error at position ${position})` : ''}`);
  }
}

/** Identity policies as the core expects them: JSON strings, each a JSON object. */
export function normalisePolicies(policies: unknown, where: string): string[] {
  if (policies === undefined) return [];
  if (!Array.isArray(policies)) throw new Error(`${where}: policies must be an array of IAM policy documents`);
  return policies.map((policy: unknown, i) => {
    let document: unknown = policy;
    if (typeof policy === 'string') {
      try {
        document = JSON.parse(policy);
      } catch {
        throw new Error(`${where}: policy ${i} is a string that is not JSON`);
      }
    }
    if (document === null || typeof document !== 'object' || Array.isArray(document)) {
      throw new Error(`${where}: policy ${i} must be an IAM policy document (a JSON object)`);
    }
    return typeof policy === 'string' ? policy : JSON.stringify(policy);
  });
}

/** A URL that is https, or http on the loopback interface, without credentials. */
export function httpsOrLoopback(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${what} must be a URL`);
  }
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  // Precondition: issuer and JWKS URLs must be https, or http only on the loopback interface.
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) {
    throw new Error(`${what} must be an https URL (http is allowed for 127.0.0.1 and localhost only)`);
  }
  if (url.username || url.password) throw new Error(`${what} must not carry credentials`);
  return url;
}

/** The placeholder names of a template, after checking it can only yield its own account's principals. */
export function templatePlaceholders(template: string, where: string): string[] {
  const first = template.indexOf('{');
  const head = first === -1 ? template : template.slice(0, first);
  // Precondition: a principal template must spell out the account and the principal type before any placeholder.
  if (!templateHeadPattern.test(head) && !(first === -1 && templateHeadPattern.test(template))) {
    throw new Error(`${where}: principalTemplate must start like arn:aws:iam::<account>:role/, :user/, sts::<account>:assumed-role/ or be an account's :root, with placeholders only after that`);
  }
  const names = [...template.matchAll(placeholderPattern)].map((m) => m[1]!);
  const rest = template.replace(placeholderPattern, '');
  if (rest.includes('{') || rest.includes('}')) throw new Error(`${where}: principalTemplate has an unbalanced brace`);
  for (const name of names) {
    if (!claimNamePattern.test(name) || name === '__proto__') throw new Error(`${where}: principalTemplate placeholder {${name}} is not a claim name`);
  }
  const sample = template.replace(placeholderPattern, 'x');
  if (accountOfPrincipalArn(sample) === undefined) throw new Error(`${where}: principalTemplate does not produce a principal ARN`);
  return names;
}

/**
 * Checks the issuer list of KMS_JWT_ISSUERS (already parsed from JSON). Throws Error with a
 * message naming the entry and the field; the caller turns it into a configuration error.
 */
export function parseJwtIssuers(raw: unknown): JwtIssuerConfig[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new Error('expected a non-empty JSON array of issuers');
  const seen = new Set<string>();
  return raw.map((value: unknown, i) => {
    const where = `issuer ${i}`;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where}: expected an object`);
    const entry = value as Record<string, unknown>;
    const unknownKey = Object.keys(entry).find((k) => !issuerKeys.has(k));
    if (unknownKey !== undefined) throw new Error(`${where}: unknown field '${unknownKey}'`);

    if (typeof entry.issuer !== 'string' || entry.issuer === '') throw new Error(`${where}: issuer must be a non-empty string`);
    httpsOrLoopback(entry.issuer, `${where}: issuer`);
    if (seen.has(entry.issuer)) throw new Error(`${where}: issuer ${entry.issuer} is listed twice`);
    seen.add(entry.issuer);

    const audience = typeof entry.audience === 'string' ? [entry.audience] : entry.audience;
    if (!Array.isArray(audience) || audience.length === 0 || audience.some((a) => typeof a !== 'string' || a === '')) {
      throw new Error(`${where}: audience must be a non-empty string or array of strings`);
    }

    // Precondition: each issuer needs exactly one of jwksFile (an absolute path) and jwksUrl.
    if ((entry.jwksFile === undefined) === (entry.jwksUrl === undefined)) throw new Error(`${where}: set exactly one of jwksFile and jwksUrl`);
    if (entry.jwksFile !== undefined && (typeof entry.jwksFile !== 'string' || !entry.jwksFile.startsWith('/'))) {
      throw new Error(`${where}: jwksFile must be an absolute path`);
    }
    if (entry.jwksUrl !== undefined) {
      if (typeof entry.jwksUrl !== 'string') throw new Error(`${where}: jwksUrl must be a string`);
      httpsOrLoopback(entry.jwksUrl, `${where}: jwksUrl`);
    }

    if (typeof entry.principalTemplate !== 'string') throw new Error(`${where}: principalTemplate must be a string`);
    templatePlaceholders(entry.principalTemplate, where);

    const algorithms = entry.algorithms ?? ['RS256', 'ES256'];
    // Precondition: issuer algorithms must be asymmetric JWS algorithms, never none or HS*.
    if (
      !Array.isArray(algorithms) || algorithms.length === 0 ||
      algorithms.some((a) => !(asymmetricAlgorithms as readonly unknown[]).includes(a))
    ) {
      throw new Error(`${where}: algorithms must be a non-empty list drawn from ${asymmetricAlgorithms.join(', ')}`);
    }

    if (entry.region !== undefined && (typeof entry.region !== 'string' || !regionPattern.test(entry.region))) {
      throw new Error(`${where}: region must look like us-east-1`);
    }

    return {
      issuer: entry.issuer,
      audience: audience as string[],
      ...(entry.jwksFile !== undefined ? { jwksFile: entry.jwksFile as string } : { jwksUrl: entry.jwksUrl as string }),
      principalTemplate: entry.principalTemplate,
      algorithms: [...new Set(algorithms as JwtAlgorithm[])],
      ...(entry.region !== undefined ? { region: entry.region as string } : {}),
      policies: normalisePolicies(entry.policies, where),
    };
  });
}
