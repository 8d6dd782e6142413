// Grants with the unmodified AWS SDK for JavaScript v3 against a listening service.
import {
  CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DryRunOperationException, InvalidArnException,
  InvalidGrantIdException, InvalidGrantTokenException, KMSClient, ListGrantsCommand, ListRetirableGrantsCommand,
  NotFoundException, RetireGrantCommand, RevokeGrantCommand, paginateListGrants, paginateListRetirableGrants,
} from '@aws-sdk/client-kms';
import { ACCOUNT, ALICE, OTHER_ROOT, ROOT, startTestService, type TestService, sdkClient } from '../support/service';
import { rejection } from '../support/sdk-rejection';

let svc: TestService;
let kms: KMSClient;
let alice: KMSClient;
let other: KMSClient;

beforeAll(async () => {
  svc = await startTestService({ listen: true });
  const client = (credentials: { accessKeyId: string; secretAccessKey: string }) => sdkClient(svc, credentials);
  kms = client(ROOT);
  alice = client(ALICE);
  other = client(OTHER_ROOT);
});
afterAll(async () => {
  for (const client of [kms, alice, other]) client.destroy();
  await svc.close();
});

const ROOT_ARN = `arn:aws:iam::${ACCOUNT}:root`;
const BOB_ARN = `arn:aws:iam::${ACCOUNT}:user/bob`;

async function createKey(client = kms) {
  return (await client.send(new CreateKeyCommand({}))).KeyMetadata!;
}


describe('the grant lifecycle', () => {
  it('creates, lists, retires and revokes grants', async () => {
    const key = await createKey();
    const created = await kms.send(new CreateGrantCommand({
      KeyId: key.KeyId, GranteePrincipal: ALICE.principalArn, RetiringPrincipal: BOB_ARN, Name: 'sdk-grant',
      Operations: ['Encrypt', 'Decrypt', 'GenerateDataKey'], Constraints: { EncryptionContextEquals: { purpose: 'sdk' } },
    }));
    expect(created.$metadata.httpStatusCode).toBe(200);
    expect(created.GrantId).toMatch(/^[0-9a-f]{64}$/);
    expect(typeof created.GrantToken).toBe('string');

    const listed = await kms.send(new ListGrantsCommand({ KeyId: key.Arn }));
    expect(listed.Truncated).toBe(false);
    expect(listed.NextMarker).toBeUndefined();
    expect(listed.Grants).toEqual([{
      KeyId: key.Arn, GrantId: created.GrantId, Name: 'sdk-grant', CreationDate: expect.any(Date), GranteePrincipal: ALICE.principalArn,
      RetiringPrincipal: BOB_ARN, IssuingAccount: ROOT_ARN, Operations: ['Encrypt', 'Decrypt', 'GenerateDataKey'],
      Constraints: { EncryptionContextEquals: { purpose: 'sdk' } },
    }]);
    expect(Math.abs(listed.Grants![0]!.CreationDate!.getTime() - Date.now())).toBeLessThan(60_000);

    // Retrying with the same name and parameters returns the same grant.
    const retried = await kms.send(new CreateGrantCommand({
      KeyId: key.Arn, GranteePrincipal: ALICE.principalArn, RetiringPrincipal: BOB_ARN, Name: 'sdk-grant',
      Operations: ['GenerateDataKey', 'Decrypt', 'Encrypt'], Constraints: { EncryptionContextEquals: { purpose: 'sdk' } },
    }));
    expect(retried.GrantId).toBe(created.GrantId);

    const second = await kms.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: BOB_ARN, Operations: ['DescribeKey'] }));
    const onlyBob = await kms.send(new ListGrantsCommand({ KeyId: key.KeyId, GranteePrincipal: BOB_ARN }));
    expect(onlyBob.Grants?.map((g) => g.GrantId)).toEqual([second.GrantId]);
    const byId = await kms.send(new ListGrantsCommand({ KeyId: key.KeyId, GrantId: created.GrantId }));
    expect(byId.Grants?.map((g) => g.GrantId)).toEqual([created.GrantId]);

    const retired = await kms.send(new RetireGrantCommand({ GrantToken: created.GrantToken }));
    expect(retired.$metadata.httpStatusCode).toBe(200);
    const revoked = await kms.send(new RevokeGrantCommand({ KeyId: key.KeyId, GrantId: second.GrantId }));
    expect(revoked.$metadata.httpStatusCode).toBe(200);
    expect((await kms.send(new ListGrantsCommand({ KeyId: key.KeyId }))).Grants).toEqual([]);
  });

  it('pages through ListGrants and ListRetirableGrants with the SDK paginators', async () => {
    const key = await createKey();
    const retiring = `arn:aws:iam::${ACCOUNT}:user/sdk-retirer-${Date.now()}`;
    const made: string[] = [];
    for (let i = 0; i < 7; i++) {
      made.push((await kms.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: BOB_ARN, RetiringPrincipal: retiring, Operations: ['Decrypt'] }))).GrantId!);
    }
    const grantIds: string[] = [];
    let pages = 0;
    for await (const page of paginateListGrants({ client: kms, pageSize: 3 }, { KeyId: key.KeyId })) {
      pages += 1;
      grantIds.push(...(page.Grants ?? []).map((g) => g.GrantId!));
    }
    expect(pages).toBe(3);
    expect(grantIds).toEqual([...made].sort());

    const retirable: string[] = [];
    for await (const page of paginateListRetirableGrants({ client: kms, pageSize: 2 }, { RetiringPrincipal: retiring })) {
      retirable.push(...(page.Grants ?? []).map((g) => g.GrantId!));
    }
    expect(retirable).toEqual([...made].sort());
  });

  it('lets a retiring principal in another account retire a grant on that account\'s key', async () => {
    const theirs = await createKey(other);
    const grant = await other.send(new CreateGrantCommand({
      KeyId: theirs.KeyId, GranteePrincipal: 'arn:aws:iam::444455556666:user/carol', RetiringPrincipal: ALICE.principalArn, Operations: ['Decrypt'],
    }));
    const retirable = await kms.send(new ListRetirableGrantsCommand({ RetiringPrincipal: ALICE.principalArn }));
    expect(retirable.Grants?.find((g) => g.GrantId === grant.GrantId)).toMatchObject({ KeyId: theirs.Arn, IssuingAccount: 'arn:aws:iam::444455556666:root' });

    // ALICE may not even list the grants of a key (no policy lets her), but the grant names her.
    expect((await rejection(alice.send(new ListGrantsCommand({ KeyId: theirs.Arn })))).name).toBe('AccessDeniedException');
    await alice.send(new RetireGrantCommand({ KeyId: theirs.Arn, GrantId: grant.GrantId }));
    expect((await other.send(new ListGrantsCommand({ KeyId: theirs.KeyId }))).Grants).toEqual([]);
  });
});

