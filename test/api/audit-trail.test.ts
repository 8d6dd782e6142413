// The audit trail through the HTTP layer, on a real SoftHSM token and the embedded store: every
// KMS operation in the dispatch table writes exactly one CloudTrail-shaped record per call, success
// or failure, DryRun included; no secret the calls used ever reaches the trail (records or the
// SQLite file); a trail that cannot be written fails the call; internal events are recorded.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { chainValue } from '../../src/core/audit/record';
import type { AuditRepository } from '../../src/core/ports';
import { maintain } from '../../src/compose';
import { kmsOperations } from '../../src/http/kms/operations';
import { wrapKeyMaterial } from '../support/import-wrap';
import { kmsCall } from '../support/signed';
import { ACCOUNT, ALICE, REGION, ROOT, startTestService, type TestService } from '../support/service';
import { withRepositories } from '../support/wrapped-store';
import { keyPath, metadata, startXksTestProxy, xksCall, XKS_CREDENTIAL, XKS_CREDENTIAL_2 } from '../support/xks';

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64');
const keyArnPattern = new RegExp(`^arn:aws:kms:${REGION}:${ACCOUNT}:key/([0-9a-f-]{36}|mrk-[0-9a-f]{32})$`);

interface CloudTrailRecord {
  eventVersion: string;
  userIdentity: Record<string, unknown>;
  eventTime: string;
  eventSource: string;
  eventName: string;
  awsRegion: string;
  sourceIPAddress?: string;
  userAgent?: string;
  errorCode?: string;
  errorMessage?: string;
  requestParameters: Record<string, unknown> | null;
  responseElements: Record<string, unknown> | null;
  additionalEventData?: Record<string, unknown>;
  requestID: string;
  eventID: string;
  readOnly: boolean;
  resources: { accountId: string; type: string; ARN: string }[];
  eventType: string;
  managementEvent: boolean;
  recipientAccountId: string;
  eventCategory: string;
  serviceEventDetails?: Record<string, unknown>;
}

interface Call {
  operation: string;
  status: number;
  body: Record<string, unknown>;
  requestId: string;
}

let svc: TestService;
/** Every secret value the calls sent or received, base64 and raw text, to look for in the trail. */
const secrets = new Set<string>();
const calls: Call[] = [];
/** Grant tokens: secrets the grants table itself must store, so exempt from the file scan (not from the trail's tables). */
const grantTokens = new Set<string>();

function remember(...values: unknown[]): void {
  for (const value of values) {
    if (typeof value !== 'string' || value.length < 8) continue;
    secrets.add(value);
    const raw = Buffer.from(value, 'base64');
    // Raw bytes as latin1 text would only match by accident; the hex form is what a careless encoder would write.
    if (raw.length >= 8) secrets.add(raw.toString('hex'));
  }
}

async function call(operation: string, body: Record<string, unknown>, options: { credentials?: typeof ROOT } = {}): Promise<Call> {
  const res = await kmsCall(svc.app, operation, body, options);
  const made = { operation, status: res.status, body: res.body as Record<string, unknown>, requestId: String(res.headers['x-amzn-requestid']) };
  calls.push(made);
  return made;
}

async function trail(): Promise<{ stored: Awaited<ReturnType<AuditRepository['range']>>; events: CloudTrailRecord[] }> {
  const stored = await svc.store.audit.range(1, 100_000);
  return { stored, events: stored.map((r) => JSON.parse(r.event) as CloudTrailRecord) };
}

beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc.close();
});

