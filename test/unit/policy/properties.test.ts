// Properties of the decision that must hold for every policy, checked on random policies and
// random requests: an explicit deny always wins, adding an Allow never removes access, adding a
// Deny never adds access, and evaluation never throws on a valid policy.
import fc from 'fast-check';
import {
  baseOperators,
  type BaseOperator,
} from '../../../src/core/access/policy/conditions';
import {
  buildConditionValues,
  evaluateAccess,
  parsePolicy,
  type AccessDecision,
  type ConditionValues,
  type PolicyPrincipal,
  type PolicyResource,
} from '../../../src/core/access/policy';
import { ACCOUNT, KEY, OTHER, adminSession, alice, bob, carol, otherRoot, root } from './helpers';

// ---------------------------------------------------------------------------------------------
// Generators

const callers = [root, alice, bob, adminSession, carol, otherRoot];
const otherAccountKey: PolicyResource = { arn: `arn:aws:kms:us-east-1:${OTHER}:key/0000aaaa-12ab-34cd-56ef-1234567890ab`, accountId: OTHER };

const principalElement = fc.constantFrom<unknown>(
  '*',
  { AWS: '*' },
  { AWS: ACCOUNT },
  { AWS: `arn:aws:iam::${ACCOUNT}:root` },
  { AWS: alice.arn },
  { AWS: [bob.arn, carol.arn] },
  { AWS: `arn:aws:iam::${ACCOUNT}:role/Admin` },
  { AWS: [adminSession.arn, `arn:aws:iam::${ACCOUNT}:role/Admin`, ACCOUNT] },
  { AWS: OTHER },
  { AWS: [`arn:aws:iam::${OTHER}:root`, alice.arn] },
  { Service: 'dynamodb.amazonaws.com' },
);

const actionElement = fc.constantFrom<unknown>(
  'kms:*', '*', 'kms:Encrypt', 'kms:Decrypt', 'kms:Describe*', 'kms:ReEncrypt*', ['kms:Encrypt', 'kms:PutKeyPolicy'],
  'kms:List*', 'kms:CreateKey', 'KMS:ENCRYPT', 'kms:?ecrypt', 's3:GetObject',
);

const resourceElement = fc.constantFrom<unknown>(
  '*', KEY.arn, otherAccountKey.arn, `arn:aws:kms:*:${ACCOUNT}:key/*`, `arn:aws:kms:*:${OTHER}:key/*`, [KEY.arn, otherAccountKey.arn],
);

const printable = fc.string({ unit: 'binary-ascii', maxLength: 12 });

/** A valid policy value for each operator family. */
function valueFor(base: BaseOperator): fc.Arbitrary<string | number | boolean> {
  if (base === 'Null' || base === 'Bool') return fc.constantFrom('true', 'false', true, false, 'TRUE');
  if (base.startsWith('Numeric')) return fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.constantFrom('7', '30.5', '-1e2'));
  if (base.startsWith('Date')) {
    return fc.oneof(
      fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2040-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
      fc.integer({ min: 0, max: 2_000_000_000 }).map(String),
    );
  }
  if (base === 'IpAddress' || base === 'NotIpAddress') {
    return fc.oneof(
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 32 })).map(([a, b, p]) => `${a}.${b}.0.0/${p}`),
      fc.constantFrom('2001:db8::/32', '::1', '10.0.0.1', '::ffff:10.0.0.0/104'),
    );
  }
  if (base === 'BinaryEquals') return fc.constantFrom('QQ==', 'QmluYXJ5', '');
  if (base.startsWith('Arn')) return fc.constantFrom('arn:aws:iam::*:user/*', `arn:aws:iam::${ACCOUNT}:root`, '*', 'arn:aws:iam::*', 'arn:*:*:*:*:*');
  return fc.oneof(printable, fc.constantFrom('*', 'alice', 'IT', 'd*', '${aws:username}', "${aws:username, 'x'}", '${*}', SOURCE_IPS[0]!, ACCOUNT));
}

const conditionKeys = [
  'kms:CallerAccount', 'aws:SecureTransport', 'aws:SourceIp', 'kms:EncryptionContext:dept', 'kms:EncryptionContext:owner',
  'kms:EncryptionContextKeys', 'kms:ScheduleKeyDeletionPendingWindowInDays', 'aws:CurrentTime', 'aws:PrincipalArn',
  'aws:ResourceTag/Project', 'kms:ResourceAliases', 'kms:GrantOperations', 'kms:KeySpec', 'aws:username',
];

/** A random but valid Condition clause: operator, optional set qualifier and IfExists, key, values. */
const conditionClause = fc
  .record({
    base: fc.constantFrom(...baseOperators),
    qualifier: fc.constantFrom('', 'ForAnyValue:', 'ForAllValues:'),
    ifExists: fc.boolean(),
    key: fc.constantFrom(...conditionKeys),
  })
  .chain(({ base, qualifier, ifExists, key }) => {
    const q = base === 'Null' || (qualifier === 'ForAllValues:' && key.toLowerCase().startsWith('kms:encryptioncontext:')) ? '' : qualifier;
    const operator = `${q}${base}${ifExists && base !== 'Null' ? 'IfExists' : ''}`;
    return fc.array(valueFor(base), { minLength: 1, maxLength: 3 }).map((values) => ({ operator, key, values: values.length === 1 ? values[0] : values }));
  });

