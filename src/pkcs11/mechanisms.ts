// Mechanism parameters, built from the token profile.
import * as pkcs11js from 'pkcs11js';
import type { TokenProfile } from './profile';

export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;

export function aesGcm(profile: TokenProfile, iv: Buffer, aad: Buffer): pkcs11js.Mechanism {
  return {
    mechanism: pkcs11js.CKM_AES_GCM,
    parameter: {
      type: profile.gcmParams === 'v240' ? pkcs11js.CK_PARAMS_AES_GCM_v240 : pkcs11js.CK_PARAMS_AES_GCM,
      iv,
      aad,
      ivBits: GCM_IV_BYTES * 8,
      tagBits: GCM_TAG_BYTES * 8,
    } as pkcs11js.IParams,
  };
}

export const aesKeyGen: pkcs11js.Mechanism = { mechanism: pkcs11js.CKM_AES_KEY_GEN };
