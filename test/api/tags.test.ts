// TagResource, UntagResource and ListResourceTags through the HTTP layer, on a real SoftHSM token.
import { RevisionConflictError } from '../../src/core/errors';
import { kmsCall } from '../support/signed';
import { ACCOUNT, ALICE, OTHER_ROOT, REGION, startTestService, type TestService } from '../support/service';
import { withRepositories } from '../support/wrapped-store';

let svc: TestService;
beforeAll(async () => { svc = await startTestService(); });
afterAll(async () => { await svc.close(); });

type Tag = { TagKey: string; TagValue: string };
const scope = { accountId: ACCOUNT, region: REGION };

async function createKey(tags?: Tag[]) {
  const res = await kmsCall(svc.app, 'CreateKey', tags ? { Tags: tags } : {});
  expect(res.status).toBe(200);
  return res.body.KeyMetadata as { KeyId: string; Arn: string };
}

async function call(operation: string, body: object, options: Parameters<typeof kmsCall>[3] = {}) {
  return kmsCall(svc.app, operation, body, options);
}

/** Succeeds with AWS's empty output. */
async function ok(operation: string, body: object) {
  const res = await call(operation, body);
  expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: {} });
}

/** Fails with status 400 and exactly this error. */
async function fails(operation: string, body: object, __type: string, message: string, options: Parameters<typeof kmsCall>[3] = {}) {
  const res = await call(operation, body, options);
  expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: { __type, message } });
}

async function listTags(keyId: string): Promise<Tag[]> {
  const res = await call('ListResourceTags', { KeyId: keyId });
  expect(res.status).toBe(200);
  expect(res.body.Truncated).toBe(false);
  return res.body.Tags as Tag[];
}

const tag = (TagKey: string, TagValue: string): Tag => ({ TagKey, TagValue });
const numbered = (n: number, prefix = 'k') => Array.from({ length: n }, (_, i) => tag(`${prefix}${String(i).padStart(2, '0')}`, `v${i}`));

