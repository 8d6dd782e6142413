// /healthz tells the truth: a real operation on the token's health key and a real write to the
// store, each reported by name, so a token outage or a store that refuses writes shows.
import { renameSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { READINESS_CACHE_MS } from '../../src/core/jobs/readiness';
import { startTestService, type TestService } from '../support/service';
import { tokenDirectoryOf } from '../support/token-dir';
import { withRepositories } from '../support/wrapped-store';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let svc: TestService;
let failWrites = false;

beforeAll(async () => {
  svc = await startTestService({
    wrapStore: (store) => withRepositories(store, {
      leases: {
        ...store.leases,
        acquire: (...args) => (failWrites ? Promise.reject(Object.assign(new Error('attempt to write a readonly database'), { code: 'SQLITE_READONLY' })) : store.leases.acquire(...args)),
        release: (...args) => store.leases.release(...args),
        listLive: (...args) => store.leases.listLive(...args),
      },
    }),
  });
});
afterAll(async () => svc.close());

it('reports ok only when a real token operation and a real store write succeed', async () => {
  const res = await request(svc.app).get('/healthz');
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ status: 'ok', token: 'ok', store: 'ok', keyStores: { default: 'ok' } });
  // The write is this instance's heartbeat, visible in the store.
  expect((await svc.store.leases.listLive('instance:', new Date())).length).toBeGreaterThan(0);
});

it('names the store when it refuses writes, and recovers when it accepts them again', async () => {
  await sleep(READINESS_CACHE_MS + 50);
  failWrites = true;
  const res = await request(svc.app).get('/healthz');
  expect(res.status).toBe(503);
  expect(res.body).toMatchObject({ status: 'unavailable', token: 'ok', store: 'unavailable' });
  failWrites = false;
  await sleep(READINESS_CACHE_MS + 50);
  expect((await request(svc.app).get('/healthz')).status).toBe(200);
});

it('names the token when its storage has gone, and recovers when it is back', async () => {
  await sleep(READINESS_CACHE_MS + 50);
  const dir = tokenDirectoryOf(svc.token.label);
  const aside = path.join(process.env.KMS_TEST_ROOT!, `away-${svc.token.label}`);
  // A request first, so the token has cached handles to lose.
  renameSync(dir, aside);
  try {
    await sleep(50);
    const res = await request(svc.app).get('/healthz');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 'unavailable', token: 'unavailable', store: 'ok', keyStores: { default: 'unavailable' } });
  } finally {
    renameSync(aside, dir);
  }
  let status = 0;
  for (let i = 0; i < 50 && status !== 200; i++) {
    await sleep(200);
    status = (await request(svc.app).get('/healthz')).status;
  }
  expect(status).toBe(200);
}, 30_000);
