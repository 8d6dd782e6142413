// CreateAlias, UpdateAlias, DeleteAlias and ListAliases through the HTTP layer, on a real
// SoftHSM token, and aliases as KeyId in the operations that accept them.
import { randomUUID } from 'node:crypto';
import type { KeySpec, KeyState, KeyUsage } from '../../src/core/model';
import { kmsCall, type SignOptions } from '../support/signed';
import { ACCOUNT, ALICE, OTHER_ROOT, REGION, startTestService, type TestService } from '../support/service';
import { withRepositories } from '../support/wrapped-store';

// Moves the service's clock ahead of real time by hand; it stays within the signature skew.
let shiftMs = 0;
const clock = { now: () => new Date(Date.now() + shiftMs) };

let svc: TestService;
beforeAll(async () => { svc = await startTestService({ clock }); });
afterAll(async () => { await svc.close(); });

const scope = { accountId: ACCOUNT, region: REGION };
const b64 = (s: string) => Buffer.from(s).toString('base64');
const aliasArn = (name: string, region = REGION) => `arn:aws:kms:${region}:${ACCOUNT}:${name}`;
const keyArn = (keyId: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`;
const PREFIX_MESSAGE = 'Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html';

/** A fresh alias name, so tests sharing the service never collide. */
let counter = 0;
const uniqueAlias = (stem = 'test') => `alias/${stem}-${process.pid}-${++counter}`;

const call = (target: string, body: object, options?: SignOptions) => kmsCall(svc.app, target, body, options);

async function createKey(options: SignOptions = {}): Promise<{ KeyId: string; Arn: string }> {
  const res = await call('CreateKey', {}, options);
  expect(res.status).toBe(200);
  return res.body.KeyMetadata;
}

async function createAlias(name: string, targetKeyId: string) {
  const res = await call('CreateAlias', { AliasName: name, TargetKeyId: targetKeyId });
  expect(res.body).toEqual({});
  expect(res.status).toBe(200);
}

interface Entry { AliasName: string; AliasArn: string; TargetKeyId: string; CreationDate: number; LastUpdatedDate: number }

/** The aliases that name a key: all but AWS's predefined aliases whose AWS managed key does not exist yet. */
const withTargets = <T extends { TargetKeyId?: string }>(aliases: T[]) => aliases.filter((a) => a.TargetKeyId !== undefined);

/** Every alias ListAliases returns for `body`, following NextMarker. */
async function listAll(body: object = {}, options?: SignOptions): Promise<Entry[]> {
  const all: Entry[] = [];
  let marker: string | undefined;
  do {
    const res = await call('ListAliases', { ...body, ...(marker ? { Marker: marker } : {}) }, options);
    expect(res.status).toBe(200);
    expect(res.body.Truncated).toBe(res.body.NextMarker !== undefined);
    all.push(...res.body.Aliases);
    marker = res.body.NextMarker;
  } while (marker);
  return all;
}

const entry = async (name: string) => (await listAll()).find((a) => a.AliasName === name);

/** Changes a stored key's spec, usage or state, as later issues' keys and the lifecycle operations would. */
async function reshape(keyId: string, change: { keySpec?: KeySpec; keyUsage?: KeyUsage; state?: KeyState }) {
  const stored = (await svc.store.keys.get(scope, keyId))!;
  const deletion = change.state === 'PendingDeletion' ? { deletionDate: new Date(Date.now() + 7 * 86_400_000), pendingWindowInDays: 7 } : {};
  await svc.store.keys.replace({ ...stored, ...change, ...deletion });
}

async function keyOfKind(keySpec: KeySpec, keyUsage: KeyUsage) {
  const key = await createKey();
  await reshape(key.KeyId, { keySpec, keyUsage });
  return key;
}

describe('CreateAlias', () => {
  it('creates an alias that ListAliases shows with its ARN, key id and dates', async () => {
    const key = await createKey();
    const name = uniqueAlias('orders');
    const before = Date.now() / 1000;
    await createAlias(name, key.KeyId);
    const listed = await entry(name);
    expect(listed).toEqual({ AliasName: name, AliasArn: aliasArn(name), TargetKeyId: key.KeyId, CreationDate: expect.any(Number), LastUpdatedDate: expect.any(Number) });
    expect(listed!.LastUpdatedDate).toBe(listed!.CreationDate);
    expect(listed!.CreationDate).toBeGreaterThanOrEqual(Math.floor(before) - 1);
    expect(listed!.CreationDate).toBeLessThanOrEqual(Date.now() / 1000 + 1);
  });

  it('accepts the key ARN as TargetKeyId, and a disabled key', async () => {
    const key = await createKey();
    await reshape(key.KeyId, { state: 'Disabled' });
    const name = uniqueAlias('by-arn');
    await createAlias(name, key.Arn);
    expect((await entry(name))?.TargetKeyId).toBe(key.KeyId);
  });

  it('accepts letters, digits, slashes, underscores and dashes, up to 256 characters in all', async () => {
    const key = await createKey();
    for (const name of ['alias/My_Alias-1/x', 'alias/a', `alias/${'L'.repeat(250)}`, 'alias/aws', 'alias/awsome/x']) {
      await createAlias(name, key.KeyId);
    }
  });

  it('refuses names without the alias/ prefix with AWS message', async () => {
    const key = await createKey();
    for (const name of ['orders', 'Alias/orders', 'wrongprefix/my-alias', 'aliasx']) {
      expect((await call('CreateAlias', { AliasName: name, TargetKeyId: key.KeyId })).body).toEqual({ __type: 'ValidationException', message: PREFIX_MESSAGE });
    }
  });

  it('refuses characters outside the AliasName pattern, and a colon', async () => {
    const key = await createKey();
    for (const name of ['alias/my-alias!', 'alias/my alias', 'alias/my.alias', 'alias/ü', 'no prefix$']) {
      expect((await call('CreateAlias', { AliasName: name, TargetKeyId: key.KeyId })).body).toEqual({
        __type: 'ValidationException',
        message: `1 validation error detected: Value '${name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$`,
      });
    }
    expect((await call('CreateAlias', { AliasName: 'alias/my:alias', TargetKeyId: key.KeyId })).body).toEqual({ __type: 'ValidationException', message: 'alias/my:alias contains invalid characters for an alias' });
    expect((await call('CreateAlias', { AliasName: 'alias/', TargetKeyId: key.KeyId })).body).toEqual({
      __type: 'ValidationException', message: 'alias/ is not a valid alias name: it needs at least one character after the prefix "alias/"',
    });
  });

  it('refuses lengths outside 1-256 and missing members', async () => {
    const key = await createKey();
    const long = `alias/${'a'.repeat(251)}`;
    expect((await call('CreateAlias', { AliasName: long, TargetKeyId: key.KeyId })).body).toEqual({
      __type: 'ValidationException', message: `1 validation error detected: Value '${long}' at 'aliasName' failed to satisfy constraint: Member must have length less than or equal to 256`,
    });
    const empty = (await call('CreateAlias', { AliasName: '', TargetKeyId: key.KeyId })).body;
    expect(empty.__type).toBe('ValidationException');
    expect(empty.message).toMatch(/^2 validation errors detected: Value '' at 'aliasName' failed to satisfy constraint: Member must have length greater than or equal to 1; /);
    expect((await call('CreateAlias', { TargetKeyId: key.KeyId })).body).toEqual({ __type: 'ValidationException', message: "1 validation error detected: Value null at 'aliasName' failed to satisfy constraint: Member must not be null" });
    expect((await call('CreateAlias', { AliasName: uniqueAlias() })).body).toEqual({ __type: 'ValidationException', message: "1 validation error detected: Value null at 'targetKeyId' failed to satisfy constraint: Member must not be null" });
    expect((await call('CreateAlias', { AliasName: uniqueAlias(), TargetKeyId: '' })).body.message).toBe("1 validation error detected: Value '' at 'targetKeyId' failed to satisfy constraint: Member must have length greater than or equal to 1");
  });

  it('alias names beginning with alias/aws/ are reserved for AWS managed keys.', async () => {
    const key = await createKey();
    for (const name of ['alias/aws/s3', 'alias/aws/ebs', 'alias/aws/']) {
      expect((await call('CreateAlias', { AliasName: name, TargetKeyId: key.KeyId })).body).toEqual({
        __type: 'InvalidAliasNameException', message: `${name} is not a valid alias name: the prefix "alias/aws/" is reserved for AWS managed keys`,
      });
    }
    expect((await call('UpdateAlias', { AliasName: 'alias/aws/s3', TargetKeyId: key.KeyId })).body.__type).toBe('InvalidAliasNameException');
    expect((await call('DeleteAlias', { AliasName: 'alias/aws/s3' })).body.__type).toBe('InvalidAliasNameException');
    // The reserved names listed are AWS's predefined ones, none pointing at this key.
    expect((await listAll()).filter((a) => a.AliasName.startsWith('alias/aws/') && a.TargetKeyId !== undefined)).toEqual([]);
  });

  it('refuses a name that exists, whichever key it points at', async () => {
    const one = await createKey();
    const two = await createKey();
    const name = uniqueAlias('dup');
    await createAlias(name, one.KeyId);
    for (const target of [one.KeyId, two.KeyId]) {
      expect((await call('CreateAlias', { AliasName: name, TargetKeyId: target })).body).toEqual({ __type: 'AlreadyExistsException', message: `An alias with the name ${aliasArn(name)} already exists` });
    }
    expect((await entry(name))?.TargetKeyId).toBe(one.KeyId);
  });

  it('treats names as case-sensitive: alias/Foo and alias/foo are two aliases', async () => {
    const upper = await createKey();
    const lower = await createKey();
    const stem = uniqueAlias('case').slice('alias/'.length);
    await createAlias(`alias/Foo-${stem}`, upper.KeyId);
    await createAlias(`alias/foo-${stem}`, lower.KeyId);
    expect((await call('DescribeKey', { KeyId: `alias/Foo-${stem}` })).body.KeyMetadata.KeyId).toBe(upper.KeyId);
    expect((await call('DescribeKey', { KeyId: `alias/foo-${stem}` })).body.KeyMetadata.KeyId).toBe(lower.KeyId);
    expect((await call('DescribeKey', { KeyId: `alias/FOO-${stem}` })).body.__type).toBe('NotFoundException');
  });

  it('keeps aliases unique per region: the same name can exist in another region', async () => {
    const here = await createKey();
    const there = await createKey({ region: 'eu-west-1' });
    const name = uniqueAlias('regional');
    await createAlias(name, here.KeyId);
    expect((await call('CreateAlias', { AliasName: name, TargetKeyId: there.KeyId }, { region: 'eu-west-1' })).status).toBe(200);
    expect((await call('DescribeKey', { KeyId: name }, { region: 'eu-west-1' })).body.KeyMetadata.KeyId).toBe(there.KeyId);
    expect((await call('DescribeKey', { KeyId: name })).body.KeyMetadata.KeyId).toBe(here.KeyId);
    // An alias is never created for a key of another region.
    expect((await call('CreateAlias', { AliasName: uniqueAlias(), TargetKeyId: there.Arn })).body).toEqual({ __type: 'NotFoundException', message: 'Invalid arn eu-west-1' });
  });

  it('an alias is created only for a key named by key id or key ARN, never for another alias.', async () => {
    const key = await createKey();
    const name = uniqueAlias('first');
    await createAlias(name, key.KeyId);
    for (const target of [name, aliasArn(name)]) {
      expect((await call('CreateAlias', { AliasName: uniqueAlias(), TargetKeyId: target })).body).toEqual({ __type: 'NotFoundException', message: `Invalid keyId '${target}'` });
    }
    const missing = randomUUID();
    expect((await call('CreateAlias', { AliasName: uniqueAlias(), TargetKeyId: missing })).body).toEqual({ __type: 'NotFoundException', message: `Key '${keyArn(missing)}' does not exist` });
    expect((await call('CreateAlias', { AliasName: uniqueAlias(), TargetKeyId: 'not-a-key' })).body).toEqual({ __type: 'NotFoundException', message: "Invalid keyId 'not-a-key'" });
  });

  it('refuses a key pending deletion with KMSInvalidStateException', async () => {
    const key = await createKey();
    await reshape(key.KeyId, { state: 'PendingDeletion' });
    expect((await call('CreateAlias', { AliasName: uniqueAlias(), TargetKeyId: key.KeyId })).body).toEqual({ __type: 'KMSInvalidStateException', message: `${key.Arn} is pending deletion.` });
  });

  it('a key has at most 50 aliases.', async () => {
    const key = await createKey();
    const names = Array.from({ length: 50 }, () => uniqueAlias('quota'));
    for (const name of names) await createAlias(name, key.KeyId);
    const over = uniqueAlias('quota');
    expect((await call('CreateAlias', { AliasName: over, TargetKeyId: key.KeyId })).body).toEqual({
      __type: 'LimitExceededException', message: `${key.Arn} already has 50 aliases, the most a KMS key can have`,
    });
    expect(await listAll({ KeyId: key.KeyId })).toHaveLength(50);
    // The quota is per key: another key still takes aliases, and a freed place can be reused.
    await createAlias(over, (await createKey()).KeyId);
    expect((await call('DeleteAlias', { AliasName: names[0] })).status).toBe(200);
    await createAlias(uniqueAlias('quota'), key.KeyId);
  });

  it('UpdateAlias never gives a key more than 50 aliases.', async () => {
    const key = await createKey();
    for (let i = 0; i < 50; i++) await createAlias(uniqueAlias('quota'), key.KeyId);
    // The alias being moved stays where it was.
    const elsewhere = (await createKey()).KeyId;
    const moving = uniqueAlias('quota');
    await createAlias(moving, elsewhere);
    expect((await call('UpdateAlias', { AliasName: moving, TargetKeyId: key.KeyId })).body).toEqual({
      __type: 'LimitExceededException', message: `${key.Arn} already has 50 aliases, the most a KMS key can have`,
    });
    expect((await call('ListAliases', { KeyId: elsewhere })).body.Aliases).toMatchObject([{ AliasName: moving }]);
  });

  it('keeps to the quota when creations race', async () => {
    // Every insert is slowed, as a networked store's writes are, so the requests overlap.
    const slow = await startTestService({
      clock,
      wrapStore: (store) => withRepositories(store, { aliases: new Proxy(store.aliases, {
        get(target, property) {
          const member = Reflect.get(target, property, target) as unknown;
          if (typeof member !== 'function') return member;
          const method = member as (...args: unknown[]) => Promise<unknown>;
          if (property !== 'insertWithinLimit') return method.bind(target);
          return async (...args: unknown[]) => {
            await new Promise((resolve) => setTimeout(resolve, 20));
            return method.apply(target, args);
          };
        },
      }) }),
    });
    try {
      const key = (await kmsCall(slow.app, 'CreateKey', {})).body.KeyMetadata as { KeyId: string };
      for (let i = 0; i < 47; i++) expect((await kmsCall(slow.app, 'CreateAlias', { AliasName: uniqueAlias('race'), TargetKeyId: key.KeyId })).status).toBe(200);
      const results = await Promise.all(Array.from({ length: 8 }, () => kmsCall(slow.app, 'CreateAlias', { AliasName: uniqueAlias('race'), TargetKeyId: key.KeyId })));
      const refused = results.filter((res) => res.status !== 200);
      for (const res of refused) expect(res.body.__type).toBe('LimitExceededException');
      // Exactly the three free places are taken.
      expect(refused.length).toBe(5);
      expect(await slow.store.aliases.countForKey(scope, key.KeyId)).toBe(50);
    } finally {
      await slow.close();
    }
  });

  it('refuses principals other than root with AccessDeniedException on the key', async () => {
    const key = await createKey();
    const name = uniqueAlias('alice');
    expect((await call('CreateAlias', { AliasName: name, TargetKeyId: key.Arn }, { credentials: ALICE })).body).toEqual({
      __type: 'AccessDeniedException',
      message: `User: ${ALICE.principalArn} is not authorized to perform: kms:CreateAlias on resource: ${key.Arn} because no resource-based policy allows the kms:CreateAlias action`,
    });
    expect(await entry(name)).toBeUndefined();
    // Another account cannot point its alias at this account's key either.
    expect((await call('CreateAlias', { AliasName: name, TargetKeyId: key.Arn }, { credentials: OTHER_ROOT })).body.__type).toBe('AccessDeniedException');
  });
});