describe('errors, as the SDK\'s exception classes', () => {
  it('maps every grant error to its modeled exception', async () => {
    const key = await createKey();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/sdk-grants', TargetKeyId: key.KeyId }));
    const grant = await kms.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: BOB_ARN, Operations: ['Decrypt'] }));

    const badId = await rejection(kms.send(new RevokeGrantCommand({ KeyId: key.KeyId, GrantId: 'not-a-grant' })));
    expect(badId).toBeInstanceOf(InvalidGrantIdException);
    expect(badId.message).toBe("Invalid grantId 'not-a-grant'");
    expect(await rejection(kms.send(new ListGrantsCommand({ KeyId: key.KeyId, GrantId: 'xyz' })))).toBeInstanceOf(InvalidGrantIdException);
    expect(await rejection(kms.send(new RetireGrantCommand({ GrantToken: 'bogus' })))).toBeInstanceOf(InvalidGrantTokenException);
    expect(await rejection(kms.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: BOB_ARN, Operations: ['Decrypt'], GrantTokens: ['bogus'] }))))
      .toBeInstanceOf(InvalidGrantTokenException);
    expect(await rejection(kms.send(new RevokeGrantCommand({ KeyId: key.KeyId, GrantId: 'f'.repeat(64) })))).toBeInstanceOf(NotFoundException);
    expect(await rejection(kms.send(new CreateGrantCommand({ KeyId: 'alias/sdk-grants', GranteePrincipal: BOB_ARN, Operations: ['Decrypt'] }))))
      .toBeInstanceOf(NotFoundException);
    expect(await rejection(kms.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: 'bob', Operations: ['Decrypt'] }))))
      .toBeInstanceOf(InvalidArnException);
    const unsupported = await rejection(kms.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: BOB_ARN, Operations: ['Sign'] })));
    expect(unsupported.name).toBe('ValidationException');
    expect(await rejection(kms.send(new RetireGrantCommand({ GrantToken: grant.GrantToken, DryRun: true })))).toBeInstanceOf(DryRunOperationException);
    expect((await rejection(alice.send(new RetireGrantCommand({ GrantToken: grant.GrantToken })))).name).toBe('AccessDeniedException');
    expect((await rejection(alice.send(new RevokeGrantCommand({ KeyId: key.KeyId, GrantId: grant.GrantId })))).name).toBe('AccessDeniedException');
    // None of that touched the grant.
    expect((await kms.send(new ListGrantsCommand({ KeyId: key.KeyId }))).Grants?.map((g) => g.GrantId)).toEqual([grant.GrantId]);
  });
});
