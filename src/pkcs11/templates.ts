// The single place that decides the attributes of every object the service creates.
// Every key is a token object, private, sensitive and non-extractable: the material can
// be used inside the token and never read out.
import * as pkcs11js from 'pkcs11js';

export interface SecretKeySpec {
  objectId: string;
  label: string;
  keyType: 'AES' | 'GENERIC_SECRET';
  valueLength: number;
  usage: { encrypt?: boolean; decrypt?: boolean; sign?: boolean; verify?: boolean; wrap?: boolean; unwrap?: boolean; derive?: boolean };
}

function custodyAttributes(): pkcs11js.Template {
  return [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_MODIFIABLE, value: false },
  ];
}

export function secretKeyTemplate(spec: SecretKeySpec): pkcs11js.Template {
  const u = spec.usage;
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: spec.keyType === 'AES' ? pkcs11js.CKK_AES : pkcs11js.CKK_GENERIC_SECRET },
    { type: pkcs11js.CKA_VALUE_LEN, value: spec.valueLength },
    { type: pkcs11js.CKA_ID, value: Buffer.from(spec.objectId, 'hex') },
    { type: pkcs11js.CKA_LABEL, value: spec.label },
    ...custodyAttributes(),
    { type: pkcs11js.CKA_ENCRYPT, value: !!u.encrypt },
    { type: pkcs11js.CKA_DECRYPT, value: !!u.decrypt },
    { type: pkcs11js.CKA_SIGN, value: !!u.sign },
    { type: pkcs11js.CKA_VERIFY, value: !!u.verify },
    { type: pkcs11js.CKA_WRAP, value: !!u.wrap },
    { type: pkcs11js.CKA_UNWRAP, value: !!u.unwrap },
    { type: pkcs11js.CKA_DERIVE, value: !!u.derive },
  ];
}

/** Finds the service's objects by CKA_ID, whatever their class. */
export function findByIdTemplate(objectId: string): pkcs11js.Template {
  return [{ type: pkcs11js.CKA_ID, value: Buffer.from(objectId, 'hex') }];
}
