// Grants in core, with fakes: the pure rules of src/core/grants.ts (grantPermits, constraint
// matching, tokens), grantAllows over an in-memory store, and the grant operations' own
// preconditions. Each `// Precondition:` has a test named after its sentence.
import type { RequestContext } from '../../src/core/api/context';
import type { CoreDeps } from '../../src/core/deps';
import { KmsError } from '../../src/core/errors';
import {
  accountRootArn, assertConstraintsAllowed, assertGrantId, assertOperationsGrantable, assertPrincipalArn,
  checkConstraintLimits, constraintsSatisfied, constraintsWithin, equalsMatches, grantableOperations, grantAllows,
  grantForToken, grantIdInToken, grantPermits, MAX_GRANTS_PER_KEY, namedGrantId, newGrantToken, randomGrantId, subsetMatches,
  type GrantRequest,
} from '../../src/core/access/grants';
import { grantOperations, type GrantConstraints, type GrantOperation, type GrantRecord, type KeyRecord, type KeySpec, type KeyUsage } from '../../src/core/model';
import { callOperation, type OperationName } from '../support/core-harness';
import { fakeKeyStores } from '../support/fake-token';
import { MemoryStore } from '../support/memory-store';

const ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '444455556666';
const REGION = 'us-east-1';
const ROOT_ARN = `arn:aws:iam::${ACCOUNT}:root`;
const ALICE = `arn:aws:iam::${ACCOUNT}:user/alice`;
const BOB = `arn:aws:iam::${ACCOUNT}:user/bob`;
const OTHER_ROOT_ARN = `arn:aws:iam::${OTHER_ACCOUNT}:root`;

const contextFor = (arn: string, accountId = ACCOUNT): RequestContext => ({ principal: { arn, accountId, policies: [] }, region: REGION, requestId: 'r' });
const root = contextFor(ROOT_ARN);
const alice = contextFor(ALICE);
const bob = contextFor(BOB);
const otherRoot = contextFor(OTHER_ROOT_ARN, OTHER_ACCOUNT);

let store: MemoryStore;
let deps: CoreDeps;
beforeEach(async () => {
  store = new MemoryStore();
  await store.init();
  deps = { store, keyStores: fakeKeyStores(), clock: { now: () => new Date('2026-01-01T00:00:00Z') } };
});

let keyCounter = 0;
function makeKey(overrides: Partial<KeyRecord> = {}): KeyRecord {
  keyCounter += 1;
  return {
    accountId: ACCOUNT, region: REGION, keyId: `00000000-0000-4000-8000-${keyCounter.toString(16).padStart(12, '0')}`,
    createdAt: new Date('2026-01-01T00:00:00Z'), description: '', keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT',
    origin: 'AWS_KMS', keyManager: 'CUSTOMER', multiRegion: false, state: 'Enabled', versions: [], tags: [],
    revision: 0, updatedAt: new Date('2026-01-01T00:00:00Z'), ...overrides,
  };
}

async function storedKey(overrides: Partial<KeyRecord> = {}): Promise<KeyRecord> {
  const key = makeKey(overrides);
  await store.keys.insert(key);
  return key;
}

function makeGrant(key: KeyRecord, overrides: Partial<GrantRecord> = {}): GrantRecord {
  const grantId = overrides.grantId ?? randomGrantId();
  return {
    accountId: key.accountId, region: key.region, keyId: key.keyId, grantId, grantToken: newGrantToken(grantId),
    granteePrincipal: ALICE, issuingAccount: ACCOUNT, operations: ['Encrypt', 'Decrypt'], createdAt: new Date('2026-01-01T00:00:00Z'),
    ...overrides,
  };
}

async function storedGrant(key: KeyRecord, overrides: Partial<GrantRecord> = {}): Promise<GrantRecord> {
  const grant = makeGrant(key, overrides);
  await store.grants.insert(grant);
  return grant;
}

function call(name: OperationName, ctx: RequestContext, body: object): Promise<Record<string, unknown>> {
  return callOperation(deps, ctx, name, body);
}

/** The error `promise` rejects with, which must be a KmsError. */
async function rejection(promise: Promise<unknown>): Promise<KmsError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof KmsError)) throw new Error(`expected a KmsError, got ${String(error)}`);
  return error;
}

const code = async (promise: Promise<unknown>) => (await rejection(promise)).code;
const thrownCode = (fn: () => void): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as KmsError).code;
  }
};

const keyOf = (spec: KeySpec, usage: KeyUsage) => makeKey({ keySpec: spec, keyUsage: usage });

