// The principal directory and its watched credentials file: what a file must hold, and how a
// changed file is taken up or, when it is wrong, refused while the previous principals stay.
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { normalisePolicies } from '../../src/auth-config';
import { PrincipalDirectory, readCredentialsFile, type CredentialsFileEntry, type WatchedPrincipals } from '../../src/http/auth/principals';

const ROOT = { accessKeyId: 'AKIAROOT000000000001', secretAccessKey: 'root-secret-0000000000000000000000000001', accountId: '111122223333' };
const ALICE: CredentialsFileEntry = { accessKeyId: 'AKIAALICE00000000001', secretAccessKey: 'alice-secret-000000000000000000000000001', principalArn: 'arn:aws:iam::111122223333:user/alice' };
const BOB: CredentialsFileEntry = { accessKeyId: 'AKIABOB0000000000001', secretAccessKey: 'bob-secret-00000000000000000000000000001', principalArn: 'arn:aws:iam::111122223333:role/bob' };
const SECRETS = [ROOT.secretAccessKey, ALICE.secretAccessKey, BOB.secretAccessKey];

let dir: string;
let file: string;
let watchers: WatchedPrincipals[] = [];
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-principals-'));
  file = path.join(dir, 'credentials.json');
});
afterEach(() => {
  for (const w of watchers) w.stop();
  watchers = [];
  rmSync(dir, { recursive: true, force: true });
});

const write = (content: unknown) => writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a throw');
}

