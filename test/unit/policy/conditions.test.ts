// Condition operators, one block per operator, with the missing-key, IfExists and set-qualifier
// behaviour of each family. `holds` evaluates an identity policy that allows everything under
// the given Condition block, so these go through parsing and evaluation like real policies.
import { ACCOUNT, holds } from './helpers';

const ctx = { 'kms:calleraccount': ACCOUNT };

describe('string operators', () => {
  it('StringEquals matches exactly and case-sensitively', () => {
    const c = { StringEquals: { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' } };
    expect(holds(c, { 'kms:encryptionalgorithm': 'SYMMETRIC_DEFAULT' })).toBe(true);
    expect(holds(c, { 'kms:encryptionalgorithm': 'symmetric_default' })).toBe(false);
    expect(holds(c, { 'kms:encryptionalgorithm': 'SYMMETRIC_DEFAULT_' })).toBe(false);
    expect(holds(c, {})).toBe(false);
  });

  it('StringEquals does not treat * as a wildcard', () => {
    expect(holds({ StringEquals: { 'kms:RequestAlias': 'alias/*' } }, { 'kms:requestalias': 'alias/app' })).toBe(false);
    expect(holds({ StringEquals: { 'kms:RequestAlias': 'alias/*' } }, { 'kms:requestalias': 'alias/*' })).toBe(true);
  });

  it('several values for one key are ORed', () => {
    const c = { StringEquals: { 'kms:SigningAlgorithm': ['ECDSA_SHA_256', 'ECDSA_SHA_384'] } };
    expect(holds(c, { 'kms:signingalgorithm': 'ECDSA_SHA_384' })).toBe(true);
    expect(holds(c, { 'kms:signingalgorithm': 'ECDSA_SHA_512' })).toBe(false);
  });

  it('StringNotEquals is NOR over its values and true when the key is missing', () => {
    const c = { StringNotEquals: { 'kms:MessageType': ['RAW', 'DIGEST'] } };
    expect(holds(c, { 'kms:messagetype': 'RAW' })).toBe(false);
    expect(holds(c, { 'kms:messagetype': 'DIGEST' })).toBe(false);
    expect(holds(c, { 'kms:messagetype': 'EXTERNAL_MU' })).toBe(true);
    expect(holds(c, {})).toBe(true);
  });

  it('StringEqualsIgnoreCase ignores case', () => {
    const c = { StringEqualsIgnoreCase: { 'kms:KeySpec': 'rsa_2048' } };
    expect(holds(c, { 'kms:keyspec': 'RSA_2048' })).toBe(true);
    expect(holds(c, { 'kms:keyspec': 'RSA_4096' })).toBe(false);
    expect(holds(c, {})).toBe(false);
  });

  it('StringNotEqualsIgnoreCase ignores case and is true when the key is missing', () => {
    const c = { StringNotEqualsIgnoreCase: { 'kms:KeyUsage': 'encrypt_decrypt' } };
    expect(holds(c, { 'kms:keyusage': 'ENCRYPT_DECRYPT' })).toBe(false);
    expect(holds(c, { 'kms:keyusage': 'SIGN_VERIFY' })).toBe(true);
    expect(holds(c, {})).toBe(true);
  });

  it('StringLike supports * and ? and is case-sensitive', () => {
    const c = { StringLike: { 'kms:RequestAlias': ['alias/app-*', 'alias/db-?'] } };
    expect(holds(c, { 'kms:requestalias': 'alias/app-' })).toBe(true);
    expect(holds(c, { 'kms:requestalias': 'alias/app-prod/eu' })).toBe(true);
    expect(holds(c, { 'kms:requestalias': 'alias/db-1' })).toBe(true);
    expect(holds(c, { 'kms:requestalias': 'alias/db-12' })).toBe(false);
    expect(holds(c, { 'kms:requestalias': 'alias/App-prod' })).toBe(false);
    expect(holds(c, {})).toBe(false);
  });

  it('StringLike handles several stars without blowing up on long values', () => {
    const c = { StringLike: { 'kms:EncryptionContext:path': '*a*a*a*a*a*a*a*b' } };
    const long = 'a'.repeat(8000);
    const started = Date.now();
    expect(holds(c, { 'kms:encryptioncontext:path': long })).toBe(false);
    expect(holds(c, { 'kms:encryptioncontext:path': `${long}b` })).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('StringNotLike is true when no pattern matches or the key is missing', () => {
    const c = { StringNotLike: { 'aws:PrincipalArn': ['arn:aws:iam::*:role/Admin*', 'arn:aws:iam::*:root'] } };
    expect(holds(c, { 'aws:principalarn': `arn:aws:iam::${ACCOUNT}:role/AdminRole` })).toBe(false);
    expect(holds(c, { 'aws:principalarn': `arn:aws:iam::${ACCOUNT}:root` })).toBe(false);
    expect(holds(c, { 'aws:principalarn': `arn:aws:iam::${ACCOUNT}:user/alice` })).toBe(true);
    expect(holds(c, {})).toBe(true);
  });
});

describe('numeric operators', () => {
  const key = 'kms:ScheduleKeyDeletionPendingWindowInDays';
  const v = (n: number | string) => ({ 'kms:schedulekeydeletionpendingwindowindays': n });

  it('NumericEquals compares numbers, not text', () => {
    expect(holds({ NumericEquals: { [key]: '30' } }, v(30))).toBe(true);
    expect(holds({ NumericEquals: { [key]: 30 } }, v('30.0'))).toBe(true);
    expect(holds({ NumericEquals: { [key]: '30' } }, v(7))).toBe(false);
    expect(holds({ NumericEquals: { [key]: '30' } }, v('thirty'))).toBe(false);
    expect(holds({ NumericEquals: { [key]: '30' } }, {})).toBe(false);
  });

  it('NumericNotEquals is true for other numbers and for a missing key', () => {
    expect(holds({ NumericNotEquals: { [key]: ['7', '30'] } }, v(30))).toBe(false);
    expect(holds({ NumericNotEquals: { [key]: ['7', '30'] } }, v(14))).toBe(true);
    expect(holds({ NumericNotEquals: { [key]: '7' } }, {})).toBe(true);
  });

  it('NumericLessThan', () => {
    expect(holds({ NumericLessThan: { [key]: 30 } }, v(29))).toBe(true);
    expect(holds({ NumericLessThan: { [key]: 30 } }, v(30))).toBe(false);
    expect(holds({ NumericLessThan: { [key]: 30 } }, {})).toBe(false);
  });

  it('NumericLessThanEquals', () => {
    expect(holds({ NumericLessThanEquals: { [key]: 30 } }, v(30))).toBe(true);
    expect(holds({ NumericLessThanEquals: { [key]: 30 } }, v(31))).toBe(false);
  });

  it('NumericGreaterThan', () => {
    expect(holds({ NumericGreaterThan: { [key]: '7' } }, v(8))).toBe(true);
    expect(holds({ NumericGreaterThan: { [key]: '7' } }, v(7))).toBe(false);
  });

  it('NumericGreaterThanEquals', () => {
    expect(holds({ NumericGreaterThanEquals: { [key]: '7' } }, v(7))).toBe(true);
    expect(holds({ NumericGreaterThanEquals: { [key]: '7' } }, v(6.5))).toBe(false);
    expect(holds({ NumericGreaterThanEquals: { [key]: '-1.5e1' } }, v(-15))).toBe(true);
  });
});

describe('date operators', () => {
  const t = (iso: string) => ({ 'aws:currenttime': iso });

  it('DateEquals accepts ISO 8601 and epoch seconds on either side', () => {
    expect(holds({ DateEquals: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } }, t('2026-01-01T00:00:00.000Z'))).toBe(true);
    expect(holds({ DateEquals: { 'aws:CurrentTime': '1767225600' } }, t('2026-01-01T00:00:00Z'))).toBe(true);
    expect(holds({ DateEquals: { 'aws:CurrentTime': '2026-01-01' } }, { 'aws:currenttime': 1767225600 })).toBe(true);
    expect(holds({ DateEquals: { 'aws:CurrentTime': '2026-01-01T01:00:00+01:00' } }, t('2026-01-01T00:00:00Z'))).toBe(true);
    expect(holds({ DateEquals: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } }, t('2026-01-01T00:00:01Z'))).toBe(false);
    expect(holds({ DateEquals: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } }, {})).toBe(false);
  });

  it('reads a date without a zone as UTC', () => {
    expect(holds({ DateEquals: { 'aws:CurrentTime': '2026-01-01T00:00' } }, t('2026-01-01T00:00:00Z'))).toBe(true);
  });

  it('DateNotEquals is true for another instant and for a missing key', () => {
    expect(holds({ DateNotEquals: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } }, t('2026-01-02T00:00:00Z'))).toBe(true);
    expect(holds({ DateNotEquals: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } }, t('2026-01-01T00:00:00Z'))).toBe(false);
    expect(holds({ DateNotEquals: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } }, {})).toBe(true);
  });

  it('DateLessThan and DateLessThanEquals', () => {
    expect(holds({ DateLessThan: { 'aws:CurrentTime': '2026-06-01T00:00:00Z' } }, t('2026-05-31T23:59:59Z'))).toBe(true);
    expect(holds({ DateLessThan: { 'aws:CurrentTime': '2026-06-01T00:00:00Z' } }, t('2026-06-01T00:00:00Z'))).toBe(false);
    expect(holds({ DateLessThanEquals: { 'aws:CurrentTime': '2026-06-01T00:00:00Z' } }, t('2026-06-01T00:00:00Z'))).toBe(true);
    expect(holds({ DateLessThanEquals: { 'aws:CurrentTime': '2026-06-01T00:00:00Z' } }, t('2026-06-01T00:00:00.001Z'))).toBe(false);
  });

  it('DateGreaterThan and DateGreaterThanEquals', () => {
    expect(holds({ DateGreaterThan: { 'aws:CurrentTime': '2026-06-01T00:00:00Z' } }, t('2026-06-01T00:00:01Z'))).toBe(true);
    expect(holds({ DateGreaterThan: { 'aws:CurrentTime': '2026-06-01T00:00:00Z' } }, t('2026-06-01T00:00:00Z'))).toBe(false);
    expect(holds({ DateGreaterThanEquals: { 'aws:CurrentTime': '2026-06-01T00:00:00Z' } }, t('2026-06-01T00:00:00Z'))).toBe(true);
    expect(holds({ DateGreaterThanEquals: { 'aws:CurrentTime': '2026-06-01T00:00:00Z' } }, t('not a date'))).toBe(false);
  });
});

