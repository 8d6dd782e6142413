// What an XKS proxy answered, checked against the API before anything of it is used: an error
// in the spec's shape becomes that error; a success must carry every required field, in
// standard Base64 of the right size, and an Encrypt result must carry a CDIV that matches the
// one computed here (Appendix C). Anything else is XksProxyInvalidResponse. Details name what
// was wrong, never a value: no plaintext, no key material, no credential.
import { timingSafeEqual } from 'node:crypto';
import { XksProxyFailure, xksProxyFailureKinds, type XksHealth, type XksKeyMetadata, type XksSealed } from '../core/key-stores/connectors';
import { ciphertextDataIntegrityValue } from '../core/xks-proxy/cdiv';
import type { HttpAnswer } from './transport';

/** The error names an XKS proxy may answer (XKS proxy API, error codes). */
export const xksProxyErrorNames = xksProxyFailureKinds.filter((kind) => !kind.startsWith('XksProxy'));
type XksProxyErrorName = (typeof xksProxyErrorNames)[number];

const MAX_ERROR_MESSAGE = 512;
const MAX_CIPHERTEXT_METADATA_BYTES = 20;
const TAG_BYTES = 16;
const IV_BYTES = [12, 16];
const HEALTH_STATUSES = ['ACTIVE', 'DEGRADED', 'UNAVAILABLE'];
const MAX_LIST_ENTRIES = 10;

function invalid(detail: string): XksProxyFailure {
  return new XksProxyFailure('XksProxyInvalidResponse', detail);
}

type JsonObject = Record<string, unknown>;

function own(object: JsonObject, name: string): unknown {
  return Object.prototype.hasOwnProperty.call(object, name) ? object[name] : undefined;
}

function parseObject(body: Buffer): JsonObject | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

/**
 * The proxy's errorMessage, fit for a log line: printable ASCII, at most 512 characters, and
 * with any of `redact` (the secret, a plaintext the proxy might echo) cut out.
 */
function proxyMessage(value: unknown, redact: readonly string[]): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  let message = value.replace(/[^\x20-\x7e]/g, '?');
  for (const secret of redact) {
    if (secret.length >= 8 && message.includes(secret)) message = message.split(secret).join('<redacted>');
  }
  return message.length > MAX_ERROR_MESSAGE ? `${message.slice(0, MAX_ERROR_MESSAGE)}...` : message;
}

/** The failure a non-200 answer means. */
export function failureOf(answer: HttpAnswer, operation: string, redact: readonly string[]): XksProxyFailure {
  const json = parseObject(answer.body);
  const errorName = json && own(json, 'errorName');
  if (typeof errorName === 'string' && (xksProxyErrorNames as readonly string[]).includes(errorName)) {
    const message = proxyMessage(own(json!, 'errorMessage'), redact);
    return new XksProxyFailure(errorName as XksProxyErrorName, `${operation}: HTTP ${answer.status}${message !== undefined ? `, "${message}"` : ''}`);
  }
  if (typeof errorName === 'string') {
    return invalid(`${operation}: HTTP ${answer.status} with an errorName the XKS proxy API does not define`);
  }
  const type = String(answer.headers['content-type'] ?? 'no content type').slice(0, 100);
  return invalid(`${operation}: HTTP ${answer.status} without an XKS error (${type}, ${answer.body.length} bytes)`);
}

/** The JSON object of a successful answer; throws the proxy's error, or InvalidResponse. */
function successBody(answer: HttpAnswer, operation: string, redact: readonly string[]): JsonObject {
  if (answer.status < 200 || answer.status > 299) throw failureOf(answer, operation, redact);
  // Precondition: success is 200 (XKS proxy API, every operation).
  if (answer.status !== 200) throw invalid(`${operation}: HTTP ${answer.status} instead of 200`);
  const json = parseObject(answer.body);
  // Precondition: a successful answer is a JSON object.
  if (!json) throw invalid(`${operation}: the response body is not a JSON object`);
  return json;
}

const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard, padded Base64 (RFC 4648 §4) in its canonical form, decoded; undefined otherwise. */
function decodeBase64(value: string): Buffer | undefined {
  if (!base64Pattern.test(value)) return undefined;
  const bytes = Buffer.from(value, 'base64');
  // Non-zero bits past the last byte decode to the same bytes: refuse all but the canonical form.
  return bytes.toString('base64') === value ? bytes : undefined;
}

function base64Field(json: JsonObject, name: string, operation: string): Buffer {
  const value = own(json, name);
  // Precondition: a required Base64 field is present.
  if (value === undefined || value === null) throw invalid(`${operation}: the response has no ${name}`);
  // Precondition: a Base64 field is a string of standard Base64.
  const bytes = typeof value === 'string' ? decodeBase64(value) : undefined;
  if (!bytes) throw invalid(`${operation}: the response's ${name} is not standard Base64`);
  return bytes;
}

function optionalBase64Field(json: JsonObject, name: string, operation: string): Buffer | undefined {
  const value = own(json, name);
  return value === undefined || value === null ? undefined : base64Field(json, name, operation);
}

function stringField(json: JsonObject, name: string, operation: string): string {
  const value = own(json, name);
  // Precondition: a required string field is a string.
  if (typeof value !== 'string') throw invalid(`${operation}: the response has no ${name} string`);
  return value;
}

