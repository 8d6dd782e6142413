// CreateGrant, ListGrants, ListRetirableGrants, RetireGrant and RevokeGrant through the HTTP
// layer, on a real SoftHSM token and the embedded store.
import { generateKeyPairSync } from 'node:crypto';
import { deleteDueKeys } from '../../src/core/jobs/deletion';
import { MAX_GRANTS_PER_KEY } from '../../src/core/access/grants';
import { kmsOperations as operations, type KmsOperationName as OperationName } from '../../src/http/kms/operations';
import type { MetadataStore } from '../../src/core/ports';
import { kmsCall } from '../support/signed';
import { ACCOUNT, ALICE, OTHER_ROOT, REGION, startTestService, type TestService } from '../support/service';
import { withRepositories } from '../support/wrapped-store';

let svc: TestService;
beforeAll(async () => { svc = await startTestService(); });
afterAll(async () => { await svc.close(); });

const OTHER_ACCOUNT = '444455556666';
const ROOT_ARN = `arn:aws:iam::${ACCOUNT}:root`;
const ALICE_ARN = ALICE.principalArn;
const BOB_ARN = `arn:aws:iam::${ACCOUNT}:user/bob`;
const CAROL_ARN = `arn:aws:iam::${OTHER_ACCOUNT}:user/carol`;
const scope = { accountId: ACCOUNT, region: REGION };

type Options = Parameters<typeof kmsCall>[3];
type Key = { KeyId: string; Arn: string };
type Created = { GrantId: string; GrantToken: string };
type Entry = Record<string, unknown> & { GrantId: string };

async function call(operation: string, body: object, options: Options = {}) {
  return kmsCall(svc.app, operation, body, options);
}

/** Succeeds with status 200; returns the body. */
async function ok(operation: string, body: object, options: Options = {}) {
  const res = await call(operation, body, options);
  expect({ status: res.status, type: res.body.__type, message: res.body.message }).toEqual({ status: 200, type: undefined, message: undefined });
  return res.body as Record<string, unknown>;
}

/** Fails with status 400 and this error type (and this exact message, when given). */
async function fails(operation: string, body: object, __type: string, message?: string | RegExp, options: Options = {}) {
  const res = await call(operation, body, options);
  expect({ status: res.status, __type: res.body.__type }).toEqual({ status: 400, __type });
  if (typeof message === 'string') expect(res.body.message).toBe(message);
  if (message instanceof RegExp) expect(res.body.message).toMatch(message);
  return res.body as { __type: string; message: string };
}

async function createKey(body: object = {}, options: Options = {}): Promise<Key> {
  return (await ok('CreateKey', body, options)).KeyMetadata as Key;
}

async function createGrant(body: object, options: Options = {}): Promise<Created> {
  return (await ok('CreateGrant', body, options)) as unknown as Created;
}

async function listGrants(body: object, options: Options = {}): Promise<Entry[]> {
  const page = await ok('ListGrants', body, options);
  return page.Grants as Entry[];
}

/** Every page, following NextMarker; checks Truncated on each. */
async function allPages(operation: string, body: object, limit: number, options: Options = {}): Promise<Entry[][]> {
  const pages: Entry[][] = [];
  let marker: string | undefined;
  do {
    const page = await ok(operation, { ...body, Limit: limit, ...(marker ? { Marker: marker } : {}) }, options);
    pages.push(page.Grants as Entry[]);
    marker = page.NextMarker as string | undefined;
    expect(page.Truncated).toBe(marker !== undefined);
  } while (marker !== undefined);
  return pages;
}

const ids = (entries: Entry[]) => entries.map((e) => e.GrantId);
const decrypt = (KeyId: string, GranteePrincipal = ALICE_ARN, extra: object = {}) => ({ KeyId, GranteePrincipal, Operations: ['Decrypt'], ...extra });

