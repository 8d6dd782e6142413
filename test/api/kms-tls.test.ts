// TLS on the KMS endpoint (KMS_TLS_CERT_FILE/KMS_TLS_KEY_FILE): the unmodified AWS SDK over
// HTTPS with a CA bundle, certificates taken up when the files change, aws:SecureTransport true
// over TLS and false over plain HTTP, a development certificate on request, and start-up
// refusing a half or broken configuration. Throwaway certificates from the machine's openssl.
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { requestListener } from '../../src/http/app';
import { reloadingHttpsServer, secureContextOptions } from '../../src/http/tls-files';
import { makeTestPki, type TestPki } from '../support/certificates';
import { startChildService } from '../support/child-service';
import { ACCOUNT, ALICE, REGION, ROOT, startTestService } from '../support/service';
import { createTestToken, type TestToken } from '../support/softhsm';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let pki: TestPki;
let pkiDir: string;
let token: TestToken;
let dataDir: string;
beforeAll(() => {
  pkiDir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-kms-tls-'));
  pki = makeTestPki(pkiDir);
  token = createTestToken('kms-tls');
});
afterAll(() => rmSync(pkiDir, { recursive: true, force: true }));
beforeEach(() => { dataDir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-kms-tls-data-')); });
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const envFor = (overrides: Record<string, string> = {}) => ({
  KMS_DATA_DIR: dataDir, KMS_TOKEN_LABEL: token.label, KMS_PIN: token.pin, KMS_PORT: '0',
  KMS_ROOT_ACCESS_KEY_ID: ROOT.accessKeyId, KMS_ROOT_SECRET_ACCESS_KEY: ROOT.secretAccessKey, ...overrides,
});

/** The AWS SDK as the README shows it: an https Agent trusting the CA bundle. */
function httpsClient(port: number, ca: string, credentials: { accessKeyId: string; secretAccessKey: string } = ROOT): KMSClient {
  return new KMSClient({
    endpoint: `https://127.0.0.1:${port}`, region: REGION, credentials, maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca: readFileSync(ca) }) }),
  });
}

/** The fingerprint of the certificate the server presents now. */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(ca), servername: 'localhost' }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });
}

const fingerprintOf = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;

it('serves the KMS API over HTTPS to the AWS SDK with a CA bundle, and takes up a replaced certificate', async () => {
  const certFile = path.join(dataDir, 'kms.pem');
  const keyFile = path.join(dataDir, 'kms.key');
  copyFileSync(pki.server.cert, certFile);
  copyFileSync(pki.server.key, keyFile);
  const child = startChildService(envFor({ KMS_TLS_CERT_FILE: certFile, KMS_TLS_KEY_FILE: keyFile, KMS_TLS_POLL_MS: '50' }));
  const port = await child.listening;
  const kms = httpsClient(port, pki.ca.cert);
  try {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const sealed = await kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId!, Plaintext: Buffer.from('over tls') }));
    const opened = await kms.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob! }));
    expect(Buffer.from(opened.Plaintext!).toString()).toBe('over tls');
    // Plain HTTP gets no answer from the TLS port.
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();

    expect(await servedFingerprint(port, pki.ca.cert)).toBe(fingerprintOf(pki.server.cert));
    // A rotation: the new certificate first (it does not match the old key: refused, the old pair stays), then its key.
    copyFileSync(pki.server2.cert, certFile);
    await sleep(200);
    expect(await servedFingerprint(port, pki.ca.cert)).toBe(fingerprintOf(pki.server.cert));
    copyFileSync(pki.server2.key, keyFile);
    let served = '';
    for (let i = 0; i < 100 && served !== fingerprintOf(pki.server2.cert); i++) {
      await sleep(50);
      served = await servedFingerprint(port, pki.ca.cert);
    }
    expect(served).toBe(fingerprintOf(pki.server2.cert));
    // Requests go on over the new certificate.
    await kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId!, Plaintext: Buffer.from('after reload') }));
    const lines = child.logLines();
    expect(lines.some((l) => l.message === 'KMS TLS files refused')).toBe(true);
    expect(lines.some((l) => l.message === 'KMS TLS certificate reloaded')).toBe(true);
  } finally {
    kms.destroy();
    child.process.kill('SIGTERM');
    await child.exited;
  }
}, 60_000);