function expectNoSecret(text: string): void {
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

function watch(options: Parameters<typeof PrincipalDirectory.watch>[2] = {}): WatchedPrincipals {
  const w = PrincipalDirectory.watch(file, ROOT, { intervalMs: 20, ...options });
  watchers.push(w);
  return w;
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('PrincipalDirectory', () => {
  it('holds the root and the file principals, with accounts from their ARNs and policies as JSON strings', () => {
    const policy = { Version: '2012-10-17', Statement: [] };
    const directory = new PrincipalDirectory(ROOT, [ALICE, { ...BOB, principalArn: 'arn:aws:iam::444455556666:role/bob', policies: [policy] }]);
    expect(directory.size).toBe(3);
    expect(directory.find(ROOT.accessKeyId)!.principal).toEqual({ arn: 'arn:aws:iam::111122223333:root', accountId: '111122223333', policies: [] });
    expect(directory.find(ALICE.accessKeyId)!.principal.arn).toBe(ALICE.principalArn);
    expect(directory.find(BOB.accessKeyId)!.principal).toEqual({ arn: 'arn:aws:iam::444455556666:role/bob', accountId: '444455556666', policies: [JSON.stringify(policy)] });
    expect(directory.find('AKIANOBODY')).toBeUndefined();
  });

  it('access key ids must be unique across the credentials file and the root.', () => {
    expectNoSecret(messageOf(() => new PrincipalDirectory(ROOT, [ALICE, { ...BOB, accessKeyId: ALICE.accessKeyId }])));
    expect(() => new PrincipalDirectory(ROOT, [ALICE, { ...BOB, accessKeyId: ALICE.accessKeyId }])).toThrow(/entry 1 repeats access key id AKIAALICE00000000001/);
    expect(() => new PrincipalDirectory(ROOT, [{ ...ALICE, accessKeyId: ROOT.accessKeyId }])).toThrow(/entry 0 repeats access key id/);
  });

  it('every principalArn in the credentials file must be a principal ARN.', () => {
    for (const principalArn of ['alice', 'arn:aws:iam::111122223333:group/admins', 'arn:aws:iam::11112222333:user/alice', 'arn:aws:kms:us-east-1:111122223333:key/x', 'arn:aws:iam::111122223333:user/']) {
      const message = messageOf(() => new PrincipalDirectory(ROOT, [{ ...ALICE, principalArn }]));
      expect(message).toMatch(/is not a principal ARN/);
      expectNoSecret(message);
    }
  });
});

describe('readCredentialsFile', () => {
  it('reads a JSON array of principals', () => {
    write([ALICE, BOB]);
    expect(readCredentialsFile(file)).toEqual([{ ...ALICE, policies: undefined }, { ...BOB, policies: undefined }]);
  });

  it('a credentials file that is not valid JSON is refused without quoting its content.', () => {
    for (const broken of [
      `[{"accessKeyId": "${ALICE.accessKeyId}", "secretAccessKey": "${ALICE.secretAccessKey}" "principalArn": "x"}]`,
      `[{"accessKeyId": "${ALICE.accessKeyId}", "secretAccessKey": ${ALICE.secretAccessKey}}]`,
      `[{"secretAccessKey": "${ALICE.secretAccessKey}`,
      '',
    ]) {
      write(broken);
      const message = messageOf(() => readCredentialsFile(file));
      expect(message).toMatch(/not valid JSON/);
      expectNoSecret(message);
      expect(message).not.toContain(ALICE.accessKeyId);
    }
  });

  it('every credentials file entry needs a non-empty string accessKeyId, secretAccessKey and principalArn.', () => {
    for (const entry of [
      null, 'alice', { ...ALICE, accessKeyId: '' }, { ...ALICE, secretAccessKey: '' }, { ...ALICE, secretAccessKey: 42 },
      { accessKeyId: ALICE.accessKeyId, secretAccessKey: ALICE.secretAccessKey }, { ...ALICE, principalArn: ['arn'] },
    ]) {
      write([BOB, entry]);
      const message = messageOf(() => readCredentialsFile(file));
      expect(message).toMatch(/entry 1 needs string accessKeyId, secretAccessKey and principalArn/);
      expectNoSecret(message);
    }
    write({ principals: [ALICE] });
    expect(() => readCredentialsFile(file)).toThrow(/expected a JSON array/);
    write([{ ...ALICE, policies: {} }]);
    expect(() => readCredentialsFile(file)).toThrow(/policies must be an array/);
  });
});

describe('normalisePolicies', () => {
  it('keeps policy documents as JSON strings and refuses anything else', () => {
    expect(normalisePolicies(undefined, 'x')).toEqual([]);
    expect(normalisePolicies([{ Version: '2012-10-17' }, '{"Statement":[]}'], 'x')).toEqual(['{"Version":"2012-10-17"}', '{"Statement":[]}']);
    expect(() => normalisePolicies({}, 'x')).toThrow(/x: policies must be an array/);
    expect(() => normalisePolicies(['nope'], 'x')).toThrow(/x: policy 0 is a string that is not JSON/);
    for (const bad of [[42], [null], [[1]], ['[1]'], ['"s"']]) expect(() => normalisePolicies(bad, 'x')).toThrow(/policy 0 must be an IAM policy document/);
  });
});

describe('PrincipalDirectory.watch', () => {
  it('loads the file at once and refuses to start from a bad one', () => {
    write([ALICE]);
    expect(watch().current().find(ALICE.accessKeyId)!.principal.arn).toBe(ALICE.principalArn);
    write('{');
    expect(() => watch()).toThrow(/not valid JSON/);
    unlinkSync(file);
    expect(() => watch()).toThrow(/cannot read the credentials file: ENOENT/);
  });

  it('takes up a changed file when polling sees it, written in place or renamed over', async () => {
    write([ALICE]);
    const reloads: number[] = [];
    const w = watch({ onReload: ({ principals }) => reloads.push(principals) });
    expect(w.current().find(BOB.accessKeyId)).toBeUndefined();

    write([ALICE, BOB]);
    await until(() => w.current().find(BOB.accessKeyId) !== undefined);
    expect(reloads).toEqual([3]);

    // An editor's save: write a temporary file, then rename it over the original.
    const temporary = path.join(dir, '.credentials.json.swp');
    writeFileSync(temporary, JSON.stringify([{ ...BOB, secretAccessKey: 'bob-rotated-secret-0000000000000000000001' }]));
    renameSync(temporary, file);
    await until(() => w.current().find(BOB.accessKeyId)?.secretAccessKey === 'bob-rotated-secret-0000000000000000000001');
    expect(w.current().find(ALICE.accessKeyId)).toBeUndefined();
    expect(w.current().find(ROOT.accessKeyId)!.principal.arn).toBe('arn:aws:iam::111122223333:root');
    expect(reloads).toEqual([3, 2]);
  });

  it('a credentials file that becomes invalid keeps the previous principals.', async () => {
    write([ALICE, BOB]);
    const errors: string[] = [];
    const w = watch({ onError: (message) => errors.push(message) });
    const good = w.current();
    const versions: unknown[] = [
      `[{"accessKeyId": "${ALICE.accessKeyId}", "secretAccessKey": "${ALICE.secretAccessKey}"`,
      [{ accessKeyId: ALICE.accessKeyId, secretAccessKey: ALICE.secretAccessKey }],
      [ALICE, { ...BOB, accessKeyId: ALICE.accessKeyId }],
      [ALICE, { ...BOB, principalArn: 'arn:aws:iam::111122223333:group/bob' }],
      [{ ...ALICE, policies: ['not json'] }],
      [{ ...ALICE, accessKeyId: ROOT.accessKeyId }],
      { ALICE },
    ];
    for (const [i, version] of versions.entries()) {
      write(version);
      expect(w.reload()).toBe(false);
      expect(w.current()).toBe(good);
      expect(errors).toHaveLength(i + 1);
      expect(errors[i]).toMatch(/keeping the previous 3 principals$/);
      expectNoSecret(errors[i]!);
    }
    // The poller, seeing the same bad version again, does not report it twice.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(errors).toHaveLength(versions.length);
    expect(w.current().find(BOB.accessKeyId)!.secretAccessKey).toBe(BOB.secretAccessKey);

    // A vanished file is refused too; its return is taken up.
    unlinkSync(file);
    await until(() => errors.length === versions.length + 1);
    expect(errors.at(-1)).toMatch(/ENOENT/);
    expect(w.current()).toBe(good);
    write([BOB]);
    await until(() => w.current().find(ALICE.accessKeyId) === undefined);
    expect(w.current().find(BOB.accessKeyId)).toBeDefined();
  });

  it('reports nothing when the content did not change, and stops polling when stopped', async () => {
    write([ALICE]);
    const events: string[] = [];
    const w = watch({ onError: () => events.push('error'), onReload: () => events.push('reload') });
    write([ALICE]);
    expect(w.reload()).toBe(false);
    w.stop();
    write([ALICE, BOB]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(w.reload()).toBe(false);
    expect(w.current().find(BOB.accessKeyId)).toBeUndefined();
    expect(events).toEqual([]);
  });
});