describe('CreateGrant', () => {
  it('creates a grant and ListGrants shows it as AWS does', async () => {
    const key = await createKey();
    const created = await createGrant({
      KeyId: key.KeyId, GranteePrincipal: ALICE_ARN, RetiringPrincipal: BOB_ARN, Operations: ['Encrypt', 'Decrypt', 'DescribeKey'],
      Constraints: { EncryptionContextSubset: { Department: 'IT' } }, Name: 'app-1:/_-',
    });
    expect(Object.keys(created).sort()).toEqual(['GrantId', 'GrantToken']);
    expect(created.GrantId).toMatch(/^[0-9a-f]{64}$/);
    expect(created.GrantToken).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);

    const [entry, ...rest] = await listGrants({ KeyId: key.KeyId });
    expect(rest).toEqual([]);
    expect(entry).toEqual({
      KeyId: key.Arn, GrantId: created.GrantId, Name: 'app-1:/_-', CreationDate: expect.any(Number), GranteePrincipal: ALICE_ARN,
      RetiringPrincipal: BOB_ARN, IssuingAccount: ROOT_ARN, Operations: ['Encrypt', 'Decrypt', 'DescribeKey'],
      Constraints: { EncryptionContextSubset: { Department: 'IT' } },
    });
    expect(Math.abs((entry!.CreationDate as number) - Date.now() / 1000)).toBeLessThan(60);
  });

  it('leaves out what the request left out: Name, RetiringPrincipal, Constraints', async () => {
    const key = await createKey();
    const created = await createGrant(decrypt(key.Arn));
    expect(await listGrants({ KeyId: key.Arn })).toEqual([{
      KeyId: key.Arn, GrantId: created.GrantId, CreationDate: expect.any(Number), GranteePrincipal: ALICE_ARN,
      IssuingAccount: ROOT_ARN, Operations: ['Decrypt'],
    }]);
  });

  it('names the key by key id or key ARN only', async () => {
    const key = await createKey();
    await ok('CreateAlias', { AliasName: 'alias/grants-target', TargetKeyId: key.KeyId });
    await createGrant(decrypt(key.KeyId));
    await createGrant(decrypt(key.Arn));
    await fails('CreateGrant', decrypt('alias/grants-target'), 'NotFoundException', "Invalid keyId 'alias/grants-target'");
    const missing = '00000000-0000-4000-8000-000000000404';
    await fails('CreateGrant', decrypt(missing), 'NotFoundException', `Key 'arn:aws:kms:${REGION}:${ACCOUNT}:key/${missing}' does not exist`);
    await fails('CreateGrant', decrypt('invalid'), 'NotFoundException', "Invalid keyId 'invalid'");
    expect(await listGrants({ KeyId: key.KeyId })).toHaveLength(2);
  });

  it('is idempotent for the same Name and identical parameters, and only then', async () => {
    const key = await createKey();
    const request = {
      KeyId: key.KeyId, GranteePrincipal: ALICE_ARN, RetiringPrincipal: BOB_ARN, Operations: ['Encrypt', 'Decrypt'], Name: 'retry-me',
      Constraints: { EncryptionContextEquals: { a: '1', b: '2' } },
    };
    const first = await createGrant(request);
    expect(await createGrant(request)).toEqual(first);
    // The same key by ARN, operations in another order and repeated, context pairs in another order: the same grant.
    expect(await createGrant({ ...request, KeyId: key.Arn, Operations: ['Decrypt', 'Encrypt', 'Decrypt'], Constraints: { EncryptionContextEquals: { b: '2', a: '1' } } })).toEqual(first);
    expect(await listGrants({ KeyId: key.KeyId })).toHaveLength(1);

    // Any difference makes another grant, with the same name.
    const variants = [
      { ...request, Operations: ['Encrypt'] }, { ...request, GranteePrincipal: BOB_ARN }, { ...request, RetiringPrincipal: ALICE_ARN },
      { ...request, RetiringPrincipal: undefined }, { ...request, Constraints: { EncryptionContextEquals: { a: '1' } } },
      { ...request, Constraints: { EncryptionContextSubset: { a: '1', b: '2' } } }, { ...request, Constraints: undefined },
      { ...request, Name: 'retry-me-2' },
    ];
    const made = new Set([first.GrantId]);
    for (const variant of variants) made.add((await createGrant(variant)).GrantId);
    expect(made.size).toBe(variants.length + 1);
    expect(await listGrants({ KeyId: key.KeyId })).toHaveLength(variants.length + 1);

    // Without a Name every request makes a new grant.
    const unnamed = { ...request, Name: undefined };
    expect((await createGrant(unnamed)).GrantId).not.toBe((await createGrant(unnamed)).GrantId);
  });

  it('keeps grants of the same name on two keys apart (AWS test_create_grant_with_same_name_two_keys)', async () => {
    const first = await createKey();
    const second = await createKey();
    const a = await createGrant({ ...decrypt(first.KeyId), Operations: ['Decrypt', 'DescribeKey'], Name: 'TestGrantName' });
    const b = await createGrant({ ...decrypt(second.KeyId), Operations: ['Decrypt', 'DescribeKey'], Name: 'TestGrantName' });
    expect(a.GrantId).not.toBe(b.GrantId);
    expect(ids(await listGrants({ KeyId: first.KeyId }))).toEqual([a.GrantId]);
    expect(ids(await listGrants({ KeyId: second.KeyId }))).toEqual([b.GrantId]);
  });

  it('validates its input as AWS\'s model does', async () => {
    const key = await createKey();
    await fails('CreateGrant', { KeyId: key.KeyId, Operations: ['Decrypt'] }, 'ValidationException',
      "1 validation error detected: Value null at 'granteePrincipal' failed to satisfy constraint: Member must not be null");
    await fails('CreateGrant', { KeyId: key.KeyId, GranteePrincipal: ALICE_ARN }, 'ValidationException',
      "1 validation error detected: Value null at 'operations' failed to satisfy constraint: Member must not be null");
    await fails('CreateGrant', { ...decrypt(key.KeyId), Operations: [] }, 'ValidationException',
      "1 validation error detected: Value at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1");
    await fails('CreateGrant', { ...decrypt(key.KeyId), Operations: ['Decrypt', 'PutKeyPolicy'] }, 'ValidationException',
      /^1 validation error detected: Value 'PutKeyPolicy' at 'operations.2.member' failed to satisfy constraint: Member must satisfy enum value set: \[Decrypt, Encrypt, /);
    await fails('CreateGrant', { ...decrypt(key.KeyId), Name: 'has space' }, 'ValidationException',
      "1 validation error detected: Value 'has space' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$");
    await fails('CreateGrant', { ...decrypt(key.KeyId), Name: 'n'.repeat(257) }, 'ValidationException', /Member must have length less than or equal to 256$/);
    await fails('CreateGrant', { ...decrypt(key.KeyId), GranteePrincipal: `arn:aws:iam::${ACCOUNT}:user/${'a'.repeat(240)}` }, 'ValidationException',
      /at 'granteePrincipal' failed to satisfy constraint: Member must have length less than or equal to 256$/);
    await fails('CreateGrant', { ...decrypt(key.KeyId), RetiringPrincipal: 'has space' }, 'ValidationException',
      "1 validation error detected: Value 'has space' at 'retiringPrincipal' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$");
    await fails('CreateGrant', { ...decrypt(key.KeyId), GrantTokens: Array.from({ length: 11 }, () => 'token') }, 'ValidationException',
      "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10");
    await fails('CreateGrant', { ...decrypt(key.KeyId), Constraints: { EncryptionContextEquals: { a: 1 } } }, 'SerializationException');
    expect(await listGrants({ KeyId: key.KeyId })).toEqual([]);
  });

  it('takes principal ARNs only', async () => {
    const key = await createKey();
    for (const principal of ['alice', ACCOUNT, 'dynamodb.us-west-2.amazonaws.com', `arn:aws:iam::${ACCOUNT}:group/admins`]) {
      await fails('CreateGrant', decrypt(key.KeyId, principal), 'InvalidArnException', new RegExp(`^${principal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a valid principal ARN`));
      await fails('CreateGrant', { ...decrypt(key.KeyId), RetiringPrincipal: principal }, 'InvalidArnException');
    }
    for (const principal of [ROOT_ARN, `arn:aws:iam::${OTHER_ACCOUNT}:root`, `arn:aws:iam::${ACCOUNT}:role/app`, `arn:aws:sts::${ACCOUNT}:assumed-role/app/s1`, CAROL_ARN]) {
      await createGrant(decrypt(key.KeyId, principal));
    }
  });

  it('grants only operations the key type supports', async () => {
    const symmetric = await createKey();
    const signing = await createKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const hmac = await createKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const body = await fails('CreateGrant', { ...decrypt(symmetric.KeyId), Operations: ['Decrypt', 'Sign'] }, 'ValidationException');
    expect(body.message).toBe('Grant operations [Sign] are not valid for a key with KeySpec SYMMETRIC_DEFAULT and KeyUsage ENCRYPT_DECRYPT');
    await fails('CreateGrant', { ...decrypt(signing.KeyId), Operations: ['Sign', 'GenerateDataKey'] }, 'ValidationException', /\[GenerateDataKey\]/);
    await fails('CreateGrant', { ...decrypt(hmac.KeyId), Operations: ['GenerateMac', 'Decrypt'] }, 'ValidationException', /\[Decrypt\]/);
    await createGrant({ ...decrypt(signing.KeyId), Operations: ['Sign', 'Verify', 'GetPublicKey', 'DescribeKey', 'CreateGrant', 'RetireGrant'] });
    await createGrant({ ...decrypt(hmac.KeyId), Operations: ['GenerateMac', 'VerifyMac', 'DescribeKey'] });
    await createGrant({ ...decrypt(symmetric.KeyId), Operations: ['GenerateDataKeyPair', 'ReEncryptFrom', 'ReEncryptTo', 'GenerateDataKeyWithoutPlaintext'] });
  });

  it('takes constraints only on symmetric encryption keys, with at most 8 pairs of values up to 384 characters', async () => {
    const symmetric = await createKey();
    const signing = await createKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    await fails('CreateGrant', { ...decrypt(signing.KeyId), Operations: ['Sign'], Constraints: { EncryptionContextSubset: { a: '1' } } }, 'ValidationException',
      'Encryption context grant constraints are supported only on symmetric encryption keys, not on a key with KeySpec ECC_NIST_P256 and KeyUsage SIGN_VERIFY');
    // An empty Constraints structure is no constraint at all.
    await createGrant({ ...decrypt(signing.KeyId), Operations: ['Sign'], Constraints: {} });

    const pairs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
    await createGrant({ ...decrypt(symmetric.KeyId), Constraints: { EncryptionContextSubset: pairs(8), EncryptionContextEquals: pairs(8) } });
    await fails('CreateGrant', { ...decrypt(symmetric.KeyId), Constraints: { EncryptionContextEquals: pairs(9) } }, 'ValidationException',
      'EncryptionContextEquals can have at most 8 encryption context pairs');
    await createGrant({ ...decrypt(symmetric.KeyId), Constraints: { EncryptionContextSubset: { k: 'v'.repeat(384) } } });
    await fails('CreateGrant', { ...decrypt(symmetric.KeyId), Constraints: { EncryptionContextSubset: { k: 'v'.repeat(385) } } }, 'ValidationException',
      'An encryption context value in EncryptionContextSubset can have at most 384 characters');
  });

  it('checks every grant token it is given', async () => {
    const key = await createKey();
    const parent = await createGrant({ ...decrypt(key.KeyId), Operations: ['CreateGrant', 'Decrypt'] });
    await createGrant({ ...decrypt(key.KeyId, BOB_ARN), GrantTokens: [parent.GrantToken] });
    await fails('CreateGrant', { ...decrypt(key.KeyId, BOB_ARN), GrantTokens: [parent.GrantToken, 'bogus'] }, 'InvalidGrantTokenException',
      'The grant token is not valid: it is malformed or its grant no longer exists.');
    expect(ids(await listGrants({ KeyId: key.KeyId, GranteePrincipal: BOB_ARN }))).toHaveLength(1);
  });

  it('answers DryRun without making a grant', async () => {
    const key = await createKey();
    await fails('CreateGrant', { ...decrypt(key.KeyId), DryRun: true }, 'DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.');
    // A request that would fail fails as usual.
    await fails('CreateGrant', { ...decrypt(key.KeyId), Operations: ['Sign'], DryRun: true }, 'ValidationException');
    await fails('CreateGrant', { ...decrypt(key.KeyId), DryRun: true }, 'AccessDeniedException', undefined, { credentials: ALICE });
    expect(await listGrants({ KeyId: key.KeyId })).toEqual([]);
  });

  it('is authorised like any key operation: today only the key account\'s root', async () => {
    const key = await createKey();
    await fails('CreateGrant', decrypt(key.KeyId), 'AccessDeniedException',
      `User: ${ALICE_ARN} is not authorized to perform: kms:CreateGrant on resource: ${key.Arn} because no resource-based policy allows the kms:CreateGrant action`,
      { credentials: ALICE });
    await fails('CreateGrant', decrypt(key.Arn), 'AccessDeniedException', undefined, { credentials: OTHER_ROOT });
    // Another account's key in the caller's own scope does not exist.
    await fails('CreateGrant', decrypt(key.KeyId), 'NotFoundException', undefined, { credentials: OTHER_ROOT });
    expect(await listGrants({ KeyId: key.KeyId })).toEqual([]);
  });
});

