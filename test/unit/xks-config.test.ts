// The XKS proxy configuration file, the xks configuration section and the admin command's
// commands that need no token or store.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runAdmin, UsageError } from '../../src/cli/admin';
import { ConfigError, loadConfigSections } from '../../src/config';
import { consoleConfiguration, generateXksCredential, parseXksProxyConfig, XKS_ACCESS_KEY_ID_PATTERN, XKS_SECRET_ACCESS_KEY_PATTERN } from '../../src/xks-config';

const FILE = '/etc/hsm-kms/xks.json';
const credential = { accessKeyId: 'AKIA4GBY3I6JCE5M2HPM', secretAccessKey: '1234567890123456789012345678901234567890123=' };
const second = { accessKeyId: 'SECONDKEY234567SECONDKEY23', secretAccessKey: 'c2Vjb25kLWNyZWRlbnRpYWwtZm9yLXJvdGF0aW9uLXRlc3Q=' };
const store = (overrides: Record<string, unknown> = {}) => ({ uriPathPrefix: '/example/uri/path/prefix', credentials: [credential], ...overrides });
const parse = (config: unknown) => parseXksProxyConfig(JSON.stringify(config), FILE);
const refusal = (config: unknown): string => {
  try {
    parse(config);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected the configuration to be refused');
};

describe('the XKS proxy configuration file', () => {
  it('reads key stores with their credentials, policies and quotas; fleetSize defaults to 1', () => {
    const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] };
    expect(parse({ keyStores: [store({ credentials: [credential, second], policies: [policy], requestsPerSecond: 1800, name: 'alpha' }), store({ uriPathPrefix: '', credentials: [{ ...credential, accessKeyId: 'EMPTYPREFIXEMPTYPREFIX' }] })] })).toEqual({
      fleetSize: 1,
      keyStores: [
        { uriPathPrefix: '/example/uri/path/prefix', name: 'alpha', credentials: [credential, second], policies: [JSON.stringify(policy)], requestsPerSecond: 1800 },
        { uriPathPrefix: '', credentials: [{ ...credential, accessKeyId: 'EMPTYPREFIXEMPTYPREFIX' }], policies: [] },
      ],
    });
    expect(parse({ fleetSize: 3, keyStores: [] }).fleetSize).toBe(3);
  });

  it('an XKS access key id is 20 to 30 characters of A-Z and 2-7.', () => {
    for (const accessKeyId of ['A'.repeat(19), 'A'.repeat(31), 'akia4gby3i6jce5m2hpm', 'AKIA4GBY3I6JCE5M2HP1', 'AKIA4GBY3I6JCE5M2HP8', 'AKIA4GBY3I6JCE5M2HP-']) {
      expect(refusal({ keyStores: [store({ credentials: [{ ...credential, accessKeyId }] })] })).toMatch(/accessKeyId must be 20 to 30 characters of A-Z and 2-7/);
    }
    for (const accessKeyId of ['A'.repeat(20), '2'.repeat(30)]) expect(parse({ keyStores: [store({ credentials: [{ ...credential, accessKeyId }] })] }).keyStores).toHaveLength(1);
  });

  it('an XKS secret access key is 43 to 64 characters of A-Z, a-z, 0-9, \'+\', \'/\' and \'=\'.', () => {
    for (const secretAccessKey of ['a'.repeat(42), 'a'.repeat(65), `${'a'.repeat(43)}-`, `${'a'.repeat(43)} `]) {
      const message = refusal({ keyStores: [store({ credentials: [{ ...credential, secretAccessKey }] })] });
      expect(message).toMatch(/secretAccessKey must be 43 to 64 characters/);
      expect(message).not.toContain(secretAccessKey);
    }
    expect(parse({ keyStores: [store({ credentials: [{ ...credential, secretAccessKey: 'aZ09+/='.repeat(9).slice(0, 64) }] })] }).keyStores).toHaveLength(1);
  });

  it('a key store\'s URI path prefix is empty or 9 to 117 characters of \'/\'-separated segments of letters, digits, \'-\' and \'_\'.', () => {
    for (const uriPathPrefix of ['/short', 'relative/path/x', '/trailing/slash/', '/a//b/cdefgh', `/${'x'.repeat(117)}`, '/dots.are/not-ok', 5]) {
      expect(refusal({ keyStores: [store({ uriPathPrefix })] })).toMatch(/uriPathPrefix must be/);
    }
    for (const uriPathPrefix of ['', '/abcdefgh', `/${'x'.repeat(116)}`, '/keystores/4a0d79d6-1d1b-49fd-9dbe-799cb9c0fb3f']) expect(parse({ keyStores: [store({ uriPathPrefix })] }).keyStores[0]!.uriPathPrefix).toBe(uriPathPrefix);
  });

  it('each URI path prefix names one key store.', () => {
    expect(refusal({ keyStores: [store(), store({ credentials: [second] })] })).toMatch(/used twice/);
  });

  it('an access key id identifies one secret in the whole configuration.', () => {
    expect(refusal({ keyStores: [store({ credentials: [credential, credential] })] })).toMatch(/access key id AKIA4GBY3I6JCE5M2HPM is used twice/);
    expect(refusal({ keyStores: [store(), store({ uriPathPrefix: '/keystores/other' })] })).toMatch(/used twice/);
  });

  it('refuses everything else it does not understand, without quoting a secret', () => {
    const cases: [unknown, RegExp][] = [
      [[], /expected a JSON object/],
      [{ keyStores: {} }, /keyStores must be an array/],
      [{ keyStores: [], extra: 1 }, /unknown field 'extra'/],
      [{ keyStores: [store({ typo: 1 })] }, /unknown field 'typo'/],
      [{ keyStores: [store({ credentials: [] })] }, /credentials must be a non-empty array/],
      [{ keyStores: [store({ credentials: [{ ...credential, extra: 'x' }] })] }, /unknown field 'extra'/],
      [{ keyStores: [store({ policies: ['not json'] })] }, /policy 0 is a string that is not JSON/],
      [{ keyStores: [store({ policies: [{ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' }] }] })] }, /policy 0: .*must not contain Principal/],
      [{ keyStores: [store({ requestsPerSecond: 0 })] }, /requestsPerSecond/],
      [{ fleetSize: 0, keyStores: [] }, /fleetSize/],
      [{ keyStores: [store({ name: 7 })] }, /name must be a string/],
    ];
    for (const [config, message] of cases) expect(refusal(config)).toMatch(message);
    const broken = `{"keyStores":[{"uriPathPrefix":"","credentials":[{"accessKeyId":"${credential.accessKeyId}","secretAccessKey":"${credential.secretAccessKey}"`;
    let message = '';
    try {
      parseXksProxyConfig(broken, FILE);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/not valid JSON/);
    expect(message).not.toContain(credential.secretAccessKey.slice(0, 10));
  });

  it('prints the AWS KMS console\'s configuration file for a key store', () => {
    expect(consoleConfiguration(store(), credential)).toEqual({
      XksProxyUriPath: '/example/uri/path/prefix/kms/xks/v1',
      XksProxyAuthenticationCredential: { AccessKeyId: credential.accessKeyId, RawSecretAccessKey: credential.secretAccessKey },
    });
    expect(consoleConfiguration(store({ uriPathPrefix: '' }), credential)).toMatchObject({ XksProxyUriPath: '/kms/xks/v1' });
  });

  it('generates credentials of the spec\'s shapes', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const generated = generateXksCredential();
      expect(generated.accessKeyId).toMatch(XKS_ACCESS_KEY_ID_PATTERN);
      expect(generated.secretAccessKey).toMatch(XKS_SECRET_ACCESS_KEY_PATTERN);
      expect(Buffer.from(generated.secretAccessKey, 'base64')).toHaveLength(32);
      seen.add(generated.accessKeyId);
    }
    expect(seen.size).toBe(50);
  });
});

describe('the xks configuration section', () => {
  const base = { KMS_XKS_CONFIG_FILE: '/etc/hsm-kms/xks.json' };

  it('is off unless KMS_XKS_PORT is set, with documented defaults', () => {
    expect(loadConfigSections(['xks'], {})).toEqual({ xks: { host: '127.0.0.1', pollMs: 1000, maxBodyBytes: 262144, healthCacheMs: 2000, tokenTimeoutMs: 1000 } });
    expect(loadConfigSections(['xks'], { ...base, KMS_XKS_PORT: '8443' }).xks).toMatchObject({ port: 8443, configFile: '/etc/hsm-kms/xks.json' });
  });

  it('the XKS proxy is served without TLS only on a loopback address.', () => {
    expect(() => loadConfigSections(['xks'], { ...base, KMS_XKS_PORT: '8443', KMS_XKS_HOST: '0.0.0.0' })).toThrow(/not a loopback address/);
    expect(() => loadConfigSections(['xks'], { ...base, KMS_XKS_PORT: '8443', KMS_XKS_HOST: '10.0.0.5' })).toThrow(ConfigError);
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(loadConfigSections(['xks'], { ...base, KMS_XKS_PORT: '8443', KMS_XKS_HOST: host }).xks.host).toBe(host);
    const tls = { KMS_XKS_TLS_CERT_FILE: '/etc/tls/c.pem', KMS_XKS_TLS_KEY_FILE: '/etc/tls/k.pem' };
    expect(loadConfigSections(['xks'], { ...base, ...tls, KMS_XKS_PORT: '443', KMS_XKS_HOST: '0.0.0.0' }).xks.tls).toEqual({ certFile: '/etc/tls/c.pem', keyFile: '/etc/tls/k.pem' });
  });

  it('needs a configuration file with a port, both halves of the TLS pair, and a client CA for a required CN', () => {
    expect(() => loadConfigSections(['xks'], { KMS_XKS_PORT: '8443' })).toThrow(/KMS_XKS_CONFIG_FILE/);
    expect(() => loadConfigSections(['xks'], { ...base, KMS_XKS_TLS_CERT_FILE: '/c' })).toThrow(/both/);
    expect(() => loadConfigSections(['xks'], { ...base, KMS_XKS_TLS_CLIENT_CA_FILE: '/ca' })).toThrow(/needs KMS_XKS_TLS_CERT_FILE/);
    expect(() => loadConfigSections(['xks'], { ...base, KMS_XKS_TLS_CERT_FILE: '/c', KMS_XKS_TLS_KEY_FILE: '/k', KMS_XKS_TLS_CLIENT_CN: 'cks.kms.us-east-1.amazonaws.com' })).toThrow(/KMS_XKS_TLS_CLIENT_CA_FILE/);
    expect(loadConfigSections(['xks'], { ...base, KMS_XKS_TLS_CERT_FILE: '/c', KMS_XKS_TLS_KEY_FILE: '/k', KMS_XKS_TLS_CLIENT_CA_FILE: '/ca', KMS_XKS_TLS_CLIENT_CN: 'cks.kms.us-east-1.amazonaws.com' }).xks.tls)
      .toEqual({ certFile: '/c', keyFile: '/k', clientCaFile: '/ca', clientCn: 'cks.kms.us-east-1.amazonaws.com' });
    expect(() => loadConfigSections(['xks'], { KMS_XKS_PORT: 'x' })).toThrow(/KMS_XKS_PORT/);
    expect(() => loadConfigSections(['xks'], { KMS_XKS_TOKEN_TIMEOUT_MS: '1' })).toThrow(/KMS_XKS_TOKEN_TIMEOUT_MS/);
  });
});

describe('the admin command without token or store', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-admin-'));
    const file = path.join(dir, 'xks.json');
    writeFileSync(file, JSON.stringify({ keyStores: [store({ credentials: [credential, second] })] }));
    env = { KMS_XKS_CONFIG_FILE: file };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the console configuration of a key store, for its first or a named credential', async () => {
    expect(await runAdmin(['xks', 'console-config', '--prefix', '/example/uri/path/prefix'], env)).toEqual(consoleConfiguration(store(), credential));
    expect(await runAdmin(['xks', 'console-config', '--prefix', '/example/uri/path/prefix', '--access-key-id', second.accessKeyId], env)).toEqual(consoleConfiguration(store(), second));
    await expect(runAdmin(['xks', 'console-config', '--prefix', '/nope/nope/nope'], env)).rejects.toBeInstanceOf(UsageError);
    await expect(runAdmin(['xks', 'console-config', '--prefix', '/example/uri/path/prefix', '--access-key-id', 'NOPE'], env)).rejects.toBeInstanceOf(UsageError);
    await expect(runAdmin(['xks', 'console-config', '--prefix', '/x'], {})).rejects.toThrow(/KMS_XKS_CONFIG_FILE/);
  });

  it('makes a new credential', async () => {
    const made = (await runAdmin(['xks', 'new-credential'], {})) as { accessKeyId: string; secretAccessKey: string };
    expect(made.accessKeyId).toMatch(XKS_ACCESS_KEY_ID_PATTERN);
    expect(made.secretAccessKey).toMatch(XKS_SECRET_ACCESS_KEY_PATTERN);
  });

  it('refuses what it does not understand with its usage', async () => {
    for (const argv of [[], ['kms', 'list'], ['xks'], ['xks', 'rotate'], ['xks', 'enable', '--prefix', '/example/uri/path/prefix'], ['xks', 'create', '--id', 'k'], ['xks', 'create', '--prefix', '', '--id', 'k', '--usage', 'SIGN'], ['xks', 'list', 'extra']]) {
      await expect(runAdmin(argv, env)).rejects.toBeInstanceOf(UsageError);
    }
    await expect(runAdmin(['xks', 'list', '--bogus'], env)).rejects.toMatchObject({ code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
  });
});