describe('UpdateAlias', () => {
  it('moves an alias to another key: Encrypt goes to the new key, LastUpdatedDate moves, CreationDate stays', async () => {
    const oldKey = await createKey();
    const newKey = await createKey();
    const name = uniqueAlias('moving');
    await createAlias(name, oldKey.KeyId);
    const before = await entry(name);
    const oldBlob = (await call('Encrypt', { KeyId: name, Plaintext: b64('before') })).body.CiphertextBlob;

    shiftMs += 90_000;
    const res = await call('UpdateAlias', { AliasName: name, TargetKeyId: newKey.Arn });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const after = await entry(name);
    expect(after).toMatchObject({ AliasName: name, AliasArn: aliasArn(name), TargetKeyId: newKey.KeyId, CreationDate: before!.CreationDate });
    expect(after!.LastUpdatedDate - before!.LastUpdatedDate).toBeGreaterThanOrEqual(89);

    const enc = await call('Encrypt', { KeyId: name, Plaintext: b64('after') });
    expect(enc.body.KeyId).toBe(newKey.Arn);
    expect((await call('Decrypt', { CiphertextBlob: enc.body.CiphertextBlob, KeyId: name })).body.KeyId).toBe(newKey.Arn);
    // What the old key encrypted still decrypts, but no longer through the alias.
    expect((await call('Decrypt', { CiphertextBlob: oldBlob })).body.KeyId).toBe(oldKey.Arn);
    expect((await call('Decrypt', { CiphertextBlob: oldBlob, KeyId: name })).body.__type).toBe('IncorrectKeyException');
  });

  it('answers NotFoundException for an alias that does not exist', async () => {
    const key = await createKey();
    const name = uniqueAlias('absent');
    expect((await call('UpdateAlias', { AliasName: name, TargetKeyId: key.KeyId })).body).toEqual({ __type: 'NotFoundException', message: `Alias ${aliasArn(name)} is not found.` });
  });

  it('validates the name and the target as CreateAlias does', async () => {
    const key = await createKey();
    const name = uniqueAlias('validated');
    await createAlias(name, key.KeyId);
    expect((await call('UpdateAlias', { AliasName: 'orders', TargetKeyId: key.KeyId })).body).toEqual({ __type: 'ValidationException', message: PREFIX_MESSAGE });
    expect((await call('UpdateAlias', { AliasName: 'alias/x!', TargetKeyId: key.KeyId })).body.message).toBe("1 validation error detected: Value 'alias/x!' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$");
    expect((await call('UpdateAlias', { AliasName: name, TargetKeyId: name })).body).toEqual({ __type: 'NotFoundException', message: `Invalid keyId '${name}'` });
    expect((await call('UpdateAlias', { AliasName: name })).body.message).toBe("1 validation error detected: Value null at 'targetKeyId' failed to satisfy constraint: Member must not be null");
  });

  it('UpdateAlias moves an alias only to a key of the same key type and key usage.', async () => {
    const symmetric = await createKey();
    const hmac = await keyOfKind('HMAC_256', 'GENERATE_VERIFY_MAC');
    const rsaEncrypt = await keyOfKind('RSA_2048', 'ENCRYPT_DECRYPT');
    const rsaSign = await keyOfKind('RSA_2048', 'SIGN_VERIFY');
    const eccSign = await keyOfKind('ECC_NIST_P256', 'SIGN_VERIFY');
    const hmac512 = await keyOfKind('HMAC_512', 'GENERATE_VERIFY_MAC');

    const onSymmetric = uniqueAlias('sym');
    await createAlias(onSymmetric, symmetric.KeyId);
    // Another type, even with the same key usage.
    expect((await call('UpdateAlias', { AliasName: onSymmetric, TargetKeyId: rsaEncrypt.KeyId })).body).toEqual({
      __type: 'ValidationException',
      message: `${onSymmetric} cannot be moved to ${rsaEncrypt.Arn}, which is an asymmetric key with key usage ENCRYPT_DECRYPT: its current key ${symmetric.Arn} is a symmetric key with key usage ENCRYPT_DECRYPT, and the new key must have the same key type and key usage.`,
    });
    expect((await call('UpdateAlias', { AliasName: onSymmetric, TargetKeyId: hmac.KeyId })).body.__type).toBe('ValidationException');
    expect((await entry(onSymmetric))?.TargetKeyId).toBe(symmetric.KeyId);

    // The same type with another key usage.
    const onSign = uniqueAlias('sign');
    await createAlias(onSign, rsaSign.KeyId);
    const usage = (await call('UpdateAlias', { AliasName: onSign, TargetKeyId: rsaEncrypt.KeyId })).body;
    expect(usage.__type).toBe('ValidationException');
    expect(usage.message).toContain(`its current key ${rsaSign.Arn} is an asymmetric key with key usage SIGN_VERIFY`);
    // Same type and usage, different spec: allowed.
    expect((await call('UpdateAlias', { AliasName: onSign, TargetKeyId: eccSign.KeyId })).status).toBe(200);
    expect((await entry(onSign))?.TargetKeyId).toBe(eccSign.KeyId);

    const onHmac = uniqueAlias('mac');
    await createAlias(onHmac, hmac.KeyId);
    expect((await call('UpdateAlias', { AliasName: onHmac, TargetKeyId: symmetric.KeyId })).body.__type).toBe('ValidationException');
    expect((await call('UpdateAlias', { AliasName: onHmac, TargetKeyId: hmac512.Arn })).status).toBe(200);
  });

  it('refuses a new key pending deletion, but moves an alias away from one', async () => {
    const pending = await createKey();
    const healthy = await createKey();
    const toPending = uniqueAlias('to-pending');
    await createAlias(toPending, healthy.KeyId);
    await reshape(pending.KeyId, { state: 'PendingDeletion' });
    expect((await call('UpdateAlias', { AliasName: toPending, TargetKeyId: pending.KeyId })).body).toEqual({ __type: 'KMSInvalidStateException', message: `${pending.Arn} is pending deletion.` });
    expect((await entry(toPending))?.TargetKeyId).toBe(healthy.KeyId);

    const source = await createKey();
    const fromPending = uniqueAlias('from-pending');
    await createAlias(fromPending, source.KeyId);
    await reshape(source.KeyId, { state: 'PendingDeletion' });
    expect((await call('UpdateAlias', { AliasName: fromPending, TargetKeyId: healthy.KeyId })).status).toBe(200);
    expect((await entry(fromPending))?.TargetKeyId).toBe(healthy.KeyId);
  });

  it('moves an alias to a disabled key, and away from a key that no longer exists', async () => {
    const disabled = await createKey();
    await reshape(disabled.KeyId, { state: 'Disabled' });
    const name = uniqueAlias('disabled');
    await createAlias(name, (await createKey()).KeyId);
    expect((await call('UpdateAlias', { AliasName: name, TargetKeyId: disabled.KeyId })).status).toBe(200);

    const orphan = uniqueAlias('orphan');
    const now = new Date();
    await svc.store.aliases.insert({ ...scope, aliasName: orphan, targetKeyId: randomUUID(), createdAt: now, updatedAt: now });
    expect((await call('UpdateAlias', { AliasName: orphan, TargetKeyId: disabled.Arn })).status).toBe(200);
    expect((await entry(orphan))?.TargetKeyId).toBe(disabled.KeyId);
  });

  it('refuses principals other than root with AccessDeniedException', async () => {
    const oldKey = await createKey();
    const newKey = await createKey();
    const name = uniqueAlias('alice');
    await createAlias(name, oldKey.KeyId);
    expect((await call('UpdateAlias', { AliasName: name, TargetKeyId: newKey.Arn }, { credentials: ALICE })).body).toEqual({
      __type: 'AccessDeniedException',
      message: `User: ${ALICE.principalArn} is not authorized to perform: kms:UpdateAlias on resource: ${newKey.Arn} because no resource-based policy allows the kms:UpdateAlias action`,
    });
    expect((await entry(name))?.TargetKeyId).toBe(oldKey.KeyId);
  });
});

