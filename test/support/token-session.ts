// For child processes that inspect a token as an auditor would: a fresh C_Initialize (which sees
// what other processes wrote), the user logged in, and the handles of every object.
import * as pkcs11js from 'pkcs11js';
import { SOFTHSM_MODULE } from '../../src/config';

export interface TokenInspection {
  lib: pkcs11js.PKCS11;
  session: pkcs11js.Handle;
  handles: pkcs11js.Handle[];
}

export function inspectToken(label: string, pin: string): TokenInspection {
  const lib = new pkcs11js.PKCS11();
  lib.load(SOFTHSM_MODULE);
  lib.C_Initialize();
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === label);
  if (slot === undefined) throw new Error(`no token ${label}`);
  const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
  lib.C_Login(session, pkcs11js.CKU_USER, pin);
  lib.C_FindObjectsInit(session, []);
  const handles = lib.C_FindObjects(session, 100_000);
  lib.C_FindObjectsFinal(session);
  return { lib, session, handles };
}
