// The authorisation decision: principal, action and resource matching, the evaluation order
// (explicit deny, key policy, delegation to identity policies, grants, implicit deny),
// cross-account calls, the lockout safety check and the AccessDenied wording.
import {
  accessDeniedMessage,
  buildConditionValues,
  defaultKeyPolicy,
  evaluateAccess,
  kmsAction,
  lockoutSafetyCheck,
  parsePolicy,
  PolicyValidationError,
  type DeniedDecision,
} from '../../../src/core/access/policy';
import {
  ACCOUNT,
  KEY,
  KEY_ARN,
  OTHER,
  OTHER_KEY_ARN,
  adminSession,
  alice,
  allowAll,
  bob,
  carol,
  decide,
  denyAll,
  otherRoot,
  policy,
  root,
} from './helpers';

const keyPolicyFor = (principal: unknown, extra: object = {}) => policy({ Effect: 'Allow', Principal: principal, Action: 'kms:*', Resource: '*', ...extra });
const allowIdentity = (extra: object = {}) => policy({ ...allowAll, ...extra });

describe('principal forms in a key policy', () => {
  it('"*" and {"AWS": "*"} allow every caller directly', () => {
    for (const principal of ['*', { AWS: '*' }]) {
      for (const caller of [root, alice, adminSession]) {
        expect(decide({ principal: caller, keyPolicy: keyPolicyFor(principal) })).toMatchObject({ allowed: true, reason: 'keyPolicy' });
      }
    }
  });

  it('a bare account id is the account root: root directly, other principals by delegation', () => {
    const keyPolicy = keyPolicyFor({ AWS: ACCOUNT });
    expect(decide({ principal: root, keyPolicy })).toMatchObject({ allowed: true, reason: 'keyPolicy' });
    expect(decide({ principal: alice, keyPolicy })).toMatchObject({ allowed: false, reason: 'implicitDeny', deniedBy: 'identity' });
    expect(decide({ principal: alice, keyPolicy, identity: [allowIdentity()] })).toMatchObject({ allowed: true, reason: 'identityPolicy' });
  });

  it('an account root ARN delegates to the account the same way', () => {
    const keyPolicy = keyPolicyFor({ AWS: `arn:aws:iam::${ACCOUNT}:root` });
    expect(decide({ principal: root, keyPolicy })).toMatchObject({ allowed: true, reason: 'keyPolicy' });
    expect(decide({ principal: bob, keyPolicy, identity: [allowIdentity()] })).toMatchObject({ allowed: true, reason: 'identityPolicy' });
  });

  it('a user ARN allows exactly that user', () => {
    const keyPolicy = keyPolicyFor({ AWS: alice.arn });
    expect(decide({ principal: alice, keyPolicy })).toMatchObject({ allowed: true, reason: 'keyPolicy' });
    expect(decide({ principal: bob, keyPolicy, identity: [allowIdentity()] })).toMatchObject({ allowed: false, deniedBy: 'resource' });
    expect(decide({ principal: { arn: `${alice.arn}2`, accountId: ACCOUNT }, keyPolicy })).toMatchObject({ allowed: false });
    // The account's root is not a user named in the policy.
    expect(decide({ principal: root, keyPolicy })).toMatchObject({ allowed: false, deniedBy: 'resource' });
  });

  it('a role ARN allows the sessions of that role, also when the role has a path', () => {
    expect(decide({ principal: adminSession, keyPolicy: keyPolicyFor({ AWS: `arn:aws:iam::${ACCOUNT}:role/Admin` }) })).toMatchObject({ allowed: true, reason: 'keyPolicy' });
    expect(decide({ principal: adminSession, keyPolicy: keyPolicyFor({ AWS: `arn:aws:iam::${ACCOUNT}:role/ops/Admin` }) })).toMatchObject({ allowed: true });
    expect(decide({ principal: adminSession, keyPolicy: keyPolicyFor({ AWS: `arn:aws:iam::${ACCOUNT}:role/Admin2` }) })).toMatchObject({ allowed: false });
    expect(decide({ principal: adminSession, keyPolicy: keyPolicyFor({ AWS: `arn:aws:iam::${OTHER}:role/Admin` }) })).toMatchObject({ allowed: false });
  });

  it('a list of principals allows each of them', () => {
    const keyPolicy = keyPolicyFor({ AWS: [alice.arn, bob.arn] });
    expect(decide({ principal: alice, keyPolicy }).allowed).toBe(true);
    expect(decide({ principal: bob, keyPolicy }).allowed).toBe(true);
    expect(decide({ principal: adminSession, keyPolicy }).allowed).toBe(false);
  });

  it('Service principals never match a caller of this service', () => {
    expect(decide({ principal: root, keyPolicy: keyPolicyFor({ Service: 'dynamodb.amazonaws.com' }) }).allowed).toBe(false);
  });

  it('another account id matches nobody in this account', () => {
    expect(decide({ principal: root, keyPolicy: keyPolicyFor({ AWS: OTHER }), identity: [allowIdentity()] }).allowed).toBe(false);
  });
});