describe('which operations each key type can grant', () => {
  it('a grant allows only operations that its key type supports.', () => {
    const expected: [KeySpec, KeyUsage, GrantOperation[]][] = [
      ['SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', ['Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext',
        'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo', 'CreateGrant', 'DescribeKey', 'RetireGrant']],
      ['RSA_2048', 'ENCRYPT_DECRYPT', ['Decrypt', 'Encrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GetPublicKey', 'DescribeKey', 'CreateGrant', 'RetireGrant']],
      ['ECC_NIST_P256', 'SIGN_VERIFY', ['Sign', 'Verify', 'GetPublicKey', 'DescribeKey', 'CreateGrant', 'RetireGrant']],
      ['RSA_4096', 'SIGN_VERIFY', ['Sign', 'Verify', 'GetPublicKey', 'DescribeKey', 'CreateGrant', 'RetireGrant']],
      ['HMAC_256', 'GENERATE_VERIFY_MAC', ['GenerateMac', 'VerifyMac', 'DescribeKey', 'CreateGrant', 'RetireGrant']],
      ['ECC_NIST_P384', 'KEY_AGREEMENT', ['DeriveSharedSecret', 'GetPublicKey', 'DescribeKey', 'CreateGrant', 'RetireGrant']],
    ];
    for (const [spec, usage, allowed] of expected) {
      const key = keyOf(spec, usage);
      expect([...grantableOperations(key)].sort()).toEqual([...allowed].sort());
      for (const operation of grantOperations) {
        const outcome = thrownCode(() => assertOperationsGrantable(key, [operation]));
        expect({ spec, usage, operation, outcome }).toEqual({ spec, usage, operation, outcome: allowed.includes(operation) ? undefined : 'ValidationException' });
      }
    }
    // One unsupported operation among supported ones fails the whole list, and the message names it.
    const error = (() => {
      try {
        assertOperationsGrantable(keyOf('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT'), ['Encrypt', 'Sign', 'Decrypt', 'GenerateMac']);
      } catch (e) {
        return e as KmsError;
      }
      throw new Error('expected a failure');
    })();
    expect(error.code).toBe('ValidationException');
    expect(error.message).toContain('[Sign, GenerateMac]');
  });
});

describe('principals, ids and tokens', () => {
  it('grantee and retiring principals are principal ARNs.', () => {
    for (const good of [ROOT_ARN, ALICE, `arn:aws:iam::${ACCOUNT}:role/app/reader`, `arn:aws:sts::${ACCOUNT}:assumed-role/app/session`, `arn:aws:sts::${ACCOUNT}:federated-user/fed`]) {
      expect(thrownCode(() => assertPrincipalArn(good))).toBeUndefined();
    }
    for (const bad of ['alice', ACCOUNT, 'dynamodb.us-west-2.amazonaws.com', `arn:aws:iam::${ACCOUNT}:group/admins`, `arn:aws:kms:${REGION}:${ACCOUNT}:key/x`, 'arn:aws:iam::1234:root', `arn:aws:iam::${ACCOUNT}:user/`]) {
      expect({ bad, code: thrownCode(() => assertPrincipalArn(bad)) }).toEqual({ bad, code: 'InvalidArnException' });
    }
  });

  it('a grant id must be 64 hexadecimal characters.', () => {
    expect(thrownCode(() => assertGrantId('0123456789abcdef'.repeat(4)))).toBeUndefined();
    for (const bad of ['', 'abc', '0'.repeat(63), '0'.repeat(65), 'g'.repeat(64), 'ABCDEF0123456789'.repeat(4), ` ${'0'.repeat(63)}`]) {
      expect({ bad, code: thrownCode(() => assertGrantId(bad)) }).toEqual({ bad, code: 'InvalidGrantIdException' });
    }
  });

  it('grant ids: random ones are 64 hex and differ; a named grant id depends on every identifying parameter, not on operation order', () => {
    expect(randomGrantId()).toMatch(/^[0-9a-f]{64}$/);
    expect(randomGrantId()).not.toBe(randomGrantId());
    const base = {
      scope: { accountId: ACCOUNT, region: REGION }, keyId: 'k', issuingAccount: ACCOUNT, name: 'n', granteePrincipal: ALICE,
      operations: ['Encrypt', 'Decrypt'] as GrantOperation[],
    };
    const id = namedGrantId(base);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(namedGrantId({ ...base, operations: ['Decrypt', 'Encrypt', 'Decrypt'] })).toBe(id);
    const variants = [
      { ...base, scope: { accountId: OTHER_ACCOUNT, region: REGION } }, { ...base, scope: { accountId: ACCOUNT, region: 'eu-west-1' } },
      { ...base, keyId: 'k2' }, { ...base, issuingAccount: OTHER_ACCOUNT }, { ...base, name: 'n2' }, { ...base, granteePrincipal: BOB },
      { ...base, retiringPrincipal: BOB }, { ...base, operations: ['Encrypt'] as GrantOperation[] },
      { ...base, constraints: { encryptionContextSubset: { a: '1' } } }, { ...base, constraints: { encryptionContextEquals: { a: '1' } } },
    ];
    expect(new Set([id, ...variants.map(namedGrantId)]).size).toBe(variants.length + 1);
    expect(namedGrantId({ ...base, constraints: { encryptionContextEquals: { a: '1', b: '2' } } }))
      .toBe(namedGrantId({ ...base, constraints: { encryptionContextEquals: { b: '2', a: '1' } } }));
  });

  it('a grant token is base64 that carries the grant id and random bytes: unique, and not derivable from the id', () => {
    const grantId = randomGrantId();
    const token = newGrantToken(grantId);
    expect(token).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(grantIdInToken(token)).toBe(grantId);
    expect(newGrantToken(grantId)).not.toBe(token);
    const bytes = Buffer.from(token, 'base64');
    for (const forged of [
      '', 'not a token', token.slice(0, -4), `${token}AAAA`, token.replace(/=+$/, ''), Buffer.from(token).toString('base64url'),
      Buffer.concat([Buffer.from([2]), bytes.subarray(1)]).toString('base64'),
    ]) {
      expect(grantIdInToken(forged)).toBeUndefined();
    }
  });

  it('a grant token must be one the service issued for a grant that still exists.', async () => {
    const key = await storedKey();
    const grant = await storedGrant(key);
    await expect(grantForToken(deps, grant.grantToken)).resolves.toStrictEqual(grant);
    // Well-formed, but never issued: the same grant id with other random bytes.
    const forged = newGrantToken(grant.grantId);
    const malformed = ['x', grant.grantToken.slice(1), grant.grantToken.toLowerCase()];
    for (const token of [forged, ...malformed]) {
      expect(await code(grantForToken(deps, token))).toBe('InvalidGrantTokenException');
    }
    // A token whose stored grant has another id than the token names is not that grant's.
    const mismatched = makeGrant(key, { grantToken: newGrantToken(randomGrantId()) });
    await store.grants.insert(mismatched);
    expect(await code(grantForToken(deps, mismatched.grantToken))).toBe('InvalidGrantTokenException');
    // Once the grant is gone, so is its token.
    await store.grants.delete(key, key.keyId, grant.grantId);
    expect(await code(grantForToken(deps, grant.grantToken))).toBe('InvalidGrantTokenException');
  });
});

