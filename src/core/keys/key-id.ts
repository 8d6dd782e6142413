// Key identifiers: the one place that parses key ids, key ARNs, alias names and alias ARNs.
import { randomBytes, randomUUID } from 'node:crypto';

export const PARTITION = 'aws';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const mrkPattern = /^mrk-[0-9a-f]{32}$/;
const aliasNamePattern = /^alias\/[A-Za-z0-9/_-]{1,256}$/;
const arnPattern = /^arn:([a-z-]+):kms:([a-z0-9-]+):(\d{12}):(key|alias)\/(.+)$/;

export type KeyReference =
  | { kind: 'keyId'; keyId: string }
  | { kind: 'keyArn'; region: string; accountId: string; keyId: string }
  | { kind: 'aliasName'; aliasName: string }
  | { kind: 'aliasArn'; region: string; accountId: string; aliasName: string }
  /** Syntactically not a key reference at all; answered with "Invalid keyId". */
  | { kind: 'invalid'; raw: string };

export function isKeyId(value: string): boolean {
  return uuidPattern.test(value) || mrkPattern.test(value);
}

export function isAliasName(value: string): boolean {
  return aliasNamePattern.test(value);
}

export function parseKeyReference(raw: string): KeyReference {
  if (isKeyId(raw)) return { kind: 'keyId', keyId: raw };
  if (raw.startsWith('alias/')) return { kind: 'aliasName', aliasName: raw };
  const arn = arnPattern.exec(raw);
  if (arn) {
    const [, , region, accountId, type, rest] = arn as unknown as [string, string, string, string, string, string];
    if (type === 'key' && isKeyId(rest)) return { kind: 'keyArn', region, accountId, keyId: rest };
    if (type === 'alias') return { kind: 'aliasArn', region, accountId, aliasName: `alias/${rest}` };
  }
  return { kind: 'invalid', raw };
}

export function newKeyId(): string {
  return randomUUID();
}

/** A multi-Region key's id: mrk- and 32 random lowercase hex characters. */
export function newMultiRegionKeyId(): string {
  return `mrk-${randomBytes(16).toString('hex')}`;
}

/** KeyMaterialId, as AWS names key versions: 32 random bytes in hex. */
export function newKeyMaterialId(): string {
  return randomBytes(32).toString('hex');
}

/** 16 bytes that identify a key id inside a ciphertext header. */
export function keyIdToBytes(keyId: string): { form: number; bytes: Buffer } {
  if (uuidPattern.test(keyId)) return { form: 0, bytes: Buffer.from(keyId.replace(/-/g, ''), 'hex') };
  if (mrkPattern.test(keyId)) return { form: 1, bytes: Buffer.from(keyId.slice(4), 'hex') };
  throw new Error(`not a key id: ${keyId}`);
}

export function keyIdFromBytes(form: number, bytes: Buffer): string | undefined {
  const hex = bytes.toString('hex');
  if (form === 0) return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  if (form === 1) return `mrk-${hex}`;
  return undefined;
}
