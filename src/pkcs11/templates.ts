// The single place that decides the attributes of every object the service creates.
// A KMS key (a secret key, or both halves of a key pair) is a token object, private and
// unmodifiable; its secret half is sensitive and non-extractable, so the material can be used
// inside the token and never read out. The only objects whose value is ever read are session
// objects made for values the API hands out by design (data key pairs, ECDH shared secrets),
// destroyed as soon as they are read.
import * as pkcs11js from 'pkcs11js';
import type { KeyPairPurpose } from '../core/key-stores/port';
import { CKK_EC_EDWARDS, type KeyPairAlgorithm } from './mechanisms';

interface Usage {
  encrypt?: boolean;
  decrypt?: boolean;
  sign?: boolean;
  verify?: boolean;
  wrap?: boolean;
  unwrap?: boolean;
  derive?: boolean;
}

export interface SecretKeySpec {
  objectId: string;
  label: string;
  keyType: 'AES' | 'GENERIC_SECRET';
  valueLength: number;
  usage: Usage;
}

/**
 * 'kms': a KMS key version, on the token for good. 'handed-out': a session object whose value
 * the caller receives, so it must be readable; it dies with the session at the latest.
 * 'staging': a session object as secret as a KMS key, used within one call and destroyed
 * (imported material under check, the AES key of an RSA-AES import).
 */
type Custody = 'kms' | 'handed-out' | 'staging';
type Half = 'secret' | 'private' | 'public';

function custodyAttributes(custody: Custody, half: Half): pkcs11js.Template {
  const kms = custody === 'kms';
  const secret = custody !== 'handed-out';
  const template: pkcs11js.Template = [
    { type: pkcs11js.CKA_TOKEN, value: kms },
    // Only the service's logged-in sessions see any of its objects, public halves included.
    { type: pkcs11js.CKA_PRIVATE, value: true },
  ];
  if (half !== 'public') {
    template.push(
      { type: pkcs11js.CKA_SENSITIVE, value: secret },
      { type: pkcs11js.CKA_EXTRACTABLE, value: !secret },
    );
  }
  if (kms) template.push({ type: pkcs11js.CKA_MODIFIABLE, value: false });
  return template;
}

function usageAttributes(half: Half, u: Usage): pkcs11js.Template {
  const template: pkcs11js.Template = [];
  if (half !== 'public') {
    template.push(
      { type: pkcs11js.CKA_DECRYPT, value: !!u.decrypt },
      { type: pkcs11js.CKA_SIGN, value: !!u.sign },
      { type: pkcs11js.CKA_UNWRAP, value: !!u.unwrap },
      { type: pkcs11js.CKA_DERIVE, value: !!u.derive },
    );
  }
  if (half !== 'private') {
    template.push(
      { type: pkcs11js.CKA_ENCRYPT, value: !!u.encrypt },
      { type: pkcs11js.CKA_VERIFY, value: !!u.verify },
      { type: pkcs11js.CKA_WRAP, value: !!u.wrap },
    );
  }
  // The raw RSA private operation must not be reachable through sign-with-recovery.
  if (half === 'private') template.push({ type: pkcs11js.CKA_SIGN_RECOVER, value: false });
  if (half === 'public') template.push({ type: pkcs11js.CKA_VERIFY_RECOVER, value: false });
  return template;
}

function naming(objectId: string | undefined, label: string): pkcs11js.Template {
  return [
    ...(objectId !== undefined ? [{ type: pkcs11js.CKA_ID, value: Buffer.from(objectId, 'hex') }] : []),
    { type: pkcs11js.CKA_LABEL, value: label },
  ];
}

export function secretKeyTemplate(spec: SecretKeySpec): pkcs11js.Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: spec.keyType === 'AES' ? pkcs11js.CKK_AES : pkcs11js.CKK_GENERIC_SECRET },
    { type: pkcs11js.CKA_VALUE_LEN, value: spec.valueLength },
    ...naming(spec.objectId, spec.label),
    ...custodyAttributes('kms', 'secret'),
    ...usageAttributes('secret', spec.usage),
  ];
}