describe('constraints', () => {
  it('a grant constraint holds at most 8 encryption context pairs.', () => {
    const pairs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
    expect(thrownCode(() => checkConstraintLimits({ encryptionContextSubset: pairs(8), encryptionContextEquals: pairs(8) }))).toBeUndefined();
    expect(thrownCode(() => checkConstraintLimits({ encryptionContextSubset: pairs(9) }))).toBe('ValidationException');
    expect(thrownCode(() => checkConstraintLimits({ encryptionContextEquals: pairs(9) }))).toBe('ValidationException');
  });

  it('an encryption context value in a grant constraint has at most 384 characters.', () => {
    expect(thrownCode(() => checkConstraintLimits({ encryptionContextEquals: { k: 'v'.repeat(384) } }))).toBeUndefined();
    // Characters, not UTF-16 units or bytes: 384 astral characters are 768 units and 1536 bytes.
    expect(thrownCode(() => checkConstraintLimits({ encryptionContextSubset: { k: '😀'.repeat(384) } }))).toBeUndefined();
    expect(thrownCode(() => checkConstraintLimits({ encryptionContextSubset: { k: 'v'.repeat(385) } }))).toBe('ValidationException');
    expect(thrownCode(() => checkConstraintLimits({ encryptionContextEquals: { a: 'x', k: 'v'.repeat(385) } }))).toBe('ValidationException');
  });

  it('encryption context constraints are accepted only on grants for symmetric encryption keys.', () => {
    const constraints: GrantConstraints = { encryptionContextSubset: { a: '1' } };
    expect(thrownCode(() => assertConstraintsAllowed(keyOf('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT'), constraints))).toBeUndefined();
    for (const [spec, usage] of [['RSA_2048', 'ENCRYPT_DECRYPT'], ['ECC_NIST_P256', 'SIGN_VERIFY'], ['HMAC_256', 'GENERATE_VERIFY_MAC'], ['ECC_NIST_P256', 'KEY_AGREEMENT']] as const) {
      expect(thrownCode(() => assertConstraintsAllowed(keyOf(spec, usage), constraints))).toBe('ValidationException');
      expect(thrownCode(() => assertConstraintsAllowed(keyOf(spec, usage), undefined))).toBeUndefined();
    }
  });

  it('EncryptionContextEquals: the same pairs in any order, nothing more and nothing less', () => {
    const constraint = { Department: 'IT', Purpose: 'backup' };
    expect(equalsMatches(constraint, { Department: 'IT', Purpose: 'backup' })).toBe(true);
    expect(equalsMatches(constraint, { Purpose: 'backup', Department: 'IT' })).toBe(true);
    expect(equalsMatches(constraint, { Department: 'IT' })).toBe(false);
    expect(equalsMatches(constraint, { Department: 'IT', Purpose: 'backup', Extra: 'x' })).toBe(false);
    expect(equalsMatches(constraint, { Department: 'IT', Purpose: 'restore' })).toBe(false);
    expect(equalsMatches(constraint, {})).toBe(false);
    expect(equalsMatches({}, {})).toBe(true);
    expect(equalsMatches({ a: '' }, { a: '' })).toBe(true);
    expect(equalsMatches({ a: '' }, {})).toBe(false);
  });

  it('EncryptionContextSubset: every pair of the constraint, in any order, with any others', () => {
    const constraint = { Department: 'IT', Purpose: 'backup' };
    expect(subsetMatches(constraint, { Purpose: 'backup', Department: 'IT' })).toBe(true);
    expect(subsetMatches(constraint, { Extra: 'x', Purpose: 'backup', Other: '', Department: 'IT' })).toBe(true);
    expect(subsetMatches(constraint, { Department: 'IT' })).toBe(false);
    expect(subsetMatches(constraint, { Department: 'IT', Purpose: 'backups' })).toBe(false);
    expect(subsetMatches(constraint, {})).toBe(false);
    expect(subsetMatches({}, { anything: 'x' })).toBe(true);
  });

  it('in a constraint, keys compare case-insensitively and values case-sensitively (API reference, GrantConstraints)', () => {
    expect(equalsMatches({ Department: 'IT' }, { department: 'IT' })).toBe(true);
    expect(equalsMatches({ Department: 'IT' }, { DEPARTMENT: 'IT' })).toBe(true);
    expect(equalsMatches({ Department: 'IT' }, { Department: 'it' })).toBe(false);
    expect(subsetMatches({ Department: 'IT' }, { dEpArTmEnT: 'IT', x: 'y' })).toBe(true);
    expect(subsetMatches({ Department: 'IT' }, { Department: 'It' })).toBe(false);
    // Two request keys that differ only by case are two pairs: Equals with one pair does not match them.
    expect(equalsMatches({ a: '1' }, { a: '1', A: '1' })).toBe(false);
    expect(equalsMatches({ a: '1', A: '2' }, { A: '2', a: '1' })).toBe(true);
    expect(equalsMatches({ a: '1', A: '2' }, { A: '1', a: '2' })).toBe(true);
    expect(equalsMatches({ a: '1', b: '2' }, { a: '1', B: '3' })).toBe(false);
  });

  it('a grant with both constraints requires both', () => {
    const constraints = { encryptionContextEquals: { a: '1', b: '2' }, encryptionContextSubset: { a: '1' } };
    expect(constraintsSatisfied(constraints, { b: '2', a: '1' })).toBe(true);
    expect(constraintsSatisfied({ ...constraints, encryptionContextSubset: { c: '3' } }, { a: '1', b: '2' })).toBe(false);
    expect(constraintsSatisfied(undefined, { any: 'thing' })).toBe(true);
    expect(constraintsSatisfied({}, {})).toBe(true);
  });

  it('constraint values with unusual characters match exactly', () => {
    const context = { '': '', 'dots.and$dollars': '$1.00', '키': '값', 'emoji😀': '😀', __proto__: 'x', constructor: 'y' };
    const copy = JSON.parse(JSON.stringify(context)) as Record<string, string>;
    expect(equalsMatches(context, copy)).toBe(true);
    expect(subsetMatches({ constructor: 'y' }, copy)).toBe(true);
    expect(subsetMatches({ toString: 'y' }, copy)).toBe(false);
  });
});