describe('DeleteAlias', () => {
  it('deletes the alias and leaves its key alone', async () => {
    const key = await createKey();
    const name = uniqueAlias('gone');
    await createAlias(name, key.KeyId);
    const res = await call('DeleteAlias', { AliasName: name });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect(await entry(name)).toBeUndefined();
    expect((await call('DescribeKey', { KeyId: name })).body).toEqual({ __type: 'NotFoundException', message: `Alias ${aliasArn(name)} is not found.` });
    expect((await call('DescribeKey', { KeyId: key.KeyId })).body.KeyMetadata.KeyState).toBe('Enabled');
    expect((await call('DeleteAlias', { AliasName: name })).body).toEqual({ __type: 'NotFoundException', message: `Alias ${aliasArn(name)} is not found.` });
    // The name is free again.
    await createAlias(name, key.KeyId);
  });

  it('validates the name', async () => {
    expect((await call('DeleteAlias', { AliasName: 'orders' })).body).toEqual({ __type: 'ValidationException', message: PREFIX_MESSAGE });
    expect((await call('DeleteAlias', {})).body.message).toBe("1 validation error detected: Value null at 'aliasName' failed to satisfy constraint: Member must not be null");
    expect((await call('DeleteAlias', { AliasName: `alias/${'a'.repeat(251)}` })).body.__type).toBe('ValidationException');
  });

  it('deletes aliases of keys in any state, and of keys that no longer exist', async () => {
    const key = await createKey();
    const name = uniqueAlias('pending');
    await createAlias(name, key.KeyId);
    await reshape(key.KeyId, { state: 'PendingDeletion' });
    expect((await call('DeleteAlias', { AliasName: name })).status).toBe(200);

    const orphan = uniqueAlias('orphan');
    const now = new Date();
    await svc.store.aliases.insert({ ...scope, aliasName: orphan, targetKeyId: randomUUID(), createdAt: now, updatedAt: now });
    expect((await call('DeleteAlias', { AliasName: orphan })).status).toBe(200);
  });

  it('refuses principals other than root with AccessDeniedException on the alias key', async () => {
    const key = await createKey();
    const name = uniqueAlias('alice');
    await createAlias(name, key.KeyId);
    expect((await call('DeleteAlias', { AliasName: name }, { credentials: ALICE })).body).toEqual({
      __type: 'AccessDeniedException',
      message: `User: ${ALICE.principalArn} is not authorized to perform: kms:DeleteAlias on resource: ${key.Arn} because no resource-based policy allows the kms:DeleteAlias action`,
    });
    expect(await entry(name)).toBeDefined();
  });
});