describe('TagResource', () => {
  it('adds tags; an existing key takes the new value and the others stay (AWS test_update_and_add_tags_on_tagged_key)', async () => {
    const key = await createKey([tag('tag1', 'value1'), tag('tag2', 'value2'), tag('tag3', 'value3')]);
    expect(await listTags(key.KeyId)).toEqual([tag('tag1', 'value1'), tag('tag2', 'value2'), tag('tag3', 'value3')]);
    await ok('TagResource', { KeyId: key.KeyId, Tags: [tag('tag4', 'value4'), tag('tag2', 'updated_value2'), tag('tag5', 'value5')] });
    expect(await listTags(key.KeyId)).toEqual([
      tag('tag1', 'value1'), tag('tag2', 'updated_value2'), tag('tag3', 'value3'), tag('tag4', 'value4'), tag('tag5', 'value5'),
    ]);
  });

  it('accepts the key ARN, an empty value, and keys and values at their maximum lengths', async () => {
    const key = await createKey();
    const longKey = 'k'.repeat(128);
    const longValue = 'v'.repeat(256);
    await ok('TagResource', { KeyId: key.Arn, Tags: [tag('empty', ''), tag(longKey, longValue)] });
    expect(await listTags(key.Arn)).toEqual([tag('empty', ''), tag(longKey, longValue)]);
  });

  it('treats tag keys as case-sensitive', async () => {
    const key = await createKey();
    await ok('TagResource', { KeyId: key.KeyId, Tags: [tag('Env', 'a'), tag('env', 'b')] });
    expect(await listTags(key.KeyId)).toEqual([tag('Env', 'a'), tag('env', 'b')]);
  });

  it('refuses reserved, duplicate and too many tags with TagException, and changes nothing', async () => {
    const key = await createKey([tag('keep', 'me')]);
    await fails('TagResource', { KeyId: key.KeyId, Tags: [tag('aws:key1', 'value1')] }, 'TagException', 'Tags beginning with aws: are reserved');
    await fails('TagResource', { KeyId: key.KeyId, Tags: [tag('ok', 'x'), tag('AWS:Key1', 'value1')] }, 'TagException', 'Tags beginning with aws: are reserved');
    await fails('TagResource', { KeyId: key.KeyId, Tags: [tag('tag1', 'value1'), tag('tag1', 'another-value1')] }, 'TagException', 'Duplicate tag keys');
    await fails('TagResource', { KeyId: key.KeyId, Tags: numbered(51) }, 'TagException', 'Too many tags');
    expect(await listTags(key.KeyId)).toEqual([tag('keep', 'me')]);
  });

  it('TagResource must name at least one tag (KMS-SPEC §1.3).', async () => {
    const key = await createKey([tag('keep', 'me')]);
    await fails('TagResource', { KeyId: key.KeyId, Tags: [] }, 'TagException', 'At least one tag must be specified');
    expect(await listTags(key.KeyId)).toEqual([tag('keep', 'me')]);
  });

  it('a key never holds more than 50 tags, counting those it already has.', async () => {
    const key = await createKey(numbered(40, 'a'));
    await fails('TagResource', { KeyId: key.KeyId, Tags: numbered(11, 'b') }, 'TagException', 'Too many tags');
    expect(await listTags(key.KeyId)).toHaveLength(40);
    await ok('TagResource', { KeyId: key.KeyId, Tags: numbered(10, 'b') });
    expect(await listTags(key.KeyId)).toHaveLength(50);
    // Changing values of tags the key has is allowed at the limit; one more is not.
    await ok('TagResource', { KeyId: key.KeyId, Tags: [tag('a00', 'new'), tag('b09', 'new')] });
    await fails('TagResource', { KeyId: key.KeyId, Tags: [tag('a00', 'newer'), tag('c', 'x')] }, 'TagException', 'Too many tags');
    const tags = await listTags(key.KeyId);
    expect(tags).toHaveLength(50);
    expect(tags.find((t) => t.TagKey === 'a00')).toEqual(tag('a00', 'new'));
  });

  it('validates lengths and shapes in the schema with AWS wording', async () => {
    const key = await createKey();
    await fails('TagResource', { KeyId: key.KeyId, Tags: [tag('tag1', 'v'.repeat(257))] }, 'ValidationException',
      `1 validation error detected: Value '${'v'.repeat(257)}' at 'tags.1.member.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256`);
    await fails('TagResource', { KeyId: key.KeyId, Tags: [tag('ok', 'x'), tag('a'.repeat(129), 'value1')] }, 'ValidationException',
      `1 validation error detected: Value '${'a'.repeat(129)}' at 'tags.2.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128`);
    await fails('TagResource', { KeyId: key.KeyId, Tags: [tag('', 'x')] }, 'ValidationException',
      "1 validation error detected: Value '' at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length greater than or equal to 1");
    await fails('TagResource', { KeyId: key.KeyId, Tags: [{ TagKey: 'k' }] }, 'ValidationException',
      "1 validation error detected: Value null at 'tags.1.member.tagValue' failed to satisfy constraint: Member must not be null");
    await fails('TagResource', { KeyId: key.KeyId }, 'ValidationException',
      "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null");
    await fails('TagResource', { Tags: [tag('a', 'b')] }, 'ValidationException',
      "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");
    const wrongType = await call('TagResource', { KeyId: key.KeyId, Tags: { TagKey: 'a', TagValue: 'b' } });
    expect(wrongType.body.__type).toBe('SerializationException');
  });
});

