// Wire-level preconditions of the KMS router, each in a test named after its comment.
import { kmsCall, signedHeaders } from '../support/signed';
import { startTestService, type TestService } from '../support/service';
import request from 'supertest';

let svc: TestService;
beforeAll(async () => { svc = await startTestService(); });
afterAll(async () => { await svc.close(); });

it('only the AWS JSON content types are accepted.', async () => {
  const body = Buffer.from('{}');
  for (const contentType of ['application/json', 'text/plain', 'application/x-www-form-urlencoded']) {
    const headers = await signedHeaders('ListKeys', body, { contentType });
    const res = await request(svc.app).post('/').set(headers).send(body);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).__type).toBe('SerializationException');
  }
  expect((await kmsCall(svc.app, 'ListKeys', {}, { contentType: 'application/x-amz-json-1.0' })).status).toBe(200);
  expect((await kmsCall(svc.app, 'ListKeys', {}, { contentType: 'application/x-amz-json-1.1; charset=utf-8' })).status).toBe(200);
});

it('request bodies with prototype-pollution keys are rejected.', async () => {
  const bodies = [
    '{"__proto__": {"polluted": true}, "NumberOfBytes": 8}',
    '{"NumberOfBytes": 8, "EncryptionContext": {"__proto__": {"polluted": true}}}',
    '{"Tags": [{"TagKey": "a", "TagValue": "b", "__proto__": {"polluted": true}}]}',
  ];
  for (const body of bodies) {
    const res = await kmsCall(svc.app, body.includes('Tags') ? 'CreateKey' : 'GenerateRandom', body);
    expect(res.status).toBe(400);
    expect(res.body.__type).toBe('SerializationException');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }
});