describe('ListAliases', () => {
  it('pages with Limit and Marker through one key\'s aliases, in name order', async () => {
    const key = await createKey();
    const names = Array.from({ length: 5 }, () => uniqueAlias('page')).sort();
    for (const name of [...names].reverse()) await createAlias(name, key.KeyId);
    const pages: string[][] = [];
    let marker: string | undefined;
    do {
      const res = await call('ListAliases', { KeyId: key.KeyId, Limit: 2, ...(marker ? { Marker: marker } : {}) });
      expect(res.status).toBe(200);
      expect(res.body.Truncated).toBe(res.body.NextMarker !== undefined);
      pages.push(res.body.Aliases.map((a: Entry) => a.AliasName));
      marker = res.body.NextMarker;
    } while (marker);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat()).toEqual(names);
    const last = await call('ListAliases', { KeyId: key.KeyId });
    expect(last.body.Truncated).toBe(false);
    expect(last.body.NextMarker).toBeUndefined();
  });

  it('filters by key id or key ARN, and lists every alias of the account and region without a filter', async () => {
    const one = await createKey();
    const two = await createKey();
    const a = uniqueAlias('filter');
    const b = uniqueAlias('filter');
    const c = uniqueAlias('filter');
    await createAlias(a, one.KeyId);
    await createAlias(b, one.KeyId);
    await createAlias(c, two.KeyId);
    for (const keyId of [one.KeyId, one.Arn]) {
      expect((await listAll({ KeyId: keyId })).map((e) => e.AliasName)).toEqual([a, b]);
    }
    expect((await listAll({ KeyId: two.KeyId })).map((e) => e.AliasName)).toEqual([c]);
    expect(await listAll({ KeyId: (await createKey()).KeyId })).toEqual([]);
    const everything = (await listAll()).map((e) => e.AliasName);
    expect(everything).toEqual(expect.arrayContaining([a, b, c]));
    expect(everything).toEqual([...everything].sort());
    // Another region has its own aliases.
    expect(withTargets(await listAll({}, { region: 'ap-south-1' }))).toEqual([]);
  });

  it('returns 50 aliases by default, and at most Limit, which is 1 to 100', async () => {
    const keys = [await createKey(), await createKey()];
    for (let i = 0; i < 60; i++) await createAlias(uniqueAlias('default'), keys[i % 2]!.KeyId);
    const page = await call('ListAliases', {});
    expect(page.body.Aliases).toHaveLength(50);
    expect(page.body.Truncated).toBe(true);
    expect((await call('ListAliases', { Limit: 100 })).body.Aliases).toHaveLength(100);
    expect((await call('ListAliases', { Limit: 0 })).body).toEqual({ __type: 'ValidationException', message: "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1" });
    expect((await call('ListAliases', { Limit: 101 })).body).toEqual({ __type: 'ValidationException', message: "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100" });
    expect((await call('ListAliases', { Marker: 'not-a-marker' })).body).toEqual({ __type: 'InvalidMarkerException', message: 'Marker is invalid' });
  });

  it('pages through aliases with the longest names', async () => {
    const key = await createKey();
    const names = ['x', 'y', 'z'].map((c) => `alias/${c.repeat(250)}`);
    for (const name of names) await createAlias(name, key.KeyId);
    const first = await call('ListAliases', { KeyId: key.KeyId, Limit: 1 });
    expect(first.body.NextMarker.length).toBeGreaterThan(320);
    expect((await listAll({ KeyId: key.KeyId, Limit: 1 })).map((e) => e.AliasName)).toEqual(names);
  });

  it('takes a key id or key ARN only, of a key that exists', async () => {
    const key = await createKey();
    const name = uniqueAlias('keyid');
    await createAlias(name, key.KeyId);
    for (const keyId of [name, aliasArn(name), 'not-a-key']) {
      expect((await call('ListAliases', { KeyId: keyId })).body).toEqual({ __type: 'NotFoundException', message: `Invalid keyId '${keyId}'` });
    }
    const missing = randomUUID();
    expect((await call('ListAliases', { KeyId: missing })).body).toEqual({ __type: 'NotFoundException', message: `Key '${keyArn(missing)}' does not exist` });
    expect((await call('ListAliases', { KeyId: key.Arn.replace(REGION, 'eu-west-1') })).body).toEqual({ __type: 'NotFoundException', message: 'Invalid arn eu-west-1' });
  });

  it('ListAliases names only keys of the caller\'s own account.', async () => {
    const key = await createKey();
    await createAlias(uniqueAlias('mine'), key.KeyId);
    expect((await call('ListAliases', { KeyId: key.Arn }, { credentials: OTHER_ROOT })).body).toEqual({ __type: 'NotFoundException', message: `Key '${key.Arn}' does not exist` });
    // Without a filter, another account sees only its own aliases: here AWS's predefined ones, with no key yet.
    const theirs = await listAll({}, { credentials: OTHER_ROOT });
    expect(theirs.length).toBeGreaterThan(0);
    expect(withTargets(theirs)).toEqual([]);
  });

  it('refuses principals other than root with AccessDeniedException on "*"', async () => {
    expect((await call('ListAliases', {}, { credentials: ALICE })).body).toEqual({
      __type: 'AccessDeniedException',
      message: `User: ${ALICE.principalArn} is not authorized to perform: kms:ListAliases on resource: * because no identity-based policy allows the kms:ListAliases action`,
    });
  });
});

