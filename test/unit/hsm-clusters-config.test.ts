// KMS_HSM_CLUSTERS_FILE: the tokens AWS_CLOUDHSM custom key stores may use, checked strictly,
// each mistake told in one sentence naming the file and the entry.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, loadConfigSections, parseHsmClusters, SOFTHSM_MODULE } from '../../src/config';

let dir: string;
beforeAll(() => { dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-clusters-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FILE = '/etc/hsm-kms/clusters.json';
const ok = { id: 'cluster-2a3b4c5d6e7', module: SOFTHSM_MODULE, tokenLabel: 'tenant-a' };
const parse = (doc: unknown) => parseHsmClusters(JSON.stringify(doc), FILE);
const refusal = (doc: unknown) => {
  try {
    parse(doc);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('accepted');
};

function writeClusters(doc: unknown): string {
  const file = path.join(dir, `clusters-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return file;
}

it('no file, no clusters', () => {
  expect(loadConfigSections(['clusters'], {})).toEqual({ hsmClusters: [] });
});

it('reads the declarations, with an optional softhsmConf, and the server loads them', () => {
  const doc = { clusters: [ok, { id: 'cluster-zzzzzzzzzzzzzzzz', module: '/opt/hsm/lib/libvendor.so', tokenLabel: 'tenant-b', softhsmConf: '/etc/softhsm/b.conf' }] };
  const file = writeClusters(doc);
  const config = loadConfigSections(['clusters'], { KMS_HSM_CLUSTERS_FILE: file });
  expect(config).toEqual({ hsmClustersFile: file, hsmClusters: doc.clusters });
  expect(Object.isFrozen(config.hsmClusters)).toBe(true);
  const server = loadConfig({ KMS_DATA_DIR: dir, KMS_PIN: '1234', KMS_ROOT_ACCESS_KEY_ID: 'a', KMS_ROOT_SECRET_ACCESS_KEY: 'b', KMS_HSM_CLUSTERS_FILE: file });
  expect(server.hsmClusters).toHaveLength(2);
  expect(parse({ clusters: [] })).toEqual([]);
});

it('says which file cannot be read or parsed', () => {
  expect(() => loadConfigSections(['clusters'], { KMS_HSM_CLUSTERS_FILE: path.join(dir, 'missing.json') })).toThrow(/cannot read the HSM clusters file .*missing\.json \(KMS_HSM_CLUSTERS_FILE\): ENOENT/);
  const bad = writeClusters('{"clusters": [');
  expect(() => loadConfigSections(['clusters'], { KMS_HSM_CLUSTERS_FILE: bad })).toThrow(new RegExp(`HSM clusters file ${bad} is not valid JSON`));
});

it.each([
  ['not an object', [ok], `HSM clusters file ${FILE} must hold an object with a "clusters" array`],
  ['no clusters array', { clusters: ok }, `HSM clusters file ${FILE} must hold an object with a "clusters" array`],
  ['an unknown top-level field', { clusters: [], version: 1 }, `HSM clusters file ${FILE} has an unknown top-level field 'version' (only "clusters" is allowed)`],
  ['an entry that is not an object', { clusters: ['cluster-2a3b4c5d6e7'] }, `HSM clusters file ${FILE}: clusters[0] must be an object`],
  ['an unknown field', { clusters: [{ ...ok, pin: '1234' }] }, `HSM clusters file ${FILE}: clusters[0] (cluster-2a3b4c5d6e7) has an unknown field 'pin' (allowed: id, module, tokenLabel, softhsmConf)`],
  ['a slot', { clusters: [{ ...ok, slot: 0 }] }, `HSM clusters file ${FILE}: clusters[0] (cluster-2a3b4c5d6e7) has a "slot", which is not supported: the token is found by its tokenLabel`],
  ['no id', { clusters: [{ module: ok.module, tokenLabel: 'x' }] }, `HSM clusters file ${FILE}: clusters[0] needs an "id" of the form cluster-<11 to 16 characters of a-z and 2-7>, like AWS cluster ids`],
  ['an id with characters outside base32', { clusters: [{ ...ok, id: 'cluster-1234567890a' }] }, 'clusters[0] (cluster-1234567890a) needs an "id" of the form'],
  ['an id too short', { clusters: [{ ...ok, id: 'cluster-abcdefghij' }] }, 'clusters[0] (cluster-abcdefghij) needs an "id"'],
  ['an id too long', { clusters: [{ ...ok, id: 'cluster-abcdefghijklmnopq' }] }, 'needs an "id"'],
  ['an upper-case id', { clusters: [{ ...ok, id: 'cluster-ABCDEFGHIJK' }] }, 'needs an "id"'],
  ['a duplicate id', { clusters: [ok, { ...ok, tokenLabel: 'tenant-b' }] }, `HSM clusters file ${FILE}: clusters[1] (cluster-2a3b4c5d6e7) repeats the id of clusters[0]`],
  ['no module', { clusters: [{ id: ok.id, tokenLabel: 'x' }] }, 'clusters[0] (cluster-2a3b4c5d6e7) needs a "module": the absolute path of its PKCS#11 module'],
  ['a relative module path', { clusters: [{ ...ok, module: 'libsofthsm2.so' }] }, `HSM clusters file ${FILE}: clusters[0] (cluster-2a3b4c5d6e7) has module 'libsofthsm2.so', which is not an absolute path`],
  ['no tokenLabel', { clusters: [{ id: ok.id, module: ok.module }] }, 'clusters[0] (cluster-2a3b4c5d6e7) needs a "tokenLabel" of 1 to 32 bytes'],
  ['a tokenLabel over 32 bytes', { clusters: [{ ...ok, tokenLabel: 'x'.repeat(33) }] }, 'needs a "tokenLabel" of 1 to 32 bytes'],
  ['a relative softhsmConf', { clusters: [{ ...ok, softhsmConf: 'softhsm2.conf' }] }, 'clusters[0] (cluster-2a3b4c5d6e7) has a "softhsmConf" that is not an absolute path'],
  ['the same token twice', { clusters: [ok, { ...ok, id: 'cluster-3a3b4c5d6e7' }] }, 'clusters[1] (cluster-3a3b4c5d6e7) declares the same token as clusters[0] (one token backs one cluster)'],
])('refuses %s', (_what, doc, message) => {
  expect(refusal(doc)).toContain(message);
});

it('each refusal is one sentence', () => {
  const message = refusal({ clusters: [{ ...ok, module: 'lib.so' }] });
  expect(message.split(/[.!?]\s/)).toHaveLength(1);
});

it('the same label with another SoftHSM configuration is another token', () => {
  expect(parse({ clusters: [ok, { ...ok, id: 'cluster-3a3b4c5d6e7', softhsmConf: '/etc/softhsm/other.conf' }] })).toHaveLength(2);
});

it('refuses the default token as a cluster: its login is the service own', () => {
  const file = writeClusters({ clusters: [{ ...ok, tokenLabel: 'hsm-kms-dev' }] });
  expect(() => loadConfigSections(['clusters'], { KMS_HSM_CLUSTERS_FILE: file, KMS_DATA_DIR: dir })).toThrow(
    `HSM clusters file ${file}: clusters[0] (cluster-2a3b4c5d6e7) declares the default token (KMS_TOKEN_LABEL 'hsm-kms-dev'), which cannot back a custom key store`,
  );
  const named = writeClusters({ clusters: [ok] });
  expect(() => loadConfigSections(['clusters'], { KMS_HSM_CLUSTERS_FILE: named, KMS_TOKEN_LABEL: 'tenant-a', SOFTHSM2_CONF: '/etc/softhsm2.conf' })).toThrow(/declares the default token/);
  // Same label, but the cluster reads another SoftHSM configuration: another token.
  const elsewhere = writeClusters({ clusters: [{ ...ok, softhsmConf: '/etc/softhsm/tenants.conf' }] });
  expect(loadConfigSections(['clusters'], { KMS_HSM_CLUSTERS_FILE: elsewhere, KMS_TOKEN_LABEL: 'tenant-a', SOFTHSM2_CONF: '/etc/softhsm2.conf' }).hsmClusters).toHaveLength(1);
});