describe('Bool', () => {
  it('compares booleans, written as JSON booleans or strings in any case', () => {
    expect(holds({ Bool: { 'aws:SecureTransport': 'true' } }, { 'aws:securetransport': true })).toBe(true);
    expect(holds({ Bool: { 'aws:SecureTransport': true } }, { 'aws:securetransport': 'TRUE' })).toBe(true);
    expect(holds({ Bool: { 'aws:SecureTransport': 'True' } }, { 'aws:securetransport': false })).toBe(false);
    expect(holds({ Bool: { 'kms:GrantIsForAWSResource': false } }, { 'kms:grantisforawsresource': false })).toBe(true);
    expect(holds({ Bool: { 'kms:GrantIsForAWSResource': 'true' } }, {})).toBe(false);
  });

  it('BoolIfExists is true when the key is missing', () => {
    expect(holds({ BoolIfExists: { 'kms:ReEncryptOnSameKey': 'false' } }, {})).toBe(true);
    expect(holds({ BoolIfExists: { 'kms:ReEncryptOnSameKey': 'false' } }, { 'kms:reencryptonsamekey': true })).toBe(false);
  });
});

describe('Null', () => {
  it('Null true requires the key to be absent', () => {
    expect(holds({ Null: { 'kms:GranteePrincipal': 'true' } }, {})).toBe(true);
    expect(holds({ Null: { 'kms:GranteePrincipal': 'true' } }, { 'kms:granteeprincipal': 'x' })).toBe(false);
  });

  it('Null false requires the key to be present', () => {
    expect(holds({ Null: { 'kms:GranteePrincipal': false } }, { 'kms:granteeprincipal': 'x' })).toBe(true);
    expect(holds({ Null: { 'kms:GranteePrincipal': false } }, {})).toBe(false);
  });

  it('treats an empty multi-valued key as absent', () => {
    expect(holds({ Null: { 'kms:EncryptionContextKeys': 'true' } }, { 'kms:encryptioncontextkeys': [] })).toBe(true);
    expect(holds({ Null: { 'kms:EncryptionContextKeys': 'false' } }, { 'kms:encryptioncontextkeys': ['a'] })).toBe(true);
  });
});