describe('deleting a key', () => {
  it('deletes its aliases, and frees their names', async () => {
    const doomed = await createKey();
    const other = await createKey();
    const names = [uniqueAlias('doomed'), uniqueAlias('doomed')];
    for (const name of names) await createAlias(name, doomed.KeyId);
    const survivor = uniqueAlias('survivor');
    await createAlias(survivor, other.KeyId);

    await svc.store.keys.delete(scope, doomed.KeyId);

    const listed = (await listAll()).map((e) => e.AliasName);
    for (const name of names) expect(listed).not.toContain(name);
    expect(listed).toContain(survivor);
    expect((await call('DescribeKey', { KeyId: names[0]! })).body).toEqual({ __type: 'NotFoundException', message: `Alias ${aliasArn(names[0]!)} is not found.` });
    await createAlias(names[0]!, other.KeyId);
  });
});

describe('aliases as KeyId', () => {
  it('Encrypt, Decrypt, GenerateDataKey and DescribeKey accept an alias name and an alias ARN', async () => {
    const key = await createKey();
    const name = uniqueAlias('resolve');
    await createAlias(name, key.KeyId);
    for (const keyId of [name, aliasArn(name)]) {
      const enc = await call('Encrypt', { KeyId: keyId, Plaintext: b64('via alias') });
      expect(enc.status).toBe(200);
      expect(enc.body.KeyId).toBe(key.Arn);
      const dec = await call('Decrypt', { CiphertextBlob: enc.body.CiphertextBlob, KeyId: keyId });
      expect(dec.body.KeyId).toBe(key.Arn);
      expect(Buffer.from(dec.body.Plaintext, 'base64').toString()).toBe('via alias');
      expect((await call('GenerateDataKey', { KeyId: keyId, KeySpec: 'AES_256' })).body.KeyId).toBe(key.Arn);
      expect((await call('DescribeKey', { KeyId: keyId })).body.KeyMetadata).toMatchObject({ KeyId: key.KeyId, Arn: key.Arn });
    }
  });

  it('answers NotFoundException for an unknown alias and an alias ARN of another region', async () => {
    const name = uniqueAlias('unknown');
    expect((await call('Encrypt', { KeyId: name, Plaintext: b64('x') })).body).toEqual({ __type: 'NotFoundException', message: `Alias ${aliasArn(name)} is not found.` });
    expect((await call('DescribeKey', { KeyId: aliasArn(name) })).body).toEqual({ __type: 'NotFoundException', message: `Alias ${aliasArn(name)} is not found.` });
    expect((await call('DescribeKey', { KeyId: aliasArn(name, 'eu-west-1') })).body).toEqual({ __type: 'NotFoundException', message: 'Invalid arn eu-west-1' });
  });

  it('applies the key state of the key behind the alias', async () => {
    const key = await createKey();
    const name = uniqueAlias('state');
    await createAlias(name, key.KeyId);
    await reshape(key.KeyId, { state: 'Disabled' });
    expect((await call('Encrypt', { KeyId: name, Plaintext: b64('x') })).body).toEqual({ __type: 'DisabledException', message: `${key.Arn} is disabled.` });
    expect((await call('DescribeKey', { KeyId: name })).body.KeyMetadata.KeyState).toBe('Disabled');
  });
});
