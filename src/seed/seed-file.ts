// The seed file (KMS_SEED_FILE), YAML or JSON: read and checked whole before anything is applied.
// Every mistake names the file, the line and the reason; a parse error's line comes from the
// parser, a schema error's from the position of the node its path names. Key material never
// appears in a message: a reason about material says what is wrong with it, never what it is.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { isKmsError } from '../core/errors';
import { isAliasName, isKeyId } from '../core/keys/key-id';
import { assertTokenCanHold, hmacSpecs, isAsymmetricSpec, isHmacSpec, usagesBySpec } from '../core/keys/key-specs';
import { validateTags } from '../core/keys/tags';
import { checkAliasName } from '../core/keys/aliases';
import { validateKeyPolicy } from '../core/access/key-policy';
import { keySpecs, keyUsages, type KeySpec, type KeyUsage, type Tag } from '../core/model';
import { MAX_ROTATION_PERIOD_DAYS, MIN_ROTATION_PERIOD_DAYS } from '../core/rotation/rotation';
import type { SeedKey, SeedMaterial } from '../core/seeding/seed-keys';

/** A seed file that cannot be used: the message names the file, the line and the reason. */
export class SeedFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SeedFileError';
  }
}

/** One key of the file, and the line its entry starts on (for errors found while applying it). */
export interface SeedEntry {
  seed: SeedKey;
  line: number;
}

type Path = (string | number)[];

/** A schema mistake at `path`; turned into file and line by the caller, who has the document. */
class SchemaError extends Error {
  constructor(readonly path: Path, reason: string) {
    super(reason);
  }
}

const topFields = new Set(['keys']);
const keyFields = new Set(['keyId', 'keySpec', 'keyUsage', 'description', 'tags', 'policy', 'aliases', 'rotation', 'material', 'reportOrigin']);
const rotationFields = new Set(['enabled', 'periodInDays']);

/** The curve of a PKCS#8 EC key (node:crypto's name) each EC key spec takes. */
const curveOf: Partial<Record<KeySpec, string>> = {
  ECC_NIST_P256: 'prime256v1', ECC_NIST_P384: 'secp384r1', ECC_NIST_P521: 'secp521r1', ECC_SECG_P256K1: 'secp256k1',
};
const rsaBitsOf: Partial<Record<KeySpec, number>> = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 };

const pathText = (path: Path) => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');

function record(value: unknown, path: Path, allowed: Set<string>): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SchemaError(path, 'must be a mapping');
  const fields = value as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (!allowed.has(name)) throw new SchemaError([...path, name], `unknown field ${name} (expected one of ${[...allowed].join(', ')})`);
  }
  return fields;
}

function text(value: unknown, path: Path): string {
  if (typeof value !== 'string') throw new SchemaError(path, 'must be a string (quote it)');
  return value;
}

function oneOf<T extends string>(value: unknown, path: Path, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) throw new SchemaError(path, `must be one of ${allowed.join(', ')}`);
  return value as T;
}

/** A core rule's refusal, as a schema error at `path`. */
function underCoreRule<T>(path: Path, check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (isKmsError(e)) throw new SchemaError(path, e.message || e.code);
    throw e;
  }
}

function tagsOf(value: unknown, path: Path): Tag[] {
  if (value === undefined) return [];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SchemaError(path, 'must be a mapping of tag keys to values');
  const tags = Object.entries(value as Record<string, unknown>).map(([TagKey, v]) => ({ TagKey, TagValue: text(v, [...path, TagKey]) }));
  return underCoreRule(path, () => validateTags(tags));
}

function policyOf(value: unknown, path: Path): string | undefined {
  if (value === undefined) return undefined;
  // A mapping is the policy document itself; a string is its JSON text.
  const policy = typeof value === 'string' ? value : value !== null && typeof value === 'object' && !Array.isArray(value) ? JSON.stringify(value) : undefined;
  if (policy === undefined) throw new SchemaError(path, 'must be a policy document (a mapping) or its JSON text');
  underCoreRule(path, () => validateKeyPolicy(policy));
  return policy;
}

function aliasesOf(value: unknown, path: Path): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new SchemaError(path, 'must be a list of alias names');
  return value.map((v, i) => {
    const name = text(v, [...path, i]);
    if (!isAliasName(name)) throw new SchemaError([...path, i], 'must be an alias name: alias/ followed by letters, digits, /, _ or -');
    underCoreRule([...path, i], () => checkAliasName(name));
    return name;
  });
}

