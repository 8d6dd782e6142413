// The admin command as an operator runs it: a real process (the token's module must see the
// environment), the same environment variables as the server, JSON on stdout, the request log
// on stderr. Keys it makes serve the XKS API of a proxy on the same token and store.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as pkcs11js from 'pkcs11js';
import { EmbeddedStore } from '../../src/store/embedded';
import { createTestToken, openTestToken, type TestToken } from '../support/softhsm';

const run = promisify(execFile);
const ADMIN = path.join(__dirname, '..', '..', 'src', 'cli', 'admin.ts');
const REGISTER = path.join(__dirname, '..', 'support', 'ts-register.cjs');
const PREFIX = '/keystores/admin-test';

let dir: string;
let token: TestToken;
let env: NodeJS.ProcessEnv;

async function admin(...args: string[]): Promise<{ code: number; out: unknown; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['-r', REGISTER, ADMIN, 'xks', ...args], { env, timeout: 60_000 });
    return { code: 0, out: JSON.parse(stdout), err: stderr };
  } catch (e) {
    const failed = e as { code: number; stdout: string; stderr: string };
    return { code: failed.code, out: failed.stdout, err: failed.stderr };
  }
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-admin-cli-'));
  token = createTestToken('admin-cli');
  const configFile = path.join(dir, 'xks.json');
  writeFileSync(configFile, JSON.stringify({ keyStores: [{ uriPathPrefix: PREFIX, credentials: [{ accessKeyId: 'ADMINTESTKEY234567ADMINTES', secretAccessKey: 'YWRtaW4tdGVzdC1zZWNyZXQtYWNjZXNzLWtleS0wMDAwMDE=' }] }] }));
  // Only what the commands read: no KMS_* of the developer's leaks in.
  env = {
    PATH: process.env.PATH, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF, KMS_DATA_DIR: dir, KMS_TOKEN_LABEL: token.label, KMS_PIN: token.pin,
    KMS_XKS_CONFIG_FILE: configFile, KMS_LOG_LEVEL: 'info',
  };
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('creates, lists, disables, enables and deletes external keys, with the usage the token enforces', async () => {
  const created = await admin('create', '--prefix', PREFIX, '--id', 'enc-only', '--usage', 'ENCRYPT');
  expect(created).toMatchObject({ code: 0, out: { keyStorePrefix: PREFIX, externalKeyId: 'enc-only', usage: ['ENCRYPT'], status: 'ENABLED', tokenId: 'default' } });
  const lines = created.err.split('\n').filter((line: string) => line.startsWith('{')).map((line: string) => JSON.parse(line) as Record<string, unknown>);
  expect(lines).toContainEqual(expect.objectContaining({ operation: 'CreateExternalKey', source: 'cli' }));
  expect((await admin('create', '--prefix', PREFIX, '--id', 'both')).out).toMatchObject({ usage: ['ENCRYPT', 'DECRYPT'] });
  expect((await admin('create', '--prefix', PREFIX, '--id', 'none', '--usage', 'none', '--disabled')).out).toMatchObject({ usage: [], status: 'DISABLED' });
  const unconfigured = await admin('create', '--prefix', '/keystores/not-configured', '--id', 'k');
  expect(unconfigured.code).toBe(0);
  expect(unconfigured.err).toMatch(/warning: KMS_XKS_CONFIG_FILE has no key store/);

  // The token holds what the metadata says.
  const objectId = (created.out as { objectId: string }).objectId;
  const opened = openTestToken(token);
  try {
    const flags = await opened.connection.withSession(async (session) => {
      const lib = opened.connection.lib;
      lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_ID, value: Buffer.from(objectId, 'hex') }]);
      const [handle] = lib.C_FindObjects(session, 1);
      lib.C_FindObjectsFinal(session);
      return lib.C_GetAttributeValue(session, handle!, [{ type: pkcs11js.CKA_ENCRYPT }, { type: pkcs11js.CKA_DECRYPT }, { type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE }])
        .map((a) => (a.value as Buffer)[0]);
    });
    expect(flags).toEqual([1, 0, 1, 0]);
  } finally {
    await opened.close();
  }

  const listed = await admin('list', '--prefix', PREFIX);
  expect((listed.out as { externalKeys: { externalKeyId: string }[] }).externalKeys.map((k) => k.externalKeyId)).toEqual(['both', 'enc-only', 'none']);

  // Listing, enabling and disabling need no token: without a PIN they still work.
  const storeOnly = { ...env, KMS_PIN: undefined, KMS_PIN_FILE: path.join(dir, 'missing.pin') };
  const withoutPin = await run(process.execPath, ['-r', REGISTER, ADMIN, 'xks', 'disable', '--prefix', PREFIX, '--id', 'both'], { env: storeOnly, timeout: 60_000 });
  expect(JSON.parse(withoutPin.stdout)).toMatchObject({ status: 'DISABLED' });

  expect((await admin('delete', '--prefix', PREFIX, '--id', 'enc-only'))).toMatchObject({ code: 1, err: expect.stringMatching(/KMSInvalidStateException: External key enc-only is enabled/) });
  expect((await admin('delete', '--prefix', PREFIX, '--id', 'both')).out).toEqual({ keyStorePrefix: PREFIX, externalKeyId: 'both', deleted: true });
  expect((await admin('enable', '--prefix', PREFIX, '--id', 'none')).out).toMatchObject({ status: 'ENABLED' });
  expect(await admin('frobnicate', '--prefix', 'bad', '--id', 'x')).toMatchObject({ code: 2, err: expect.stringMatching(/unknown command 'frobnicate'[^]*usage: npm run admin -- xks/) });

  const store = new EmbeddedStore(path.join(dir, 'metadata.sqlite'));
  await store.init();
  try {
    expect((await store.externalKeys.list({ keyStorePrefix: PREFIX })).map((k) => [k.externalKeyId, k.status])).toEqual([['enc-only', 'ENABLED'], ['none', 'ENABLED']]);
  } finally {
    await store.close();
  }
}, 120_000);

it('prints the console configuration file for a key store', async () => {
  expect((await admin('console-config', '--prefix', PREFIX)).out).toEqual({
    XksProxyUriPath: `${PREFIX}/kms/xks/v1`,
    XksProxyAuthenticationCredential: { AccessKeyId: 'ADMINTESTKEY234567ADMINTES', RawSecretAccessKey: 'YWRtaW4tdGVzdC1zZWNyZXQtYWNjZXNzLWtleS0wMDAwMDE=' },
  });
});