describe('UntagResource', () => {
  it('removes some tags and keeps the others (AWS test_untag_key_partially)', async () => {
    const key = await createKey([tag('tag1', 'value1'), tag('tag2', 'value2'), tag('tag3', 'value3')]);
    await ok('UntagResource', { KeyId: key.KeyId, TagKeys: ['tag2'] });
    expect(await listTags(key.KeyId)).toEqual([tag('tag1', 'value1'), tag('tag3', 'value3')]);
  });

  it('removes every tag (AWS test_tag_existing_key_and_untag)', async () => {
    const key = await createKey();
    await ok('TagResource', { KeyId: key.KeyId, Tags: [tag('tag1', 'value1'), tag('tag2', 'value2')] });
    expect(await listTags(key.KeyId)).toEqual([tag('tag1', 'value1'), tag('tag2', 'value2')]);
    await ok('UntagResource', { KeyId: key.Arn, TagKeys: ['tag1', 'tag2'] });
    expect(await listTags(key.KeyId)).toEqual([]);
  });

  it('is no error for tag keys the key does not have, nor for a key named twice', async () => {
    const key = await createKey([tag('tag1', 'value1')]);
    await ok('UntagResource', { KeyId: key.KeyId, TagKeys: ['absent', 'TAG1'] });
    expect(await listTags(key.KeyId)).toEqual([tag('tag1', 'value1')]);
    await ok('UntagResource', { KeyId: key.KeyId, TagKeys: ['tag1', 'tag1'] });
    expect(await listTags(key.KeyId)).toEqual([]);
  });

  it('UntagResource must name at least one tag key (KMS-SPEC §1.3).', async () => {
    const key = await createKey([tag('tag1', 'value1')]);
    await fails('UntagResource', { KeyId: key.KeyId, TagKeys: [] }, 'TagException', 'At least one tag key must be specified');
    expect(await listTags(key.KeyId)).toEqual([tag('tag1', 'value1')]);
  });

  it('aws: tags are AWS\'s; they cannot be removed any more than added.', async () => {
    const key = await createKey([tag('tag1', 'value1')]);
    await fails('UntagResource', { KeyId: key.KeyId, TagKeys: ['tag1', 'aws:x'] }, 'TagException', 'Tags beginning with aws: are reserved');
    await fails('UntagResource', { KeyId: key.KeyId, TagKeys: ['AWS:CreatedBy'] }, 'TagException', 'Tags beginning with aws: are reserved');
    expect(await listTags(key.KeyId)).toEqual([tag('tag1', 'value1')]);
  });

  it('validates tag key lengths and presence in the schema with AWS wording', async () => {
    const key = await createKey([tag('tag1', 'value1')]);
    await fails('UntagResource', { KeyId: key.KeyId, TagKeys: ['tag1', 'a'.repeat(129)] }, 'ValidationException',
      `1 validation error detected: Value '${'a'.repeat(129)}' at 'tagKeys.2.member' failed to satisfy constraint: Member must have length less than or equal to 128`);
    await fails('UntagResource', { KeyId: key.KeyId }, 'ValidationException',
      "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null");
    expect(await listTags(key.KeyId)).toEqual([tag('tag1', 'value1')]);
  });
});