describe('grantPermits and grantAllows', () => {
  const request = (key: KeyRecord, overrides: Partial<GrantRequest> = {}): GrantRequest => ({ key, granteeArn: ALICE, action: 'Encrypt', ...overrides });

  it('a grant allows only its own key.', async () => {
    const key = await storedKey();
    const other = await storedKey();
    const grant = await storedGrant(key);
    expect(grantPermits(grant, request(key))).toBe(true);
    expect(grantPermits(grant, request(other))).toBe(false);
    expect(grantPermits(grant, request({ ...key, region: 'eu-west-1' }))).toBe(false);
    expect(grantPermits(grant, request({ ...key, accountId: OTHER_ACCOUNT }))).toBe(false);
    expect(await grantAllows(deps, request(other))).toBe(false);
    // Not even when the request names the grant by its token.
    expect(await grantAllows(deps, request(other, { grantTokens: [grant.grantToken] }))).toBe(false);
  });

  it('a grant allows only its grantee principal, named by its exact ARN.', async () => {
    const key = await storedKey();
    const grant = await storedGrant(key, { granteePrincipal: ALICE, retiringPrincipal: BOB });
    expect(await grantAllows(deps, request(key))).toBe(true);
    for (const caller of [BOB, ROOT_ARN, ALICE.toUpperCase(), `${ALICE}x`, `arn:aws:sts::${ACCOUNT}:assumed-role/alice/s`, `arn:aws:iam::${OTHER_ACCOUNT}:user/alice`]) {
      expect({ caller, allowed: await grantAllows(deps, request(key, { granteeArn: caller })) }).toEqual({ caller, allowed: false });
    }
    expect(grantPermits(grant, request(key, { granteeArn: BOB }))).toBe(false);
  });

  it('a grant allows only the operations it lists.', async () => {
    const key = await storedKey();
    await storedGrant(key, { operations: ['Decrypt', 'DescribeKey'] });
    expect(await grantAllows(deps, request(key, { action: 'Decrypt' }))).toBe(true);
    expect(await grantAllows(deps, request(key, { action: 'DescribeKey' }))).toBe(true);
    for (const action of ['Encrypt', 'ReEncryptFrom', 'GenerateDataKey', 'CreateGrant', 'RetireGrant', 'PutKeyPolicy', 'ScheduleKeyDeletion', 'RevokeGrant', 'decrypt', '']) {
      expect({ action, allowed: await grantAllows(deps, request(key, { action })) }).toEqual({ action, allowed: false });
    }
  });

  it('the encryption context constraints of a grant hold for every operation that takes an encryption context.', async () => {
    const key = await storedKey();
    await storedGrant(key, {
      operations: ['Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext',
        'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext', 'DescribeKey', 'RetireGrant'],
      constraints: { encryptionContextEquals: { Department: 'IT' } },
    });
    for (const action of ['Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext']) {
      expect({ action, ok: await grantAllows(deps, request(key, { action, encryptionContext: { department: 'IT' } })) }).toEqual({ action, ok: true });
      expect({ action, ok: await grantAllows(deps, request(key, { action, encryptionContext: { Department: 'HR' } })) }).toEqual({ action, ok: false });
      expect({ action, ok: await grantAllows(deps, request(key, { action })) }).toEqual({ action, ok: false });
    }
    // Operations without an encryption context ignore the constraints.
    for (const action of ['DescribeKey', 'RetireGrant']) {
      expect({ action, ok: await grantAllows(deps, request(key, { action })) }).toEqual({ action, ok: true });
      expect({ action, ok: await grantAllows(deps, request(key, { action, encryptionContext: { other: 'x' } })) }).toEqual({ action, ok: true });
    }
  });

  it('a grant with EncryptionContextSubset allows requests whose context adds pairs', async () => {
    const key = await storedKey();
    await storedGrant(key, { operations: ['Decrypt'], constraints: { encryptionContextSubset: { Department: 'IT', Project: 'Alpha' } } });
    const allowed = (encryptionContext?: Record<string, string>) => grantAllows(deps, request(key, { action: 'Decrypt', encryptionContext }));
    expect(await allowed({ Project: 'Alpha', Department: 'IT' })).toBe(true);
    expect(await allowed({ Project: 'Alpha', Department: 'IT', Extra: 'x' })).toBe(true);
    expect(await allowed({ project: 'Alpha', DEPARTMENT: 'IT' })).toBe(true);
    expect(await allowed({ Project: 'alpha', Department: 'IT' })).toBe(false);
    expect(await allowed({ Department: 'IT' })).toBe(false);
    expect(await allowed(undefined)).toBe(false);
  });

  it('any one of several grants may allow a request, and grants of other grantees do not count', async () => {
    const key = await storedKey();
    await storedGrant(key, { operations: ['Decrypt'], constraints: { encryptionContextEquals: { a: '1' } } });
    await storedGrant(key, { operations: ['Decrypt'], constraints: { encryptionContextEquals: { b: '2' } } });
    await storedGrant(key, { granteePrincipal: BOB, operations: ['Decrypt'] });
    const allowed = (encryptionContext: Record<string, string>) => grantAllows(deps, request(key, { action: 'Decrypt', encryptionContext }));
    expect(await allowed({ a: '1' })).toBe(true);
    expect(await allowed({ b: '2' })).toBe(true);
    expect(await allowed({ c: '3' })).toBe(false);
  });

  it('grantAllows looks through every page of the grantee\'s grants', async () => {
    const key = await storedKey();
    for (let i = 0; i < 1_100; i++) await storedGrant(key, { grantId: i.toString(16).padStart(64, '0'), operations: ['Encrypt'] });
    await storedGrant(key, { grantId: 'f'.repeat(64), operations: ['Decrypt'] });
    expect(await grantAllows(deps, request(key, { action: 'Decrypt' }))).toBe(true);
    expect(await grantAllows(deps, request(key, { action: 'GenerateDataKey' }))).toBe(false);
  });

  it('grant tokens: valid ones change nothing here (grants are consistent at once); an invalid one fails the request', async () => {
    const key = await storedKey();
    const grant = await storedGrant(key, { operations: ['Decrypt'] });
    const otherKeyGrant = await storedGrant(await storedKey(), { operations: ['Encrypt'] });
    expect(await grantAllows(deps, request(key, { action: 'Decrypt', grantTokens: [grant.grantToken] }))).toBe(true);
    expect(await grantAllows(deps, request(key, { action: 'Decrypt', grantTokens: [otherKeyGrant.grantToken, grant.grantToken] }))).toBe(true);
    // A valid token for a grant that does not allow the request does not make it allowed.
    expect(await grantAllows(deps, request(key, { action: 'Encrypt', grantTokens: [otherKeyGrant.grantToken] }))).toBe(false);
    // Every token must be valid, even when a grant allows the request anyway.
    expect(await code(grantAllows(deps, request(key, { action: 'Decrypt', grantTokens: [grant.grantToken, 'bogus'] })))).toBe('InvalidGrantTokenException');
    expect(await code(grantAllows(deps, request(key, { action: 'PutKeyPolicy', grantTokens: [newGrantToken(grant.grantId)] })))).toBe('InvalidGrantTokenException');
    expect(await grantAllows(deps, request(key, { action: 'Decrypt', grantTokens: [] }))).toBe(true);
  });

  it('a grant created under a grant allows no operation and no encryption context that grant does not.', () => {
    const key = makeKey();
    const parent = (constraints?: GrantConstraints) => makeGrant(key, { operations: ['CreateGrant', 'Decrypt', 'Encrypt'], ...(constraints ? { constraints } : {}) });
    const creates = (p: GrantRecord, operations: GrantOperation[], constraints?: GrantConstraints) =>
      grantPermits(p, { key, granteeArn: ALICE, action: 'CreateGrant', childGrant: { operations, constraints } });

    // Operations: a subset of the parent's.
    expect(creates(parent(), ['Decrypt'])).toBe(true);
    expect(creates(parent(), ['Decrypt', 'Encrypt', 'CreateGrant'])).toBe(true);
    expect(creates(parent(), ['Decrypt', 'GenerateDataKey'])).toBe(false);
    expect(creates(parent(), ['RetireGrant'])).toBe(false);
    // A parent without constraints lets the child choose any.
    expect(creates(parent(), ['Decrypt'], { encryptionContextSubset: { a: '1' } })).toBe(true);

    // A Subset parent: the child keeps every pair and may add more, or go to Equals.
    const subset = parent({ encryptionContextSubset: { a: '1' } });
    expect(creates(subset, ['Decrypt'], { encryptionContextSubset: { a: '1' } })).toBe(true);
    expect(creates(subset, ['Decrypt'], { encryptionContextSubset: { A: '1', b: '2' } })).toBe(true);
    expect(creates(subset, ['Decrypt'], { encryptionContextEquals: { a: '1', b: '2' } })).toBe(true);
    expect(creates(subset, ['Decrypt'])).toBe(false);
    expect(creates(subset, ['Decrypt'], { encryptionContextSubset: { b: '2' } })).toBe(false);
    expect(creates(subset, ['Decrypt'], { encryptionContextSubset: { a: 'one' } })).toBe(false);
    expect(creates(subset, ['Decrypt'], { encryptionContextEquals: { b: '2' } })).toBe(false);

    // An Equals parent: only the same Equals; never back to Subset.
    const equals = parent({ encryptionContextEquals: { a: '1', b: '2' } });
    expect(creates(equals, ['Decrypt'], { encryptionContextEquals: { b: '2', a: '1' } })).toBe(true);
    expect(creates(equals, ['Decrypt'], { encryptionContextEquals: { a: '1' } })).toBe(false);
    expect(creates(equals, ['Decrypt'], { encryptionContextEquals: { a: '1', b: '2', c: '3' } })).toBe(false);
    expect(creates(equals, ['Decrypt'], { encryptionContextSubset: { a: '1', b: '2' } })).toBe(false);
    expect(creates(equals, ['Decrypt'])).toBe(false);

    expect(constraintsWithin(undefined, undefined)).toBe(true);
    // Without a child to check, CreateGrant is like DescribeKey: constraints do not apply.
    expect(grantPermits(equals, { key, granteeArn: ALICE, action: 'CreateGrant' })).toBe(true);
  });

  it('a grant can never allow what no grant operation names', () => {
    const key = makeKey();
    const grant = makeGrant(key, { operations: [...grantOperations] });
    for (const action of ['PutKeyPolicy', 'ScheduleKeyDeletion', 'RevokeGrant', 'ListGrants', 'EnableKey', 'kms:Decrypt', '*']) {
      expect(grantPermits(grant, { key, granteeArn: ALICE, action })).toBe(false);
    }
  });
});

