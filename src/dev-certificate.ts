// KMS_TLS_DEV_CERT: a development CA and a server certificate signed by it, for localhost,
// 127.0.0.1 and ::1, made with the machine's openssl under <data>/tls when missing or about to
// expire. Clients trust the CA file (the CA bundle), so the server certificate can be renewed
// without touching them. Never for production: the CA's key sits beside the certificate.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A server certificate this close to expiry is made again at start-up. */
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;
const SERVER_DAYS = 90;
const CA_DAYS = 3650;

export interface DevCertificate {
  certFile: string;
  keyFile: string;
  /** Give this file to clients (AWS CLI --ca-bundle, AWS_CA_BUNDLE, an https Agent's `ca`). */
  caBundle: string;
  /** Whether this start made (or renewed) the server certificate. */
  created: boolean;
}

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(missing
      ? 'KMS_TLS_DEV_CERT needs the openssl command (apt-get install openssl)'
      : `KMS_TLS_DEV_CERT: openssl ${args[0]} failed: ${String((e as { stderr?: Buffer }).stderr ?? e).trim().split('\n')[0]}`);
  }
}

function usable(certFile: string, keyFile: string, caFile: string): boolean {
  if (!existsSync(certFile) || !existsSync(keyFile) || !existsSync(caFile)) return false;
  try {
    const cert = new X509Certificate(readFileSync(certFile));
    return new Date(cert.validTo).getTime() - Date.now() > RENEW_BEFORE_MS && cert.verify(new X509Certificate(readFileSync(caFile)).publicKey);
  } catch {
    return false;
  }
}

/** The development certificate under `dir` (made when missing, expiring, or not signed by the CA there). */
export function ensureDevCertificate(dir: string, files: { certFile: string; keyFile: string }): DevCertificate {
  const caBundle = path.join(dir, 'dev-ca.pem');
  const caKey = path.join(dir, 'dev-ca.key');
  if (usable(files.certFile, files.keyFile, caBundle)) return { ...files, caBundle, created: false };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(caBundle) || !existsSync(caKey)) {
    openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caBundle,
      '-subj', '/CN=hsm-kms development CA', '-days', String(CA_DAYS),
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  }
  const csr = path.join(dir, 'server.csr');
  const extensions = path.join(dir, 'server.ext');
  writeFileSync(extensions, 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n');
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', files.keyFile, '-out', csr, '-subj', '/CN=localhost']);
  openssl(dir, ['x509', '-req', '-in', csr, '-CA', caBundle, '-CAkey', caKey, '-CAcreateserial', '-out', files.certFile, '-days', String(SERVER_DAYS), '-extfile', extensions]);
  return { ...files, caBundle, created: true };
}
