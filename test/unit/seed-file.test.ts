// The seed file's checks without a service: each mistake is named with the line it is on, and
// material is never quoted.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseSeedFile } from '../../src/seed/seed-file';

const ID = '11111111-1111-4111-8111-111111111111';
const parse = (text: string) => () => parseSeedFile(text, '/seed.yaml');

it('reads YAML and JSON alike, with defaults for what is left out', () => {
  const material = randomBytes(32);
  const yaml = parseSeedFile(`keys:\n  - keyId: ${ID}\n    material: ${material.toString('base64')}\n`, '/seed.yaml');
  const json = parseSeedFile(JSON.stringify({ keys: [{ keyId: ID, material: material.toString('base64') }] }), '/seed.json');
  for (const [entry] of [yaml, json]) {
    expect(entry!.seed).toEqual({ keyId: ID, keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT', description: '', tags: [], aliases: [], material: { kind: 'secret', bytes: material } });
  }
  expect(yaml[0]!.line).toBe(2);
});

it('names the line of a schema error, however deep the field', () => {
  expect(parse(`keys:\n  - keyId: ${ID}\n    tags:\n      Team: 7\n`)).toThrow('KMS_SEED_FILE /seed.yaml:4: keys[0].tags.Team: must be a string (quote it)');
  expect(parse(`keys:\n  - keyId: ${ID}\n    colour: blue\n`)).toThrow('/seed.yaml:3: keys[0].colour: unknown field colour');
  expect(parse(`keys:\n  - keyId: ${ID}\n    rotation: { enabled: true, periodInDays: 30 }\n`)).toThrow('/seed.yaml:3: keys[0].rotation.periodInDays: must be a whole number of days from 90 to 2560');
  expect(parse(`keys:\n  - keyId: ${ID}\n  - keyId: ${ID}\n`)).toThrow(`/seed.yaml:3: keys[1].keyId: key id ${ID} appears twice`);
  expect(parse(`keys:\n  - description: no id\n`)).toThrow('/seed.yaml:2: keys[0]: keyId is required');
  expect(parse(`keys:\n  - keyId: ${ID}\n    aliases: [alias/aws/s3]\n`)).toThrow('/seed.yaml:3: keys[0].aliases[0]:');
  expect(parse(`keys:\n  - keyId: ${ID}\n    keySpec: ML_DSA_44\n    keyUsage: SIGN_VERIFY\n`)).toThrow('/seed.yaml:3: keys[0].keySpec:');
});

it('checks material against its spec without quoting it', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const entry = `keys:\n  - keyId: ${ID}\n    keySpec: ECC_NIST_P256\n    keyUsage: SIGN_VERIFY\n    material: |\n${pem.trimEnd().split('\n').map((l) => `      ${l}`).join('\n')}\n`;
  let message = '';
  try {
    parseSeedFile(entry, '/seed.yaml');
  } catch (e) {
    message = (e as Error).message;
  }
  expect(message).toBe('KMS_SEED_FILE /seed.yaml:5: keys[0].material: must be an EC private key on prime256v1 for ECC_NIST_P256');
  expect(parse(`keys:\n  - keyId: ${ID}\n    material: not-base64!\n`)).toThrow('/seed.yaml:3: keys[0].material: is not base64');
  expect(parse(`keys:\n  - keyId: ${ID}\n    reportOrigin: AWS_KMS\n`)).toThrow('/seed.yaml:3: keys[0].reportOrigin: applies only to a key with fixed material');
  expect(parse(`keys:\n  - keyId: ${ID}\n    material: ${randomBytes(32).toString('base64')}\n    rotation: { enabled: true }\n`)).toThrow('keys[0].rotation.enabled: a key with fixed material cannot rotate automatically');
});
