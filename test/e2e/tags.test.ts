// Tagging with the unmodified AWS SDK for JavaScript v3 against a listening service.
import {
  CreateKeyCommand, KMSClient, KMSInvalidStateException, ListResourceTagsCommand, NotFoundException,
  TagException, TagResourceCommand, UntagResourceCommand, paginateListResourceTags, type Tag,
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

async function createKey(tags?: Tag[]) {
  const out = await kms.send(new CreateKeyCommand(tags ? { Tags: tags } : {}));
  return out.KeyMetadata!;
}

async function tagsOf(keyId: string) {
  const out = await kms.send(new ListResourceTagsCommand({ KeyId: keyId }));
  expect(out.Truncated).toBe(false);
  expect(out.NextMarker).toBeUndefined();
  return out.Tags;
}


it('tags, retags and untags a key; ListResourceTags shows each step', async () => {
  const key = await createKey([{ TagKey: 'tag1', TagValue: 'value1' }, { TagKey: 'tag2', TagValue: 'value2' }]);
  expect(await tagsOf(key.KeyId!)).toEqual([{ TagKey: 'tag1', TagValue: 'value1' }, { TagKey: 'tag2', TagValue: 'value2' }]);

  const tagged = await kms.send(new TagResourceCommand({ KeyId: key.Arn, Tags: [{ TagKey: 'tag2', TagValue: 'updated' }, { TagKey: 'tag3', TagValue: '' }] }));
  expect(tagged.$metadata.httpStatusCode).toBe(200);
  expect(await tagsOf(key.KeyId!)).toEqual([
    { TagKey: 'tag1', TagValue: 'value1' }, { TagKey: 'tag2', TagValue: 'updated' }, { TagKey: 'tag3', TagValue: '' },
  ]);

  const untagged = await kms.send(new UntagResourceCommand({ KeyId: key.KeyId, TagKeys: ['tag1', 'not-there'] }));
  expect(untagged.$metadata.httpStatusCode).toBe(200);
  expect(await tagsOf(key.Arn!)).toEqual([{ TagKey: 'tag2', TagValue: 'updated' }, { TagKey: 'tag3', TagValue: '' }]);
});

it('pages through 50 tags with the SDK paginator', async () => {
  const tags = Array.from({ length: 50 }, (_, i) => ({ TagKey: `k${String(i).padStart(2, '0')}`, TagValue: `v${i}` }));
  const key = await createKey(tags.slice(0, 25));
  await kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: tags.slice(25) }));
  const pages: Tag[][] = [];
  for await (const page of paginateListResourceTags({ client: kms, pageSize: 8 }, { KeyId: key.KeyId })) pages.push(page.Tags ?? []);
  expect(pages.map((p) => p.length)).toEqual([8, 8, 8, 8, 8, 8, 2]);
  expect(pages.flat()).toEqual(tags);
});

it('surfaces the tag errors as the SDK\'s typed exceptions', async () => {
  const key = await createKey([{ TagKey: 'a', TagValue: '1' }]);
  const reserved = await rejection(kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'aws:key1', TagValue: 'value1' }] })));
  expect(reserved).toBeInstanceOf(TagException);
  expect(reserved.message).toBe('Tags beginning with aws: are reserved');
  expect(reserved.$metadata.httpStatusCode).toBe(400);

  const duplicate = await rejection(kms.send(new TagResourceCommand({
    KeyId: key.KeyId, Tags: [{ TagKey: 'tag1', TagValue: 'value1' }, { TagKey: 'tag1', TagValue: 'another-value1' }],
  })));
  expect(duplicate).toBeInstanceOf(TagException);
  expect(duplicate.message).toBe('Duplicate tag keys');

  const many = Array.from({ length: 50 }, (_, i) => ({ TagKey: `n${i}`, TagValue: '' }));
  const tooMany = await rejection(kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: many })));
  expect(tooMany).toBeInstanceOf(TagException);
  expect(tooMany.message).toBe('Too many tags');

  const alias = await rejection(kms.send(new ListResourceTagsCommand({ KeyId: 'alias/anything' })));
  expect(alias).toBeInstanceOf(NotFoundException);
  expect(alias.message).toBe("Invalid keyId 'alias/anything'");

  expect(await tagsOf(key.KeyId!)).toEqual([{ TagKey: 'a', TagValue: '1' }]);
});

it('refuses tag changes on a key pending deletion with KMSInvalidStateException', async () => {
  const key = await createKey([{ TagKey: 'a', TagValue: '1' }]);
  const stored = (await svc.store.keys.get({ accountId: ACCOUNT, region: REGION }, key.KeyId!))!;
  await svc.store.keys.replace({ ...stored, state: 'PendingDeletion', deletionDate: new Date(Date.now() + 30 * 86400_000), pendingWindowInDays: 30 });
  const attempts: (() => Promise<unknown>)[] = [
    () => kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'b', TagValue: '2' }] })),
    () => kms.send(new UntagResourceCommand({ KeyId: key.KeyId, TagKeys: ['a'] })),
  ];
  for (const attempt of attempts) {
    const e = await rejection(attempt());
    expect(e).toBeInstanceOf(KMSInvalidStateException);
    expect(e.message).toBe(`${key.Arn} is pending deletion.`);
  }
  expect(await tagsOf(key.KeyId!)).toEqual([{ TagKey: 'a', TagValue: '1' }]);
});
