// AWS Signature Version 4 verification for incoming requests.
//
// The request is rebuilt from exactly what the client says it signed and its signature
// recomputed here, with node:crypto's SHA-256 and HMAC. The canonical request is built the way
// @smithy/signature-v4 (the signer the AWS SDK for JavaScript uses) builds it, step for step;
// test/unit/sigv4.test.ts cross-checks the two on many random requests. Derived signing keys
// are cached per (secret, date, region, service), keyed by a hash of the secret, never by the
// secret. Error codes and messages follow what AWS services answer; nothing here ever puts a
// secret access key, a signing key or a signature value into a message, a detail or a log.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Principal } from '../../core/api/context';
import { KmsError } from '../../core/errors';

export interface SignedRequest {
  method: string;
  /** Raw request path as received, without the query string. */
  path: string;
  query: Record<string, string | string[]>;
  /** Header names in lower case, as Node gives them. */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface Credential {
  accessKeyId: string;
  secretAccessKey: string;
  principal: Principal;
}

export interface VerifiedCaller {
  principal: Principal;
  /** Region from the credential scope. */
  region: string;
  accessKeyId: string;
}

export interface SigV4Options {
  /** Signing name the credential scope must carry; `kms` unless set. */
  service?: string;
  /** Largest accepted distance between X-Amz-Date and now, either way; 5 minutes unless set. */
  maxSkewMs?: number;
  /**
   * Sign the path exactly as received, with no normalisation of '//', '.' or '..' and no
   * re-encoding (the XKS proxy API). Otherwise the path is normalised and URI-encoded once
   * more, as AWS services other than S3 do.
   */
  rawPath?: boolean;
  /**
   * The development mode KMS_DEV_ANY_CREDENTIALS: the principal an access key id stands for when
   * findCredential does not know it. Its signature cannot be checked, as no secret is known;
   * everything else (format, date, skew, scope, signed headers, payload hash) still is.
   * Absent: an unknown access key id is refused.
   */
  unknownAccessKeyPrincipal?: () => Principal;
}

const algorithm = 'AWS4-HMAC-SHA256';
const terminator = 'aws4_request';
const defaultMaxSkewMs = 5 * 60 * 1000;

/**
 * Messages as AWS services word them: IAM's SigV4 troubleshooting guide and replies recorded
 * from Coral-based JSON services (DynamoDB, STS, SageMaker ...). Entries marked "ours" have no
 * AWS counterpart we could find. No message echoes a signature or a secret.
 */
export const sigv4Messages = {
  missingToken: 'Request is missing Authentication Token',
  // ours: AWS KMS answers no presigned requests either, but we found no recorded wording.
  queryAuthUnsupported:
    'Query-string authentication (presigned requests) is not supported; sign the request with the Authorization header.',
  // ours
  multipleAuthorization: 'The request must carry exactly one Authorization header.',
  unsupportedAlgorithm: (name: string) => `Unsupported AWS 'algorithm': '${name}'.`,
  // ours: used when the scheme does not look like an algorithm name and may be a credential.
  unsupportedAlgorithmGeneric: `Unsupported AWS 'algorithm'; only ${algorithm} is supported.`,
  missingEqualSign: (headerHash: string) =>
    `Invalid key=value pair (missing equal-sign) in Authorization header (hashed with SHA-256 and encoded with Base64): '${headerHash}'.`,
  // ours
  duplicateParameter: (name: string) => `Authorization header has more than one '${name}' parameter.`,
  requiresParameter: (name: string) => `Authorization header requires '${name}' parameter.`,
  requiresDate: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
  // ours: AWS accepts a Date-header signature; the AWS SDK's signer never makes one, nor do we check one.
  dateHeaderUnsupported:
    "Signing with the 'Date' header is not supported; sign the request with the 'X-Amz-Date' header.",
  badDateFormat: (value: string) =>
    `Date must be in ISO-8601 'basic format'. Got '${value}'. See http://en.wikipedia.org/wiki/ISO_8601`,
  // ours
  badSignatureFormat: "Authorization header 'Signature' parameter must be 64 lower-case hexadecimal digits.",
  // ours
  badSignedHeaders:
    "Authorization header 'SignedHeaders' parameter must list distinct lower-case header names separated by ';'.",
  expired: (date: string, earliest: string, now: string, window: string) =>
    `Signature expired: ${date} is now earlier than ${earliest} (${now} - ${window}.)`,
  notYetCurrent: (date: string, latest: string, now: string, window: string) =>
    `Signature not yet current: ${date} is still later than ${latest} (${now} + ${window}.)`,
  hostNotSigned: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
  // ours, modelled on the previous one
  dateNotSigned: "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
  credentialParts: (credential: string) =>
    `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${credential}'`,
  invalidRegion: (region: string) => `Credential should be scoped to a valid region, not '${region}'. `,
  wrongService: (service: string) => `Credential should be scoped to correct service: '${service}'. `,
  wrongTerminator: (term: string) =>
    `Credential should be scoped with a valid terminator: '${terminator}', not '${term}'. `,
  scopeDateMismatch: (scopeDate: string, expected: string, amzDate: string) =>
    `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${expected}', from '${amzDate}'.`,
  invalidToken: 'The security token included in the request is invalid.',
  // S3's wording (S3 answers it as XAmzContentSHA256Mismatch).
  contentSha256Mismatch: "The provided 'x-amz-content-sha256' header does not match what was computed.",
  signatureMismatch:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
} as const;

const queryAuthParameters = ['x-amz-algorithm', 'x-amz-credential', 'x-amz-signature', 'x-amz-signedheaders'];
/** RFC 9110 token characters, lower case only; `__proto__` is refused separately. */
const headerNamePattern = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const regionPattern = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const amzDatePattern = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const signaturePattern = /^[0-9a-f]{64}$/;

function incomplete(message: string, detail?: string): KmsError {
  return new KmsError('IncompleteSignatureException', message, detail);
}

function invalid(message: string, detail?: string): KmsError {
  return new KmsError('InvalidSignatureException', message, detail);
}

function headerValue(headers: SignedRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(',') : value;
}

/** yyyymmddThhmmssZ, the form X-Amz-Date and the string to sign use. */
export function formatAmzDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

function parseAmzDate(value: string): Date | undefined {
  const m = amzDatePattern.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Date.UTC rolls 20260230 over to March; a value that does not survive the round trip is invalid.
  return formatAmzDate(date) === value ? date : undefined;
}

function describeWindow(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} sec`;
}

interface ParsedAuthorization {
  credential: string;
  signedHeaders: string;
  signature: string;
}

function parseAuthorization(header: string): ParsedAuthorization {
  const trimmed = header.trim();
  const space = trimmed.search(/\s/);
  const scheme = space === -1 ? trimmed : trimmed.slice(0, space);
  // Precondition: the Authorization header must use the AWS4-HMAC-SHA256 algorithm.
  if (scheme !== algorithm) {
    // Echo the scheme only when it looks like an AWS algorithm name: anything else may be a token.
    throw incomplete(
      /^AWS[A-Za-z0-9-]{0,29}$/.test(scheme)
        ? sigv4Messages.unsupportedAlgorithm(scheme)
        : sigv4Messages.unsupportedAlgorithmGeneric,
    );
  }
  const params = new Map<string, string>();
  const rest = space === -1 ? '' : trimmed.slice(space + 1).trim();
  for (const rawPart of rest === '' ? [] : rest.split(',')) {
    const part = rawPart.trim();
    const eq = part.indexOf('=');
    // Precondition: every Authorization header parameter must be a key=value pair.
    if (eq <= 0) {
      // AWS names the header by its hash, which identifies it without echoing the signature.
      const headerHash = createHash('sha256').update(header, 'utf8').digest('base64');
      throw incomplete(sigv4Messages.missingEqualSign(headerHash));
    }
    const key = part.slice(0, eq).trim();
    // Precondition: Authorization header parameters must not repeat.
    if (params.has(key)) throw incomplete(sigv4Messages.duplicateParameter(key));
    params.set(key, part.slice(eq + 1).trim());
  }
  return {
    credential: params.get('Credential') ?? '',
    signedHeaders: params.get('SignedHeaders') ?? '',
    signature: params.get('Signature') ?? '',
  };
}

// ---------------------------------------------------------------------------------------------
// The signing math (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html),
// built as @smithy/signature-v4 5.x builds it so that whatever the AWS SDK signs verifies here.

/** Most derived signing keys kept; the oldest goes first. A key is good for one day and scope. */
export const signingKeyCacheLimit = 256;
const signingKeys = new Map<string, Buffer>();

/** How many derived signing keys are cached (for tests). */
export function signingKeyCacheSize(): number {
  return signingKeys.size;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/**
 * kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"),
 * cached under a SHA-256 of the secret, so a different secret never meets another's entry and
 * the cache holds no secret. The derived keys themselves never leave this module.
 */
function signingKey(secretAccessKey: string, date: string, region: string, service: string): Buffer {
  const secretHash = createHash('sha256').update(secretAccessKey, 'utf8').digest('hex');
  // The date is 8 digits and the region has no '/' (both checked); the service comes last.
  const cacheKey = `${secretHash}/${date}/${region}/${service}`;
  const cached = signingKeys.get(cacheKey);
  if (cached !== undefined) return cached;
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), service), terminator);
  while (signingKeys.size >= signingKeyCacheLimit) {
    const oldest = signingKeys.keys().next();
    if (oldest.done === true) break;
    signingKeys.delete(oldest.value);
  }
  signingKeys.set(cacheKey, key);
  return key;
}

const escapeUri = (value: string): string =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function canonicalPath(received: string, rawPath: boolean): string {
  // An empty path is '/', and a path always starts with '/', as in the SDK's HttpRequest.
  const path = received ? (received.charAt(0) !== '/' ? `/${received}` : received) : '/';
  // XKS: the path exactly as received.
  if (rawPath) return path;
  // Everything else: drop empty and '.' segments, resolve '..', then URI-encode once more
  // (so '%2F' in a segment becomes '%252F'), leaving the separators as '/'.
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normalized = `/${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return escapeUri(normalized).replace(/%2F/g, '/');
}

function canonicalQuery(query: SignedRequest['query']): string {
  // Sorted by encoded name; a repeated name's pairs sorted among themselves; '=' even for an
  // empty value. A name with no value (an empty list) contributes nothing.
  const names: string[] = [];
  const serialized = new Map<string, string>();
  for (const name of Object.keys(query)) {
    const encodedName = escapeUri(name);
    names.push(encodedName);
    const value: unknown = query[name];
    if (typeof value === 'string') {
      serialized.set(encodedName, `${encodedName}=${escapeUri(value)}`);
    } else if (Array.isArray(value)) {
      serialized.set(encodedName, value.map((v) => `${encodedName}=${escapeUri(v as string)}`).sort().join('&'));
    }
  }
  return names
    .sort()
    .map((name) => serialized.get(name))
    .filter((pair) => pair)
    .join('&');
}

interface Signable {
  method: string;
  path: string;
  query: SignedRequest['query'];
  /** The signed headers by lower-case name, with their received values. */
  headers: Record<string, string>;
  payloadHash: string;
  amzDate: string;
  scope: string;
  rawPath: boolean;
}

/** The signature over `r` and the list of headers it covers (authorization is never covered). */
function signatureOf(r: Signable, key: Buffer): { signature: Buffer; signedHeaders: string } {
  const names = Object.keys(r.headers)
    .filter((name) => name !== 'authorization')
    .sort();
  // Values trimmed, line breaks and runs of spaces and tabs made one space; x-amz-date is the
  // date the signature is checked against (the received value, checked to be well formed).
  const canonicalHeaders = names.map((name) => {
    const value = name === 'x-amz-date' ? r.amzDate : (r.headers[name] as string);
    return `${name}:${value.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '')}\n`;
  });
  const signedHeaders = names.join(';');
  const canonicalRequest =
    `${r.method || 'GET'}\n${canonicalPath(r.path, r.rawPath)}\n${canonicalQuery(r.query)}\n` +
    `${canonicalHeaders.join('')}\n${signedHeaders}\n${r.payloadHash}`;
  const stringToSign =
    `${algorithm}\n${r.amzDate}\n${r.scope}\n` + createHash('sha256').update(canonicalRequest, 'utf8').digest('hex');
  return { signature: createHmac('sha256', key).update(stringToSign, 'utf8').digest(), signedHeaders };
}

/**
 * Verifies the SigV4 signature of `request` and returns the caller it authenticates.
 * Throws KmsError (MissingAuthenticationToken, IncompleteSignature, InvalidSignature or
 * UnrecognizedClient) otherwise.
 */
export async function verifySigV4(
  request: SignedRequest,
  findCredential: (accessKeyId: string) => Credential | undefined,
  now: Date,
  options: SigV4Options = {},
): Promise<VerifiedCaller> {
  const service = options.service ?? 'kms';
  const maxSkewMs = options.maxSkewMs ?? defaultMaxSkewMs;
  const authorization = request.headers.authorization;

  // Precondition: query-string (presigned) authentication is rejected.
  if (Object.keys(request.query).some((k) => queryAuthParameters.includes(k.toLowerCase()))) {
    throw incomplete(sigv4Messages.queryAuthUnsupported);
  }
  // Precondition: a request without an Authorization header is rejected as missing authentication.
  if (authorization === undefined || (typeof authorization === 'string' && authorization.trim() === '')) {
    throw new KmsError('MissingAuthenticationTokenException', sigv4Messages.missingToken);
  }
  // Precondition: the request must carry exactly one Authorization header.
  if (typeof authorization !== 'string') {
    throw incomplete(sigv4Messages.multipleAuthorization);
  }

  const auth = parseAuthorization(authorization);
  const amzDate = headerValue(request.headers, 'x-amz-date');
  // Messages echo parts of the request the way AWS does; a malformed header could smuggle the
  // signature into one of those parts, so it is cut out of every echoed value.
  const echo = (value: string): string =>
    auth.signature !== '' && value.includes(auth.signature) ? value.split(auth.signature).join('<signature>') : value;

  // Precondition: the Authorization header must carry Credential, Signature and SignedHeaders, and the request an X-Amz-Date or Date header.
  const missing: string[] = [];
  if (auth.credential === '') missing.push(sigv4Messages.requiresParameter('Credential'));
  if (auth.signature === '') missing.push(sigv4Messages.requiresParameter('Signature'));
  if (auth.signedHeaders === '') missing.push(sigv4Messages.requiresParameter('SignedHeaders'));
  if (amzDate === undefined && request.headers.date === undefined) missing.push(sigv4Messages.requiresDate);
  if (missing.length > 0) throw incomplete(missing.join(' '));

  // Precondition: requests dated by the Date header instead of X-Amz-Date are rejected.
  // (As with the AWS SDK's signer, only X-Amz-Date dates a signature; a Date header is never signed.)
  if (amzDate === undefined) throw incomplete(sigv4Messages.dateHeaderUnsupported);

  // Precondition: X-Amz-Date must be in ISO 8601 basic format.
  const requestTime = parseAmzDate(amzDate);
  if (requestTime === undefined) throw incomplete(sigv4Messages.badDateFormat(echo(amzDate)));

  // Precondition: the Signature parameter must be 64 lower-case hexadecimal digits.
  if (!signaturePattern.test(auth.signature)) throw incomplete(sigv4Messages.badSignatureFormat);

  const signedHeaders = auth.signedHeaders.split(';');
  // Precondition: SignedHeaders must list distinct lower-case header names.
  if (
    signedHeaders.some((h) => !headerNamePattern.test(h) || h === '__proto__') ||
    new Set(signedHeaders).size !== signedHeaders.length
  ) {
    throw incomplete(sigv4Messages.badSignedHeaders);
  }

  // Precondition: a request dated more than the allowed skew before now is rejected.
  const window = describeWindow(maxSkewMs);
  if (requestTime.getTime() < now.getTime() - maxSkewMs) {
    throw invalid(
      sigv4Messages.expired(amzDate, formatAmzDate(new Date(now.getTime() - maxSkewMs)), formatAmzDate(now), window),
    );
  }
  // Precondition: a request dated more than the allowed skew after now is rejected.
  if (requestTime.getTime() > now.getTime() + maxSkewMs) {
    throw invalid(
      sigv4Messages.notYetCurrent(amzDate, formatAmzDate(new Date(now.getTime() + maxSkewMs)), formatAmzDate(now), window),
    );
  }

  // Precondition: the host header must be signed.
  if (!signedHeaders.includes('host')) throw invalid(sigv4Messages.hostNotSigned);
  // Precondition: the x-amz-date header must be signed.
  if (!signedHeaders.includes('x-amz-date')) throw invalid(sigv4Messages.dateNotSigned);
  // Precondition: the Date header must not be signed.
  // (The AWS SDK's signer drops Date from what it signs; a signature over it is not checked.)
  if (signedHeaders.includes('date')) throw incomplete(sigv4Messages.dateHeaderUnsupported);

  const credentialParts = auth.credential.split('/');
  // Precondition: the credential must have exactly five slash-separated parts.
  if (credentialParts.length !== 5) throw incomplete(sigv4Messages.credentialParts(echo(auth.credential)));
  const [accessKeyId, scopeDate, region, scopeService, scopeTerminator] = credentialParts as [
    string, string, string, string, string,
  ];

  // AWS reports every scope problem at once; so do we.
  const scopeErrors: string[] = [];
  // Precondition: the credential scope must name a valid region.
  if (!regionPattern.test(region)) scopeErrors.push(sigv4Messages.invalidRegion(echo(region)));
  // Precondition: the credential scope must name the kms service.
  if (scopeService !== service) scopeErrors.push(sigv4Messages.wrongService(service));
  // Precondition: the credential scope must end with aws4_request.
  if (scopeTerminator !== terminator) scopeErrors.push(sigv4Messages.wrongTerminator(echo(scopeTerminator)));
  // Precondition: the credential scope date must be the date of X-Amz-Date.
  if (scopeDate !== amzDate.slice(0, 8)) {
    scopeErrors.push(sigv4Messages.scopeDateMismatch(echo(scopeDate), amzDate.slice(0, 8), amzDate));
  }
  if (scopeErrors.length > 0) throw invalid(scopeErrors.join(''));

  // Precondition: session tokens are rejected because this service issues none.
  if (request.headers['x-amz-security-token'] !== undefined) {
    throw new KmsError('UnrecognizedClientException', sigv4Messages.invalidToken, 'x-amz-security-token present');
  }

  const credential = accessKeyId === '' ? undefined : findCredential(accessKeyId);
  // Precondition: in any-credentials mode a known access key id is still verified with its secret.
  const unverifiedPrincipal = credential === undefined && accessKeyId !== '' ? options.unknownAccessKeyPrincipal?.() : undefined;
  // Precondition: the access key id must belong to a configured credential.
  if (credential === undefined && unverifiedPrincipal === undefined) {
    throw new KmsError('UnrecognizedClientException', sigv4Messages.invalidToken, `unknown access key id ${echo(accessKeyId)}`);
  }

  // Rebuild the request from exactly the headers the client signed, with their received values.
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = headerValue(request.headers, name);
    // Precondition: every signed header must be present in the request.
    if (value === undefined) {
      throw invalid(sigv4Messages.signatureMismatch, `signed header '${name}' is absent from the request`);
    }
    headers[name] = value;
  }

