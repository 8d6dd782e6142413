// Aliases through the unmodified AWS SDK for JavaScript v3 against a listening service.
import {
  AlreadyExistsException, CreateAliasCommand, CreateKeyCommand, DecryptCommand, DeleteAliasCommand, DescribeKeyCommand,
  EncryptCommand, IncorrectKeyException, InvalidAliasNameException, KMSClient, KMSInvalidStateException,
  LimitExceededException, ListAliasesCommand, NotFoundException, UpdateAliasCommand, paginateListAliases,
} from '@aws-sdk/client-kms';
import { ACCOUNT, REGION, ROOT, startTestService, type TestService, sdkClient } from '../support/service';
import { rejection } from '../support/sdk-rejection';

let svc: TestService;
let kms: KMSClient;

beforeAll(async () => {
  svc = await startTestService({ listen: true });
  kms = sdkClient(svc, ROOT);
});
afterAll(async () => {
  kms.destroy();
  await svc.close();
});

const aliasArn = (name: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:${name}`;
const text = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString();

async function createKey() {
  return (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
}


describe('the alias lifecycle', () => {
  it('creates, lists, uses, moves and deletes an alias', async () => {
    const first = await createKey();
    const second = await createKey();
    const name = 'alias/sdk-orders';

    const created = await kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: first.KeyId }));
    expect(created.$metadata.httpStatusCode).toBe(200);

    const listed = await kms.send(new ListAliasesCommand({ KeyId: first.Arn }));
    expect(listed.Truncated).toBe(false);
    expect(listed.NextMarker).toBeUndefined();
    expect(listed.Aliases).toEqual([{ AliasName: name, AliasArn: aliasArn(name), TargetKeyId: first.KeyId, CreationDate: expect.any(Date), LastUpdatedDate: expect.any(Date) }]);
    const createdAt = listed.Aliases![0]!.CreationDate!;
    expect(Math.abs(createdAt.getTime() - Date.now())).toBeLessThan(60_000);

    // The alias name and the alias ARN both work as KeyId.
    for (const KeyId of [name, aliasArn(name)]) {
      expect((await kms.send(new DescribeKeyCommand({ KeyId }))).KeyMetadata).toEqual(first);
      const enc = await kms.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from('through an alias') }));
      expect(enc.KeyId).toBe(first.Arn);
      const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, KeyId }));
      expect(dec.KeyId).toBe(first.Arn);
      expect(text(dec.Plaintext)).toBe('through an alias');
    }
    const before = (await kms.send(new EncryptCommand({ KeyId: name, Plaintext: Buffer.from('old key') }))).CiphertextBlob;

    await kms.send(new UpdateAliasCommand({ AliasName: name, TargetKeyId: second.Arn }));
    const moved = (await kms.send(new ListAliasesCommand({ KeyId: second.KeyId }))).Aliases!;
    expect(moved.map((a) => [a.AliasName, a.TargetKeyId])).toEqual([[name, second.KeyId]]);
    expect(moved[0]!.CreationDate).toEqual(createdAt);
    expect(moved[0]!.LastUpdatedDate!.getTime()).toBeGreaterThanOrEqual(createdAt.getTime());
    expect((await kms.send(new ListAliasesCommand({ KeyId: first.KeyId }))).Aliases).toEqual([]);
    expect((await kms.send(new EncryptCommand({ KeyId: name, Plaintext: Buffer.from('x') }))).KeyId).toBe(second.Arn);
    expect((await kms.send(new DescribeKeyCommand({ KeyId: aliasArn(name) }))).KeyMetadata?.KeyId).toBe(second.KeyId);
    expect(await rejection(kms.send(new DecryptCommand({ CiphertextBlob: before, KeyId: name })))).toBeInstanceOf(IncorrectKeyException);

    await kms.send(new DeleteAliasCommand({ AliasName: name }));
    const gone = await rejection(kms.send(new DescribeKeyCommand({ KeyId: name })));
    expect(gone).toBeInstanceOf(NotFoundException);
    expect(gone.message).toBe(`Alias ${aliasArn(name)} is not found.`);
    expect((await kms.send(new DescribeKeyCommand({ KeyId: second.KeyId }))).KeyMetadata?.KeyState).toBe('Enabled');
  });
});

describe('ListAliases', () => {
  it('pages with Limit and Marker by hand and through paginateListAliases', async () => {
    const key = await createKey();
    const names = Array.from({ length: 5 }, (_, i) => `alias/sdk-page-${i}`);
    for (const AliasName of names) await kms.send(new CreateAliasCommand({ AliasName, TargetKeyId: key.KeyId }));

    const byHand: string[] = [];
    let Marker: string | undefined;
    let pages = 0;
    do {
      const out = await kms.send(new ListAliasesCommand({ KeyId: key.KeyId, Limit: 2, Marker }));
      expect(out.Aliases!.length).toBeLessThanOrEqual(2);
      expect(out.Truncated).toBe(out.NextMarker !== undefined);
      byHand.push(...out.Aliases!.map((a) => a.AliasName!));
      Marker = out.NextMarker;
      pages++;
    } while (Marker);
    expect(pages).toBe(3);
    expect(byHand).toEqual(names);

    const paged: string[] = [];
    let paginatorPages = 0;
    for await (const page of paginateListAliases({ client: kms, pageSize: 1 }, { KeyId: key.Arn })) {
      paginatorPages++;
      paged.push(...(page.Aliases ?? []).map((a) => a.AliasName!));
    }
    expect(paged).toEqual(names);
    expect(paginatorPages).toBeGreaterThanOrEqual(names.length);

    // Without KeyId: every alias of the account and region, these among them.
    const everything: string[] = [];
    for await (const page of paginateListAliases({ client: kms, pageSize: 3 }, {})) everything.push(...(page.Aliases ?? []).map((a) => a.AliasName!));
    expect(everything).toEqual(expect.arrayContaining(names));
  });

  it('refuses an alias as KeyId, and a key that does not exist', async () => {
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/sdk-filter', TargetKeyId: (await createKey()).KeyId }));
    const asAlias = await rejection(kms.send(new ListAliasesCommand({ KeyId: 'alias/sdk-filter' })));
    expect(asAlias).toBeInstanceOf(NotFoundException);
    expect(asAlias.message).toBe("Invalid keyId 'alias/sdk-filter'");
    const missing = await rejection(kms.send(new ListAliasesCommand({ KeyId: '00000000-0000-4000-8000-000000000000' })));
    expect(missing).toBeInstanceOf(NotFoundException);
  });
});

describe('errors as the SDK sees them', () => {
  it('maps each refusal to its modelled exception class', async () => {
    const key = await createKey();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/sdk-taken', TargetKeyId: key.KeyId }));

    const taken = await rejection(kms.send(new CreateAliasCommand({ AliasName: 'alias/sdk-taken', TargetKeyId: key.KeyId })));
    expect(taken).toBeInstanceOf(AlreadyExistsException);
    expect(taken.message).toBe(`An alias with the name ${aliasArn('alias/sdk-taken')} already exists`);

    const prefix = await rejection(kms.send(new CreateAliasCommand({ AliasName: 'sdk-no-prefix', TargetKeyId: key.KeyId })));
    // Not a modelled exception: the SDK names it from __type.
    expect(prefix.name).toBe('ValidationException');
    expect(prefix.message).toBe('Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html');

    expect(await rejection(kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/sdk', TargetKeyId: key.KeyId })))).toBeInstanceOf(InvalidAliasNameException);
    expect(await rejection(kms.send(new CreateAliasCommand({ AliasName: 'alias/sdk-to-alias', TargetKeyId: 'alias/sdk-taken' })))).toBeInstanceOf(NotFoundException);
    expect(await rejection(kms.send(new UpdateAliasCommand({ AliasName: 'alias/sdk-never', TargetKeyId: key.KeyId })))).toBeInstanceOf(NotFoundException);
    expect(await rejection(kms.send(new DeleteAliasCommand({ AliasName: 'alias/sdk-never' })))).toBeInstanceOf(NotFoundException);

    const pending = await createKey();
    const stored = (await svc.store.keys.get({ accountId: ACCOUNT, region: REGION }, pending.KeyId!))!;
    await svc.store.keys.replace({ ...stored, state: 'PendingDeletion', deletionDate: new Date(Date.now() + 7 * 86_400_000), pendingWindowInDays: 7 });
    const state = await rejection(kms.send(new UpdateAliasCommand({ AliasName: 'alias/sdk-taken', TargetKeyId: pending.KeyId })));
    expect(state).toBeInstanceOf(KMSInvalidStateException);
    expect(state.message).toBe(`${pending.Arn} is pending deletion.`);
  });

  it('answers LimitExceededException for a 51st alias on a key', async () => {
    const key = await createKey();
    for (let i = 0; i < 50; i++) await kms.send(new CreateAliasCommand({ AliasName: `alias/sdk-quota-${i}`, TargetKeyId: key.KeyId }));
    const over = await rejection(kms.send(new CreateAliasCommand({ AliasName: 'alias/sdk-quota-50', TargetKeyId: key.KeyId })));
    expect(over).toBeInstanceOf(LimitExceededException);
    expect(over.$metadata.httpStatusCode).toBe(400);
  });
});