describe('ARN operators', () => {
  const arn = (a: string) => ({ 'aws:principalarn': a });

  it('ArnEquals matches each ARN part, with wildcards, case-sensitively', () => {
    const c = { ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:user/*' } };
    expect(holds(c, arn('arn:aws:iam::111122223333:user/alice'))).toBe(true);
    expect(holds(c, arn('arn:aws:iam::111122223333:role/alice'))).toBe(false);
    expect(holds(c, arn('arn:aws:iam::111122223333:User/alice'))).toBe(false);
    expect(holds(c, arn('not an arn'))).toBe(false);
    expect(holds(c, {})).toBe(false);
  });

  it('ArnLike keeps a wildcard within its ARN part', () => {
    const c = { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/Admin' } };
    expect(holds(c, arn('arn:aws:iam::444455556666:role/Admin'))).toBe(true);
    // The * stands for the account only; it cannot absorb the ":role/…" part of another ARN.
    expect(holds({ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*' } }, arn('arn:aws:iam::444455556666:role/Admin'))).toBe(false);
    expect(holds({ ArnLike: { 'aws:PrincipalArn': 'arn:aws:*:*:*:*' } }, arn('arn:aws:iam::444455556666:role/Admin'))).toBe(true);
    expect(holds({ ArnLike: { 'aws:PrincipalArn': '*' } }, arn('arn:aws:iam::444455556666:role/Admin'))).toBe(true);
  });

  it('ArnLike lets the resource part contain colons', () => {
    expect(holds({ ArnLike: { 'kms:GranteePrincipal': 'arn:aws:sts::111122223333:assumed-role/App/*' } }, { 'kms:granteeprincipal': 'arn:aws:sts::111122223333:assumed-role/App/i-0abc:x' })).toBe(true);
  });

  it('ArnNotEquals and ArnNotLike are true when nothing matches or the key is missing', () => {
    expect(holds({ ArnNotEquals: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:root' } }, arn('arn:aws:iam::111122223333:root'))).toBe(false);
    expect(holds({ ArnNotEquals: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:root' } }, arn('arn:aws:iam::111122223333:user/a'))).toBe(true);
    expect(holds({ ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:*' } }, arn('arn:aws:iam::111122223333:user/a'))).toBe(false);
    expect(holds({ ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:*' } }, arn('arn:aws:iam::444455556666:user/a'))).toBe(true);
    expect(holds({ ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:*' } }, {})).toBe(true);
  });
});

describe('IP address operators', () => {
  const ip = (a: string) => ({ 'aws:sourceip': a });

  it('IpAddress matches IPv4 CIDR blocks and bare addresses', () => {
    const c = { IpAddress: { 'aws:SourceIp': ['203.0.113.0/24', '198.51.100.7'] } };
    expect(holds(c, ip('203.0.113.200'))).toBe(true);
    expect(holds(c, ip('198.51.100.7'))).toBe(true);
    expect(holds(c, ip('198.51.100.8'))).toBe(false);
    expect(holds(c, ip('203.0.114.1'))).toBe(false);
    expect(holds(c, ip('garbage'))).toBe(false);
    expect(holds(c, {})).toBe(false);
  });

  it('IpAddress handles prefixes that are not byte-aligned, /0 and /32', () => {
    expect(holds({ IpAddress: { 'aws:SourceIp': '10.0.0.0/12' } }, ip('10.15.255.255'))).toBe(true);
    expect(holds({ IpAddress: { 'aws:SourceIp': '10.0.0.0/12' } }, ip('10.16.0.0'))).toBe(false);
    expect(holds({ IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }, ip('8.8.8.8'))).toBe(true);
    expect(holds({ IpAddress: { 'aws:SourceIp': '8.8.8.8/32' } }, ip('8.8.8.9'))).toBe(false);
  });

  it('IpAddress matches IPv6 blocks and keeps the families apart', () => {
    const c = { IpAddress: { 'aws:SourceIp': '2001:db8::/32' } };
    expect(holds(c, ip('2001:db8:1234::1'))).toBe(true);
    expect(holds(c, ip('2001:0DB8:0000:0000:0000:0000:0000:0001'))).toBe(true);
    expect(holds(c, ip('2001:db9::1'))).toBe(false);
    expect(holds({ IpAddress: { 'aws:SourceIp': '::/0' } }, ip('10.0.0.1'))).toBe(false);
    expect(holds({ IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }, ip('::1'))).toBe(false);
    expect(holds({ IpAddress: { 'aws:SourceIp': '::1' } }, ip('::1'))).toBe(true);
    expect(holds({ IpAddress: { 'aws:SourceIp': 'fe80::/10' } }, ip('fe80::1%eth0'))).toBe(true);
  });

  it('treats an IPv4-mapped IPv6 caller address as IPv4', () => {
    expect(holds({ IpAddress: { 'aws:SourceIp': '192.0.2.0/24' } }, ip('::ffff:192.0.2.10'))).toBe(true);
    expect(holds({ IpAddress: { 'aws:SourceIp': '::ffff:192.0.2.0/120' } }, ip('192.0.2.10'))).toBe(true);
  });

  it('NotIpAddress is true outside the blocks and when the key is missing', () => {
    const c = { NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '2001:db8::/32'] } };
    expect(holds(c, ip('10.1.2.3'))).toBe(false);
    expect(holds(c, ip('2001:db8::5'))).toBe(false);
    expect(holds(c, ip('192.0.2.1'))).toBe(true);
    expect(holds(c, {})).toBe(true);
  });
});

describe('BinaryEquals', () => {
  it('compares base64 values by their bytes', () => {
    const c = { BinaryEquals: { 'kms:Blob': 'QmluYXJ5' } };
    expect(holds(c, { 'kms:blob': 'QmluYXJ5' })).toBe(true);
    expect(holds(c, { 'kms:blob': 'QmluYXJ6' })).toBe(false);
    expect(holds(c, { 'kms:blob': '!!' })).toBe(false);
    expect(holds(c, {})).toBe(false);
  });
});

describe('IfExists', () => {
  it('StringEqualsIfExists is true when the key is missing and checks it when present', () => {
    const c = { StringEqualsIfExists: { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' } };
    expect(holds(c, {})).toBe(true);
    expect(holds(c, { 'kms:encryptionalgorithm': 'SYMMETRIC_DEFAULT' })).toBe(true);
    expect(holds(c, { 'kms:encryptionalgorithm': 'RSAES_OAEP_SHA_256' })).toBe(false);
  });

  it('every operator family has an IfExists variant', () => {
    const variants: Array<[string, string, string, string]> = [
      ['StringNotEqualsIfExists', 'kms:KeySpec', 'RSA_2048', 'RSA_2048'],
      ['StringLikeIfExists', 'kms:KeySpec', 'RSA_*', 'ECC_NIST_P256'],
      ['NumericLessThanIfExists', 'kms:RotationPeriodInDays', '100', '365'],
      ['DateLessThanIfExists', 'aws:CurrentTime', '2020-01-01T00:00:00Z', '2026-01-01T00:00:00Z'],
      ['ArnLikeIfExists', 'aws:PrincipalArn', 'arn:aws:iam::*:root', 'arn:aws:iam::111122223333:user/a'],
      ['IpAddressIfExists', 'aws:SourceIp', '10.0.0.0/8', '192.0.2.1'],
      ['NotIpAddressIfExists', 'aws:SourceIp', '10.0.0.0/8', '10.0.0.1'],
      ['BinaryEqualsIfExists', 'kms:Blob', 'QQ==', 'Qg=='],
    ];
    for (const [operator, key, policyValue, failing] of variants) {
      expect([operator, holds({ [operator]: { [key]: policyValue } }, {})]).toEqual([operator, true]);
      expect([operator, holds({ [operator]: { [key]: policyValue } }, { [key.toLowerCase()]: failing })]).toEqual([operator, false]);
    }
  });
});

describe('set qualifiers', () => {
  const keys = (list: string[] | undefined) => (list === undefined ? {} : { 'kms:encryptioncontextkeys': list });

  it('ForAnyValue: true when at least one request value matches', () => {
    const c = { 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': ['Department', 'Project'] } };
    expect(holds(c, keys(['Owner', 'Project']))).toBe(true);
    expect(holds(c, keys(['Owner']))).toBe(false);
  });

  it('ForAnyValue: false for a missing key and for an empty set', () => {
    const c = { 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': 'Department' } };
    expect(holds(c, keys(undefined))).toBe(false);
    expect(holds(c, keys([]))).toBe(false);
  });

  it('ForAnyValue with IfExists: true for a missing key and for an empty set', () => {
    const c = { 'ForAnyValue:StringEqualsIfExists': { 'kms:EncryptionContextKeys': 'Department' } };
    expect(holds(c, keys(undefined))).toBe(true);
    expect(holds(c, keys([]))).toBe(true);
    expect(holds(c, keys(['Owner']))).toBe(false);
  });

  it('ForAllValues: true when every request value matches', () => {
    const c = { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['Department', 'Project'] } };
    expect(holds(c, keys(['Department', 'Project']))).toBe(true);
    expect(holds(c, keys(['Department']))).toBe(true);
    expect(holds(c, keys(['Department', 'Owner']))).toBe(false);
  });

  it('ForAllValues: true for a missing key and for an empty set', () => {
    const c = { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': 'Department' } };
    expect(holds(c, keys(undefined))).toBe(true);
    expect(holds(c, keys([]))).toBe(true);
  });

  it('ForAllValues with a negated operator: no request value may be among the policy values', () => {
    const c = { 'ForAllValues:StringNotEquals': { 'aws:TagKeys': ['Owner', 'CostCenter'] } };
    expect(holds(c, { 'aws:tagkeys': ['Project', 'Stage'] })).toBe(true);
    expect(holds(c, { 'aws:tagkeys': ['Project', 'Owner'] })).toBe(false);
    expect(holds(c, {})).toBe(true);
  });

  it('ForAnyValue with a negated operator: some request value is outside the policy values', () => {
    const c = { 'ForAnyValue:StringNotLike': { 'kms:GrantOperations': ['Decrypt', 'Encrypt'] } };
    expect(holds(c, { 'kms:grantoperations': ['Decrypt', 'RetireGrant'] })).toBe(true);
    expect(holds(c, { 'kms:grantoperations': ['Decrypt', 'Encrypt'] })).toBe(false);
    expect(holds(c, {})).toBe(false);
  });

  it('ForAllValues:StringLike with wildcards', () => {
    const c = { 'ForAllValues:StringLike': { 'kms:ResourceAliases': 'alias/app-*' } };
    expect(holds(c, { 'kms:resourcealiases': ['alias/app-1', 'alias/app-2'] })).toBe(true);
    expect(holds(c, { 'kms:resourcealiases': ['alias/app-1', 'alias/db'] })).toBe(false);
  });

  it('reads a single-valued key as a set of one', () => {
    expect(holds({ 'ForAnyValue:StringEquals': { 'kms:CallerAccount': ACCOUNT } }, ctx)).toBe(true);
    expect(holds({ 'ForAllValues:StringEquals': { 'kms:CallerAccount': '444455556666' } }, ctx)).toBe(false);
  });

  it('without a qualifier, a multi-valued key matches when any of its values does (negated: when none does)', () => {
    expect(holds({ StringEquals: { 'kms:EncryptionContextKeys': 'Project' } }, keys(['Owner', 'Project']))).toBe(true);
    expect(holds({ StringEquals: { 'kms:EncryptionContextKeys': 'Stage' } }, keys(['Owner', 'Project']))).toBe(false);
    expect(holds({ StringNotEquals: { 'kms:EncryptionContextKeys': 'Project' } }, keys(['Owner', 'Project']))).toBe(false);
    expect(holds({ StringNotEquals: { 'kms:EncryptionContextKeys': 'Stage' } }, keys(['Owner', 'Project']))).toBe(true);
  });
});

describe('combining conditions', () => {
  it('several keys under one operator are ANDed', () => {
    const c = { StringEquals: { 'kms:CallerAccount': ACCOUNT, 'kms:KeySpec': 'SYMMETRIC_DEFAULT' } };
    expect(holds(c, { ...ctx, 'kms:keyspec': 'SYMMETRIC_DEFAULT' })).toBe(true);
    expect(holds(c, { ...ctx, 'kms:keyspec': 'RSA_2048' })).toBe(false);
    expect(holds(c, ctx)).toBe(false);
  });

  it('several operators are ANDed', () => {
    const c = { StringEquals: { 'kms:CallerAccount': ACCOUNT }, Bool: { 'aws:SecureTransport': 'true' } };
    expect(holds(c, { ...ctx, 'aws:securetransport': true })).toBe(true);
    expect(holds(c, { ...ctx, 'aws:securetransport': false })).toBe(false);
  });

  it('an empty Condition block always holds', () => {
    expect(holds({}, {})).toBe(true);
  });
});

describe('condition key names', () => {
  it('are case-insensitive in the policy and in the request', () => {
    expect(holds({ StringEquals: { 'KMS:CALLERACCOUNT': ACCOUNT } }, ctx)).toBe(true);
    expect(holds({ StringEquals: { 'kms:CallerAccount': ACCOUNT } }, { 'Kms:CallerAccount': ACCOUNT })).toBe(true);
  });

  it('treat the encryption context key part case-insensitively and its value case-sensitively', () => {
    const values = { 'kms:encryptioncontext:department': 'IT' };
    expect(holds({ StringEquals: { 'kms:EncryptionContext:Department': 'IT' } }, values)).toBe(true);
    expect(holds({ StringEquals: { 'kms:EncryptionContext:DEPARTMENT': 'IT' } }, values)).toBe(true);
    expect(holds({ StringEquals: { 'kms:EncryptionContext:Department': 'it' } }, values)).toBe(false);
    expect(holds({ StringEqualsIgnoreCase: { 'kms:EncryptionContext:Department': 'it' } }, values)).toBe(true);
  });
});

describe('policy variables in encryption context values', () => {
  const user = { 'aws:username': 'alice', 'aws:principalarn': 'arn:aws:iam::111122223333:user/alice' };

  it('substitutes ${aws:username}', () => {
    const c = { StringEquals: { 'kms:EncryptionContext:owner': '${aws:username}' } };
    expect(holds(c, { ...user, 'kms:encryptioncontext:owner': 'alice' })).toBe(true);
    expect(holds(c, { ...user, 'kms:encryptioncontext:owner': 'bob' })).toBe(false);
  });

  it('substitutes inside StringLike patterns, literally', () => {
    const c = { StringLike: { 'kms:EncryptionContext:path': 'home/${aws:username}/*' } };
    expect(holds(c, { ...user, 'kms:encryptioncontext:path': 'home/alice/notes' })).toBe(true);
    expect(holds(c, { ...user, 'kms:encryptioncontext:path': 'home/bob/notes' })).toBe(false);
    // A * in the variable's value is a literal star, not a wildcard.
    const star = { 'aws:username': '*', 'kms:encryptioncontext:path': 'home/anyone/notes' };
    expect(holds(c, star)).toBe(false);
  });

  it('supports defaults and the ${*}, ${?} and ${$} escapes', () => {
    expect(holds({ StringEquals: { 'kms:EncryptionContext:owner': "${aws:username, 'nobody'}" } }, { 'kms:encryptioncontext:owner': 'nobody' })).toBe(true);
    expect(holds({ StringLike: { 'kms:EncryptionContext:k': 'a${*}b${?}c${$}' } }, { 'kms:encryptioncontext:k': 'a*b?c$' })).toBe(true);
    expect(holds({ StringLike: { 'kms:EncryptionContext:k': 'a${*}b' } }, { 'kms:encryptioncontext:k': 'axxb' })).toBe(false);
  });

  it('fails the condition when a variable has no value and no default', () => {
    expect(holds({ StringEquals: { 'kms:EncryptionContext:owner': '${aws:username}' } }, { 'kms:encryptioncontext:owner': '${aws:username}' })).toBe(false);
    expect(holds({ StringNotEquals: { 'kms:EncryptionContext:owner': '${aws:username}' } }, { 'kms:encryptioncontext:owner': 'x' })).toBe(false);
  });

  it('leaves ${…} alone in other condition keys and in 2008-10-17 policies', () => {
    expect(holds({ StringEquals: { 'kms:RequestAlias': '${aws:username}' } }, { ...user, 'kms:requestalias': '${aws:username}' })).toBe(true);
    expect(holds({ StringEquals: { 'kms:EncryptionContext:owner': '${aws:username}' } }, { ...user, 'kms:encryptioncontext:owner': '${aws:username}' }, '2008-10-17')).toBe(true);
  });
});