describe('every KMS operation writes one record per call', () => {
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    const create = async (body: Record<string, unknown>) => {
      const made = await call('CreateKey', body);
      expect(made.status).toBe(200);
      return (made.body.KeyMetadata as { KeyId: string }).KeyId;
    };
    ids.symmetric = await create({ Description: 'audit', Tags: [{ TagKey: 'team', TagValue: 'audit' }] });
    ids.signing = await create({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    ids.mac = await create({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    ids.agreement = await create({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' });
    ids.external = await create({ Origin: 'EXTERNAL' });
    const K = ids.symmetric!;
    const context = { purpose: 'audit-context' };

    const plaintext = b64(`plaintext-${randomBytes(12).toString('hex')}`);
    remember(plaintext);
    const encrypted = await call('Encrypt', { KeyId: K, Plaintext: plaintext, EncryptionContext: context });
    remember(encrypted.body.CiphertextBlob);
    remember((await call('Decrypt', { CiphertextBlob: encrypted.body.CiphertextBlob, EncryptionContext: context })).body.Plaintext);
    remember((await call('ReEncrypt', {
      CiphertextBlob: encrypted.body.CiphertextBlob, SourceEncryptionContext: context, DestinationKeyId: K, DestinationEncryptionContext: { to: 'x' },
    })).body.CiphertextBlob);
    const dataKey = await call('GenerateDataKey', { KeyId: K, KeySpec: 'AES_256', EncryptionContext: context });
    remember(dataKey.body.Plaintext, dataKey.body.CiphertextBlob);
    remember((await call('GenerateDataKeyWithoutPlaintext', { KeyId: K, NumberOfBytes: 32 })).body.CiphertextBlob);
    const pair = await call('GenerateDataKeyPair', { KeyId: K, KeyPairSpec: 'ECC_NIST_P256' });
    remember(pair.body.PrivateKeyPlaintext, pair.body.PrivateKeyCiphertextBlob);
    remember((await call('GenerateDataKeyPairWithoutPlaintext', { KeyId: K, KeyPairSpec: 'ECC_NIST_P256' })).body.PrivateKeyCiphertextBlob);
    remember((await call('GenerateRandom', { NumberOfBytes: 32 })).body.Plaintext);

    const message = b64(`message-${randomBytes(12).toString('hex')}`);
    remember(message);
    const signed = await call('Sign', { KeyId: ids.signing, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' });
    remember(signed.body.Signature);
    await call('Verify', { KeyId: ids.signing, Message: message, Signature: signed.body.Signature, SigningAlgorithm: 'ECDSA_SHA_256' });
    const mac = await call('GenerateMac', { KeyId: ids.mac, Message: message, MacAlgorithm: 'HMAC_SHA_256' });
    remember(mac.body.Mac);
    await call('VerifyMac', { KeyId: ids.mac, Message: message, Mac: mac.body.Mac, MacAlgorithm: 'HMAC_SHA_256' });
    const peer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    remember((await call('DeriveSharedSecret', {
      KeyId: ids.agreement, KeyAgreementAlgorithm: 'ECDH', PublicKey: b64(peer.publicKey.export({ format: 'der', type: 'spki' })),
    })).body.SharedSecret);
    await call('GetPublicKey', { KeyId: ids.signing });
    await call('DescribeKey', { KeyId: K });

    await call('CreateAlias', { AliasName: 'alias/audit', TargetKeyId: K });
    await call('UpdateAlias', { AliasName: 'alias/audit', TargetKeyId: K });
    await call('ListAliases', { KeyId: K, Limit: 10 });
    await call('DeleteAlias', { AliasName: 'alias/audit' });

    const grant = await call('CreateGrant', { KeyId: K, GranteePrincipal: ALICE.principalArn, Operations: ['Encrypt'], RetiringPrincipal: ALICE.principalArn });
    remember(grant.body.GrantToken);
    grantTokens.add(String(grant.body.GrantToken));
    await call('ListGrants', { KeyId: K });
    await call('ListRetirableGrants', { RetiringPrincipal: ALICE.principalArn });
    await call('RetireGrant', { KeyId: K, GrantId: grant.body.GrantId });
    const second = await call('CreateGrant', { KeyId: K, GranteePrincipal: ALICE.principalArn, Operations: ['Decrypt'] });
    remember(second.body.GrantToken);
    grantTokens.add(String(second.body.GrantToken));
    await call('RevokeGrant', { KeyId: K, GrantId: second.body.GrantId });

    const policy = await call('GetKeyPolicy', { KeyId: K, PolicyName: 'default' });
    await call('PutKeyPolicy', { KeyId: K, PolicyName: 'default', Policy: policy.body.Policy });
    await call('ListKeyPolicies', { KeyId: K });
    await call('GetKeyRotationStatus', { KeyId: K });
    await call('GetKeyLastUsage', { KeyId: K });
    await call('EnableKeyRotation', { KeyId: K });
    await call('DisableKeyRotation', { KeyId: K });
    await call('RotateKeyOnDemand', { KeyId: K });
    await call('ListKeyRotations', { KeyId: K });
    await call('TagResource', { KeyId: K, Tags: [{ TagKey: 'env', TagValue: 'test' }] });
    await call('UntagResource', { KeyId: K, TagKeys: ['env'] });
    await call('ListResourceTags', { KeyId: K });
    await call('UpdateKeyDescription', { KeyId: K, Description: 'audited' });
    await call('ListKeys', { Limit: 5 });
    await call('DisableKey', { KeyId: ids.mac });
    await call('EnableKey', { KeyId: ids.mac });
    await call('ScheduleKeyDeletion', { KeyId: ids.mac, PendingWindowInDays: 7 });
    await call('CancelKeyDeletion', { KeyId: ids.mac });
    const mrk = ((await call('CreateKey', { MultiRegion: true })).body as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId;
    ids.mrk = mrk;
    await call('ReplicateKey', { KeyId: mrk, ReplicaRegion: 'eu-west-1', Description: 'replica' });
    await call('UpdatePrimaryRegion', { KeyId: mrk, PrimaryRegion: 'eu-west-1' });

    const params = await call('GetParametersForImport', { KeyId: ids.external, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' });
    remember(params.body.ImportToken);
    const material = randomBytes(32);
    const wrapped = b64(wrapKeyMaterial(Buffer.from(params.body.PublicKey as string, 'base64'), 'RSAES_OAEP_SHA_256', material));
    remember(b64(material), wrapped);
    await call('ImportKeyMaterial', {
      KeyId: ids.external, ImportToken: params.body.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    });
    await call('DeleteImportedKeyMaterial', { KeyId: ids.external });

    // Custom key store operations: none is declared here, so all but Describe fail (and are recorded as failures).
    const password = `store-password-${randomBytes(6).toString('hex')}`;
    remember(password);
    await call('CreateCustomKeyStore', { CustomKeyStoreName: 'audit-store', CloudHsmClusterId: 'cluster-1234567abcde', KeyStorePassword: password, TrustAnchorCertificate: 'x' });
    await call('DescribeCustomKeyStores', {});
    for (const operation of ['ConnectCustomKeyStore', 'DisconnectCustomKeyStore', 'DeleteCustomKeyStore']) {
      await call(operation, { CustomKeyStoreId: 'cks-1234567890abcdef0' });
    }
    await call('UpdateCustomKeyStore', { CustomKeyStoreId: 'cks-1234567890abcdef0', KeyStorePassword: password });

    // Refused past the key (no key here is ML-KEM): recorded as failures, the ciphertext never.
    await call('Encapsulate', { KeyId: K, EncapsulationAlgorithm: 'ML_KEM' });
    const kemCiphertext = b64(randomBytes(48));
    remember(kemCiphertext);
    await call('Decapsulate', { KeyId: K, EncapsulationAlgorithm: 'ML_KEM', SharedSecretCiphertextBlob: kemCiphertext });

    // A DryRun and two plain failures.
    await call('Encrypt', { KeyId: K, Plaintext: plaintext, DryRun: true });
    await call('Decrypt', { CiphertextBlob: b64(randomBytes(64)) });
    await call('DescribeKey', { KeyId: 'alias/none' }, { credentials: ALICE });
  }, 120_000);

  it('the calls cover every operation of the dispatch table', () => {
    expect(new Set(calls.map((c) => c.operation))).toEqual(new Set(Object.keys(kmsOperations)));
  });

  it('each call has exactly one record, with the fields CloudTrail gives it', async () => {
    const { events } = await trail();
    for (const made of calls) {
      const mine = events.filter((e) => e.requestID === made.requestId);
      expect({ operation: made.operation, records: mine.length }).toEqual({ operation: made.operation, records: 1 });
      const event = mine[0]!;
      expect(event).toMatchObject({
        eventVersion: '1.08', eventSource: 'kms.amazonaws.com', eventName: made.operation, awsRegion: REGION, eventType: 'AwsApiCall',
        managementEvent: true, eventCategory: 'Management', recipientAccountId: ACCOUNT, sourceIPAddress: expect.any(String),
      });
      expect(event.eventTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(event.eventID).toMatch(/^[0-9a-f-]{36}$/);
      expect(event.readOnly).toBe(/^(List|Describe|Get)|^(Encrypt|Decrypt|ReEncrypt|GenerateDataKey|GenerateMac|VerifyMac|Sign|Verify|GenerateRandom|DeriveSharedSecret|Encapsulate|Decapsulate)/.test(made.operation));
      for (const resource of event.resources) expect(resource).toEqual({ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: expect.stringMatching(keyArnPattern) });
      if (made.status === 200) {
        expect(event.errorCode).toBeUndefined();
      } else {
        expect({ operation: made.operation, errorCode: event.errorCode }).toEqual({ operation: made.operation, errorCode: made.body.__type });
        expect(event.responseElements).toBeNull();
      }
      expect(event.userIdentity).toMatchObject({ accessKeyId: expect.stringMatching(/^AKIA/) });
    }
  });

  it('records the identity: the root, and an IAM user by name', async () => {
    const { events } = await trail();
    const rootCall = events.find((e) => e.requestID === calls[0]!.requestId)!;
    expect(rootCall.userIdentity).toEqual({ type: 'Root', principalId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, accessKeyId: ROOT.accessKeyId });
    const aliceCall = events.find((e) => e.requestID === calls[calls.length - 1]!.requestId)!;
    expect(aliceCall.userIdentity).toEqual({
      type: 'IAMUser', principalId: 'user/alice', arn: ALICE.principalArn, accountId: ACCOUNT, accessKeyId: ALICE.accessKeyId, userName: 'alice',
    });
    expect(aliceCall.errorCode).toBe('NotFoundException');
    expect(aliceCall.requestParameters).toEqual({ keyId: 'alias/none' });
  });

  it('records request parameters and response elements as AWS does, operation by operation', async () => {
    const { events } = await trail();
    const of = (operation: string, nth = 0) => {
      const made = calls.filter((c) => c.operation === operation)[nth]!;
      return events.find((e) => e.requestID === made.requestId)!;
    };
    const arn = (id: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`;
    const K = ids.symmetric!;
    expect(of('Decrypt').requestParameters).toEqual({ encryptionContext: { 'purpose': 'audit-context' }, encryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    expect(of('Decrypt').resources.map((r) => r.ARN)).toEqual([arn(K)]);
    expect(of('Encrypt').requestParameters).toEqual({ keyId: K, encryptionContext: { purpose: 'audit-context' }, encryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    expect(of('Encrypt', 1)).toMatchObject({ errorCode: 'DryRunOperationException', requestParameters: { keyId: K, dryRun: true } });
    for (const crypto of ['Encrypt', 'Decrypt', 'ReEncrypt', 'GenerateDataKey', 'GenerateDataKeyPair', 'Sign', 'Verify', 'GenerateMac', 'VerifyMac', 'GenerateRandom', 'DeriveSharedSecret', 'GetKeyPolicy']) {
      expect({ crypto, responseElements: of(crypto).responseElements }).toEqual({ crypto, responseElements: null });
    }
    expect(of('GenerateRandom')).toMatchObject({ requestParameters: null, resources: [] });
    expect(of('GenerateDataKey').requestParameters).toEqual({ keyId: K, keySpec: 'AES_256', encryptionContext: { purpose: 'audit-context' } });
    expect(of('GenerateDataKeyPair').requestParameters).toEqual({ keyId: K, keyPairSpec: 'ECC_NIST_P256' });
    expect(of('Sign').requestParameters).toEqual({ keyId: ids.signing, signingAlgorithm: 'ECDSA_SHA_256' });
    expect(of('GenerateMac').requestParameters).toEqual({ keyId: ids.mac, macAlgorithm: 'HMAC_SHA_256' });
    expect(of('ReEncrypt').requestParameters).toEqual({
      destinationKeyId: K, sourceEncryptionContext: { purpose: 'audit-context' }, destinationEncryptionContext: { to: 'x' },
      sourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', destinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    });
    expect(of('ReEncrypt').resources.map((r) => r.ARN)).toEqual([arn(K), arn(K)].slice(0, of('ReEncrypt').resources.length));
    expect(of('GetKeyPolicy').requestParameters).toEqual({ keyId: K, policyName: 'default' });
    expect(of('PutKeyPolicy').requestParameters).toMatchObject({ keyId: K, policyName: 'default', policy: expect.any(String) });
    const createKey = of('CreateKey');
    expect(createKey.requestParameters).toEqual({ description: 'audit', tags: [{ tagKey: 'team', tagValue: 'audit' }] });
    expect(createKey.responseElements).toMatchObject({ keyMetadata: { keyId: K, arn: arn(K), keyState: 'Enabled', aWSAccountId: ACCOUNT } });
    expect(of('CreateGrant').responseElements).toEqual({ keyId: arn(K), grantId: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(of('CreateGrant').requestParameters).toMatchObject({ keyId: K, granteePrincipal: ALICE.principalArn, operations: ['Encrypt'] });
    expect(of('RetireGrant')).toMatchObject({ requestParameters: null, additionalEventData: { grantId: expect.any(String) } });
    expect(of('RevokeGrant').requestParameters).toEqual({ keyId: K, grantId: expect.any(String) });
    expect(of('ScheduleKeyDeletion').responseElements).toEqual({
      keyId: arn(ids.mac!), keyState: 'PendingDeletion', deletionDate: expect.any(String), pendingWindowInDays: 7,
    });
    for (const management of ['CreateAlias', 'DeleteAlias', 'DisableKey', 'EnableKey', 'EnableKeyRotation', 'ImportKeyMaterial', 'TagResource', 'UntagResource', 'UpdateAlias', 'CancelKeyDeletion', 'RotateKeyOnDemand']) {
      expect({ management, keyId: of(management).responseElements?.keyId }).toEqual({ management, keyId: expect.stringMatching(keyArnPattern) });
    }
    expect(of('CreateAlias').requestParameters).toEqual({ aliasName: 'alias/audit', targetKeyId: K });
    expect(of('ReplicateKey').requestParameters).toEqual({ keyId: ids.mrk, replicaRegion: 'eu-west-1', description: 'replica' });
    expect(of('ReplicateKey').responseElements).toMatchObject({
      replicaKeyMetadata: { keyId: ids.mrk, arn: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/${ids.mrk}`, keyState: 'Creating' }, replicaPolicy: expect.any(String),
    });
    expect(of('UpdatePrimaryRegion')).toMatchObject({ requestParameters: { keyId: ids.mrk, primaryRegion: 'eu-west-1' }, responseElements: { keyId: arn(ids.mrk!) } });
    expect(of('TagResource').requestParameters).toEqual({ keyId: K, tags: [{ tagKey: 'env', tagValue: 'test' }] });
    expect(of('UntagResource').requestParameters).toEqual({ keyId: K, tagKeys: ['env'] });
    expect(of('ImportKeyMaterial').requestParameters).toEqual({ keyId: ids.external, expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
    expect(of('GetParametersForImport').requestParameters).toEqual({ keyId: ids.external, wrappingAlgorithm: 'RSAES_OAEP_SHA_256', wrappingKeySpec: 'RSA_2048' });
    expect(of('ListAliases').requestParameters).toEqual({ keyId: K, limit: 10 });
    expect(of('CreateCustomKeyStore')).toMatchObject({
      requestParameters: { customKeyStoreName: 'audit-store', cloudHsmClusterId: 'cluster-1234567abcde' },
      additionalEventData: { customKeyStoreName: 'audit-store', clusterId: 'cluster-1234567abcde' },
    });
  });

  it('the stored records form one verifiable chain, and lookups find a key by ARN and alias', async () => {
    const { stored } = await trail();
    stored.forEach((record, i) => {
      expect(record.sequence).toBe(i + 1);
      expect(record.chainValue).toBe(chainValue(record.previousChainValue, record.sequence, record.event));
      if (i > 0) expect(record.previousChainValue).toBe(stored[i - 1]!.chainValue);
    });
    const byArn = await svc.store.audit.lookup({ attribute: { key: 'ResourceName', value: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${ids.symmetric}` } }, { limit: 1000 });
    expect(byArn.items.length).toBeGreaterThan(20);
    const byAlias = await svc.store.audit.lookup({ attribute: { key: 'ResourceName', value: 'alias/audit' } }, { limit: 10 });
    expect(byAlias.items.map((r) => r.eventName).sort()).toEqual(['CreateAlias', 'DeleteAlias', 'UpdateAlias']);
    expect((await svc.store.audit.lookup({ attribute: { key: 'Username', value: 'alice' } }, { limit: 10 })).items).toHaveLength(1);
  });

  it('no secret the calls used is anywhere in the trail: not in the records, not in the SQLite files', async () => {
    expect(secrets.size).toBeGreaterThan(20);
    const { stored } = await trail();
    const text = JSON.stringify(stored);
    // Every audit table as SQLite holds it, digests included.
    const db = new Database(path.join(svc.dir, 'metadata.sqlite'), { readonly: true });
    const tables = ['audit_records', 'audit_lookup', 'audit_head', 'audit_digests'].map((t) => JSON.stringify(db.prepare(`SELECT * FROM ${t}`).all()));
    db.close();
    // The files on disk: grant tokens are the one secret the grants table must keep, so only they are exempt there.
    const files = readdirSync(svc.dir).filter((f) => f.startsWith('metadata.sqlite')).map((f) => readFileSync(path.join(svc.dir, f)).toString('latin1'));
    const found = [...secrets].filter((secret) => text.includes(secret) || tables.some((t) => t.includes(secret))
      || (!grantTokens.has(secret) && files.some((file) => file.includes(secret))));
    expect(found).toEqual([]);
    // The secret keys of the callers and the token's PIN are not there either.
    for (const secret of [ROOT.secretAccessKey, ALICE.secretAccessKey, svc.token.pin]) expect(text.includes(secret)).toBe(false);
  });
});

describe('internal events', () => {
  it('the deletion worker records DeleteKey as an AwsServiceEvent, once', async () => {
    const made = await call('CreateKey', {});
    const keyId = (made.body.KeyMetadata as { KeyId: string }).KeyId;
    await call('ScheduleKeyDeletion', { KeyId: keyId, PendingWindowInDays: 7 });
    // Due now: as if the window had passed.
    const key = (await svc.store.keys.get({ accountId: ACCOUNT, region: REGION }, keyId))!;
    await svc.store.keys.replace({ ...key, deletionDate: new Date(Date.now() - 1000) });
    await maintain(svc.service, svc.logger, false);
    const { events } = await trail();
    const deleted = events.filter((e) => e.eventName === 'DeleteKey');
    expect(deleted).toHaveLength(1);
    expect(deleted[0]).toMatchObject({
      eventType: 'AwsServiceEvent', eventSource: 'kms.amazonaws.com', requestParameters: null, responseElements: null,
      serviceEventDetails: { keyId }, resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}` }],
      userIdentity: { accountId: ACCOUNT, invokedBy: 'kms.amazonaws.com' }, awsRegion: REGION, recipientAccountId: ACCOUNT, readOnly: false,
    });
    // A second run finds nothing more to do and records nothing more.
    await maintain(svc.service, svc.logger, false);
    expect((await trail()).events.filter((e) => e.eventName === 'DeleteKey')).toHaveLength(1);
  });

  it('an automatic rotation and an expiry of imported material record RotateKey and DeleteExpiredKeyMaterial', async () => {
    const scope = { accountId: ACCOUNT, region: REGION };
    const rotating = ((await call('CreateKey', {})).body.KeyMetadata as { KeyId: string }).KeyId;
    await call('EnableKeyRotation', { KeyId: rotating });
    const key = (await svc.store.keys.get(scope, rotating))!;
    await svc.store.keys.replace({ ...key, rotation: { ...key.rotation!, nextRotationDate: new Date(Date.now() - 1000) } });

    const external = ((await call('CreateKey', { Origin: 'EXTERNAL' })).body.KeyMetadata as { KeyId: string }).KeyId;
    const params = await call('GetParametersForImport', { KeyId: external, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' });
    const wrapped = wrapKeyMaterial(Buffer.from(params.body.PublicKey as string, 'base64'), 'RSAES_OAEP_SHA_256', randomBytes(32));
    const imported = await call('ImportKeyMaterial', {
      KeyId: external, ImportToken: params.body.ImportToken, EncryptedKeyMaterial: b64(wrapped),
      ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: Math.floor(Date.now() / 1000) + 3600,
    });
    expect(imported.status).toBe(200);
    const importedKey = (await svc.store.keys.get(scope, external))!;
    const past = new Date(Date.now() - 1000);
    await svc.store.keys.replace({ ...importedKey, imported: { ...importedKey.imported!, validTo: past, upkeepAt: past } });

    await maintain(svc.service, svc.logger, false);
    const { events } = await trail();
    const arn = (id: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`;
    for (const [eventName, keyId] of [['RotateKey', rotating], ['DeleteExpiredKeyMaterial', external]] as const) {
      const mine = events.filter((e) => e.eventName === eventName && e.serviceEventDetails?.keyId === keyId);
      expect({ eventName, records: mine.length }).toEqual({ eventName, records: 1 });
      expect(mine[0]).toMatchObject({
        eventType: 'AwsServiceEvent', requestParameters: null, resources: [{ ARN: arn(keyId), type: 'AWS::KMS::Key', accountId: ACCOUNT }],
      });
      expect(mine[0]!.errorCode).toBeUndefined();
    }
  });
});

describe('fail closed', () => {
  it('a call whose audit record cannot be written fails with KMSInternalException.', async () => {
    let failing = true;
    const broken = await startTestService({
      wrapStore: (store) => withRepositories(store, {
        audit: new Proxy(store.audit, {
          get: (target, property, receiver) => (property === 'append'
            ? async (...args: Parameters<AuditRepository['append']>) => {
              if (failing) throw new Error('disk full');
              return target.append(...args);
            }
            : Reflect.get(target, property, receiver) as unknown),
        }),
      }),
    });
    try {
      const created = await kmsCall(broken.app, 'CreateKey', {});
      expect(created.status).toBe(500);
      expect(created.body.__type).toBe('KMSInternalException');
      const listed = await kmsCall(broken.app, 'ListKeys', {});
      expect({ status: listed.status, type: listed.body.__type }).toEqual({ status: 500, type: 'KMSInternalException' });
      failing = false;
      const ok = await kmsCall(broken.app, 'ListKeys', {});
      expect(ok.status).toBe(200);
      expect((await broken.store.audit.range(1, 10)).map((r) => r.eventName)).toEqual(['ListKeys']);
    } finally {
      await broken.close();
    }
  });
});

describe('group commit', () => {
  it('concurrent calls share appends, and each is recorded once', async () => {
    const appendSizes: number[] = [];
    const counted = await startTestService({
      wrapStore: (store) => withRepositories(store, {
        audit: new Proxy(store.audit, {
          get: (target, property, receiver) => (property === 'append'
            ? (drafts: Parameters<AuditRepository['append']>[0]) => {
              appendSizes.push(drafts.length);
              return target.append(drafts);
            }
            : Reflect.get(target, property, receiver) as unknown),
        }),
      }),
    });
    try {
      const results = await Promise.all(Array.from({ length: 20 }, () => kmsCall(counted.app, 'GenerateRandom', { NumberOfBytes: 16 })));
      expect(results.every((r) => r.status === 200)).toBe(true);
      const stored = await counted.store.audit.range(1, 100);
      expect(stored).toHaveLength(20);
      expect(new Set(stored.map((r) => JSON.parse(r.event).requestID)).size).toBe(20);
      expect(appendSizes.reduce((a, b) => a + b, 0)).toBe(20);
      expect(appendSizes.length).toBeLessThan(20);
    } finally {
      await counted.close();
    }
  });
});

describe('the XKS proxy API and the admin CLI', () => {
  it('record one event per call, with their own eventSource, and no plaintext, ciphertext or XKS secret', async () => {
    const proxy = await startXksTestProxy();
    try {
      await proxy.createKey('audit-ext-1', ['ENCRYPT', 'DECRYPT']);
      const plaintext = b64(randomBytes(32));
      const aad = b64(randomBytes(16));
      const encrypted = await xksCall(proxy.app, keyPath('audit-ext-1', 'encrypt'), {
        requestMetadata: metadata('Encrypt'), plaintext, encryptionAlgorithm: 'AES_GCM', additionalAuthenticatedData: aad,
      });
      expect(encrypted.status).toBe(200);
      const decrypted = await xksCall(proxy.app, keyPath('audit-ext-1', 'decrypt'), {
        requestMetadata: metadata('Decrypt'), encryptionAlgorithm: 'AES_GCM', additionalAuthenticatedData: aad,
        ciphertext: encrypted.body.ciphertext, initializationVector: encrypted.body.initializationVector, authenticationTag: encrypted.body.authenticationTag,
      });
      expect(decrypted.body.plaintext).toBe(plaintext);
      const refused = await xksCall(proxy.app, keyPath('audit-ext-1', 'metadata'), { requestMetadata: metadata('DescribeKey') }, {
        credential: { accessKeyId: XKS_CREDENTIAL.accessKeyId, secretAccessKey: 'wrong-secret-wrong-secret-wrong-secret-12=' },
      });
      expect(refused.status).toBeGreaterThanOrEqual(400);

      const stored = await proxy.svc.store.audit.range(1, 100);
      const events = stored.map((r) => JSON.parse(r.event) as CloudTrailRecord);
      expect(events.map((e) => [e.eventSource, e.eventName, e.errorCode ?? null])).toEqual([
        ['cli.hsm-kms', 'CreateExternalKey', null],
        ['xks-proxy.hsm-kms', 'Encrypt', null],
        ['xks-proxy.hsm-kms', 'Decrypt', null],
        ['xks-proxy.hsm-kms', 'GetKeyMetadata', expect.any(String)],
      ]);
      expect(events[1]!.additionalEventData).toMatchObject({ externalKeyId: 'audit-ext-1' });
      expect(events[1]!.userIdentity).toMatchObject({ accessKeyId: XKS_CREDENTIAL.accessKeyId });
      const text = JSON.stringify(stored);
      for (const secret of [plaintext, aad, encrypted.body.ciphertext, encrypted.body.authenticationTag, XKS_CREDENTIAL.secretAccessKey, XKS_CREDENTIAL_2.secretAccessKey]) {
        expect({ secret, found: text.includes(String(secret)) }).toEqual({ secret, found: false });
      }
    } finally {
      await proxy.close();
    }
  });
});
