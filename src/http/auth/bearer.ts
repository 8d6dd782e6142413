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
import { httpsOrLoopback, placeholderPattern, templatePlaceholders, type JwtIssuerConfig } from '../../auth-config';
import { accountOfPrincipalArn, type Principal } from '../../core/api/context';
import { KmsError } from '../../core/errors';
import { sigv4Messages } from './sigv4';

export interface BearerCaller {
  principal: Principal;
  region: string;
  issuer: string;
}

/** Largest bearer token accepted, in characters. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
const CLOCK_TOLERANCE_SECONDS = 60;
const REMOTE_JWKS_TIMEOUT_MS = 5_000;

/** IAM's character set for user, role and session names. */
const claimValuePattern = /^[A-Za-z0-9+=,.@_-]{1,64}$/;
const compactJwsPattern = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** True when `header` uses the Bearer scheme (case-insensitive, RFC 9110). */
export function isBearerAuthorization(header: unknown): header is string {
  return typeof header === 'string' && /^bearer(?:\s|$)/i.test(header.trimStart());
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