it('an emptied certificate or key file (a copy caught halfway) is refused, not taken up as "no key"', () => {
  const cert = readFileSync(pki.server.cert, 'utf8');
  const key = readFileSync(pki.server.key, 'utf8');
  // Node alone would accept both and build a context that fails every handshake.
  expect(() => tls.createSecureContext({ cert, key: '' })).not.toThrow();
  expect(() => secureContextOptions(cert, '', undefined, {})).toThrow('the key file is empty');
  expect(() => secureContextOptions('\n', key, undefined, {})).toThrow('the certificate file is empty');
  expect(secureContextOptions(cert, key, undefined, {})).toMatchObject({ cert, key });
});

it('a key policy with an aws:SecureTransport Bool condition allows over TLS and denies over plain HTTP', async () => {
  const svc = await startTestService({ listen: true });
  const served = reloadingHttpsServer({ certFile: pki.server.cert, keyFile: pki.server.key }, {
    what: 'test certificate', context: { minVersion: 'TLSv1.2' }, pollMs: 60_000, onError: () => {}, onReload: () => {},
  }, {}, requestListener(svc.app));
  await new Promise<void>((resolve) => served.server.listen(0, '127.0.0.1', resolve));
  const overTls = httpsClient((served.server.address() as AddressInfo).port, pki.ca.cert, ALICE);
  const overHttp = new KMSClient({ endpoint: svc.url!, region: REGION, credentials: ALICE, maxAttempts: 1 });
  const root = new KMSClient({ endpoint: svc.url!, region: REGION, credentials: ROOT, maxAttempts: 1 });
  try {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'Root', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
        { Sid: 'AliceOverTlsOnly', Effect: 'Allow', Principal: { AWS: ALICE.principalArn }, Action: 'kms:Encrypt', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'true' } } },
      ],
    });
    const { KeyMetadata } = await root.send(new CreateKeyCommand({ Policy: policy }));
    const encrypt = new EncryptCommand({ KeyId: KeyMetadata!.Arn!, Plaintext: Buffer.from('x') });
    await expect(overTls.send(encrypt)).resolves.toMatchObject({ KeyId: KeyMetadata!.Arn });
    await expect(overHttp.send(encrypt)).rejects.toMatchObject({ name: 'AccessDeniedException' });
  } finally {
    overTls.destroy();
    overHttp.destroy();
    root.destroy();
    served.stop();
    served.server.closeAllConnections();
    await new Promise((resolve) => served.server.close(resolve));
    await svc.close();
  }
}, 30_000);

it('KMS_TLS_DEV_CERT makes a development certificate and names the CA bundle to give clients', async () => {
  const child = startChildService(envFor({ KMS_TLS_DEV_CERT: '1' }));
  const port = await child.listening;
  const caBundle = path.join(dataDir, 'tls', 'dev-ca.pem');
  const kms = httpsClient(port, caBundle);
  try {
    expect(child.logLines().some((l) => l.message === 'TLS development certificate created' && l.caBundle === caBundle)).toBe(true);
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    await kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId!, Plaintext: Buffer.from('dev') }));
  } finally {
    kms.destroy();
    child.process.kill('SIGTERM');
    await child.exited;
  }
}, 60_000);

it("the KMS endpoint's TLS needs both a certificate file and a key file, or neither.", async () => {
  for (const half of [{ KMS_TLS_CERT_FILE: pki.server.cert }, { KMS_TLS_KEY_FILE: pki.server.key }] as Record<string, string>[]) {
    const { code, stderr, stdout } = await startChildService(envFor(half)).exited;
    expect(code).toBe(2);
    expect(stderr).toContain('set both KMS_TLS_CERT_FILE and KMS_TLS_KEY_FILE, or neither');
    expect(stdout).not.toContain('"message":"listening"');
  }
}, 60_000);

it('the KMS endpoint refuses to start when its certificate and key do not load or do not match.', async () => {
  const garbage = path.join(dataDir, 'garbage.pem');
  writeFileSync(garbage, 'not a certificate\n');
  for (const [certFile, keyFile] of [[pki.server.cert, pki.server2.key], [garbage, pki.server.key]] as const) {
    const { code, stderr, stdout } = await startChildService(envFor({ KMS_TLS_CERT_FILE: certFile, KMS_TLS_KEY_FILE: keyFile })).exited;
    expect(code).toBe(1);
    expect(stderr).toContain(`KMS_TLS_CERT_FILE ${certFile} and KMS_TLS_KEY_FILE ${keyFile} do not load as a matching PEM certificate and private key`);
    expect(stdout).not.toContain('"message":"listening"');
    // No key material in the sentence.
    expect(stderr).not.toContain('PRIVATE KEY');
  }
}, 60_000);