/**
 * An XKS proxy external key: an AES-256 token object with a KMS key's custody, whose CKA_ENCRYPT
 * and CKA_DECRYPT are exactly what its usage permits (both, one, or neither), so the token
 * itself refuses any other use.
 */
export function externalKeyTemplate(objectId: string, label: string, permissions: { encrypt: boolean; decrypt: boolean }): pkcs11js.Template {
  return secretKeyTemplate({ objectId, label, keyType: 'AES', valueLength: 32, usage: { encrypt: permissions.encrypt, decrypt: permissions.decrypt } });
}

const purposeUsage: Record<KeyPairPurpose, Usage> = {
  SIGN_VERIFY: { sign: true, verify: true },
  ENCRYPT_DECRYPT: { encrypt: true, decrypt: true },
  KEY_AGREEMENT: { derive: true },
};

export interface KeyPairTemplates {
  publicKey: pkcs11js.Template;
  privateKey: pkcs11js.Template;
}

/** `components`: the key's own values (C_CreateObject of an imported key); absent when the token generates the pair. */
function keyPairTemplates(
  algorithm: KeyPairAlgorithm, custody: Custody, objectId: string | undefined, label: string, usage: Usage, components?: KeyPairTemplates,
): KeyPairTemplates {
  const keyType = { RSA: pkcs11js.CKK_RSA, EC: pkcs11js.CKK_EC, EDWARDS: CKK_EC_EDWARDS }[algorithm.kind];
  const domain: pkcs11js.Template = algorithm.kind === 'RSA'
    ? [{ type: pkcs11js.CKA_MODULUS_BITS, value: algorithm.bits }, { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([0x01, 0x00, 0x01]) }]
    : [{ type: pkcs11js.CKA_EC_PARAMS, value: algorithm.curve.params }];
  return {
    publicKey: [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: keyType },
      ...naming(objectId, label),
      ...custodyAttributes(custody, 'public'),
      ...usageAttributes('public', usage),
      ...(components ? components.publicKey : domain),
    ],
    privateKey: [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: keyType },
      ...naming(objectId, label),
      ...custodyAttributes(custody, 'private'),
      ...usageAttributes('private', usage),
      ...(components ? components.privateKey : []),
    ],
  };
}

/** A KMS asymmetric key: both halves on the token under one CKA_ID and label; usage from the purpose. */
export function kmsKeyPairTemplates(objectId: string, label: string, algorithm: KeyPairAlgorithm, purpose: KeyPairPurpose): KeyPairTemplates {
  return keyPairTemplates(algorithm, 'kms', objectId, label, purposeUsage[purpose]);
}

/** A data key pair: session objects, the private half readable, no usage in the token. */
export function dataKeyPairTemplates(algorithm: KeyPairAlgorithm): KeyPairTemplates {
  return keyPairTemplates(algorithm, 'handed-out', undefined, 'kms:data-key-pair', {});
}

// ---- Key import (BYOK)

/** The RSA key pair GetParametersForImport hands out: the private half unwraps and decrypts (for host-side unpadding), nothing else; the public half does nothing in the token. */
export function wrappingKeyPairTemplates(objectId: string, label: string, algorithm: KeyPairAlgorithm): KeyPairTemplates {
  return keyPairTemplates(algorithm, 'kms', objectId, label, { decrypt: true, unwrap: true });
}

export const importedSecretUsage: Record<'AES' | 'GENERIC_SECRET', Usage> = {
  AES: { encrypt: true, decrypt: true },
  GENERIC_SECRET: { sign: true, verify: true },
};

function secretKeyHeader(keyType: 'AES' | 'GENERIC_SECRET'): pkcs11js.Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: keyType === 'AES' ? pkcs11js.CKK_AES : pkcs11js.CKK_GENERIC_SECRET },
  ];
}