function rotationOf(value: unknown, path: Path, keySpec: KeySpec, keyUsage: KeyUsage, hasMaterial: boolean): SeedKey['rotation'] {
  if (value === undefined) return undefined;
  const fields = record(value, path, rotationFields);
  if (typeof fields.enabled !== 'boolean') throw new SchemaError([...path, 'enabled'], 'must be true or false');
  const period = fields.periodInDays;
  if (period !== undefined && (typeof period !== 'number' || !Number.isInteger(period) || period < MIN_ROTATION_PERIOD_DAYS || period > MAX_ROTATION_PERIOD_DAYS)) {
    throw new SchemaError([...path, 'periodInDays'], `must be a whole number of days from ${MIN_ROTATION_PERIOD_DAYS} to ${MAX_ROTATION_PERIOD_DAYS}`);
  }
  if (fields.enabled && (keySpec !== 'SYMMETRIC_DEFAULT' || keyUsage !== 'ENCRYPT_DECRYPT')) throw new SchemaError([...path, 'enabled'], 'only symmetric encryption keys rotate');
  // As in AWS: imported material cannot rotate, the service would have to make new material itself.
  if (fields.enabled && hasMaterial) throw new SchemaError([...path, 'enabled'], 'a key with fixed material cannot rotate automatically');
  return { enabled: fields.enabled, ...(period !== undefined ? { periodInDays: period as number } : {}) };
}

