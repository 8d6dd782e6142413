// KMS_SEED_FILE through the real server (a child process) and the AWS SDK: fixed material that
// provably is the material given, generated keys under fixed ids, metadata brought in line,
// restarts that change nothing, and start-up refused with the file, line and reason.
import {
  DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateMacCommand, GetKeyPolicyCommand, GetKeyRotationStatusCommand, GetPublicKeyCommand,
  KMSClient, ListAliasesCommand, ListKeysCommand, ListResourceTagsCommand, SignCommand,
} from '@aws-sdk/client-kms';
import { execFileSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHmac, createVerify, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startChildService } from '../support/child-service';
import { ACCOUNT, REGION, ROOT } from '../support/service';
import { createTestToken, type TestToken } from '../support/softhsm';

const SYMMETRIC = '11111111-1111-4111-8111-111111111111';
const HMAC = '22222222-2222-4222-8222-222222222222';
const RSA = '33333333-3333-4333-8333-333333333333';
const EC = '44444444-4444-4444-8444-444444444444';
const GENERATED = '55555555-5555-4555-8555-555555555555';

const symmetricKey = randomBytes(32);
const hmacKey = randomBytes(32);
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const pem = (key: typeof rsa.privateKey) => key.export({ type: 'pkcs8', format: 'pem' }) as string;
const indented = (text: string, spaces: number) => text.trimEnd().split('\n').map((l) => ' '.repeat(spaces) + l).join('\n');

const policy = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'SeededRoot', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
};

function seedYaml(symmetricMaterial = symmetricKey): string {
  return `# keys for the suite
keys:
  - keyId: ${SYMMETRIC}
    description: fixed symmetric key
    material: ${symmetricMaterial.toString('base64')}
    aliases: [alias/seed/symmetric]
    tags:
      Team: payments
      Env: test
    policy:
${indented(JSON.stringify(policy, null, 2), 6)}
  - keyId: ${HMAC}
    keySpec: HMAC_256
    keyUsage: GENERATE_VERIFY_MAC
    material: ${hmacKey.toString('base64')}
  - keyId: ${RSA}
    keySpec: RSA_2048
    keyUsage: SIGN_VERIFY
    reportOrigin: AWS_KMS
    material: |
${indented(pem(rsa.privateKey), 6)}
  - keyId: ${EC}
    keySpec: ECC_NIST_P256
    keyUsage: SIGN_VERIFY
    aliases: [alias/seed/ec]
    material: |
${indented(pem(ec.privateKey), 6)}
  - keyId: ${GENERATED}
    description: generated in the token
    aliases: [alias/seed/generated]
    rotation: { enabled: true, periodInDays: 180 }
`;
}

/** Every secret the seed file holds, in the forms a leak would take. */
const secretForms = () => [
  symmetricKey.toString('base64'), symmetricKey.toString('hex'), hmacKey.toString('base64'), hmacKey.toString('hex'),
  ...[rsa.privateKey, ec.privateKey].flatMap((k) => pem(k).split('\n').filter((l) => l.length > 40)),
];

let token: TestToken;
let dir: string;
let dataDir: string;
let seedFile: string;
beforeAll(() => {
  token = createTestToken('seeding');
  dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-seeding-'));
  dataDir = path.join(dir, 'data');
  seedFile = path.join(dir, 'seed.yaml');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const envFor = (overrides: Record<string, string> = {}) => ({
  KMS_DATA_DIR: dataDir, KMS_TOKEN_LABEL: token.label, KMS_PIN: token.pin, KMS_PORT: '0', KMS_SEED_FILE: seedFile,
  KMS_ROOT_ACCESS_KEY_ID: ROOT.accessKeyId, KMS_ROOT_SECRET_ACCESS_KEY: ROOT.secretAccessKey, ...overrides,
});

const clientFor = (port: number) => new KMSClient({ endpoint: `http://127.0.0.1:${port}`, region: REGION, credentials: ROOT });

/** Starts the service, runs `check` against it, stops it; returns everything it wrote. */
async function withService(check: (kms: KMSClient) => Promise<void>, env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  const child = startChildService(envFor(env));
  const port = await child.listening;
  const kms = clientFor(port);
  try {
    await check(kms);
  } finally {
    kms.destroy();
    child.process.kill('SIGTERM');
  }
  const { code, stdout, stderr } = await child.exited;
  expect(code).toBe(0);
  return { stdout, stderr };
}

/** The service's ciphertext of `plaintext` under `key`, made offline (README "Ciphertext format", empty encryption context). */
function offlineCiphertext(keyId: string, keyMaterialId: string, key: Buffer, plaintext: Buffer): Buffer {
  const header = Buffer.concat([Buffer.from([1, 1, 0]), Buffer.from(keyId.replace(/-/g, ''), 'hex'), Buffer.from(keyMaterialId, 'hex')]);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.concat([header, Buffer.alloc(4)]));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, iv, body, cipher.getAuthTag()]);
}