describe('the grant operations with fakes', () => {
  async function createGrant(ctx: RequestContext, body: Record<string, unknown>) {
    return (await call('CreateGrant', ctx, body)) as { GrantId: string; GrantToken: string };
  }

  it('a grant is made only for a key named by key id or key ARN, never by an alias.', async () => {
    const key = await storedKey();
    const arn = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${key.keyId}`;
    const now = new Date();
    await store.aliases.insert({ accountId: ACCOUNT, region: REGION, aliasName: 'alias/app', targetKeyId: key.keyId, createdAt: now, updatedAt: now });
    for (const KeyId of ['alias/app', `arn:aws:kms:${REGION}:${ACCOUNT}:alias/app`]) {
      const error = await rejection(createGrant(root, { KeyId, GranteePrincipal: ALICE, Operations: ['Decrypt'] }));
      expect({ code: error.code, message: error.message }).toEqual({ code: 'NotFoundException', message: `Invalid keyId '${KeyId}'` });
    }
    for (const KeyId of [key.keyId, arn]) {
      expect((await createGrant(root, { KeyId, GranteePrincipal: ALICE, Operations: ['Decrypt'] })).GrantId).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(await store.grants.countForKey(key, key.keyId)).toBe(2);
  });

  it('a key has at most 50,000 grants.', async () => {
    const key = await storedKey();
    for (let i = 0; i < MAX_GRANTS_PER_KEY - 1; i++) await store.grants.insert(makeGrant(key, { grantId: i.toString(16).padStart(64, '0'), grantToken: `t${i}` }));
    const last = await createGrant(root, { KeyId: key.keyId, GranteePrincipal: ALICE, Operations: ['Decrypt'], Name: 'last' });
    const error = await rejection(createGrant(root, { KeyId: key.keyId, GranteePrincipal: ALICE, Operations: ['Decrypt'] }));
    expect({ code: error.code, message: error.message }).toEqual({
      code: 'LimitExceededException', message: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${key.keyId} already has 50000 grants, the most a KMS key can have`,
    });
    expect(await store.grants.countForKey(key, key.keyId)).toBe(MAX_GRANTS_PER_KEY);
    // A retry of a named grant that exists is not a new grant, so the quota does not stop it.
    expect(await createGrant(root, { KeyId: key.keyId, GranteePrincipal: ALICE, Operations: ['Decrypt'], Name: 'last' })).toEqual(last);
    // Another key is not affected.
    const other = await storedKey();
    await expect(createGrant(root, { KeyId: other.keyId, GranteePrincipal: ALICE, Operations: ['Decrypt'] })).resolves.toBeDefined();
  }, 60_000);

  it('ListRetirableGrants answers only for a retiring principal in the account of the caller.', async () => {
    const key = await storedKey();
    await storedGrant(key, { retiringPrincipal: ALICE });
    const otherKey = await storedKey({ accountId: OTHER_ACCOUNT });
    await storedGrant(otherKey, { retiringPrincipal: `arn:aws:iam::${OTHER_ACCOUNT}:user/carol`, issuingAccount: OTHER_ACCOUNT });
    const listed = await call('ListRetirableGrants', root, { RetiringPrincipal: ALICE });
    expect((listed.Grants as unknown[]).length).toBe(1);
    // The other account's root cannot list grants for this account's principals, nor this account for theirs.
    const error = await rejection(call('ListRetirableGrants', otherRoot, { RetiringPrincipal: ALICE }));
    expect(error.code).toBe('AccessDeniedException');
    expect(error.message).toBe(`User: ${OTHER_ROOT_ARN} is not authorized to perform: kms:ListRetirableGrants on resource: ${ALICE} because the retiring principal is not in the caller's account`);
    expect(await code(call('ListRetirableGrants', root, { RetiringPrincipal: `arn:aws:iam::${OTHER_ACCOUNT}:user/carol` }))).toBe('AccessDeniedException');
    expect(((await call('ListRetirableGrants', otherRoot, { RetiringPrincipal: `arn:aws:iam::${OTHER_ACCOUNT}:user/carol` })).Grants as unknown[]).length).toBe(1);
    // Today only an account's root may call it at all (authorize()); the policy evaluator widens that later.
    expect(await code(call('ListRetirableGrants', alice, { RetiringPrincipal: ALICE }))).toBe('AccessDeniedException');
  });

  it('only the retiring principal of a grant, its grantee when it allows RetireGrant, or its issuing account may retire it.', async () => {
    const key = await storedKey();
    const arn = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${key.keyId}`;
    const retire = async (ctx: RequestContext, grant: GrantRecord, byToken: boolean) =>
      call('RetireGrant', ctx, byToken ? { GrantToken: grant.grantToken } : { KeyId: arn, GrantId: grant.grantId });

    for (const byToken of [true, false]) {
      // The retiring principal, though no policy lets it use the key.
      const g1 = await storedGrant(key, { granteePrincipal: BOB, retiringPrincipal: ALICE });
      expect(await retire(alice, g1, byToken)).toEqual({});
      // The grantee, only when the grant includes RetireGrant.
      const g2 = await storedGrant(key, { granteePrincipal: ALICE, operations: ['Decrypt'] });
      const denied = await rejection(retire(alice, g2, byToken));
      expect({ code: denied.code, message: denied.message }).toEqual({ code: 'AccessDeniedException', message: expect.stringContaining(`User: ${ALICE} is not authorized to perform: kms:RetireGrant on resource: ${arn}`) });
      const g3 = await storedGrant(key, { granteePrincipal: ALICE, operations: ['Decrypt', 'RetireGrant'] });
      expect(await retire(alice, g3, byToken)).toEqual({});
      // The issuing account's root; another account's root is not, even the key's owner (it revokes instead).
      const g4 = await storedGrant(key, { issuingAccount: OTHER_ACCOUNT, granteePrincipal: BOB });
      expect(await code(retire(root, g4, byToken))).toBe('AccessDeniedException');
      expect(await code(retire(bob, g4, byToken))).toBe('AccessDeniedException');
      expect(await retire(otherRoot, g4, byToken)).toEqual({});
      // Anyone else: no.
      const g5 = await storedGrant(key, { granteePrincipal: BOB, retiringPrincipal: BOB, operations: ['RetireGrant'] });
      expect(await code(retire(alice, g5, byToken))).toBe('AccessDeniedException');
      expect(await code(retire(otherRoot, g5, byToken))).toBe('AccessDeniedException');
      expect(await store.grants.get(key, key.keyId, g2.grantId)).toBeDefined();
      expect(await store.grants.get(key, key.keyId, g5.grantId)).toBeDefined();
      for (const gone of [g1, g3, g4]) expect(await store.grants.get(key, key.keyId, gone.grantId)).toBeUndefined();
    }
  });

  it('CreateGrant records the issuing account and the request, and ListGrants shows it as AWS does', async () => {
    const key = await storedKey();
    const created = await createGrant(root, {
      KeyId: key.keyId, GranteePrincipal: ALICE, RetiringPrincipal: BOB, Operations: ['Decrypt', 'Encrypt', 'Decrypt'], Name: 'app',
      Constraints: { EncryptionContextSubset: { Department: 'IT' } },
    });
    const stored = await store.grants.get(key, key.keyId, created.GrantId);
    expect(stored).toStrictEqual({
      accountId: ACCOUNT, region: REGION, keyId: key.keyId, grantId: created.GrantId, grantToken: created.GrantToken, name: 'app',
      granteePrincipal: ALICE, retiringPrincipal: BOB, issuingAccount: ACCOUNT, operations: ['Decrypt', 'Encrypt'],
      constraints: { encryptionContextSubset: { Department: 'IT' } }, createdAt: new Date('2026-01-01T00:00:00Z'),
    });
    expect(await call('ListGrants', root, { KeyId: key.keyId })).toEqual({
      Grants: [{
        KeyId: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${key.keyId}`, GrantId: created.GrantId, Name: 'app', CreationDate: 1767225600,
        GranteePrincipal: ALICE, RetiringPrincipal: BOB, IssuingAccount: accountRootArn(ACCOUNT), Operations: ['Decrypt', 'Encrypt'],
        Constraints: { EncryptionContextSubset: { Department: 'IT' } },
      }],
      Truncated: false,
    });
  });
});
