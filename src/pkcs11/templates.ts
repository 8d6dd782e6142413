// The single place that decides the attributes of every object the service creates.
// A KMS key (a secret key, or both halves of a key pair) is a token object, private and
// unmodifiable; its secret half is sensitive and non-extractable, so the material can be used
// inside the token and never read out. The only objects whose value is ever read are session
// objects made for values the API hands out by design (data key pairs, ECDH shared secrets),
// destroyed as soon as they are read.
import * as pkcs11js from 'pkcs11js';
import type { KeyPairPurpose } from '../core/ports';
import type { KeyPairAlgorithm } from './mechanisms';

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
 */
type Custody = 'kms' | 'handed-out';
type Half = 'secret' | 'private' | 'public';

function custodyAttributes(custody: Custody, half: Half): pkcs11js.Template {
  const kms = custody === 'kms';
  const template: pkcs11js.Template = [
    { type: pkcs11js.CKA_TOKEN, value: kms },
    // Only the service's logged-in sessions see any of its objects, public halves included.
    { type: pkcs11js.CKA_PRIVATE, value: true },
  ];
  if (half !== 'public') {
    template.push(
      { type: pkcs11js.CKA_SENSITIVE, value: kms },
      { type: pkcs11js.CKA_EXTRACTABLE, value: !kms },
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

const purposeUsage: Record<KeyPairPurpose, Usage> = {
  SIGN_VERIFY: { sign: true, verify: true },
  ENCRYPT_DECRYPT: { encrypt: true, decrypt: true },
  KEY_AGREEMENT: { derive: true },
};

export interface KeyPairTemplates {
  publicKey: pkcs11js.Template;
  privateKey: pkcs11js.Template;
}

function keyPairTemplates(algorithm: KeyPairAlgorithm, custody: Custody, objectId: string | undefined, label: string, usage: Usage): KeyPairTemplates {
  const keyType = algorithm.kind === 'RSA' ? pkcs11js.CKK_RSA : pkcs11js.CKK_EC;
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
      ...domain,
    ],
    privateKey: [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: keyType },
      ...naming(objectId, label),
      ...custodyAttributes(custody, 'private'),
      ...usageAttributes('private', usage),
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