/** The plaintext of a service ciphertext, decrypted offline with `key`. */
function offlineDecrypt(blob: Buffer, key: Buffer): Buffer {
  const header = blob.subarray(0, 51);
  const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(51, 63));
  decipher.setAAD(Buffer.concat([header, Buffer.alloc(4)]));
  decipher.setAuthTag(blob.subarray(blob.length - 16));
  return Buffer.concat([decipher.update(blob.subarray(63, blob.length - 16)), decipher.final()]);
}

let savedCiphertext: Uint8Array;
let firstCreationDate: Date | undefined;

describe('a seed file', () => {
  it('creates its keys with their fixed material, aliases, tags, policy and rotation, as the AWS SDK shows them', async () => {
    writeFileSync(seedFile, seedYaml());
    const { stdout, stderr } = await withService(async (kms) => {
      const describe = async (KeyId: string) => (await kms.send(new DescribeKeyCommand({ KeyId }))).KeyMetadata!;
      const symmetric = await describe(SYMMETRIC);
      expect(symmetric).toMatchObject({ KeyId: SYMMETRIC, KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', Origin: 'EXTERNAL', KeyState: 'Enabled', Description: 'fixed symmetric key', ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
      firstCreationDate = symmetric.CreationDate;
      expect(await describe(HMAC)).toMatchObject({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', Origin: 'EXTERNAL', KeyState: 'Enabled' });
      // reportOrigin: AWS_KMS is what DescribeKey says, although the material was imported.
      expect(await describe(RSA)).toMatchObject({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY', Origin: 'AWS_KMS', KeyState: 'Enabled' });
      expect(await describe(EC)).toMatchObject({ KeySpec: 'ECC_NIST_P256', Origin: 'EXTERNAL', KeyState: 'Enabled' });
      expect(await describe(GENERATED)).toMatchObject({ KeySpec: 'SYMMETRIC_DEFAULT', Origin: 'AWS_KMS', Description: 'generated in the token', KeyState: 'Enabled' });

      const aliases = (await kms.send(new ListAliasesCommand({}))).Aliases!.filter((a) => a.AliasName!.startsWith('alias/seed/'));
      expect(aliases.map((a) => [a.AliasName, a.TargetKeyId]).sort()).toEqual([['alias/seed/ec', EC], ['alias/seed/generated', GENERATED], ['alias/seed/symmetric', SYMMETRIC]]);
      const tags = (await kms.send(new ListResourceTagsCommand({ KeyId: SYMMETRIC }))).Tags!;
      expect(tags.map((t) => `${t.TagKey}=${t.TagValue}`).sort()).toEqual(['Env=test', 'Team=payments']);
      expect(JSON.parse((await kms.send(new GetKeyPolicyCommand({ KeyId: SYMMETRIC, PolicyName: 'default' }))).Policy!)).toEqual(policy);
      expect(await kms.send(new GetKeyRotationStatusCommand({ KeyId: GENERATED }))).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 180 });

      // The symmetric material is the one in the file: the service's ciphertext opens offline, and an offline one opens in the service.
      const plaintext = Buffer.from('seeded plaintext');
      const made = await kms.send(new EncryptCommand({ KeyId: 'alias/seed/symmetric', Plaintext: plaintext }));
      savedCiphertext = made.CiphertextBlob!;
      expect((await kms.send(new DecryptCommand({ CiphertextBlob: made.CiphertextBlob }))).Plaintext).toEqual(new Uint8Array(plaintext));
      expect(offlineDecrypt(Buffer.from(made.CiphertextBlob!), symmetricKey)).toEqual(plaintext);
      const offline = offlineCiphertext(SYMMETRIC, symmetric.CurrentKeyMaterialId!, symmetricKey, Buffer.from('made offline'));
      expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: offline }))).Plaintext!).toString()).toBe('made offline');
      // A wrong key does not open the service's ciphertext (the check above could not pass by accident).
      expect(() => offlineDecrypt(Buffer.from(made.CiphertextBlob!), randomBytes(32))).toThrow();

      // The HMAC key's MAC is node:crypto's HMAC under the file's key.
      const message = Buffer.from('mac me');
      const mac = await kms.send(new GenerateMacCommand({ KeyId: HMAC, MacAlgorithm: 'HMAC_SHA_256', Message: message }));
      expect(Buffer.from(mac.Mac!)).toEqual(createHmac('sha256', hmacKey).update(message).digest());

      // The EC and RSA keys sign as the file's private keys: their public keys verify the signatures.
      for (const [KeyId, pair, SigningAlgorithm, hash] of [[EC, ec, 'ECDSA_SHA_256', 'sha256'], [RSA, rsa, 'RSASSA_PKCS1_V1_5_SHA_256', 'sha256']] as const) {
        const publicKey = (await kms.send(new GetPublicKeyCommand({ KeyId }))).PublicKey!;
        expect(Buffer.from(publicKey)).toEqual(pair.publicKey.export({ type: 'spki', format: 'der' }));
        const signed = await kms.send(new SignCommand({ KeyId, Message: message, MessageType: 'RAW', SigningAlgorithm }));
        expect(createVerify(hash).update(message).verify(pair.publicKey, Buffer.from(signed.Signature!))).toBe(true);
        expect(createVerify(hash).update(Buffer.from('another message')).verify(pair.publicKey, Buffer.from(signed.Signature!))).toBe(false);
      }

      // The generated key works too.
      const generated = await kms.send(new EncryptCommand({ KeyId: 'alias/seed/generated', Plaintext: plaintext }));
      expect((await kms.send(new DecryptCommand({ CiphertextBlob: generated.CiphertextBlob }))).Plaintext).toEqual(new Uint8Array(plaintext));
    });
    expect(stdout).toContain('"message":"seed file applied"');
    expect(stdout).toMatch(/"created":5/);
    // The material never reaches the logs, and never the store (audit trail included).
    const stored = readdirSync(dataDir).filter((f) => f.startsWith('metadata')).map((f) => readFileSync(path.join(dataDir, f)));
    expect(stored.length).toBeGreaterThan(0);
    for (const secret of secretForms()) {
      expect(stdout + stderr).not.toContain(secret);
      for (const file of stored) expect(file.includes(Buffer.from(secret))).toBe(false);
    }
    for (const raw of [symmetricKey, hmacKey]) for (const file of stored) expect(file.includes(raw)).toBe(false);
  }, 120_000);

  it('leaves every seeded key in the token sensitive and not extractable, as imported and generated keys are', () => {
    const out = execFileSync(process.execPath, ['-r', path.join(__dirname, '../support/ts-register.cjs'), path.join(__dirname, '../support/token-object-attributes.child.ts'), token.label, token.pin, 'kms:'], { encoding: 'utf8' });
    const objects = (JSON.parse(out) as { label: string; class: string; sensitive?: boolean; extractable?: boolean; valueReadError?: string }[]).filter((o) => o.class !== 'public');
    expect(objects.map((o) => o.label).sort()).toEqual([EC, GENERATED, HMAC, RSA, SYMMETRIC].map((id) => `kms:${id}`).sort());
    for (const object of objects) {
      expect(object).toEqual({ label: object.label, class: object.label.includes(RSA) || object.label.includes(EC) ? 'private' : 'secret', sensitive: true, extractable: false, valueReadError: 'CKR_ATTRIBUTE_SENSITIVE' });
    }
  }, 60_000);

  it('applied again at a restart changes nothing: the same keys, no error', async () => {
    const { stdout } = await withService(async (kms) => {
      const keys = (await kms.send(new ListKeysCommand({}))).Keys!.map((k) => k.KeyId).sort();
      expect(keys).toEqual([SYMMETRIC, HMAC, RSA, EC, GENERATED].sort());
      expect((await kms.send(new DescribeKeyCommand({ KeyId: SYMMETRIC }))).KeyMetadata!.CreationDate).toEqual(firstCreationDate);
      expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: savedCiphertext }))).Plaintext!).toString()).toBe('seeded plaintext');
      expect(await kms.send(new GetKeyRotationStatusCommand({ KeyId: GENERATED }))).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 180 });
    });
    expect(stdout).toMatch(/"created":0,"updated":0,"unchanged":5,[^\n]*"message":"seed file applied"/);
  }, 120_000);

  it('a seed key never replaces the spec, usage or material of a key that exists.', async () => {
    const different = randomBytes(32);
    writeFileSync(seedFile, seedYaml(different));
    const { code, stderr } = await startChildService(envFor()).exited;
    expect(code).toBe(1);
    expect(stderr).toContain(`KMS_SEED_FILE ${seedFile}:3: key ${SYMMETRIC} cannot be seeded: key ${SYMMETRIC} exists with different key material`);
    expect(stderr).not.toContain(different.toString('base64'));
    // A different spec under an existing id is refused as plainly.
    writeFileSync(seedFile, `keys:\n  - keyId: ${GENERATED}\n    keySpec: HMAC_256\n    keyUsage: GENERATE_VERIFY_MAC\n`);
    const spec = await startChildService(envFor()).exited;
    expect(spec.code).not.toBe(0);
    expect(spec.stderr).toContain(`KMS_SEED_FILE ${seedFile}:2: key ${GENERATED} cannot be seeded: key ${GENERATED} exists as SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT, not HMAC_256/GENERATE_VERIFY_MAC`);
    writeFileSync(seedFile, seedYaml());
  }, 120_000);

  it('brings description, tags and aliases in line at a restart', async () => {
    const changed = seedYaml().replace('fixed symmetric key', 'renamed').replace('      Env: test\n', '').replace('alias/seed/ec]', 'alias/seed/ec, alias/seed/ec-too]');
    writeFileSync(seedFile, changed);
    const { stdout } = await withService(async (kms) => {
      expect((await kms.send(new DescribeKeyCommand({ KeyId: SYMMETRIC }))).KeyMetadata!.Description).toBe('renamed');
      expect((await kms.send(new ListResourceTagsCommand({ KeyId: SYMMETRIC }))).Tags).toEqual([{ TagKey: 'Team', TagValue: 'payments' }]);
      const aliases = (await kms.send(new ListAliasesCommand({ KeyId: EC }))).Aliases!.map((a) => a.AliasName).sort();
      expect(aliases).toEqual(['alias/seed/ec', 'alias/seed/ec-too']);
    });
    expect(stdout).toMatch(/"created":0,"updated":2,"unchanged":3,[^\n]*"message":"seed file applied"/);
  }, 120_000);
});