describe('ListResourceTags', () => {
  it('lists an untagged key as an empty, untruncated list', async () => {
    const key = await createKey();
    const res = await call('ListResourceTags', { KeyId: key.KeyId });
    expect(res.body).toEqual({ Tags: [], Truncated: false });
  });

  it('sorts by tag key and pages with Limit and Marker; 50 is both the default and the largest page', async () => {
    const tags = numbered(50).reverse();
    const key = await createKey(tags);
    const sorted = [...tags].sort((a, b) => (a.TagKey < b.TagKey ? -1 : 1));

    const all = await call('ListResourceTags', { KeyId: key.KeyId });
    expect(all.body).toEqual({ Tags: sorted, Truncated: false });
    const capped = await call('ListResourceTags', { KeyId: key.KeyId, Limit: 1000 });
    expect(capped.body).toEqual({ Tags: sorted, Truncated: false });

    const seen: Tag[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const res = await call('ListResourceTags', { KeyId: key.Arn, Limit: 7, ...(marker ? { Marker: marker } : {}) });
      expect(res.status).toBe(200);
      pages++;
      seen.push(...res.body.Tags);
      expect(res.body.Truncated).toBe(res.body.NextMarker !== undefined);
      if (res.body.NextMarker) expect(res.body.Tags).toHaveLength(7);
      marker = res.body.NextMarker;
    } while (marker);
    expect(pages).toBe(8);
    expect(seen).toEqual(sorted);
  });

  it('keeps markers within the 320-character Marker limit for 128-character multibyte tag keys', async () => {
    const wide = (c: string) => c.repeat(128);
    const key = await createKey([tag(wide('가'), '1'), tag(wide('😀'), '2'), tag(wide('z'), '3')]);
    const first = await call('ListResourceTags', { KeyId: key.KeyId, Limit: 1 });
    const marker = first.body.NextMarker as string;
    expect(marker.length).toBeLessThanOrEqual(320);
    const second = await call('ListResourceTags', { KeyId: key.KeyId, Limit: 1, Marker: marker });
    expect(second.status).toBe(200);
    expect(second.body.Tags).toEqual([tag(wide('가'), '1')]);
    const third = await call('ListResourceTags', { KeyId: key.KeyId, Limit: 1, Marker: second.body.NextMarker });
    expect(third.body).toEqual({ Tags: [tag(wide('😀'), '2')], Truncated: false });
  });

  it('resumes after the last tag returned even when tags change between pages', async () => {
    const key = await createKey([tag('a', '1'), tag('b', '2'), tag('c', '3'), tag('d', '4'), tag('e', '5')]);
    const first = await call('ListResourceTags', { KeyId: key.KeyId, Limit: 2 });
    expect(first.body.Tags).toEqual([tag('a', '1'), tag('b', '2')]);
    // A tag before the marker goes away: the next page still starts after 'b'.
    await ok('UntagResource', { KeyId: key.KeyId, TagKeys: ['a'] });
    const second = await call('ListResourceTags', { KeyId: key.KeyId, Limit: 2, Marker: first.body.NextMarker });
    expect(second.body.Tags).toEqual([tag('c', '3'), tag('d', '4')]);
    // The last tag returned goes away: the next page starts with the tag that followed it.
    await ok('UntagResource', { KeyId: key.KeyId, TagKeys: ['d'] });
    const third = await call('ListResourceTags', { KeyId: key.KeyId, Limit: 2, Marker: second.body.NextMarker });
    expect(third.body).toEqual({ Tags: [tag('e', '5')], Truncated: false });
  });

  it('a marker the service did not issue is refused with InvalidMarkerException.', async () => {
    const key = await createKey([tag('a', '1'), tag('b', '2'), tag('c', '3')]);
    const issued = (await call('ListResourceTags', { KeyId: key.KeyId, Limit: 1 })).body.NextMarker as string;
    const moved = Buffer.from(Buffer.from(issued, 'base64url').toString().replace(/^tag:1:/, 'tag:2:')).toString('base64url');
    await createKey();
    const listKeysMarker = (await call('ListKeys', { Limit: 1 })).body.NextMarker as string;
    for (const marker of ['garbage', 'dGFnOjE6eHh4', Buffer.from('key:abc').toString('base64url'), `${issued}A`, listKeysMarker]) {
      await fails('ListResourceTags', { KeyId: key.KeyId, Marker: marker }, 'InvalidMarkerException', 'Marker is invalid');
    }
    // A marker names the last tag returned by its digest; the position is only a fallback.
    expect((await call('ListResourceTags', { KeyId: key.KeyId, Limit: 1, Marker: moved })).body.Tags).toEqual([tag('b', '2')]);
  });

  it('refuses limits outside AWS\'s 1 to 1000', async () => {
    const key = await createKey([tag('a', '1'), tag('b', '2')]);
    await fails('ListResourceTags', { KeyId: key.KeyId, Limit: 0 }, 'ValidationException',
      "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1");
    await fails('ListResourceTags', { KeyId: key.KeyId, Limit: 1001 }, 'ValidationException',
      "1 validation error detected: Value '1001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000");
  });
});

