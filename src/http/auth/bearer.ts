// Bearer JWT authentication: the optional second way in, for clients that cannot sign with
// SigV4. A token is verified with jose against the keys of the issuer it names, then mapped
// to a principal ARN through that issuer's template; from there on the request is evaluated
// exactly like a signed one. Off unless KMS_JWT_ISSUERS is set.
//
// Every refusal answers UnrecognizedClientException with AWS's wording; the reason goes into
// the error's detail, for the log only. Nothing here ever puts the token into a message, a
// detail or a log line.
import { readFileSync } from 'node:fs';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { accountOfPrincipalArn, type Principal } from '../../core/api/context';
import { KmsError } from '../../core/errors';
import { normalisePolicies } from './principals';
import { sigv4Messages } from './sigv4';

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

export interface BearerCaller {
  principal: Principal;
  region: string;
  issuer: string;
}

/** Largest bearer token accepted, in characters. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
const CLOCK_TOLERANCE_SECONDS = 60;
const REMOTE_JWKS_TIMEOUT_MS = 5_000;

const regionPattern = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const placeholderPattern = /\{([^{}]*)\}/g;
const claimNamePattern = /^[A-Za-z0-9_:.-]{1,64}$/;
/** IAM's character set for user, role and session names. */
const claimValuePattern = /^[A-Za-z0-9+=,.@_-]{1,64}$/;
/** What a template must spell out before its first placeholder: partition, service, account and principal type. */
const templateHeadPattern = /^arn:aws:(?:iam|sts)::\d{12}:(?:root$|(?:user|role|assumed-role)\/)/;
const compactJwsPattern = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const issuerKeys = new Set(['issuer', 'audience', 'jwksFile', 'jwksUrl', 'principalTemplate', 'algorithms', 'region', 'policies']);

/** True when `header` uses the Bearer scheme (case-insensitive, RFC 9110). */
export function isBearerAuthorization(header: unknown): header is string {
  return typeof header === 'string' && /^bearer(?:\s|$)/i.test(header.trimStart());
}

function httpsOrLoopback(value: string, what: string): URL {
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

interface Issuer {
  config: JwtIssuerConfig;
  keys: JWTVerifyGetKey;
  remote: boolean;
  placeholders: string[];
  accountId: string;
}

function refused(detail: string): KmsError {
  return new KmsError('UnrecognizedClientException', sigv4Messages.invalidToken, `bearer token refused: ${detail}`);
}

/** A jose error's stable code and message; jose's messages name claims and headers, never their values. */
function describe(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : String(error);
  return `${typeof code === 'string' ? `${code}: ` : ''}${message}`.slice(0, 300);
}

function loadJwksFile(file: string, where: string): JSONWebKeySet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${where}: cannot read a JSON Web Key Set from ${file}: ${(e as NodeJS.ErrnoException).code ?? 'not valid JSON'}`);
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${where}: ${file} must hold a JSON Web Key Set with at least one key`);
  // A public key set has no business holding private or symmetric keys.
  for (const key of keys as Record<string, unknown>[]) {
    if (key?.kty === 'oct' || key?.d !== undefined) throw new Error(`${where}: ${file} holds a private or symmetric key; publish public keys only`);
  }
  return parsed as JSONWebKeySet;
}

export interface BearerOptions {
  /** Region of callers whose issuer names none (KMS_REGION). */
  defaultRegion: string;
  /** Time allowed to fetch a remote JWKS; 5 s unless set. */
  remoteTimeoutMs?: number;
}

export class BearerAuthenticator {
  private readonly issuers = new Map<string, Issuer>();

