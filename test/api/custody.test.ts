// Custody proof: after CreateKey, the key exists in the token as a sensitive,
// non-extractable token object whose value cannot be read, checked through a PKCS#11
// session of the test's own rather than the service's adapter.
import * as pkcs11js from 'pkcs11js';
import { SOFTHSM_MODULE } from '../../src/config';
import { kmsCall } from '../support/signed';
import { ACCOUNT, REGION, startTestService, type TestService } from '../support/service';
import { inspectObjectsById } from '../support/softhsm';

let svc: TestService;
let lib: pkcs11js.PKCS11;
beforeAll(async () => {
  svc = await startTestService();
  // The module is already initialised by the service in this process; a second handle on
  // the same library shares that state, as a second application thread would.
  lib = new pkcs11js.PKCS11();
  lib.load(SOFTHSM_MODULE);
});
afterAll(async () => { await svc.close(); });

it('CreateKey leaves a sensitive, non-extractable token object whose CKA_VALUE cannot be read', async () => {
  const res = await kmsCall(svc.app, 'CreateKey', {});
  const { KeyId, CurrentKeyMaterialId } = res.body.KeyMetadata as { KeyId: string; CurrentKeyMaterialId: string };
  const stored = await svc.store.keys.get({ accountId: ACCOUNT, region: REGION }, KeyId);
  expect(stored?.versions[0]?.backing).toEqual({ kind: 'pkcs11', tokenId: 'default', objectId: CurrentKeyMaterialId });

  const objects = inspectObjectsById(lib, svc.token, CurrentKeyMaterialId);
  expect(objects).toHaveLength(1);
  expect(objects[0]).toEqual({ sensitive: true, extractable: false, token: true, valueReadError: 'CKR_ATTRIBUTE_SENSITIVE' });
});

it('the metadata store holds no key bytes: the stored record is references only', async () => {
  const res = await kmsCall(svc.app, 'CreateKey', {});
  const stored = await svc.store.keys.get({ accountId: ACCOUNT, region: REGION }, res.body.KeyMetadata.KeyId);
  const fields = JSON.stringify(stored);
  expect(Object.keys(stored!.versions[0]!).sort()).toEqual(['backing', 'createdAt', 'id', 'status']);
  expect(fields).not.toMatch(/"(value|material|keyBytes|secret)"/i);
});