describe('key identification, authorisation and key state', () => {
  const notFound = (id: string) => `Key 'arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}' does not exist`;

  it('tag operations accept a key id or key ARN only, never an alias.', async () => {
    const key = await createKey();
    const now = new Date();
    await svc.store.aliases.insert({ ...scope, aliasName: 'alias/tagged', targetKeyId: key.KeyId, createdAt: now, updatedAt: now });
    for (const keyId of ['alias/tagged', `arn:aws:kms:${REGION}:${ACCOUNT}:alias/tagged`]) {
      await fails('TagResource', { KeyId: keyId, Tags: [tag('a', 'b')] }, 'NotFoundException', `Invalid keyId '${keyId}'`);
      await fails('UntagResource', { KeyId: keyId, TagKeys: ['a'] }, 'NotFoundException', `Invalid keyId '${keyId}'`);
      await fails('ListResourceTags', { KeyId: keyId }, 'NotFoundException', `Invalid keyId '${keyId}'`);
    }
    expect(await listTags(key.KeyId)).toEqual([]);
  });

  it('answers NotFoundException for a key that does not exist', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    await fails('TagResource', { KeyId: id, Tags: [tag('a', 'b')] }, 'NotFoundException', notFound(id));
    await fails('UntagResource', { KeyId: id, TagKeys: ['a'] }, 'NotFoundException', notFound(id));
    await fails('ListResourceTags', { KeyId: id }, 'NotFoundException', notFound(id));
  });

  it('denies a user without permission (ALICE) and another account, naming the action and key', async () => {
    const key = await createKey([tag('a', 'b')]);
    const denied = (principal: string, action: string) =>
      `User: ${principal} is not authorized to perform: kms:${action} on resource: ${key.Arn} because no resource-based policy allows the kms:${action} action`;
    for (const credentials of [ALICE, OTHER_ROOT]) {
      await fails('TagResource', { KeyId: key.Arn, Tags: [tag('x', 'y')] }, 'AccessDeniedException', denied(credentials.principalArn, 'TagResource'), { credentials });
      await fails('UntagResource', { KeyId: key.Arn, TagKeys: ['a'] }, 'AccessDeniedException', denied(credentials.principalArn, 'UntagResource'), { credentials });
      await fails('ListResourceTags', { KeyId: key.Arn }, 'AccessDeniedException', denied(credentials.principalArn, 'ListResourceTags'), { credentials });
    }
    expect(await listTags(key.KeyId)).toEqual([tag('a', 'b')]);
  });

  it('refuses tag changes while the key is pending deletion, but still lists its tags', async () => {
    const key = await createKey([tag('a', 'b')]);
    const stored = (await svc.store.keys.get(scope, key.KeyId))!;
    await svc.store.keys.replace({ ...stored, state: 'PendingDeletion', deletionDate: new Date(Date.now() + 7 * 86400_000), pendingWindowInDays: 7 });
    await fails('TagResource', { KeyId: key.KeyId, Tags: [tag('x', 'y')] }, 'KMSInvalidStateException', `${key.Arn} is pending deletion.`);
    await fails('UntagResource', { KeyId: key.Arn, TagKeys: ['a'] }, 'KMSInvalidStateException', `${key.Arn} is pending deletion.`);
    expect(await listTags(key.KeyId)).toEqual([tag('a', 'b')]);
  });

  it('allows tag changes on a disabled key', async () => {
    const key = await createKey();
    const stored = (await svc.store.keys.get(scope, key.KeyId))!;
    await svc.store.keys.replace({ ...stored, state: 'Disabled' });
    await ok('TagResource', { KeyId: key.KeyId, Tags: [tag('x', 'y')] });
    await ok('UntagResource', { KeyId: key.KeyId, TagKeys: ['x'] });
  });
});

