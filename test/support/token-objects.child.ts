// Child process: lists every object of a token, as an auditor would, in a process of its own
// (a fresh C_Initialize sees what other processes wrote). Prints [{ id, label }] as JSON.
import * as pkcs11js from 'pkcs11js';
import { SOFTHSM_MODULE } from '../../src/config';

const [label, pin] = process.argv.slice(2) as [string, string];
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
const read = (h: pkcs11js.Handle, type: number) => {
  try {
    return (lib.C_GetAttributeValue(session, h, [{ type }])[0]!.value as Buffer);
  } catch {
    return Buffer.alloc(0);
  }
};
process.stdout.write(JSON.stringify(handles.map((h) => ({ id: read(h, pkcs11js.CKA_ID).toString('hex'), label: read(h, pkcs11js.CKA_LABEL).toString() }))));
lib.C_Finalize();
