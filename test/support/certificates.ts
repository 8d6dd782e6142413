// Throwaway certificates for TLS tests, made with the machine's openssl: a CA, server
// certificates for localhost and 127.0.0.1, and client certificates good and bad (another CN,
// self-signed, expired, from another CA). Test-only keys in a temporary directory.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface KeyPair {
  cert: string;
  key: string;
}

export interface TestPki {
  ca: KeyPair;
  server: KeyPair;
  /** Another server certificate, for reload tests. */
  server2: KeyPair;
  /** CN cks.kms.us-east-1.amazonaws.com, chained to ca. */
  client: KeyPair;
  /** Chained to ca, another CN. */
  otherCn: KeyPair;
  /** The right CN, self-signed. */
  selfSigned: KeyPair;
  /** The right CN, chained to ca, valid only in January 2020. */
  expired: KeyPair;
  /** The right CN, from another CA. */
  foreign: KeyPair;
}

export const KMS_CLIENT_CN = 'cks.kms.us-east-1.amazonaws.com';

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function request(dir: string, name: string, cn: string): void {
  openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
}

function signWith(dir: string, ca: string, name: string, extensions: string): KeyPair {
  writeFileSync(path.join(dir, `${name}.ext`), extensions);
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
}

function selfSignedCa(dir: string, name: string, cn: string): KeyPair {
  openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', `/CN=${cn}`, '-days', '2',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
}

const serverExtensions = 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n';
const clientExtensions = 'extendedKeyUsage=clientAuth\n';

/** An expired certificate needs explicit dates, which only `openssl ca` takes in OpenSSL 3.0. */
function expiredClient(dir: string): KeyPair {
  const caDir = path.join(dir, 'ca-db');
  mkdirSync(path.join(caDir, 'new'), { recursive: true });
  writeFileSync(path.join(caDir, 'index.txt'), '');
  writeFileSync(path.join(caDir, 'serial'), '1000\n');
  writeFileSync(path.join(dir, 'ca.cnf'), [
    '[ca]', 'default_ca = test_ca', '[test_ca]', `database = ${caDir}/index.txt`, `new_certs_dir = ${caDir}/new`, `serial = ${caDir}/serial`,
    `certificate = ${dir}/ca.pem`, `private_key = ${dir}/ca.key`, 'default_md = sha256', 'policy = any', 'unique_subject = no', 'copy_extensions = none',
    '[any]', 'commonName = supplied', '[client]', 'extendedKeyUsage = clientAuth', '',
  ].join('\n'));
  request(dir, 'expired', KMS_CLIENT_CN);
  openssl(dir, 'ca', '-batch', '-config', 'ca.cnf', '-in', 'expired.csr', '-out', 'expired.pem', '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-extensions', 'client', '-notext');
  return { cert: path.join(dir, 'expired.pem'), key: path.join(dir, 'expired.key') };
}

export function makeTestPki(dir: string): TestPki {
  mkdirSync(dir, { recursive: true });
  const ca = selfSignedCa(dir, 'ca', 'hsm-kms test CA');
  selfSignedCa(dir, 'foreign-ca', 'another CA');
  request(dir, 'server', 'localhost');
  request(dir, 'server2', 'localhost');
  request(dir, 'client', KMS_CLIENT_CN);
  request(dir, 'other', 'someone.else.example');
  request(dir, 'foreign', KMS_CLIENT_CN);
  openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'self.key', '-out', 'self.pem', '-subj', `/CN=${KMS_CLIENT_CN}`, '-days', '2');
  return {
    ca,
    server: signWith(dir, 'ca', 'server', serverExtensions),
    server2: signWith(dir, 'ca', 'server2', serverExtensions),
    client: signWith(dir, 'ca', 'client', clientExtensions),
    otherCn: signWith(dir, 'ca', 'other', clientExtensions),
    selfSigned: { cert: path.join(dir, 'self.pem'), key: path.join(dir, 'self.key') },
    expired: expiredClient(dir),
    foreign: signWith(dir, 'foreign-ca', 'foreign', clientExtensions),
  };
}