describe('a seed file that cannot be used stops start-up with the file, the line and the reason', () => {
  let badFile: string;
  beforeEach(() => { badFile = path.join(dir, 'bad-seed.yaml'); });

  it('invalid YAML', async () => {
    writeFileSync(badFile, `keys:\n  - keyId: ${SYMMETRIC}\n    description: a: b\n`);
    const { code, stderr, stdout } = await startChildService(envFor({ KMS_SEED_FILE: badFile })).exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`hsm-kms failed to start: KMS_SEED_FILE ${badFile}:3:18: not valid YAML or JSON \\(Nested mappings are not allowed in compact mappings\\)`));
    expect(stdout).not.toContain('"message":"listening"');
  }, 60_000);

  it('a schema error, at the line of the field it names', async () => {
    writeFileSync(badFile, `keys:\n  - keyId: ${SYMMETRIC}\n  - keyId: ${HMAC}\n    keySpec: HMAC_256\n    keyUsage: ENCRYPT_DECRYPT\n`);
    const { code, stderr } = await startChildService(envFor({ KMS_SEED_FILE: badFile })).exited;
    expect(code).toBe(1);
    expect(stderr).toContain(`KMS_SEED_FILE ${badFile}:5: keys[1].keyUsage: ENCRYPT_DECRYPT is not a usage of HMAC_256 (use GENERATE_VERIFY_MAC)`);
  }, 60_000);

  it('material of the wrong length, said without quoting the material', async () => {
    const short = randomBytes(16).toString('base64');
    writeFileSync(badFile, JSON.stringify({ keys: [{ keyId: SYMMETRIC, material: short }] }, null, 2));
    const { code, stderr } = await startChildService(envFor({ KMS_SEED_FILE: badFile })).exited;
    expect(code).toBe(1);
    expect(stderr).toContain(`KMS_SEED_FILE ${badFile}:5: keys[0].material: must be 32 bytes for SYMMETRIC_DEFAULT, not 16`);
    expect(stderr).not.toContain(short);
  }, 60_000);
});

it('seeding is refused when the service listens on anything but a loopback address.', async () => {
  writeFileSync(seedFile, seedYaml());
  const { code, stderr, stdout } = await startChildService(envFor({ KMS_HOST: '0.0.0.0' })).exited;
  expect(code).toBe(2);
  expect(stderr).toContain('configuration error: KMS_SEED_FILE is a test-suite convenience and KMS_HOST 0.0.0.0 is not a loopback address');
  expect(stdout).not.toContain('"message":"listening"');
  expect(stdout + stderr).not.toContain(symmetricKey.toString('base64'));
}, 60_000);