describe('the grant quota', () => {
  /** A store on which every key already holds `offset` grants: its limited inserts leave `offset` fewer places. */
  function inflated(offset: number) {
    return (store: MetadataStore) => withRepositories(store, { grants: new Proxy(store.grants, {
      get(target, property) {
        const member = Reflect.get(target, property, target) as unknown;
        if (typeof member !== 'function') return member;
        const method = member as (...args: unknown[]) => Promise<unknown>;
        if (property === 'countForKey') return async (...args: unknown[]) => ((await method.apply(target, args)) as number) + offset;
        if (property === 'insertWithinLimit') return (grant: unknown, limit: number) => method.call(target, grant, limit - offset);
        return method.bind(target);
      },
    }) });
  }

  it('refuses the grant past 50,000 on a key, and holds when creations race', async () => {
    const quota = await startTestService({ wrapStore: inflated(MAX_GRANTS_PER_KEY - 3) });
    try {
      const key = (await kmsCall(quota.app, 'CreateKey', {})).body.KeyMetadata as Key;
      for (let i = 0; i < 2; i++) expect((await kmsCall(quota.app, 'CreateGrant', decrypt(key.KeyId))).status).toBe(200);
      const named = (await kmsCall(quota.app, 'CreateGrant', { ...decrypt(key.KeyId), Name: 'last' })).body as Created;
      const over = await kmsCall(quota.app, 'CreateGrant', decrypt(key.KeyId));
      expect({ status: over.status, body: over.body }).toEqual({
        status: 400, body: { __type: 'LimitExceededException', message: `${key.Arn} already has 50000 grants, the most a KMS key can have` },
      });
      // A retried named request returns its grant, quota or not.
      expect((await kmsCall(quota.app, 'CreateGrant', { ...decrypt(key.KeyId), Name: 'last' })).body).toEqual(named);
      // Freeing a place lets the next grant in; racing requests then never exceed the quota.
      expect((await kmsCall(quota.app, 'RevokeGrant', { KeyId: key.KeyId, GrantId: named.GrantId })).status).toBe(200);
      const results = await Promise.all(Array.from({ length: 8 }, () => kmsCall(quota.app, 'CreateGrant', decrypt(key.KeyId))));
      const refused = results.filter((res) => res.status !== 200);
      for (const res of refused) expect(res.body.__type).toBe('LimitExceededException');
      // Exactly one takes the free place: the store counts and inserts in one step.
      expect(refused.length).toBe(7);
      expect(await quota.store.grants.countForKey(scope, key.KeyId)).toBe(3);
      // The quota is per key.
      const other = (await kmsCall(quota.app, 'CreateKey', {})).body.KeyMetadata as Key;
      expect((await kmsCall(quota.app, 'CreateGrant', decrypt(other.KeyId))).status).toBe(200);
    } finally {
      await quota.close();
    }
  });
});