/**
 * Imported material unwrapped inside the token: a staging session object with the KMS key's
 * usage, checked before C_CopyObject (persistTemplate) makes the token object.
 */
export function importStagingTemplate(keyType: 'AES' | 'GENERIC_SECRET'): pkcs11js.Template {
  return [...secretKeyHeader(keyType), ...naming(undefined, 'kms:import-staging'), ...custodyAttributes('staging', 'secret'), ...usageAttributes('secret', importedSecretUsage[keyType])];
}

/** The AES key of an RSA_AES_KEY_WRAP import, in the token for one unwrap: a staging session object that only unwraps. */
export function importKekTemplate(value?: Buffer): pkcs11js.Template {
  return [
    ...secretKeyHeader('AES'), ...naming(undefined, 'kms:import-kek'), ...custodyAttributes('staging', 'secret'), ...usageAttributes('secret', { unwrap: true }),
    ...(value ? [{ type: pkcs11js.CKA_VALUE, value }] : []),
  ];
}

/**
 * Imported material unwrapped on the host, for C_CreateObject: a KMS key version under
 * `target`, or a staging session object when only its check value is wanted. CKA_VALUE_LEN is
 * not given: C_CreateObject takes the length from CKA_VALUE.
 */
export function importedSecretTemplate(keyType: 'AES' | 'GENERIC_SECRET', value: Buffer, target?: { objectId: string; label: string }): pkcs11js.Template {
  return [
    ...secretKeyHeader(keyType),
    ...(target ? naming(target.objectId, target.label) : naming(undefined, 'kms:import-staging')),
    ...custodyAttributes(target ? 'kms' : 'staging', 'secret'),
    ...usageAttributes('secret', importedSecretUsage[keyType]),
    { type: pkcs11js.CKA_VALUE, value },
  ];
}

/** C_CopyObject of a checked staging object into the KMS key version: CKA_MODIFIABLE last, as SoftHSM applies the template in order and refuses attributes after it. */
export function persistTemplate(objectId: string, label: string): pkcs11js.Template {
  return [{ type: pkcs11js.CKA_TOKEN, value: true }, ...naming(objectId, label), { type: pkcs11js.CKA_MODIFIABLE, value: false }];
}

/** An imported private key and its public half, from their components, as a KMS key pair under one CKA_ID. */
export function importedKeyPairTemplates(
  objectId: string, label: string, algorithm: KeyPairAlgorithm, purpose: KeyPairPurpose, components: KeyPairTemplates,
): KeyPairTemplates {
  return keyPairTemplates(algorithm, 'kms', objectId, label, purposeUsage[purpose], components);
}

/** The ECDH shared secret as a readable session object of `valueLength` bytes. */
export function sharedSecretTemplate(valueLength: number): pkcs11js.Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
    { type: pkcs11js.CKA_VALUE_LEN, value: valueLength },
    { type: pkcs11js.CKA_LABEL, value: 'kms:shared-secret' },
    ...custodyAttributes('handed-out', 'secret'),
    ...usageAttributes('secret', {}),
  ];
}

export type ObjectClass = 'secret' | 'private' | 'public';

const classes: Record<ObjectClass, number> = {
  secret: pkcs11js.CKO_SECRET_KEY,
  private: pkcs11js.CKO_PRIVATE_KEY,
  public: pkcs11js.CKO_PUBLIC_KEY,
};

/** Finds the service's objects by CKA_ID: of one class, or whatever their class. */
export function findByIdTemplate(objectId: string, objectClass?: ObjectClass): pkcs11js.Template {
  return [
    { type: pkcs11js.CKA_ID, value: Buffer.from(objectId, 'hex') },
    ...(objectClass ? [{ type: pkcs11js.CKA_CLASS, value: classes[objectClass] }] : []),
  ];
}