const conditionElement = fc.option(
  fc.array(conditionClause, { minLength: 1, maxLength: 3 }).map((clauses) => {
    const block: Record<string, Record<string, unknown>> = {};
    for (const c of clauses) (block[c.operator] ??= {})[c.key] = c.values;
    return block;
  }),
  { freq: 2 },
);

function statement(kind: 'key' | 'identity', effect?: 'Allow' | 'Deny') {
  return fc
    .record({
      effect: effect ? fc.constant(effect) : fc.constantFrom('Allow', 'Deny'),
      principal: principalElement,
      notPrincipal: fc.boolean(),
      action: actionElement,
      notAction: fc.boolean(),
      resource: resourceElement,
      notResource: fc.boolean(),
      condition: conditionElement,
      omitAction: fc.nat(20),
    })
    .map((r) => {
      const s: Record<string, unknown> = { Effect: r.effect };
      if (kind === 'key') s[r.notPrincipal && r.principal !== '*' ? 'NotPrincipal' : 'Principal'] = r.principal;
      // Key-policy statements may lack Action (accepted and ineffective); now and then, test that too.
      if (!(kind === 'key' && r.omitAction === 0)) s[r.notAction ? 'NotAction' : 'Action'] = r.action;
      s[r.notResource ? 'NotResource' : 'Resource'] = r.resource;
      if (r.condition) s['Condition'] = r.condition;
      return s;
    });
}

type Statements = Record<string, unknown>[];
const text = (statements: Statements) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

const keyPolicy = fc.array(statement('key'), { minLength: 1, maxLength: 4 });
const identityPolicies = fc.array(fc.array(statement('identity'), { minLength: 1, maxLength: 3 }), { maxLength: 2 });

const SOURCE_IPS = ['10.1.2.3', '192.0.2.7', '2001:db8::9', '::ffff:10.0.0.5', 'not-an-ip'];
const ACTIONS = ['kms:Encrypt', 'kms:Decrypt', 'kms:DescribeKey', 'kms:PutKeyPolicy', 'kms:ReEncryptFrom', 'kms:ScheduleKeyDeletion', 'kms:ListKeys', 'kms:CreateKey', 'Encrypt'];

interface Request {
  principal: PolicyPrincipal;
  action: string;
  resource?: PolicyResource;
  conditionValues: ConditionValues;
  grant: boolean;
}

const request: fc.Arbitrary<Request> = fc
  .record({
    principal: fc.constantFrom(...callers),
    action: fc.constantFrom(...ACTIONS),
    resource: fc.constantFrom<PolicyResource | undefined>(KEY, KEY, otherAccountKey, undefined),
    sourceIp: fc.option(fc.constantFrom(...SOURCE_IPS)),
    secureTransport: fc.option(fc.boolean()),
    now: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2040-01-01T00:00:00Z'), noInvalidDate: true }),
    encryptionContext: fc.option(fc.dictionary(fc.constantFrom('dept', 'Dept', 'owner', 'stage', 'x'), fc.oneof(printable, fc.constantFrom('alice', 'IT', 'secret')))),
    keyTags: fc.option(fc.dictionary(fc.constantFrom('Project', 'project'), printable)),
    keyAliases: fc.option(fc.array(fc.constantFrom('alias/app', 'alias/db'), { maxLength: 2 })),
    days: fc.option(fc.oneof(fc.integer({ min: 7, max: 30 }), fc.constant('garbage'))),
    grantOperations: fc.option(fc.array(fc.constantFrom('Decrypt', 'Encrypt', 'RetireGrant'), { maxLength: 3 })),
    grant: fc.boolean(),
  })
  .map((r) => ({
    principal: r.principal,
    action: r.action,
    resource: r.resource,
    grant: r.grant,
    conditionValues: buildConditionValues({
      principalArn: r.principal.arn,
      principalAccount: r.principal.accountId,
      sourceIp: r.sourceIp ?? undefined,
      secureTransport: r.secureTransport ?? undefined,
      now: r.now,
      encryptionContext: r.encryptionContext ?? undefined,
      keyTags: r.keyTags ?? undefined,
      keyAliases: r.keyAliases ?? undefined,
      keySpec: 'SYMMETRIC_DEFAULT',
      extra: { 'kms:ScheduleKeyDeletionPendingWindowInDays': r.days ?? undefined, 'kms:GrantOperations': r.grantOperations ?? undefined },
    }),
  }));

function evaluate(req: Request, key: Statements, identities: Statements[]): AccessDecision {
  return evaluateAccess({
    context: { principal: req.principal, action: req.action, resource: req.resource, conditionValues: req.conditionValues },
    keyPolicy: text(key),
    identityPolicies: identities.map(text),
    grantAllows: req.grant,
  });
}