/** Encrypt: the sealed result, its sizes checked and its CDIV recomputed over `aad` and what came back. */
export function encryptResult(answer: HttpAnswer, aad: Buffer, plaintextLength: number, redact: readonly string[]): XksSealed {
  const op = 'Encrypt';
  const json = successBody(answer, op, redact);
  const ciphertext = base64Field(json, 'ciphertext', op);
  const iv = base64Field(json, 'initializationVector', op);
  const tag = base64Field(json, 'authenticationTag', op);
  const metadata = optionalBase64Field(json, 'ciphertextMetadata', op);
  const cdiv = optionalBase64Field(json, 'ciphertextDataIntegrityValue', op);
  // Precondition: AES-GCM ciphertext is as long as the plaintext.
  if (ciphertext.length !== plaintextLength) throw invalid(`${op}: the ciphertext is ${ciphertext.length} bytes for ${plaintextLength} bytes of plaintext`);
  // Precondition: the initialization vector is 12 or 16 bytes.
  if (!IV_BYTES.includes(iv.length)) throw invalid(`${op}: the initializationVector is ${iv.length} bytes, not 12 or 16`);
  // Precondition: the authentication tag is 16 bytes.
  if (tag.length !== TAG_BYTES) throw invalid(`${op}: the authenticationTag is ${tag.length} bytes, not ${TAG_BYTES}`);
  // Precondition: ciphertextMetadata is at most 20 bytes.
  if (metadata && metadata.length > MAX_CIPHERTEXT_METADATA_BYTES) {
    throw invalid(`${op}: the ciphertextMetadata is ${metadata.length} bytes, over ${MAX_CIPHERTEXT_METADATA_BYTES}`);
  }
  // Precondition: the CDIV asked for is present.
  if (!cdiv) throw invalid(`${op}: the response has no ciphertextDataIntegrityValue though one was asked for`);
  const sealed = { iv, ciphertext, tag };
  const expected = ciphertextDataIntegrityValue(aad.length > 0 ? aad : undefined, metadata, sealed);
  // Precondition: the CDIV matches the SHA-256 computed here over aad ‖ metadata ‖ iv ‖ ciphertext ‖ tag.
  if (cdiv.length !== expected.length || !timingSafeEqual(cdiv, expected)) {
    throw invalid(`${op}: the ciphertextDataIntegrityValue does not match the result`);
  }
  return metadata && metadata.length > 0 ? { ...sealed, metadata } : sealed;
}

/** Decrypt: the plaintext, as long as the ciphertext was. */
export function decryptResult(answer: HttpAnswer, ciphertextLength: number, redact: readonly string[]): Buffer {
  const op = 'Decrypt';
  const plaintext = base64Field(successBody(answer, op, redact), 'plaintext', op);
  // Precondition: AES-GCM plaintext is as long as the ciphertext.
  if (plaintext.length !== ciphertextLength) {
    plaintext.fill(0);
    throw invalid(`${op}: the plaintext is not as long as the ciphertext (${ciphertextLength} bytes)`);
  }
  return plaintext;
}

function stringList(json: JsonObject, name: string, operation: string): string[] {
  const value = own(json, name);
  // Precondition: a list field is an array of at most ten strings.
  if (!Array.isArray(value) || value.length > MAX_LIST_ENTRIES || !value.every((v) => typeof v === 'string')) {
    throw invalid(`${operation}: the response's ${name} is not a list of at most ${MAX_LIST_ENTRIES} strings`);
  }
  return value as string[];
}

/** GetKeyMetadata: keySpec, keyUsage and keyStatus, whatever their values (core judges them). */
export function keyMetadataResult(answer: HttpAnswer, redact: readonly string[]): XksKeyMetadata {
  const op = 'GetKeyMetadata';
  const json = successBody(answer, op, redact);
  return { keySpec: stringField(json, 'keySpec', op), keyUsage: stringList(json, 'keyUsage', op), keyStatus: stringField(json, 'keyStatus', op) };
}

/** GetHealthStatus: the proxy fleet and one to ten key managers, each ACTIVE, DEGRADED or UNAVAILABLE. */
export function healthResult(answer: HttpAnswer, redact: readonly string[]): XksHealth {
  const op = 'GetHealthStatus';
  const json = successBody(answer, op, redact);
  const fleetSize = own(json, 'xksProxyFleetSize');
  // Precondition: xksProxyFleetSize is an integer greater than zero.
  if (typeof fleetSize !== 'number' || !Number.isSafeInteger(fleetSize) || fleetSize < 1) {
    throw invalid(`${op}: the response's xksProxyFleetSize is not an integer greater than zero`);
  }
  const details = own(json, 'ekmFleetDetails');
  // Precondition: ekmFleetDetails lists one to ten key managers.
  if (!Array.isArray(details) || details.length < 1 || details.length > MAX_LIST_ENTRIES) {
    throw invalid(`${op}: the response's ekmFleetDetails is not a list of 1 to ${MAX_LIST_ENTRIES} entries`);
  }
  const ekmFleetDetails = details.map((entry: unknown, i) => {
    // Precondition: each key manager entry is an object with id, model and a known healthStatus.
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw invalid(`${op}: ekmFleetDetails[${i}] is not an object`);
    const e = entry as JsonObject;
    const healthStatus = stringField(e, 'healthStatus', `${op} ekmFleetDetails[${i}]`);
    if (!HEALTH_STATUSES.includes(healthStatus)) throw invalid(`${op}: ekmFleetDetails[${i}].healthStatus is not one of ${HEALTH_STATUSES.join(', ')}`);
    return { id: stringField(e, 'id', `${op} ekmFleetDetails[${i}]`), model: stringField(e, 'model', `${op} ekmFleetDetails[${i}]`), healthStatus };
  });
  return {
    xksProxyFleetSize: fleetSize,
    xksProxyVendor: stringField(json, 'xksProxyVendor', op),
    xksProxyModel: stringField(json, 'xksProxyModel', op),
    ekmVendor: stringField(json, 'ekmVendor', op),
    ekmFleetDetails,
  };
}