describe('ListGrants', () => {
  it('filters by grant id and by grantee principal', async () => {
    const key = await createKey();
    const a1 = await createGrant(decrypt(key.KeyId, ALICE_ARN));
    const b1 = await createGrant(decrypt(key.KeyId, BOB_ARN));
    const a2 = await createGrant(decrypt(key.KeyId, ALICE_ARN));
    const elsewhere = await createGrant(decrypt((await createKey()).KeyId, ALICE_ARN));

    expect(ids(await listGrants({ KeyId: key.KeyId })).sort()).toEqual([a1, b1, a2].map((g) => g.GrantId).sort());
    expect(ids(await listGrants({ KeyId: key.KeyId, GranteePrincipal: ALICE_ARN })).sort()).toEqual([a1, a2].map((g) => g.GrantId).sort());
    expect(ids(await listGrants({ KeyId: key.KeyId, GrantId: b1.GrantId }))).toEqual([b1.GrantId]);
    expect(ids(await listGrants({ KeyId: key.KeyId, GrantId: b1.GrantId, GranteePrincipal: ALICE_ARN }))).toEqual([]);
    // A grant on another key, or no grant at all: an empty list.
    expect(await listGrants({ KeyId: key.KeyId, GrantId: elsewhere.GrantId })).toEqual([]);
    expect(await listGrants({ KeyId: key.KeyId, GrantId: 'f'.repeat(64) })).toEqual([]);
  });

  it('refuses a malformed grant id, an alias, an unknown key and a bad Limit', async () => {
    const key = await createKey();
    await fails('ListGrants', { KeyId: key.KeyId, GrantId: 'not-a-grant-id' }, 'InvalidGrantIdException', "Invalid grantId 'not-a-grant-id'");
    await fails('ListGrants', { KeyId: key.KeyId, GrantId: 'F'.repeat(64) }, 'InvalidGrantIdException');
    await fails('ListGrants', { KeyId: 'invalid' }, 'NotFoundException', "Invalid keyId 'invalid'");
    await fails('ListGrants', {}, 'ValidationException', "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");
    await ok('CreateAlias', { AliasName: 'alias/grants-list', TargetKeyId: key.KeyId });
    await fails('ListGrants', { KeyId: 'alias/grants-list' }, 'NotFoundException', "Invalid keyId 'alias/grants-list'");
    await fails('ListGrants', { KeyId: key.KeyId, Limit: 101 }, 'ValidationException',
      "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100");
    await fails('ListGrants', { KeyId: key.KeyId, Limit: 0 }, 'ValidationException');
    await fails('ListGrants', { KeyId: key.KeyId, Marker: 'bm90LWEtbWFya2Vy' }, 'InvalidMarkerException', 'Marker is invalid');
  });

  it('paginates in grant id order, 50 to a page by default', async () => {
    const key = await createKey();
    const made: string[] = [];
    for (let i = 0; i < 53; i++) made.push((await createGrant(decrypt(key.KeyId, i % 2 ? BOB_ARN : ALICE_ARN))).GrantId);
    const first = await ok('ListGrants', { KeyId: key.KeyId });
    expect((first.Grants as Entry[]).length).toBe(50);
    expect(first.Truncated).toBe(true);
    expect(typeof first.NextMarker).toBe('string');

    const pages = await allPages('ListGrants', { KeyId: key.KeyId }, 20);
    expect(pages.map((p) => p.length)).toEqual([20, 20, 13]);
    expect(pages.flat().map((e) => e.GrantId)).toEqual([...made].sort());

    const bobs = await allPages('ListGrants', { KeyId: key.KeyId, GranteePrincipal: BOB_ARN }, 10);
    expect(bobs.flat().map((e) => e.GrantId).sort()).toEqual(made.filter((_, i) => i % 2).sort());
    // A marker is for the same listing only; another kind of marker is refused.
    const aliasMarker = Buffer.from('alias:alias/x').toString('base64url');
    await fails('ListGrants', { KeyId: key.KeyId, Marker: aliasMarker }, 'InvalidMarkerException');
  });

  it('is authorised like any key operation, and lists grants of a key in any state', async () => {
    const key = await createKey();
    const grant = await createGrant(decrypt(key.KeyId));
    await fails('ListGrants', { KeyId: key.KeyId }, 'AccessDeniedException',
      `User: ${ALICE_ARN} is not authorized to perform: kms:ListGrants on resource: ${key.Arn} because no resource-based policy allows the kms:ListGrants action`,
      { credentials: ALICE });
    await fails('ListGrants', { KeyId: key.Arn }, 'AccessDeniedException', undefined, { credentials: OTHER_ROOT });
    await ok('ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 7 });
    expect(ids(await listGrants({ KeyId: key.KeyId }))).toEqual([grant.GrantId]);
  });
});

describe('ListRetirableGrants', () => {
  it('lists the grants that name a principal as retiring principal, on keys of any account', async () => {
    const retiring = `arn:aws:iam::${ACCOUNT}:user/retirer-${Date.now()}`;
    const own = await createKey();
    const g1 = await createGrant(decrypt(own.KeyId, BOB_ARN, { RetiringPrincipal: retiring }));
    const g2 = await createGrant(decrypt((await createKey()).Arn, ALICE_ARN, { RetiringPrincipal: retiring, Name: 'second' }));
    await createGrant(decrypt(own.KeyId, retiring, { RetiringPrincipal: BOB_ARN }));
    // Another account's key, whose root names our principal as retiring principal.
    const theirs = await createKey({}, { credentials: OTHER_ROOT });
    const g3 = await createGrant(decrypt(theirs.KeyId, CAROL_ARN, { RetiringPrincipal: retiring }), { credentials: OTHER_ROOT });

    const listed = (await ok('ListRetirableGrants', { RetiringPrincipal: retiring })) as { Grants: Entry[]; Truncated: boolean };
    expect(listed.Truncated).toBe(false);
    expect(ids(listed.Grants).sort()).toEqual([g1, g2, g3].map((g) => g.GrantId).sort());
    expect(listed.Grants.find((e) => e.GrantId === g3.GrantId)).toEqual({
      KeyId: theirs.Arn, GrantId: g3.GrantId, CreationDate: expect.any(Number), GranteePrincipal: CAROL_ARN, RetiringPrincipal: retiring,
      IssuingAccount: `arn:aws:iam::${OTHER_ACCOUNT}:root`, Operations: ['Decrypt'],
    });
    // Exact principal only; and in another region, none.
    expect((await ok('ListRetirableGrants', { RetiringPrincipal: retiring.replace('user/retirer', 'user/Retirer') })).Grants).toEqual([]);
    expect((await ok('ListRetirableGrants', { RetiringPrincipal: retiring }, { region: 'eu-west-1' })).Grants).toEqual([]);

    const pages = await allPages('ListRetirableGrants', { RetiringPrincipal: retiring }, 2);
    expect(pages.map((p) => p.length)).toEqual([2, 1]);
    expect(pages.flat().map((e) => e.GrantId)).toEqual(ids(listed.Grants).sort());
  });

  it('answers only for principals of the caller\'s account, named by ARN', async () => {
    await fails('ListRetirableGrants', { RetiringPrincipal: CAROL_ARN }, 'AccessDeniedException',
      `User: ${ROOT_ARN} is not authorized to perform: kms:ListRetirableGrants on resource: ${CAROL_ARN} because the retiring principal is not in the caller's account`);
    await fails('ListRetirableGrants', { RetiringPrincipal: ALICE_ARN }, 'AccessDeniedException', undefined, { credentials: OTHER_ROOT });
    await fails('ListRetirableGrants', { RetiringPrincipal: 'alice' }, 'InvalidArnException');
    await fails('ListRetirableGrants', {}, 'ValidationException',
      "1 validation error detected: Value null at 'retiringPrincipal' failed to satisfy constraint: Member must not be null");
    await fails('ListRetirableGrants', { RetiringPrincipal: ALICE_ARN, Limit: 101 }, 'ValidationException');
    await fails('ListRetirableGrants', { RetiringPrincipal: ALICE_ARN, Marker: 'garbage' }, 'InvalidMarkerException');
    // Today only the account's root may call it (authorize()); the policy evaluator changes that.
    await fails('ListRetirableGrants', { RetiringPrincipal: ALICE_ARN }, 'AccessDeniedException',
      `User: ${ALICE_ARN} is not authorized to perform: kms:ListRetirableGrants on resource: * because no identity-based policy allows the kms:ListRetirableGrants action`,
      { credentials: ALICE });
  });
});

describe('RetireGrant', () => {
  it('retires a grant by its token, at once', async () => {
    const key = await createKey();
    const grant = await createGrant(decrypt(key.KeyId));
    const kept = await createGrant(decrypt(key.KeyId));
    expect(await ok('RetireGrant', { GrantToken: grant.GrantToken })).toEqual({});
    expect(ids(await listGrants({ KeyId: key.KeyId }))).toEqual([kept.GrantId]);
    // The token named a grant that is gone: it is no longer valid anywhere.
    await fails('RetireGrant', { GrantToken: grant.GrantToken }, 'InvalidGrantTokenException');
    await fails('CreateGrant', { ...decrypt(key.KeyId), GrantTokens: [grant.GrantToken] }, 'InvalidGrantTokenException');
  });

  it('retires a grant by key ARN or key id and grant id (AWS test_retire_grant_with_grant_id_and_key_id)', async () => {
    const key = await createKey();
    const byArn = await createGrant(decrypt(key.KeyId));
    const byId = await createGrant(decrypt(key.KeyId));
    await ok('RetireGrant', { KeyId: key.Arn, GrantId: byArn.GrantId });
    await ok('RetireGrant', { KeyId: key.KeyId, GrantId: byId.GrantId });
    expect(await listGrants({ KeyId: key.KeyId })).toEqual([]);
    await fails('RetireGrant', { KeyId: key.Arn, GrantId: byArn.GrantId }, 'NotFoundException', `Grant ID ${byArn.GrantId} not found for key ${key.Arn}`);
  });

  it('lets the retiring principal retire, though no policy lets it use the key', async () => {
    const key = await createKey();
    const byToken = await createGrant(decrypt(key.KeyId, BOB_ARN, { RetiringPrincipal: ALICE_ARN }));
    const byId = await createGrant(decrypt(key.KeyId, BOB_ARN, { RetiringPrincipal: ALICE_ARN }));
    // authorize() refuses ALICE any key operation today...
    await fails('ListGrants', { KeyId: key.KeyId }, 'AccessDeniedException', undefined, { credentials: ALICE });
    await fails('RevokeGrant', { KeyId: key.KeyId, GrantId: byId.GrantId }, 'AccessDeniedException', undefined, { credentials: ALICE });
    // ...but RetireGrant's rules are the grant's own.
    await ok('RetireGrant', { GrantToken: byToken.GrantToken }, { credentials: ALICE });
    await ok('RetireGrant', { KeyId: key.Arn, GrantId: byId.GrantId }, { credentials: ALICE });
    expect(await listGrants({ KeyId: key.KeyId })).toEqual([]);
  });

  it('lets the grantee retire only a grant that allows RetireGrant', async () => {
    const key = await createKey();
    const without = await createGrant(decrypt(key.KeyId, ALICE_ARN));
    const withRetire = await createGrant({ ...decrypt(key.KeyId, ALICE_ARN), Operations: ['Decrypt', 'RetireGrant'] });
    await fails('RetireGrant', { GrantToken: without.GrantToken }, 'AccessDeniedException',
      `User: ${ALICE_ARN} is not authorized to perform: kms:RetireGrant on resource: ${key.Arn} because the grant does not name it as retiring principal, as grantee with the RetireGrant operation, or as its issuing account`,
      { credentials: ALICE });
    await fails('RetireGrant', { KeyId: key.Arn, GrantId: without.GrantId }, 'AccessDeniedException', undefined, { credentials: ALICE });
    await ok('RetireGrant', { GrantToken: withRetire.GrantToken }, { credentials: ALICE });
    expect(ids(await listGrants({ KeyId: key.KeyId }))).toEqual([without.GrantId]);
  });

  it('lets the issuing account retire, and no other account', async () => {
    const key = await createKey();
    const ours = await createGrant(decrypt(key.KeyId, CAROL_ARN, { Operations: ['Decrypt', 'RetireGrant'] }));
    await fails('RetireGrant', { GrantToken: ours.GrantToken }, 'AccessDeniedException', undefined, { credentials: OTHER_ROOT });
    await fails('RetireGrant', { KeyId: key.Arn, GrantId: ours.GrantId }, 'AccessDeniedException', undefined, { credentials: OTHER_ROOT });

    // Another account's grant on its own key, naming our ALICE as retiring principal: its root and ALICE may retire; our root may not.
    const theirs = await createKey({}, { credentials: OTHER_ROOT });
    const g1 = await createGrant(decrypt(theirs.KeyId, CAROL_ARN, { RetiringPrincipal: ALICE_ARN }), { credentials: OTHER_ROOT });
    const g2 = await createGrant(decrypt(theirs.KeyId, CAROL_ARN, { RetiringPrincipal: ALICE_ARN }), { credentials: OTHER_ROOT });
    const g3 = await createGrant(decrypt(theirs.KeyId, CAROL_ARN), { credentials: OTHER_ROOT });
    await fails('RetireGrant', { GrantToken: g3.GrantToken }, 'AccessDeniedException');
    await ok('RetireGrant', { GrantToken: g1.GrantToken }, { credentials: ALICE });
    await ok('RetireGrant', { KeyId: theirs.Arn, GrantId: g2.GrantId }, { credentials: ALICE });
    await ok('RetireGrant', { KeyId: theirs.Arn, GrantId: g3.GrantId }, { credentials: OTHER_ROOT });
    expect(await listGrants({ KeyId: theirs.KeyId }, { credentials: OTHER_ROOT })).toEqual([]);
    expect(ids(await listGrants({ KeyId: key.KeyId }))).toEqual([ours.GrantId]);
  });

  it('refuses requests that name no grant, or name it badly', async () => {
    const key = await createKey();
    const grant = await createGrant(decrypt(key.KeyId));
    const other = await createGrant(decrypt(key.KeyId));
    await fails('RetireGrant', {}, 'ValidationException', 'Specify either a GrantToken, or a KeyId and a GrantId');
    await fails('RetireGrant', { KeyId: key.Arn }, 'ValidationException', 'Specify either a GrantToken, or a KeyId and a GrantId');
    await fails('RetireGrant', { GrantId: grant.GrantId }, 'ValidationException');
    await fails('RetireGrant', { KeyId: key.Arn, GrantId: 'xyz' }, 'InvalidGrantIdException', "Invalid grantId 'xyz'");
    await fails('RetireGrant', { KeyId: key.Arn, GrantId: '0'.repeat(64) }, 'NotFoundException', `Grant ID ${'0'.repeat(64)} not found for key ${key.Arn}`);
    await fails('RetireGrant', { KeyId: (await createKey()).Arn, GrantId: grant.GrantId }, 'NotFoundException');
    await ok('CreateAlias', { AliasName: 'alias/grants-retire', TargetKeyId: key.KeyId });
    await fails('RetireGrant', { KeyId: 'alias/grants-retire', GrantId: grant.GrantId }, 'NotFoundException', "Invalid keyId 'alias/grants-retire'");
    await fails('RetireGrant', { GrantToken: 'bogus' }, 'InvalidGrantTokenException', 'The grant token is not valid: it is malformed or its grant no longer exists.');
    await fails('RetireGrant', { GrantToken: grant.GrantToken, GrantId: other.GrantId }, 'ValidationException',
      'The GrantToken and the GrantId in the request identify different grants');
    // Token and id of the same grant are fine together.
    await ok('RetireGrant', { GrantToken: grant.GrantToken, KeyId: key.Arn, GrantId: grant.GrantId });
    expect(ids(await listGrants({ KeyId: key.KeyId }))).toEqual([other.GrantId]);
  });

  it('answers DryRun after checking who may retire, and retires nothing', async () => {
    const key = await createKey();
    const grant = await createGrant(decrypt(key.KeyId, BOB_ARN, { RetiringPrincipal: ALICE_ARN }));
    await fails('RetireGrant', { GrantToken: grant.GrantToken, DryRun: true }, 'DryRunOperationException', undefined, { credentials: ALICE });
    await fails('RetireGrant', { GrantToken: grant.GrantToken, DryRun: true }, 'AccessDeniedException', undefined, { credentials: OTHER_ROOT });
    expect(ids(await listGrants({ KeyId: key.KeyId }))).toEqual([grant.GrantId]);
  });
});

describe('RevokeGrant', () => {
  it('revokes a grant by key id or key ARN and grant id, at once', async () => {
    const key = await createKey();
    const first = await createGrant(decrypt(key.KeyId, ALICE_ARN, { RetiringPrincipal: ALICE_ARN }));
    const second = await createGrant(decrypt(key.KeyId));
    expect(await ok('RevokeGrant', { KeyId: key.KeyId, GrantId: first.GrantId })).toEqual({});
    await ok('RevokeGrant', { KeyId: key.Arn, GrantId: second.GrantId });
    expect(await listGrants({ KeyId: key.KeyId })).toEqual([]);
    expect((await ok('ListRetirableGrants', { RetiringPrincipal: ALICE_ARN })).Grants as Entry[]).not.toContainEqual(expect.objectContaining({ GrantId: first.GrantId }));
    await fails('RetireGrant', { GrantToken: first.GrantToken }, 'InvalidGrantTokenException', undefined, { credentials: ALICE });
    await fails('RevokeGrant', { KeyId: key.KeyId, GrantId: first.GrantId }, 'NotFoundException', `Grant ID ${first.GrantId} not found for key ${key.Arn}`);
  });

  it('refuses a malformed grant id, a grant of another key, an alias, and grant tokens', async () => {
    const key = await createKey();
    const other = await createKey();
    const grant = await createGrant(decrypt(other.KeyId));
    await fails('RevokeGrant', { KeyId: key.KeyId, GrantId: 'abc' }, 'InvalidGrantIdException', "Invalid grantId 'abc'");
    await fails('RevokeGrant', { KeyId: key.KeyId, GrantId: grant.GrantId }, 'NotFoundException', `Grant ID ${grant.GrantId} not found for key ${key.Arn}`);
    await ok('CreateAlias', { AliasName: 'alias/grants-revoke', TargetKeyId: other.KeyId });
    await fails('RevokeGrant', { KeyId: 'alias/grants-revoke', GrantId: grant.GrantId }, 'NotFoundException', "Invalid keyId 'alias/grants-revoke'");
    // There is no GrantToken parameter: a grant id is required.
    await fails('RevokeGrant', { KeyId: other.KeyId, GrantToken: grant.GrantToken }, 'ValidationException',
      "1 validation error detected: Value null at 'grantId' failed to satisfy constraint: Member must not be null");
    expect(ids(await listGrants({ KeyId: other.KeyId }))).toEqual([grant.GrantId]);
  });

  it('is authorised like any key operation: not by the grant, and not for another account', async () => {
    const key = await createKey();
    const grant = await createGrant({ ...decrypt(key.KeyId, ALICE_ARN, { RetiringPrincipal: ALICE_ARN }), Operations: ['Decrypt', 'RetireGrant'] });
    await fails('RevokeGrant', { KeyId: key.KeyId, GrantId: grant.GrantId }, 'AccessDeniedException',
      `User: ${ALICE_ARN} is not authorized to perform: kms:RevokeGrant on resource: ${key.Arn} because no resource-based policy allows the kms:RevokeGrant action`,
      { credentials: ALICE });
    await fails('RevokeGrant', { KeyId: key.Arn, GrantId: grant.GrantId }, 'AccessDeniedException', undefined, { credentials: OTHER_ROOT });
    await fails('RevokeGrant', { KeyId: key.KeyId, GrantId: grant.GrantId, DryRun: true }, 'DryRunOperationException');
    expect(ids(await listGrants({ KeyId: key.KeyId }))).toEqual([grant.GrantId]);
  });
});

describe('deleting a key', () => {
  it('deletes its grants with it, tokens included', async () => {
    const doomed = await createKey();
    const kept = await createKey();
    const retiring = `arn:aws:iam::${ACCOUNT}:user/deletion-${Date.now()}`;
    const gone = await createGrant(decrypt(doomed.KeyId, ALICE_ARN, { RetiringPrincipal: retiring }));
    const stays = await createGrant(decrypt(kept.KeyId, ALICE_ARN, { RetiringPrincipal: retiring }));
    await ok('ScheduleKeyDeletion', { KeyId: doomed.KeyId, PendingWindowInDays: 7 });
    // Grants outlive the scheduling; they go when the key is destroyed.
    expect(ids(await listGrants({ KeyId: doomed.KeyId }))).toEqual([gone.GrantId]);
    const stored = (await svc.store.keys.get(scope, doomed.KeyId))!;
    await svc.store.keys.replace({ ...stored, deletionDate: new Date(Date.now() - 1000) });

    expect(await deleteDueKeys(svc.deps)).toContain(doomed.KeyId);

    expect(await svc.store.grants.countForKey(scope, doomed.KeyId)).toBe(0);
    expect(await svc.store.grants.findByToken(gone.GrantToken)).toBeUndefined();
    expect(ids((await ok('ListRetirableGrants', { RetiringPrincipal: retiring })).Grants as Entry[])).toEqual([stays.GrantId]);
    await fails('RetireGrant', { GrantToken: gone.GrantToken }, 'InvalidGrantTokenException');
    await fails('ListGrants', { KeyId: doomed.KeyId }, 'NotFoundException');
    expect(ids(await listGrants({ KeyId: kept.KeyId }))).toEqual([stays.GrantId]);
  });
});

describe('GrantTokens on the operations that take them', () => {
  const INVALID_TOKEN = 'The grant token is not valid: it is malformed or its grant no longer exists.';
  const message = Buffer.from('grant tokens').toString('base64');

  /** A grant token that was valid once: its grant is retired. */
  async function retiredToken(KeyId: string, Operations: string[]): Promise<string> {
    const grant = await createGrant({ KeyId, GranteePrincipal: ALICE_ARN, Operations });
    await ok('RetireGrant', { GrantToken: grant.GrantToken });
    return grant.GrantToken;
  }

  it('Decrypt, DescribeKey and GetPublicKey refuse a malformed or unknown grant token', async () => {
    const key = await createKey();
    const pair = await createKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const { CiphertextBlob } = await ok('Encrypt', { KeyId: key.KeyId, Plaintext: message });
    const unknown = await retiredToken(key.KeyId, ['Decrypt', 'DescribeKey']);
    const unknownOnPair = await retiredToken(pair.KeyId, ['GetPublicKey']);
    for (const GrantTokens of [['bogus'], [unknown], [unknownOnPair]]) {
      await fails('Decrypt', { CiphertextBlob, GrantTokens }, 'InvalidGrantTokenException', INVALID_TOKEN);
      await fails('Decrypt', { CiphertextBlob, KeyId: key.Arn, GrantTokens }, 'InvalidGrantTokenException', INVALID_TOKEN);
      await fails('DescribeKey', { KeyId: key.KeyId, GrantTokens }, 'InvalidGrantTokenException', INVALID_TOKEN);
      await fails('GetPublicKey', { KeyId: pair.KeyId, GrantTokens }, 'InvalidGrantTokenException', INVALID_TOKEN);
    }
  });

  it('Decrypt, DescribeKey and GetPublicKey work with a valid grant token, for its grantee and for the key\'s account', async () => {
    const key = await createKey();
    const pair = await createKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const { CiphertextBlob } = await ok('Encrypt', { KeyId: key.KeyId, Plaintext: message });
    const onKey = await createGrant({ KeyId: key.KeyId, GranteePrincipal: ALICE_ARN, Operations: ['Decrypt', 'DescribeKey'] });
    const onPair = await createGrant({ KeyId: pair.KeyId, GranteePrincipal: ALICE_ARN, Operations: ['GetPublicKey'] });
    for (const options of [{ credentials: ALICE }, {}]) {
      expect((await ok('Decrypt', { CiphertextBlob, GrantTokens: [onKey.GrantToken] }, options)).Plaintext).toBe(message);
      expect((await ok('DescribeKey', { KeyId: key.KeyId, GrantTokens: [onKey.GrantToken] }, options)).KeyMetadata).toMatchObject({ Arn: key.Arn });
      expect((await ok('GetPublicKey', { KeyId: pair.KeyId, GrantTokens: [onPair.GrantToken] }, options)).KeyId).toBe(pair.Arn);
    }
    // One bad token among good ones still fails the request.
    await fails('DescribeKey', { KeyId: key.KeyId, GrantTokens: [onKey.GrantToken, 'bogus'] }, 'InvalidGrantTokenException', INVALID_TOKEN, { credentials: ALICE });
  });

  it('every operation whose input has GrantTokens refuses a bad token and accepts a valid one', async () => {
    const symmetric = await createKey();
    const signing = await createKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const hmac = await createKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const agreement = await createKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' });
    const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const { CiphertextBlob } = await ok('Encrypt', { KeyId: symmetric.KeyId, Plaintext: message });
    const sign = { KeyId: signing.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' };
    const { Signature } = await ok('Sign', sign);
    const mac = { KeyId: hmac.KeyId, Message: message, MacAlgorithm: 'HMAC_SHA_256' };
    const { Mac } = await ok('GenerateMac', mac);
    const requests: Partial<Record<OperationName, object>> = {
      CreateGrant: decrypt(symmetric.KeyId),
      Decrypt: { CiphertextBlob },
      DeriveSharedSecret: { KeyId: agreement.KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer },
      DescribeKey: { KeyId: symmetric.KeyId },
      Encrypt: { KeyId: symmetric.KeyId, Plaintext: message },
      GenerateDataKey: { KeyId: symmetric.KeyId, KeySpec: 'AES_256' },
      GenerateDataKeyPair: { KeyId: symmetric.KeyId, KeyPairSpec: 'ECC_NIST_P256' },
      GenerateDataKeyPairWithoutPlaintext: { KeyId: symmetric.KeyId, KeyPairSpec: 'ECC_NIST_P256' },
      GenerateDataKeyWithoutPlaintext: { KeyId: symmetric.KeyId, KeySpec: 'AES_256' },
      GenerateMac: mac,
      GetPublicKey: { KeyId: signing.KeyId },
      ReEncrypt: { CiphertextBlob, DestinationKeyId: symmetric.KeyId },
      Sign: sign,
      Verify: { ...sign, Signature },
      VerifyMac: { ...mac, Mac },
      // No key here can be ML-KEM: a valid token gets as far as the key, then the refusal.
      Encapsulate: { KeyId: symmetric.KeyId, EncapsulationAlgorithm: 'ML_KEM' },
      Decapsulate: { KeyId: symmetric.KeyId, EncapsulationAlgorithm: 'ML_KEM', SharedSecretCiphertextBlob: message },
    };
    const refusedPastTheToken = ['Encapsulate', 'Decapsulate'];
    // The table must name every operation that takes GrantTokens, including any added later.
    const takingTokens = (Object.keys(operations) as OperationName[]).filter((name) => 'GrantTokens' in operations[name].input.fields);
    expect(Object.keys(requests).sort()).toEqual(takingTokens.sort());

    const valid = (await createGrant(decrypt(symmetric.KeyId))).GrantToken;
    const unknown = await retiredToken(symmetric.KeyId, ['Decrypt']);
    for (const [operation, body] of Object.entries(requests)) {
      for (const GrantTokens of [['bogus'], [unknown], [valid, 'bogus']]) {
        await fails(operation, { ...body, GrantTokens }, 'InvalidGrantTokenException', INVALID_TOKEN);
      }
      if (refusedPastTheToken.includes(operation)) await fails(operation, { ...body, GrantTokens: [valid] }, 'UnsupportedOperationException');
      else await ok(operation, { ...body, GrantTokens: [valid] });
    }
  });
});