describe('NotPrincipal', () => {
  const denyAllBut = (entries: string[]) => policy(
    { Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' },
    { Effect: 'Deny', NotPrincipal: { AWS: entries }, Action: 'kms:*', Resource: '*' },
  );

  it('Deny with NotPrincipal denies everyone not listed', () => {
    const keyPolicy = denyAllBut([alice.arn, ACCOUNT]);
    expect(decide({ principal: alice, keyPolicy })).toMatchObject({ allowed: true });
    expect(decide({ principal: bob, keyPolicy })).toMatchObject({ allowed: false, reason: 'explicitDeny', deniedBy: 'resource' });
    expect(decide({ principal: carol, keyPolicy, identity: [allowIdentity()] })).toMatchObject({ allowed: false, reason: 'explicitDeny' });
  });

  it('excludes a user only when its account is listed too, as AWS does', () => {
    expect(decide({ principal: alice, keyPolicy: denyAllBut([alice.arn]) })).toMatchObject({ allowed: false, reason: 'explicitDeny' });
  });

  it('excludes a role session only when the session, its role and its account are all listed', () => {
    const role = `arn:aws:iam::${ACCOUNT}:role/Admin`;
    expect(decide({ principal: adminSession, keyPolicy: denyAllBut([role, ACCOUNT]) }).allowed).toBe(false);
    expect(decide({ principal: adminSession, keyPolicy: denyAllBut([adminSession.arn, ACCOUNT]) }).allowed).toBe(false);
    expect(decide({ principal: adminSession, keyPolicy: denyAllBut([adminSession.arn, role, ACCOUNT]) }).allowed).toBe(true);
  });

  it('excludes the account root when the account is listed', () => {
    expect(decide({ principal: root, keyPolicy: denyAllBut([`arn:aws:iam::${ACCOUNT}:root`]) }).allowed).toBe(true);
    expect(decide({ principal: root, keyPolicy: denyAllBut([alice.arn]) }).allowed).toBe(false);
  });

  it('Allow with NotPrincipal allows everyone not listed', () => {
    const keyPolicy = policy({ Effect: 'Allow', NotPrincipal: { AWS: [bob.arn, ACCOUNT] }, Action: 'kms:*', Resource: '*' });
    expect(decide({ principal: alice, keyPolicy })).toMatchObject({ allowed: true, reason: 'keyPolicy' });
    expect(decide({ principal: bob, keyPolicy }).allowed).toBe(false);
  });

  it('NotPrincipal "*" excludes everyone', () => {
    const keyPolicy = policy(
      { Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', NotPrincipal: { AWS: '*' }, Action: 'kms:*', Resource: '*' },
    );
    expect(decide({ principal: bob, keyPolicy }).allowed).toBe(true);
  });
});

describe('actions', () => {
  const allowing = (Action: unknown) => keyPolicyFor('*', { Action });

  it('kms:* and * cover every KMS action', () => {
    for (const action of ['kms:*', '*']) {
      for (const op of ['kms:Encrypt', 'kms:ScheduleKeyDeletion', 'kms:PutKeyPolicy']) {
        expect(decide({ keyPolicy: allowing(action), action: op }).allowed).toBe(true);
      }
    }
  });

  it('kms:Describe* and kms:ReEncrypt* cover what AWS says they cover', () => {
    expect(decide({ keyPolicy: allowing('kms:Describe*'), action: 'kms:DescribeKey' }).allowed).toBe(true);
    expect(decide({ keyPolicy: allowing('kms:Describe*'), action: 'kms:Decrypt' }).allowed).toBe(false);
    expect(decide({ keyPolicy: allowing('kms:ReEncrypt*'), action: 'kms:ReEncryptFrom' }).allowed).toBe(true);
    expect(decide({ keyPolicy: allowing('kms:ReEncrypt*'), action: 'kms:ReEncryptTo' }).allowed).toBe(true);
    expect(decide({ keyPolicy: allowing('kms:GenerateDataKey*'), action: 'kms:GenerateDataKeyPairWithoutPlaintext' }).allowed).toBe(true);
    expect(decide({ keyPolicy: allowing('kms:Delete*'), action: 'kms:ScheduleKeyDeletion' }).allowed).toBe(false);
  });

  it('matches actions case-insensitively, with ? wildcards', () => {
    expect(decide({ keyPolicy: allowing('KMS:encrypt'), action: 'kms:Encrypt' }).allowed).toBe(true);
    expect(decide({ keyPolicy: allowing('kms:Encrypt'), action: 'KMS:ENCRYPT' }).allowed).toBe(true);
    expect(decide({ keyPolicy: allowing('kms:?ecrypt'), action: 'kms:Decrypt' }).allowed).toBe(true);
  });

  it('does not let another service or a prefix of a name match', () => {
    expect(decide({ keyPolicy: allowing('s3:*'), action: 'kms:Encrypt' }).allowed).toBe(false);
    expect(decide({ keyPolicy: allowing('kms:Encrypt'), action: 'kms:EncryptX' }).allowed).toBe(false);
    expect(decide({ keyPolicy: allowing(['kms:Decrypt', 'kms:Sign']), action: 'kms:Encrypt' }).allowed).toBe(false);
  });

  it('reads a bare operation name as a kms: action', () => {
    expect(kmsAction('Encrypt')).toBe('kms:Encrypt');
    expect(kmsAction('kms:Encrypt')).toBe('kms:Encrypt');
    expect(decide({ keyPolicy: allowing('kms:Encrypt'), action: 'Encrypt' }).allowed).toBe(true);
  });

  it('NotAction allows every action except those listed', () => {
    const keyPolicy = policy({ Effect: 'Allow', Principal: '*', NotAction: ['kms:ScheduleKeyDeletion', 'kms:Put*'], Resource: '*' });
    expect(decide({ keyPolicy, action: 'kms:Encrypt' }).allowed).toBe(true);
    expect(decide({ keyPolicy, action: 'kms:ScheduleKeyDeletion' }).allowed).toBe(false);
    expect(decide({ keyPolicy, action: 'kms:PutKeyPolicy' }).allowed).toBe(false);
  });

  it('Deny with NotAction denies every action except those listed', () => {
    const keyPolicy = policy(
      { Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', Principal: '*', NotAction: 'kms:Describe*', Resource: '*' },
    );
    expect(decide({ keyPolicy, action: 'kms:DescribeKey' }).allowed).toBe(true);
    expect(decide({ keyPolicy, action: 'kms:Encrypt' })).toMatchObject({ allowed: false, reason: 'explicitDeny' });
  });
});

describe('resources', () => {
  it('Resource "*" in a key policy means this key', () => {
    expect(decide({ keyPolicy: keyPolicyFor('*') }).allowed).toBe(true);
  });

  it('an exact key ARN matches that key only', () => {
    expect(decide({ keyPolicy: keyPolicyFor('*', { Resource: KEY_ARN }) }).allowed).toBe(true);
    expect(decide({ keyPolicy: keyPolicyFor('*', { Resource: OTHER_KEY_ARN }) }).allowed).toBe(false);
  });

  it('ARN wildcards match per ARN part', () => {
    expect(decide({ keyPolicy: keyPolicyFor('*', { Resource: `arn:aws:kms:*:${ACCOUNT}:key/*` }) }).allowed).toBe(true);
    expect(decide({ keyPolicy: keyPolicyFor('*', { Resource: `arn:aws:kms:*:${OTHER}:key/*` }) }).allowed).toBe(false);
    expect(decide({ keyPolicy: keyPolicyFor('*', { Resource: `arn:aws:kms:us-west-2:${ACCOUNT}:key/*` }) }).allowed).toBe(false);
    expect(decide({ keyPolicy: keyPolicyFor('*', { Resource: `arn:aws:kms:us-east-1:${ACCOUNT}:alias/*` }) }).allowed).toBe(false);
  });

  it('NotResource applies to every resource except those listed', () => {
    const identity = (NotResource: string) => [policy({ Effect: 'Allow', Action: 'kms:*', NotResource })];
    const keyPolicy = keyPolicyFor({ AWS: ACCOUNT });
    expect(decide({ keyPolicy, identity: identity(OTHER_KEY_ARN) }).allowed).toBe(true);
    expect(decide({ keyPolicy, identity: identity(KEY_ARN) }).allowed).toBe(false);
  });

  it('identity policies name keys by ARN; only Resource "*" covers operations without a key', () => {
    const keyPolicy = keyPolicyFor({ AWS: ACCOUNT });
    const byArn = [policy({ Effect: 'Allow', Action: 'kms:*', Resource: `arn:aws:kms:*:${ACCOUNT}:key/*` })];
    expect(decide({ keyPolicy, identity: byArn }).allowed).toBe(true);
    expect(decide({ action: 'kms:ListKeys', resource: null, identity: byArn })).toMatchObject({ allowed: false, deniedBy: 'identity' });
    expect(decide({ action: 'kms:ListKeys', resource: null, identity: [allowIdentity()] })).toMatchObject({ allowed: true, reason: 'identityPolicy' });
  });
});

describe('evaluation order', () => {
  it('an explicit deny in the key policy or in an identity policy overrides every allow.', () => {
    const allowAndDeny = policy(
      { Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', Principal: { AWS: alice.arn }, Action: 'kms:Encrypt', Resource: '*' },
    );
    expect(decide({ keyPolicy: allowAndDeny, identity: [allowIdentity()], grant: true }))
      .toMatchObject({ allowed: false, reason: 'explicitDeny', deniedBy: 'resource', matched: { policy: 'key', statementIndex: 1 } });
    expect(decide({ keyPolicy: allowAndDeny, action: 'kms:Decrypt' }).allowed).toBe(true);

    const identityDeny = [allowIdentity(), policy({ ...denyAll, Sid: 'NoEncrypt', Action: 'kms:Encrypt' })];
    expect(decide({ keyPolicy: keyPolicyFor({ AWS: alice.arn }), identity: identityDeny, grant: true }))
      .toMatchObject({ allowed: false, reason: 'explicitDeny', deniedBy: 'identity', matched: { policy: 'identity', policyIndex: 1, statementIndex: 0, sid: 'NoEncrypt' } });
  });

  it('names the key policy when both kinds of policy deny', () => {
    const keyPolicy = policy({ ...denyAll, Principal: '*' });
    expect(decide({ keyPolicy, identity: [policy(denyAll)] })).toMatchObject({ reason: 'explicitDeny', deniedBy: 'resource' });
  });

  it('an explicit deny naming the account applies to every principal of the account', () => {
    const keyPolicy = policy(
      { Effect: 'Allow', Principal: { AWS: alice.arn }, Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', Principal: { AWS: ACCOUNT }, Action: 'kms:Encrypt', Resource: '*' },
    );
    expect(decide({ principal: alice, keyPolicy })).toMatchObject({ allowed: false, reason: 'explicitDeny' });
  });

  it('a deny whose condition does not hold does not deny', () => {
    const keyPolicy = policy(
      { Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
    );
    expect(decide({ keyPolicy, values: { 'aws:securetransport': true } }).allowed).toBe(true);
    expect(decide({ keyPolicy, values: { 'aws:securetransport': false } }).allowed).toBe(false);
  });

  it('the key policy allowing the principal directly decides before identity policies are needed', () => {
    expect(decide({ keyPolicy: keyPolicyFor({ AWS: alice.arn }) })).toMatchObject({ allowed: true, reason: 'keyPolicy', matched: { policy: 'key', statementIndex: 0 } });
  });

  it('a key policy statement naming the account allows a principal only with an identity policy allow.', () => {
    const keyPolicy = defaultKeyPolicy(ACCOUNT);
    expect(decide({ keyPolicy })).toMatchObject({ allowed: false, reason: 'implicitDeny', deniedBy: 'identity' });
    expect(decide({ keyPolicy, identity: [allowIdentity({ Action: 'kms:Decrypt' })] })).toMatchObject({ allowed: false, deniedBy: 'identity' });
    expect(decide({ keyPolicy, identity: [allowIdentity({ Action: 'kms:Encrypt' })] }))
      .toMatchObject({ allowed: true, reason: 'identityPolicy', matched: { policy: 'identity', policyIndex: 0 } });
  });

  it('identity policies alone do not open a key whose policy does not delegate to the account', () => {
    const keyPolicy = keyPolicyFor({ AWS: bob.arn });
    expect(decide({ keyPolicy, identity: [allowIdentity()] })).toMatchObject({ allowed: false, reason: 'implicitDeny', deniedBy: 'resource' });
    // Not even the account's root gets in: the key policy must let it in.
    expect(decide({ principal: root, keyPolicy })).toMatchObject({ allowed: false, deniedBy: 'resource' });
  });

  it('a key without a policy allows nothing', () => {
    expect(decide({ principal: root, identity: [allowIdentity()] })).toMatchObject({ allowed: false, deniedBy: 'resource' });
  });

  it('a statement without Action or Resource never applies.', () => {
    const keyPolicy = JSON.stringify({ Statement: [
      { Effect: 'Deny', Principal: '*', Resource: '*' },
      { Effect: 'Deny', Principal: '*', Action: 'kms:*' },
      { Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' },
    ] });
    expect(decide({ keyPolicy })).toMatchObject({ allowed: true, reason: 'keyPolicy', matched: { statementIndex: 2 } });
  });

  it('accepts parsed documents as well as text', () => {
    const decision = evaluateAccess({
      context: { principal: alice, action: 'kms:Encrypt', resource: KEY, conditionValues: {} },
      keyPolicy: parsePolicy(defaultKeyPolicy(ACCOUNT), 'key'),
      identityPolicies: [parsePolicy(allowIdentity(), 'identity')],
    });
    expect(decision).toMatchObject({ allowed: true, reason: 'identityPolicy' });
  });

  it('refuses a parsed document of the wrong kind', () => {
    expect(() => evaluateAccess({
      context: { principal: alice, action: 'kms:Encrypt', resource: KEY, conditionValues: {} },
      keyPolicy: parsePolicy(allowIdentity(), 'identity'),
    })).toThrow(TypeError);
  });

  it('throws PolicyValidationError for an invalid stored policy rather than guessing', () => {
    expect(() => decide({ keyPolicy: '{"Statement": [' })).toThrow(PolicyValidationError);
    expect(() => decide({ keyPolicy: defaultKeyPolicy(ACCOUNT), identity: [policy({ ...allowAll, Principal: '*' })] })).toThrow(PolicyValidationError);
  });
});

describe('grants', () => {
  it('allow when no policy does', () => {
    expect(decide({ keyPolicy: defaultKeyPolicy(ACCOUNT), grant: true })).toEqual({ allowed: true, reason: 'grant' });
    expect(decide({ keyPolicy: defaultKeyPolicy(ACCOUNT), grant: () => true })).toEqual({ allowed: true, reason: 'grant' });
    expect(decide({ keyPolicy: defaultKeyPolicy(ACCOUNT), grant: () => false })).toMatchObject({ allowed: false, reason: 'implicitDeny' });
  });

  it('grants are consulted only for operations on a key and only after the policies allow nothing.', () => {
    const lookup = jest.fn(() => true);
    expect(decide({ keyPolicy: keyPolicyFor({ AWS: alice.arn }), grant: lookup })).toMatchObject({ reason: 'keyPolicy' });
    expect(decide({ action: 'kms:CreateKey', resource: null, grant: lookup })).toMatchObject({ allowed: false, deniedBy: 'identity' });
    expect(decide({ keyPolicy: policy({ ...denyAll, Principal: '*' }), grant: lookup })).toMatchObject({ reason: 'explicitDeny' });
    expect(lookup).not.toHaveBeenCalled();
    decide({ keyPolicy: defaultKeyPolicy(ACCOUNT), grant: lookup });
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(lookup).toHaveBeenCalledWith(expect.objectContaining({ action: 'kms:Encrypt', resource: KEY }));
  });

  it('work across accounts without an identity policy', () => {
    expect(decide({ principal: carol, keyPolicy: defaultKeyPolicy(ACCOUNT), grant: true })).toMatchObject({ allowed: true, reason: 'grant' });
  });
});

describe('operations without a key resource', () => {
  it('an operation without a key resource is decided by identity policies alone.', () => {
    expect(decide({ action: 'kms:CreateKey', resource: null, identity: [allowIdentity({ Action: 'kms:CreateKey' })] })).toMatchObject({ allowed: true, reason: 'identityPolicy' });
    expect(decide({ action: 'kms:ListAliases', resource: null, identity: [allowIdentity({ Action: 'kms:CreateKey' })] })).toMatchObject({ allowed: false, reason: 'implicitDeny', deniedBy: 'identity' });
    // A key policy passed by mistake is not consulted.
    expect(decide({ action: 'kms:GenerateRandom', resource: null, keyPolicy: keyPolicyFor('*') })).toMatchObject({ allowed: false, deniedBy: 'identity' });
    expect(decide({ action: 'kms:GenerateRandom', resource: null, identity: [allowIdentity(), policy({ ...denyAll, Action: 'kms:GenerateRandom' })] }))
      .toMatchObject({ allowed: false, reason: 'explicitDeny', deniedBy: 'identity' });
  });

  it('the account root may call them without identity policies, unless one denies it', () => {
    expect(decide({ principal: root, action: 'kms:CreateKey', resource: null })).toMatchObject({ allowed: true, reason: 'identityPolicy' });
    expect(decide({ principal: root, action: 'kms:CreateKey', resource: null, identity: [policy(denyAll)] })).toMatchObject({ allowed: false, reason: 'explicitDeny' });
  });

  it('conditions on key attributes never match them', () => {
    const identity = [allowIdentity({ Condition: { StringEquals: { 'kms:KeySpec': 'SYMMETRIC_DEFAULT' } } })];
    expect(decide({ action: 'kms:ListKeys', resource: null, identity, values: {} }).allowed).toBe(false);
  });
});

describe('cross-account access', () => {
  const keyPolicyNamingOther = keyPolicyFor({ AWS: `arn:aws:iam::${OTHER}:root` });

  it('cross-account access needs an allow in both the key policy and the caller identity policies.', () => {
    expect(decide({ principal: carol, keyPolicy: keyPolicyNamingOther })).toMatchObject({ allowed: false, reason: 'implicitDeny', deniedBy: 'identity' });
    expect(decide({ principal: carol, keyPolicy: keyPolicyNamingOther, identity: [allowIdentity()] })).toMatchObject({ allowed: true, reason: 'identityPolicy' });
    expect(decide({ principal: carol, keyPolicy: defaultKeyPolicy(ACCOUNT), identity: [allowIdentity()] })).toMatchObject({ allowed: false, deniedBy: 'resource' });
    // Even a key policy naming the user directly needs the user's own account to agree.
    expect(decide({ principal: carol, keyPolicy: keyPolicyFor({ AWS: carol.arn }) })).toMatchObject({ allowed: false, deniedBy: 'identity' });
    expect(decide({ principal: carol, keyPolicy: keyPolicyFor({ AWS: carol.arn }), identity: [allowIdentity()] })).toMatchObject({ allowed: true });
    expect(decide({ principal: carol, keyPolicy: keyPolicyFor('*'), identity: [allowIdentity()] })).toMatchObject({ allowed: true });
  });

  it('the other account root needs only the key policy, having every identity permission', () => {
    expect(decide({ principal: otherRoot, keyPolicy: keyPolicyNamingOther })).toMatchObject({ allowed: true, reason: 'identityPolicy' });
  });

  it('an identity deny in the caller account still applies', () => {
    expect(decide({ principal: carol, keyPolicy: keyPolicyNamingOther, identity: [allowIdentity(), policy(denyAll)] })).toMatchObject({ allowed: false, reason: 'explicitDeny', deniedBy: 'identity' });
  });
});

describe('condition keys honoured only in identity policies', () => {
  it('aws:ResourceTag and kms:ResourceAliases are absent when the key policy is evaluated', () => {
    const values = buildConditionValues({ principalArn: alice.arn, principalAccount: ACCOUNT, now: new Date(0), keyTags: { Project: 'x' }, keyAliases: ['alias/app'] });
    const tagCondition = { Condition: { StringEquals: { 'aws:ResourceTag/Project': 'x' } } };
    const aliasCondition = { Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/app' } } };
    for (const condition of [tagCondition, aliasCondition]) {
      expect(decide({ keyPolicy: keyPolicyFor({ AWS: alice.arn }, condition), values }).allowed).toBe(false);
      expect(decide({ keyPolicy: defaultKeyPolicy(ACCOUNT), identity: [allowIdentity(condition)], values }).allowed).toBe(true);
    }
  });
});

describe('lockoutSafetyCheck', () => {
  it('the lockout safety check passes only if the new policy still lets the caller call kms:PutKeyPolicy.', () => {
    expect(lockoutSafetyCheck(defaultKeyPolicy(ACCOUNT), root, { key: KEY })).toBe(true);
    expect(lockoutSafetyCheck(keyPolicyFor({ AWS: bob.arn }), root, { key: KEY })).toBe(false);
    expect(lockoutSafetyCheck(keyPolicyFor({ AWS: alice.arn }, { Action: 'kms:Encrypt' }), alice, { key: KEY })).toBe(false);
    expect(lockoutSafetyCheck(keyPolicyFor({ AWS: alice.arn }, { Action: ['kms:Encrypt', 'kms:PutKeyPolicy'] }), alice, { key: KEY })).toBe(true);
    const denying = policy(
      { Effect: 'Allow', Principal: { AWS: alice.arn }, Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', Principal: '*', Action: 'kms:PutKeyPolicy', Resource: '*' },
    );
    expect(lockoutSafetyCheck(denying, alice, { key: KEY })).toBe(false);
  });

  it('counts delegation to the account together with the caller identity policies', () => {
    expect(lockoutSafetyCheck(defaultKeyPolicy(ACCOUNT), { ...alice, policies: [] }, { key: KEY })).toBe(false);
    expect(lockoutSafetyCheck(defaultKeyPolicy(ACCOUNT), { ...alice, policies: [allowIdentity({ Action: 'kms:PutKeyPolicy' })] }, { key: KEY })).toBe(true);
    expect(lockoutSafetyCheck(defaultKeyPolicy(ACCOUNT), { ...alice, policies: [allowIdentity(), policy(denyAll)] }, { key: KEY })).toBe(false);
  });

  it('uses the request condition values when given', () => {
    const text = keyPolicyFor({ AWS: alice.arn }, { Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } });
    expect(lockoutSafetyCheck(text, alice, { key: KEY, conditionValues: { 'aws:sourceip': '10.1.1.1' } })).toBe(true);
    expect(lockoutSafetyCheck(text, alice, { key: KEY, conditionValues: { 'aws:sourceip': '192.0.2.1' } })).toBe(false);
    expect(lockoutSafetyCheck(keyPolicyFor({ AWS: alice.arn }, { Condition: { StringEquals: { 'aws:PrincipalArn': alice.arn } } }), alice)).toBe(true);
  });

  it('without the key, applies only statements whose Resource is "*"', () => {
    expect(lockoutSafetyCheck(defaultKeyPolicy(ACCOUNT), root)).toBe(true);
    expect(lockoutSafetyCheck(keyPolicyFor('*', { Resource: KEY_ARN }), root)).toBe(false);
    expect(lockoutSafetyCheck(keyPolicyFor('*', { Resource: KEY_ARN }), root, { key: KEY })).toBe(true);
  });

  it('throws PolicyValidationError for an invalid policy', () => {
    expect(() => lockoutSafetyCheck('{}', root)).toThrow(PolicyValidationError);
  });
});

describe('accessDeniedMessage', () => {
  const subject = { principalArn: alice.arn, action: 'kms:Encrypt', resource: KEY_ARN };
  const head = `User: ${alice.arn} is not authorized to perform: kms:Encrypt on resource: ${KEY_ARN}`;
  const denied = (reason: 'explicitDeny' | 'implicitDeny', deniedBy: 'resource' | 'identity'): DeniedDecision => ({ allowed: false, reason, deniedBy });

  it('words the four denials the way AWS does', () => {
    expect(accessDeniedMessage(denied('implicitDeny', 'resource'), subject)).toBe(`${head} because no resource-based policy allows the kms:Encrypt action`);
    expect(accessDeniedMessage(denied('implicitDeny', 'identity'), subject)).toBe(`${head} because no identity-based policy allows the kms:Encrypt action`);
    expect(accessDeniedMessage(denied('explicitDeny', 'resource'), subject)).toBe(`${head} with an explicit deny in a resource-based policy`);
    expect(accessDeniedMessage(denied('explicitDeny', 'identity'), subject)).toBe(`${head} with an explicit deny in an identity-based policy`);
  });

  it('prefixes a bare operation name and accepts "*" as the resource', () => {
    expect(accessDeniedMessage(denied('implicitDeny', 'identity'), { principalArn: alice.arn, action: 'ListKeys', resource: '*' }))
      .toBe(`User: ${alice.arn} is not authorized to perform: kms:ListKeys on resource: * because no identity-based policy allows the kms:ListKeys action`);
  });

  it('fits decisions straight from evaluateAccess', () => {
    const decision = decide({ keyPolicy: keyPolicyFor({ AWS: bob.arn }) });
    if (decision.allowed) throw new Error('expected a denial');
    expect(accessDeniedMessage(decision, subject)).toContain('no resource-based policy allows');
  });
});

describe('buildConditionValues', () => {
  const now = new Date('2026-03-01T12:00:00.000Z');

  it('fills the global and KMS keys with lower-cased names', () => {
    const values = buildConditionValues({
      principalArn: `arn:aws:iam::${ACCOUNT}:user/team/alice`,
      principalAccount: ACCOUNT,
      sourceIp: '203.0.113.9',
      secureTransport: true,
      now,
      keyTags: { Project: 'apollo' },
      keyAliases: ['alias/app'],
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT',
      keyOrigin: 'AWS_KMS',
      encryptionContext: { Department: 'IT', Stage: 'prod' },
      requestTags: { Owner: 'alice' },
      extra: { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT', 'kms:GrantOperations': ['Decrypt', 'Encrypt'] },
    });
    expect(values).toEqual({
      'aws:principalarn': `arn:aws:iam::${ACCOUNT}:user/team/alice`,
      'aws:principalaccount': ACCOUNT,
      'kms:calleraccount': ACCOUNT,
      'aws:principaltype': 'User',
      'aws:username': 'alice',
      'aws:sourceip': '203.0.113.9',
      'aws:securetransport': true,
      'aws:currenttime': '2026-03-01T12:00:00.000Z',
      'aws:epochtime': 1772366400,
      'kms:keyspec': 'SYMMETRIC_DEFAULT',
      'kms:customermasterkeyspec': 'SYMMETRIC_DEFAULT',
      'kms:keyusage': 'ENCRYPT_DECRYPT',
      'kms:customermasterkeyusage': 'ENCRYPT_DECRYPT',
      'kms:keyorigin': 'AWS_KMS',
      'kms:resourcealiases': ['alias/app'],
      'aws:resourcetag/project': 'apollo',
      'kms:encryptioncontext:department': 'IT',
      'kms:encryptioncontext:stage': 'prod',
      'kms:encryptioncontextkeys': ['Department', 'Stage'],
      'aws:requesttag/owner': 'alice',
      'aws:tagkeys': ['Owner'],
      'kms:encryptionalgorithm': 'SYMMETRIC_DEFAULT',
      'kms:grantoperations': ['Decrypt', 'Encrypt'],
    });
  });

  it('leaves out what the request does not have', () => {
    const values = buildConditionValues({ principalArn: root.arn, principalAccount: ACCOUNT, now, encryptionContext: {}, requestTags: {} });
    expect(Object.keys(values).sort()).toEqual(['aws:currenttime', 'aws:epochtime', 'aws:principalaccount', 'aws:principalarn', 'aws:principaltype', 'kms:calleraccount']);
    expect(values['aws:principaltype']).toBe('Account');
  });

  it('keeps both values of encryption context keys that differ only in case, so a deny on either applies', () => {
    const values = buildConditionValues({ principalArn: alice.arn, principalAccount: ACCOUNT, now, encryptionContext: { dept: 'secret', Dept: 'public' } });
    expect(values['kms:encryptioncontext:dept']).toEqual(['secret', 'public']);
    const keyPolicy = policy(
      { Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:Dept': 'secret' } } },
    );
    expect(decide({ keyPolicy, values })).toMatchObject({ allowed: false, reason: 'explicitDeny' });
  });

  it('lets extra override a derived key', () => {
    const values = buildConditionValues({ principalArn: alice.arn, principalAccount: ACCOUNT, now, requestTags: { A: '1' }, extra: { 'aws:TagKeys': ['B'] } });
    expect(values['aws:tagkeys']).toEqual(['B']);
  });
});