  /** Reads every jwksFile now: a missing or malformed key set stops start-up. */
  constructor(configs: JwtIssuerConfig[], private readonly options: BearerOptions) {
    configs.forEach((config, i) => {
      const where = `issuer ${i}`;
      const placeholders = templatePlaceholders(config.principalTemplate, where);
      const keys = config.jwksFile !== undefined
        ? createLocalJWKSet(loadJwksFile(config.jwksFile, where))
        : createRemoteJWKSet(httpsOrLoopback(config.jwksUrl ?? '', `${where}: jwksUrl`), { timeoutDuration: options.remoteTimeoutMs ?? REMOTE_JWKS_TIMEOUT_MS });
      const accountId = accountOfPrincipalArn(config.principalTemplate.replace(placeholderPattern, 'x'))!;
      this.issuers.set(config.issuer, { config, keys, remote: config.jwksFile === undefined, placeholders, accountId });
    });
  }

  /** Verifies `Authorization: Bearer <JWT>` at `now` and returns the caller it maps to. */
  async authenticate(authorization: string, now: Date): Promise<BearerCaller> {
    const parts = authorization.trim().split(/\s+/);
    // Precondition: a bearer Authorization header must carry exactly one token.
    if (parts.length !== 2 || parts[0]!.toLowerCase() !== 'bearer') throw refused('the Authorization header must be "Bearer <token>"');
    const token = parts[1]!;
    // Precondition: a bearer token longer than 16 KiB is refused.
    if (token.length > MAX_TOKEN_LENGTH) throw refused(`token longer than ${MAX_TOKEN_LENGTH} characters`);
    // Precondition: a bearer token must be a compact JWS of three base64url parts.
    if (!compactJwsPattern.test(token)) throw refused('not a compact JWS');

    let claimedIssuer: unknown;
    try {
      claimedIssuer = decodeJwt(token).iss;
    } catch (e) {
      throw refused(describe(e));
    }
    const issuer = typeof claimedIssuer === 'string' ? this.issuers.get(claimedIssuer) : undefined;
    // Precondition: the token's iss claim must name a configured issuer.
    // (Unverified at this point: it only selects the keys the token must then verify against.)
    if (issuer === undefined) throw refused('unknown issuer');

    let payload: JWTPayload;
    try {
      // Precondition: a token whose alg is none, HS256 or outside the issuer's algorithms is refused.
      // Precondition: a token not signed by a key of its issuer's JWKS is refused.
      // Precondition: a token for another audience is refused.
      // Precondition: an expired or not yet valid token is refused, allowing 60 seconds of clock skew.
      // Precondition: a token without exp or sub is refused.
      ({ payload } = await jwtVerify(token, issuer.keys, {
        issuer: issuer.config.issuer,
        audience: issuer.config.audience,
        algorithms: issuer.config.algorithms,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'sub'],
        currentDate: now,
      }));
    } catch (e) {
      const code = (e as { code?: unknown })?.code;
      // The issuer's key set could not be fetched: not the caller's fault, and worth a retry.
      if (issuer.remote && (code === undefined || code === 'ERR_JWKS_TIMEOUT' || code === 'ERR_JOSE_GENERIC' || code === 'ERR_JWKS_INVALID')) {
        throw new KmsError('DependencyTimeoutException', 'The service could not fetch the keys of the token issuer. Retry the request.', `bearer JWKS of ${issuer.config.issuer} unavailable: ${describe(e)}`);
      }
      throw refused(describe(e));
    }

    let arn = issuer.config.principalTemplate;
    for (const name of new Set(issuer.placeholders)) {
      const value = Object.prototype.hasOwnProperty.call(payload, name) ? (payload as Record<string, unknown>)[name] : undefined;
      // Precondition: a claim placed into the principal template must be 1 to 64 characters of A-Z a-z 0-9 + = , . @ _ -.
      if (typeof value !== 'string' || !claimValuePattern.test(value)) throw refused(`claim '${name}' is missing or not usable in a principal ARN`);
      arn = arn.split(`{${name}}`).join(value);
    }
    // The template was checked at start-up and the values cannot carry ':' or '/'; this is a last guard.
    if (accountOfPrincipalArn(arn) !== issuer.accountId) throw refused('the mapped principal ARN is not one');

    return {
      principal: { arn, accountId: issuer.accountId, policies: issuer.config.policies },
      region: issuer.config.region ?? this.options.defaultRegion,
      issuer: issuer.config.issuer,
    };
  }
}
