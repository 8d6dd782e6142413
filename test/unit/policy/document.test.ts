// Policy document validation: every element, the size and character limits, and the rules that
// differ between key policies and identity policies.
import {
  MAX_POLICY_BYTES,
  PolicyValidationError,
  defaultKeyPolicy,
  isPolicyValidationError,
  parsePolicy,
  policyMessages,
  type PolicyKind,
  type PolicyValidationReason,
} from '../../../src/core/access/policy';
import { ACCOUNT, allowAll, decide, policy, root } from './helpers';

const keyStatement = { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' };

function rejects(text: string, kind: PolicyKind, reason: PolicyValidationReason, message?: string | RegExp): void {
  let caught: unknown;
  try {
    parsePolicy(text, kind);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(PolicyValidationError);
  const error = caught as PolicyValidationError;
  expect(error.reason).toBe(reason);
  expect(error.name).toBe('PolicyValidationError');
  if (message !== undefined) expect(error.message).toMatch(message);
}

const keyDoc = (...statements: object[]) => policy(...statements);
const withStatement = (extra: object, base: object = keyStatement) => keyDoc({ ...base, ...extra });

describe('the default key policy', () => {
  it('is the text AWS attaches, byte for byte', () => {
    expect(defaultKeyPolicy(ACCOUNT)).toBe(
      '{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}',
    );
  });

  it('parses as a key policy and lets the account root do everything', () => {
    const doc = parsePolicy(defaultKeyPolicy(ACCOUNT), 'key');
    expect(doc.id).toBe('key-default-1');
    expect(doc.statements).toHaveLength(1);
    expect(decide({ principal: root, keyPolicy: defaultKeyPolicy(ACCOUNT), action: 'kms:ScheduleKeyDeletion' })).toMatchObject({ allowed: true, reason: 'keyPolicy' });
  });
});

describe('parsing', () => {
  it('normalises statements: a single Statement object, string lists and lower-cased condition keys', () => {
    const doc = parsePolicy(JSON.stringify({
      Statement: { Sid: 'Let admins in', Effect: 'Allow', Principal: { AWS: [ACCOUNT, 'arn:aws:iam::111122223333:user/alice'] }, NotAction: 'kms:Decrypt', Resource: '*', Condition: { StringEquals: { 'kms:CallerAccount': ACCOUNT, 'kms:EncryptionContext:Dept': ['a', 'b'] } } },
    }), 'key');
    const s = doc.statements[0]!;
    expect(doc.version).toBeUndefined();
    expect(s.sid).toBe('Let admins in');
    expect(s.principal).toEqual({ negated: false, set: { any: false, aws: [ACCOUNT, 'arn:aws:iam::111122223333:user/alice'], other: [] } });
    expect(s.action).toEqual({ negated: true, patterns: ['kms:Decrypt'] });
    expect(s.conditions.map((c) => [c.key, c.values])).toEqual([['kms:calleraccount', [ACCOUNT]], ['kms:encryptioncontext:dept', ['a', 'b']]]);
  });

  it('accepts both policy versions and no version at all', () => {
    for (const Version of ['2012-10-17', '2008-10-17', undefined]) {
      expect(() => parsePolicy(JSON.stringify({ Version, Statement: [keyStatement] }), 'key')).not.toThrow();
    }
  });

  it('turns numbers and booleans in condition values into strings', () => {
    const doc = parsePolicy(withStatement({ Condition: { Bool: { 'kms:GrantIsForAWSResource': true }, NumericLessThan: { 'kms:ScheduleKeyDeletionPendingWindowInDays': 30 } } }), 'key');
    expect(doc.statements[0]!.conditions.map((c) => c.values)).toEqual([['true'], ['30']]);
  });

  it('accepts Service, Federated and CanonicalUser principals', () => {
    expect(() => parsePolicy(withStatement({ Principal: { Service: 'dynamodb.amazonaws.com', Federated: 'cognito-identity.amazonaws.com', CanonicalUser: 'abc' } }), 'key')).not.toThrow();
  });

  it('exposes the error type through isPolicyValidationError', () => {
    expect(isPolicyValidationError(new PolicyValidationError('json', 'x'))).toBe(true);
    expect(isPolicyValidationError(new Error('x'))).toBe(false);
  });
});

describe('size and characters', () => {
  function padded(bytes: number, filler = 'a'): string {
    const base = keyDoc({ ...keyStatement, Sid: '' });
    const room = bytes - Buffer.byteLength(base, 'utf8');
    const fill = filler.repeat(Math.floor(room / Buffer.byteLength(filler, 'utf8')));
    return keyDoc({ ...keyStatement, Sid: fill });
  }

  it('a policy document larger than 32768 bytes is rejected.', () => {
    const exact = padded(MAX_POLICY_BYTES);
    expect(Buffer.byteLength(exact, 'utf8')).toBe(MAX_POLICY_BYTES);
    expect(() => parsePolicy(exact, 'key')).not.toThrow();
    rejects(padded(MAX_POLICY_BYTES + 1), 'key', 'size', /32768 bytes/);
  });

  it('counts the size in UTF-8 bytes, so Latin-1 characters count twice', () => {
    const text = padded(MAX_POLICY_BYTES + 2, 'é');
    expect(text.length).toBeLessThanOrEqual(MAX_POLICY_BYTES);
    expect(Buffer.byteLength(text, 'utf8')).toBeGreaterThan(MAX_POLICY_BYTES);
    rejects(text, 'key', 'size');
  });

  it('a policy document with a character outside tab, LF, CR and U+0020 to U+00FF is rejected.', () => {
    rejects(withStatement({ Sid: 'snow ☃' }), 'key', 'characters', /U\+2603/);
    rejects(withStatement({ Sid: 'ā' }), 'key', 'characters', /U\+0101/);
    rejects(`{\u0001"Statement": []}`, 'key', 'characters', /U\+0001/);
    rejects(withStatement({ Sid: '😀' }), 'key', 'characters');
  });

  it('accepts tab, line feed, carriage return and Latin-1 characters', () => {
    const text = `{\t"Version": "2012-10-17",\r\n"Statement": [${JSON.stringify({ ...keyStatement, Sid: 'Clé für Ünïcode ÿ ~' })}]\n}`;
    expect(parsePolicy(text, 'key').statements[0]!.sid).toBe('Clé für Ünïcode ÿ ~');
  });
});

describe('JSON', () => {
  it('rejects text that is not JSON', () => {
    rejects('', 'key', 'json');
    rejects('{"Statement": [', 'key', 'json');
    rejects(`${keyDoc(keyStatement)} trailing`, 'key', 'json');
    rejects("{'Statement': []}", 'key', 'json');
    rejects('{"Statement": [01]}', 'key', 'json');
  });

  it('a policy document with duplicate JSON member names is rejected.', () => {
    // JSON.parse would keep only the second Statement and silently drop the Deny.
    const text = `{"Statement": [{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}], "Statement": [${JSON.stringify(keyStatement)}]}`;
    rejects(text, 'key', 'json', /duplicate member "Statement"/);
    rejects(`{"Statement": {"Effect": "Deny", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}}`, 'key', 'json', /duplicate/);
  });

  it('treats escaped member names as the names they spell', () => {
    rejects(`{"Statement": {"Effect": "Deny", "Eff\\u0065ct": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}}`, 'key', 'json', /duplicate/);
  });

  it('refuses documents nested absurdly deep', () => {
    rejects(`{"Statement": ${'['.repeat(100)}${']'.repeat(100)}}`, 'key', 'json', /nesting/);
  });

  it('does not let a member named __proto__ change anything', () => {
    rejects(`{"__proto__": {"Statement": []}, "Statement": ${JSON.stringify(keyStatement)}}`, 'key', 'document', /unknown element '__proto__'/);
  });
});

describe('document elements', () => {
  it('rejects a document that is not an object', () => {
    rejects('[]', 'key', 'document');
    rejects('"policy"', 'key', 'document');
  });

  it('rejects unknown top-level elements', () => {
    rejects(JSON.stringify({ Statement: [keyStatement], Foo: 1 }), 'key', 'document', /Foo/);
  });

  it('rejects any other Version', () => {
    rejects(JSON.stringify({ Version: '2012-10-18', Statement: [keyStatement] }), 'key', 'version');
    rejects(JSON.stringify({ Version: 20121017, Statement: [keyStatement] }), 'key', 'version');
  });

  it('rejects an Id that is not a string', () => {
    rejects(JSON.stringify({ Id: 5, Statement: [keyStatement] }), 'key', 'document');
  });

  it('rejects a missing or empty Statement and statements that are not objects', () => {
    rejects(JSON.stringify({ Version: '2012-10-17' }), 'key', 'statement');
    rejects(JSON.stringify({ Statement: [] }), 'key', 'statement');
    rejects(JSON.stringify({ Statement: ['Allow'] }), 'key', 'statement');
    rejects(JSON.stringify({ Statement: 'Allow' }), 'key', 'statement');
  });

  it('rejects unknown statement elements', () => {
    rejects(withStatement({ Resources: '*' }), 'key', 'statement', /Resources/);
  });

  it('rejects a Sid that is not a string', () => {
    rejects(withStatement({ Sid: 1 }), 'key', 'statement');
  });

  it('allows spaces in key-policy Sids but only letters and digits in identity-policy Sids', () => {
    expect(() => parsePolicy(withStatement({ Sid: 'Allow use of the key' }), 'key')).not.toThrow();
    rejects(policy({ ...allowAll, Sid: 'Allow use' }), 'identity', 'statement');
    expect(() => parsePolicy(policy({ ...allowAll, Sid: 'AllowUse1' }), 'identity')).not.toThrow();
  });

  it('rejects duplicate Sids in an identity policy', () => {
    rejects(policy({ ...allowAll, Sid: 'A' }, { ...allowAll, Sid: 'A' }), 'identity', 'statement', /unique/);
  });

  it('rejects a missing Effect or one other than Allow and Deny', () => {
    const { Effect: _omit, ...noEffect } = keyStatement;
    rejects(keyDoc(noEffect), 'key', 'effect');
    rejects(withStatement({ Effect: 'allow' }), 'key', 'effect');
    rejects(withStatement({ Effect: 'Permit' }), 'key', 'effect');
  });
});

describe('principals', () => {
  it('a key policy statement without a Principal or NotPrincipal is rejected.', () => {
    rejects(keyDoc(allowAll), 'key', 'principal', /must contain Principal or NotPrincipal/);
  });

  it('rejects a statement with both Principal and NotPrincipal', () => {
    rejects(withStatement({ NotPrincipal: { AWS: ACCOUNT } }), 'key', 'principal', /both/);
  });

  it('an identity policy statement with a Principal or NotPrincipal is rejected.', () => {
    rejects(policy({ ...allowAll, Principal: '*' }), 'identity', 'principal', /identity-based policy/);
    rejects(policy({ ...allowAll, NotPrincipal: { AWS: ACCOUNT } }), 'identity', 'principal');
  });

  it('a principal that is not "*", an account or an exact user, role or session ARN is rejected.', () => {
    const bad = [
      'arn:aws:iam::111122223333:group/admins',
      'arn:aws:iam::111122223333:user/*',
      'arn:aws:iam::*:root',
      '11112222333',
      'alice',
      'arn:aws:iam::111122223333:user/',
      '',
    ];
    for (const entry of bad) rejects(withStatement({ Principal: { AWS: entry } }), 'key', 'principal', policyMessages.invalidPrincipals);
    rejects(withStatement({ Principal: 'arn:aws:iam::111122223333:root' }), 'key', 'principal');
    rejects(withStatement({ Principal: { IAM: ACCOUNT } }), 'key', 'principal');
    rejects(withStatement({ Principal: {} }), 'key', 'principal');
    rejects(withStatement({ Principal: { AWS: [] } }), 'key', 'principal');
    rejects(withStatement({ Principal: { Service: '' } }), 'key', 'principal');
  });

  it('accepts every principal form', () => {
    const good = [
      '*',
      ACCOUNT,
      `arn:aws:iam::${ACCOUNT}:root`,
      `arn:aws:iam::${ACCOUNT}:user/alice`,
      `arn:aws:iam::${ACCOUNT}:user/division/team/alice`,
      `arn:aws:iam::${ACCOUNT}:role/Admin`,
      `arn:aws:sts::${ACCOUNT}:assumed-role/Admin/session-1`,
      `arn:aws:sts::${ACCOUNT}:federated-user/fred`,
    ];
    for (const entry of good) expect(() => parsePolicy(withStatement({ Principal: { AWS: entry } }), 'key')).not.toThrow();
    expect(() => parsePolicy(withStatement({ Principal: '*' }), 'key')).not.toThrow();
  });

  it('asks principalExists about user and role ARNs only', () => {
    const asked: string[] = [];
    const exists = (arn: string) => {
      asked.push(arn);
      return arn.endsWith('/alice');
    };
    const text = withStatement({ Principal: { AWS: [ACCOUNT, `arn:aws:iam::${ACCOUNT}:root`, `arn:aws:iam::${ACCOUNT}:user/alice`] } });
    expect(() => parsePolicy(text, 'key', { principalExists: exists })).not.toThrow();
    expect(asked).toEqual([`arn:aws:iam::${ACCOUNT}:user/alice`]);
    expect(() => parsePolicy(withStatement({ Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/Ghost` } }), 'key', { principalExists: exists }))
      .toThrow(policyMessages.invalidPrincipals);
  });
});

describe('actions and resources', () => {
  it('rejects malformed actions', () => {
    for (const action of ['Encrypt', 'kms:', ':Encrypt', 'kms:En crypt', 'kms:Encrypt:x', '']) {
      rejects(withStatement({ Action: action }), 'key', 'action');
    }
    rejects(withStatement({ Action: [] }), 'key', 'action');
    rejects(withStatement({ Action: ['kms:Encrypt', 5] }), 'key', 'action');
  });

  it('rejects Action together with NotAction, and Resource together with NotResource', () => {
    rejects(withStatement({ NotAction: 'kms:Decrypt' }), 'key', 'action', /both/);
    rejects(withStatement({ NotResource: KEY_ARN_PATTERN }), 'key', 'resource', /both/);
  });

  it('rejects malformed resources', () => {
    for (const resource of ['key/1234', 'arn:aws:kms', 'alias/foo', '']) rejects(withStatement({ Resource: resource }), 'key', 'resource');
    rejects(withStatement({ Resource: [] }), 'key', 'resource');
  });

  it('accepts a key-policy statement without Action or Resource, as KMS does, and it never applies', () => {
    const { Action: _a, ...noAction } = keyStatement;
    const { Resource: _r, ...noResource } = keyStatement;
    for (const statement of [noAction, noResource]) {
      const text = keyDoc(statement);
      expect(parsePolicy(text, 'key').statements).toHaveLength(1);
      expect(decide({ principal: root, keyPolicy: text }).allowed).toBe(false);
    }
  });

  it('rejects an identity-policy statement without Action or Resource, as IAM does', () => {
    rejects(policy({ Effect: 'Allow', Resource: '*' }), 'identity', 'action');
    rejects(policy({ Effect: 'Allow', Action: '*' }), 'identity', 'resource');
  });
});

const KEY_ARN_PATTERN = 'arn:aws:kms:*:111122223333:key/*';

describe('conditions', () => {
  it('an unknown condition operator is rejected.', () => {
    for (const operator of ['StringEqual', 'StringEqualsAll', 'ForSomeValues:StringEquals', 'IfExists', 'NullIfExists', 'ForAnyValue:Null', '']) {
      rejects(withStatement({ Condition: { [operator]: { 'kms:CallerAccount': ACCOUNT } } }), 'key', 'condition', /is not a condition operator/);
    }
  });

  it('accepts operator names in any case', () => {
    expect(() => parsePolicy(withStatement({ Condition: { stringequals: { 'kms:CallerAccount': ACCOUNT }, 'forallvalues:stringlikeifexists': { 'aws:TagKeys': 'a*' } } }), 'key')).not.toThrow();
  });

  it('rejects malformed condition blocks', () => {
    rejects(withStatement({ Condition: 'StringEquals' }), 'key', 'condition');
    rejects(withStatement({ Condition: { StringEquals: 'kms:CallerAccount' } }), 'key', 'condition');
    rejects(withStatement({ Condition: { StringEquals: { CallerAccount: ACCOUNT } } }), 'key', 'condition', /not a condition key/);
    rejects(withStatement({ Condition: { StringEquals: { 'kms:CallerAccount': [] } } }), 'key', 'condition', /no values/);
    rejects(withStatement({ Condition: { StringEquals: { 'kms:CallerAccount': { a: 1 } } } }), 'key', 'condition');
    rejects(withStatement({ Condition: { StringEquals: { 'kms:CallerAccount': null } } }), 'key', 'condition');
  });

  it('rejects values the operator cannot compare', () => {
    const cases: Array<[string, string, unknown]> = [
      ['NumericLessThan', 'kms:ScheduleKeyDeletionPendingWindowInDays', 'thirty'],
      ['DateGreaterThan', 'aws:CurrentTime', 'tomorrow'],
      ['DateGreaterThan', 'aws:CurrentTime', '2024-13-01T00:00:00Z'],
      ['Bool', 'aws:SecureTransport', 'yes'],
      ['Null', 'kms:GranteePrincipal', 'maybe'],
      ['IpAddress', 'aws:SourceIp', '10.0.0.0/33'],
      ['NotIpAddress', 'aws:SourceIp', '300.1.1.1'],
      ['BinaryEquals', 'kms:Something', 'not base64!'],
    ];
    for (const [operator, key, value] of cases) rejects(withStatement({ Condition: { [operator]: { [key]: value } } }), 'key', 'condition');
  });

  it('ForAllValues on an encryption context key or a request tag is rejected as overly permissive.', () => {
    rejects(withStatement({ Condition: { 'ForAllValues:StringEquals': { 'kms:EncryptionContext:Department': 'IT' } } }), 'key', 'overlyPermissiveCondition',
      'OverlyPermissiveCondition: Using the ForAllValues set operator with a single-valued condition key matches requests without the specified encryption context or with an unspecified encryption context. To fix, remove ForAllValues.');
    rejects(withStatement({ Condition: { 'ForAllValues:StringLike': { 'aws:RequestTag/Project': 'x*' } } }), 'key', 'overlyPermissiveCondition',
      'OverlyPermissiveCondition: Using the ForAllValues set operator with a single-valued condition key matches requests without the specified tag or with an unspecified tag. To fix, remove ForAllValues.');
    rejects(policy({ ...allowAll, Condition: { 'forallvalues:StringEquals': { 'KMS:ENCRYPTIONCONTEXT:dept': 'IT' } } }), 'identity', 'overlyPermissiveCondition');
  });

  it('allows ForAnyValue on encryption context keys and ForAllValues on the multi-valued keys', () => {
    expect(() => parsePolicy(withStatement({ Condition: {
      'ForAnyValue:StringEquals': { 'kms:EncryptionContext:Department': 'IT' },
      'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['Department'], 'aws:TagKeys': ['Project'], 'kms:GrantOperations': ['Decrypt'] },
    } }), 'key')).not.toThrow();
  });
});