function insertAt<T>(list: readonly T[], item: T, position: number): T[] {
  const at = position % (list.length + 1);
  return [...list.slice(0, at), item, ...list.slice(at)];
}

/** Adds a statement to the key policy, to an existing identity policy, or as a new identity policy. */
function withStatement(key: Statements, identities: Statements[], target: number, position: number, s: Record<string, unknown>, kind: 'key' | 'identity') {
  if (kind === 'key') return { key: insertAt(key, s, position), identities };
  const index = target % (identities.length + 1);
  const next = identities.map((p) => [...p]);
  if (index === identities.length) next.push([s]);
  else next[index] = insertAt(next[index]!, s, position);
  return { key, identities: next };
}

const runs = { numRuns: 300 };

// ---------------------------------------------------------------------------------------------

describe('properties of the decision', () => {
  it('generated policies are valid', () => {
    fc.assert(fc.property(keyPolicy, identityPolicies, (key, identities) => {
      parsePolicy(text(key), 'key');
      for (const p of identities) parsePolicy(text(p), 'identity');
    }), runs);
  });

  it('an explicit Deny that matches the request always wins', () => {
    // Deny statements built to match any request: the identity-policy one always applies;
    // the key-policy one applies whenever there is a key. Some carry a condition that holds.
    const alwaysTrue = fc.constantFrom(undefined, { Null: { 'aws:PrincipalArn': 'false' } }, { StringLike: { 'aws:PrincipalArn': '*' } });
    fc.assert(fc.property(
      keyPolicy, identityPolicies, request, fc.boolean(), fc.nat(), fc.nat(), fc.constantFrom('*', 'kms:*'), alwaysTrue,
      (key, identities, req, inKeyPolicy, target, position, action, condition) => {
        const useKey = inKeyPolicy && req.resource !== undefined;
        const deny: Record<string, unknown> = { Effect: 'Deny', Action: action, Resource: '*', ...(condition ? { Condition: condition } : {}) };
        if (useKey) deny['Principal'] = '*';
        const next = withStatement(key, identities, target, position, deny, useKey ? 'key' : 'identity');
        const decision = evaluate(req, next.key, next.identities);
        expect(decision).toMatchObject({ allowed: false, reason: 'explicitDeny' });
        // A key-policy deny is the one named when both kinds deny.
        if (useKey) expect(decision.deniedBy).toBe('resource');
      },
    ), runs);
  });

  it('adding an Allow statement never removes access', () => {
    fc.assert(fc.property(
      keyPolicy, identityPolicies, request, fc.boolean(), fc.nat(), fc.nat(), statement('key', 'Allow'), statement('identity', 'Allow'),
      (key, identities, req, inKeyPolicy, target, position, keyAllow, identityAllow) => {
        const before = evaluate(req, key, identities);
        const next = withStatement(key, identities, target, position, inKeyPolicy ? keyAllow : identityAllow, inKeyPolicy ? 'key' : 'identity');
        const after = evaluate(req, next.key, next.identities);
        if (before.allowed) expect(after.allowed).toBe(true);
      },
    ), runs);
  });

  it('adding a Deny statement never adds access', () => {
    fc.assert(fc.property(
      keyPolicy, identityPolicies, request, fc.boolean(), fc.nat(), fc.nat(), statement('key', 'Deny'), statement('identity', 'Deny'),
      (key, identities, req, inKeyPolicy, target, position, keyDeny, identityDeny) => {
        const before = evaluate(req, key, identities);
        const next = withStatement(key, identities, target, position, inKeyPolicy ? keyDeny : identityDeny, inKeyPolicy ? 'key' : 'identity');
        const after = evaluate(req, next.key, next.identities);
        if (after.allowed) expect(before.allowed).toBe(true);
      },
    ), runs);
  });

  it('evaluation never throws on a valid policy, whatever the request holds', () => {
    const anyValue = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(undefined),
    );
    const rawValues = fc.dictionary(fc.constantFrom(...conditionKeys.map((k) => k.toLowerCase()), 'AWS:SourceIP', 'kms:encryptioncontext:DEPT'), anyValue);
    fc.assert(fc.property(keyPolicy, identityPolicies, request, rawValues, (key, identities, req, values) => {
      const decision = evaluate({ ...req, conditionValues: { ...req.conditionValues, ...values } }, key, identities);
      expect(typeof decision.allowed).toBe('boolean');
      if (!decision.allowed) expect(['resource', 'identity']).toContain(decision.deniedBy);
    }), { numRuns: 500 });
  });

  it('a decision is the same whether policies are passed as text or parsed', () => {
    fc.assert(fc.property(keyPolicy, identityPolicies, request, (key, identities, req) => {
      const fromText = evaluate(req, key, identities);
      const fromParsed = evaluateAccess({
        context: { principal: req.principal, action: req.action, resource: req.resource, conditionValues: req.conditionValues },
        keyPolicy: parsePolicy(text(key), 'key'),
        identityPolicies: identities.map((p) => parsePolicy(text(p), 'identity')),
        grantAllows: req.grant,
      });
      expect(fromParsed).toEqual(fromText);
    }), { numRuns: 100 });
  });
});
