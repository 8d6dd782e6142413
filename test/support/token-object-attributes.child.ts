// Child process: the custody attributes of every key object in a token whose label starts with a
// prefix, read through a PKCS#11 session of its own (a fresh C_Initialize sees what other
// processes wrote). Prints [{ label, class, sensitive, extractable, valueReadError }] as JSON.
import * as pkcs11js from 'pkcs11js';
import { inspectToken } from './token-session';

const [label, pin, prefix] = process.argv.slice(2) as [string, string, string];
const { lib, session, handles } = inspectToken(label, pin);
const attribute = (h: pkcs11js.Handle, type: number) => (lib.C_GetAttributeValue(session, h, [{ type }])[0]!.value as Buffer);
const classes: Record<number, string> = { [pkcs11js.CKO_SECRET_KEY]: 'secret', [pkcs11js.CKO_PRIVATE_KEY]: 'private', [pkcs11js.CKO_PUBLIC_KEY]: 'public' };
const objects = handles
  .map((h) => ({ h, label: attribute(h, pkcs11js.CKA_LABEL).toString() }))
  .filter(({ label: l }) => l.startsWith(prefix))
  .map(({ h, label: l }) => {
    const cls = classes[attribute(h, pkcs11js.CKA_CLASS).readUInt32LE(0)] ?? 'other';
    if (cls === 'public') return { label: l, class: cls };
    let valueReadError: string | undefined;
    // The secret part: an RSA private key has no CKA_VALUE, its private exponent is the secret.
    const secret = attribute(h, pkcs11js.CKA_KEY_TYPE).readUInt32LE(0) === pkcs11js.CKK_RSA ? pkcs11js.CKA_PRIVATE_EXPONENT : pkcs11js.CKA_VALUE;
    try {
      lib.C_GetAttributeValue(session, h, [{ type: secret }]);
    } catch (e) {
      valueReadError = (e as Error).message;
    }
    return { label: l, class: cls, sensitive: attribute(h, pkcs11js.CKA_SENSITIVE)[0] === 1, extractable: attribute(h, pkcs11js.CKA_EXTRACTABLE)[0] === 1, valueReadError };
  });
process.stdout.write(JSON.stringify(objects));
lib.C_Finalize();