describe('concurrent tag changes', () => {
  // The requirement: concurrent changes to one key never lose an update. The
  // embedded store answers at once, so these requests mostly run one after another.
  it.each([1, 2, 3, 4, 5])('keeps all 20 tags of 20 concurrent TagResource calls on one key (run %i)', async () => {
    const key = await createKey();
    const tags = numbered(20, 'c');
    const results = await Promise.all(tags.map((t) => call('TagResource', { KeyId: key.KeyId, Tags: [t] })));
    expect(results.map((r) => [r.status, r.body])).toEqual(tags.map(() => [200, {}]));
    expect(await listTags(key.KeyId)).toEqual(tags);
  });

  it('keeps tags and removals apart when TagResource and UntagResource race on one key', async () => {
    const key = await createKey(numbered(10, 'old'));
    const adds = numbered(10, 'new');
    const results = await Promise.all([
      ...adds.map((t) => call('TagResource', { KeyId: key.KeyId, Tags: [t] })),
      ...numbered(10, 'old').map((t) => call('UntagResource', { KeyId: key.KeyId, TagKeys: [t.TagKey] })),
    ]);
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(await listTags(key.KeyId)).toEqual(adds);
  });
});

describe('concurrent tag changes under contention', () => {
  // Reads are slowed, as a networked store's are, so every request reads the key before
  // any of them writes it: compare-and-set conflicts are certain, and must be retried.
  let slow: TestService;
  let conflicts = 0;
  beforeAll(async () => {
    slow = await startTestService({
      wrapStore: (store) => withRepositories(store, { keys: new Proxy(store.keys, {
        get(target, property) {
          const member = Reflect.get(target, property, target) as unknown;
          if (typeof member !== 'function') return member;
          const method = member as (...args: unknown[]) => Promise<unknown>;
          if (property === 'get') {
            return async (...args: unknown[]) => {
              const key = await method.apply(target, args);
              await new Promise((resolve) => setTimeout(resolve, 2));
              return key;
            };
          }
          if (property === 'replace') {
            return async (...args: unknown[]) => method.apply(target, args).catch((e: unknown) => {
              if (e instanceof RevisionConflictError) conflicts++;
              throw e;
            });
          }
          return method.bind(target);
        },
      }) }),
    });
  });
  afterAll(async () => { await slow.close(); });

  async function slowKey(tags: Tag[]) {
    const res = await kmsCall(slow.app, 'CreateKey', { Tags: tags });
    expect(res.status).toBe(200);
    return res.body.KeyMetadata.KeyId as string;
  }
  const slowCall = (operation: string, body: object) => kmsCall(slow.app, operation, body);

  it('lets exactly as many racing calls succeed as the 50-tag limit leaves room for', async () => {
    const keyId = await slowKey(numbered(45, 'base'));
    conflicts = 0;
    const results = await Promise.all(numbered(10, 'race').map((t) => slowCall('TagResource', { KeyId: keyId, Tags: [t] })));
    expect(conflicts).toBeGreaterThan(0);
    const won = results.flatMap((r, i) => (r.status === 200 ? [`race${String(i).padStart(2, '0')}`] : []));
    expect(won).toHaveLength(5);
    for (const r of results.filter((x) => x.status !== 200)) expect(r.body).toEqual({ __type: 'TagException', message: 'Too many tags' });
    const tags = (await slowCall('ListResourceTags', { KeyId: keyId })).body.Tags as Tag[];
    expect(tags).toHaveLength(50);
    expect(tags.filter((t) => t.TagKey.startsWith('race')).map((t) => t.TagKey)).toEqual(won);
  });

  // 20 writers that all read before any writes need up to 19 retries: changeKey retries
  // with random backoff, so every one of them lands.
  it('keeps all 20 tags of 20 concurrent TagResource calls on one key', async () => {
    const keyId = await slowKey([]);
    conflicts = 0;
    const tags = numbered(20, 'c');
    const results = await Promise.all(tags.map((t) => slowCall('TagResource', { KeyId: keyId, Tags: [t] })));
    expect(conflicts).toBeGreaterThan(0);
    expect(results.map((r) => [r.status, r.body])).toEqual(tags.map(() => [200, {}]));
    expect((await slowCall('ListResourceTags', { KeyId: keyId })).body).toEqual({ Tags: tags, Truncated: false });
  });
});