/** Fixed material: base64 of a symmetric or HMAC key, or a PEM private key for RSA and EC specs. */
function materialOf(value: unknown, path: Path, keySpec: KeySpec): SeedMaterial | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new SchemaError(path, 'must be a string: base64 key bytes, or a PEM private key');
  if (keySpec === 'SYMMETRIC_DEFAULT' || isHmacSpec(keySpec)) {
    const expected = keySpec === 'SYMMETRIC_DEFAULT' ? 32 : hmacSpecs[keySpec as keyof typeof hmacSpecs].keyBytes;
    const compact = value.replace(/\s+/g, '');
    const bytes = Buffer.from(compact, 'base64');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || bytes.toString('base64') !== compact) throw new SchemaError(path, 'is not base64');
    if (bytes.length !== expected) throw new SchemaError(path, `must be ${expected} bytes for ${keySpec}, not ${bytes.length}`);
    return { kind: 'secret', bytes };
  }
  if (!isAsymmetricSpec(keySpec) || (rsaBitsOf[keySpec] === undefined && curveOf[keySpec] === undefined)) {
    throw new SchemaError(path, `fixed material is not supported for ${keySpec}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: value, format: 'pem' });
  } catch {
    // node:crypto's own message could quote the input: only ours is given.
    throw new SchemaError(path, 'is not a PEM private key (PKCS#8 "BEGIN PRIVATE KEY", or "BEGIN RSA/EC PRIVATE KEY")');
  }
  const details = key.asymmetricKeyDetails ?? {};
  const bits = rsaBitsOf[keySpec];
  if (bits !== undefined && (key.asymmetricKeyType !== 'rsa' || details.modulusLength !== bits)) throw new SchemaError(path, `must be an RSA private key of ${bits} bits for ${keySpec}`);
  const curve = curveOf[keySpec];
  if (curve !== undefined && (key.asymmetricKeyType !== 'ec' || details.namedCurve !== curve)) throw new SchemaError(path, `must be an EC private key on ${curve} for ${keySpec}`);
  return { kind: 'privateKey', pkcs8: key.export({ type: 'pkcs8', format: 'der' }) };
}

function keyOf(value: unknown, path: Path): SeedKey {
  const fields = record(value, path, keyFields);
  if (fields.keyId === undefined) throw new SchemaError(path, 'keyId is required');
  const keyId = text(fields.keyId, [...path, 'keyId']);
  if (!isKeyId(keyId)) throw new SchemaError([...path, 'keyId'], 'must be a key id: a lowercase UUID such as 1234abcd-12ab-34cd-56ef-1234567890ab');
  const keySpec = fields.keySpec === undefined ? 'SYMMETRIC_DEFAULT' : oneOf(fields.keySpec, [...path, 'keySpec'], keySpecs);
  underCoreRule([...path, 'keySpec'], () => assertTokenCanHold(keySpec, 'KeySpec'));
  if (fields.keyUsage === undefined && keySpec !== 'SYMMETRIC_DEFAULT') throw new SchemaError(path, `keyUsage is required for ${keySpec}`);
  const keyUsage = fields.keyUsage === undefined ? 'ENCRYPT_DECRYPT' : oneOf(fields.keyUsage, [...path, 'keyUsage'], keyUsages);
  if (!usagesBySpec[keySpec].includes(keyUsage)) throw new SchemaError([...path, 'keyUsage'], `${keyUsage} is not a usage of ${keySpec} (use ${usagesBySpec[keySpec].join(' or ')})`);
  const description = fields.description === undefined ? '' : text(fields.description, [...path, 'description']);
  if (description.length > 8192) throw new SchemaError([...path, 'description'], 'must be at most 8192 characters');
  const material = materialOf(fields.material, [...path, 'material'], keySpec);
  let reportOrigin: 'AWS_KMS' | undefined;
  if (fields.reportOrigin !== undefined) {
    reportOrigin = oneOf(fields.reportOrigin, [...path, 'reportOrigin'], ['AWS_KMS'] as const);
    if (!material) throw new SchemaError([...path, 'reportOrigin'], 'applies only to a key with fixed material (any other seeded key is AWS_KMS already)');
  }
  const rotation = rotationOf(fields.rotation, [...path, 'rotation'], keySpec, keyUsage, material !== undefined);
  const policy = policyOf(fields.policy, [...path, 'policy']);
  return {
    keyId, keySpec, keyUsage, description, tags: tagsOf(fields.tags, [...path, 'tags']), aliases: aliasesOf(fields.aliases, [...path, 'aliases']),
    ...(policy !== undefined ? { policy } : {}), ...(rotation ? { rotation } : {}), ...(material ? { material } : {}), ...(reportOrigin ? { reportOrigin } : {}),
  };
}

function entriesOf(content: unknown, lineOf: (path: Path) => number): SeedEntry[] {
  const top = record(content ?? {}, [], topFields);
  if (top.keys === undefined) return [];
  if (!Array.isArray(top.keys)) throw new SchemaError(['keys'], 'must be a list of keys');
  const keyIds = new Set<string>();
  const aliases = new Set<string>();
  return top.keys.map((value, i) => {
    const path: Path = ['keys', i];
    const seed = keyOf(value, path);
    if (keyIds.has(seed.keyId)) throw new SchemaError([...path, 'keyId'], `key id ${seed.keyId} appears twice`);
    keyIds.add(seed.keyId);
    seed.aliases.forEach((alias, j) => {
      if (aliases.has(alias)) throw new SchemaError([...path, 'aliases', j], `alias ${alias} appears twice`);
      aliases.add(alias);
    });
    return { seed, line: lineOf(path) };
  });
}

/** The line (1-based) of the node at `path`, or of its nearest ancestor present in the document. */
function lineFinder(doc: Document, lines: LineCounter): (path: Path) => number {
  return (path) => {
    for (let depth = path.length; depth >= 0; depth--) {
      const prefix = path.slice(0, depth);
      const node = depth === 0 ? doc.contents : doc.getIn(prefix, true);
      if ((isMap(node) || isSeq(node) || isScalar(node)) && node.range) return lines.linePos(node.range[0]).line;
    }
    return 1;
  };
}

/** Parses and checks a seed file's text; throws SeedFileError naming `file`, the line and the reason. */
export function parseSeedFile(source: string, file: string): SeedEntry[] {
  const lines = new LineCounter();
  // No pretty errors: they quote the source line, which may hold key material.
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const failure = doc.errors[0];
  if (failure) {
    const { line, col } = lines.linePos(failure.pos[0]);
    throw new SeedFileError(`KMS_SEED_FILE ${file}:${line}:${col}: not valid YAML or JSON (${failure.message})`);
  }
  const lineOf = lineFinder(doc, lines);
  try {
    return entriesOf(doc.toJS({ maxAliasCount: 100 }), lineOf);
  } catch (e) {
    if (!(e instanceof SchemaError)) throw e;
    throw new SeedFileError(`KMS_SEED_FILE ${file}:${lineOf(e.path)}: ${e.path.length > 0 ? `${pathText(e.path)}: ` : ''}${e.message}`);
  }
}