  // The body is hashed once: for this check and as the payload hash of the canonical request.
  // Whether the client signed x-amz-content-sha256 or not, the payload hash it signed is the
  // SHA-256 of the received body (a signed header carrying anything else fails right here).
  const bodyHash = createHash('sha256').update(request.body).digest('hex');
  // Precondition: an x-amz-content-sha256 header must equal the SHA-256 of the received body.
  const contentSha256 = headerValue(request.headers, 'x-amz-content-sha256');
  if (contentSha256 !== undefined && contentSha256 !== bodyHash) throw invalid(sigv4Messages.contentSha256Mismatch);
  // Any-credentials mode, unknown access key id: no secret, so the signature value is all that goes unchecked.
  if (credential === undefined) return { principal: unverifiedPrincipal!, region, accessKeyId };

  // Precondition: the signature must match the one recomputed over the received request.
  const signing = signatureOf(
    {
      method: request.method,
      path: request.path,
      query: request.query,
      headers,
      payloadHash: bodyHash,
      amzDate,
      scope: `${scopeDate}/${region}/${service}/${terminator}`,
      rawPath: options.rawPath === true,
    },
    signingKey(credential.secretAccessKey, scopeDate, region, service),
  );
  const sortedSignedHeaders = [...signedHeaders].sort().join(';');
  // Both sides are 32 bytes: the Signature parameter is 64 lower-case hex digits (checked above).
  const matches =
    signing.signedHeaders === sortedSignedHeaders &&
    timingSafeEqual(signing.signature, Buffer.from(auth.signature, 'hex'));
  if (!matches) {
    const detail =
      signing.signedHeaders !== sortedSignedHeaders
        ? `signer covered '${signing.signedHeaders}' but the client signed '${sortedSignedHeaders}'`
        : 'signature mismatch';
    throw invalid(sigv4Messages.signatureMismatch, detail);
  }

  return { principal: credential.principal, region, accessKeyId };
}
