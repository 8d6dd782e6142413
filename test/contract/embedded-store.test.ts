import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EmbeddedStore } from '../../src/store/embedded';
import { describeAliasRepositoryContract } from './alias-repository.contract';
import { describeCustomKeyStoreRepositoryContract } from './custom-key-store-repository.contract';
import { describeExternalKeyRepositoryContract } from './external-key-repository.contract';
import { describeGrantRepositoryContract } from './grant-repository.contract';
import { describeLeaseRepositoryContract } from './lease-repository.contract';
import { describeKeyRepositoryContract } from './key-repository.contract';
import { keyIdFor, makeKey, scope, type StoreContractOptions, type StoreFactory } from './metadata-fixtures';

/** The database file of the current test; each test gets a fresh directory. */
let databaseFile = '';

const factory: StoreFactory = async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hsm-kms-embedded-store-'));
  // A subdirectory that does not exist yet: init() must create it.
  databaseFile = path.join(dir, 'data', 'metadata.sqlite');
  return new EmbeddedStore(databaseFile);
};

const options: StoreContractOptions = {
  reopen: async () => new EmbeddedStore(databaseFile),
  cleanup: async () => rm(path.dirname(path.dirname(databaseFile)), { recursive: true, force: true }),
};

describeKeyRepositoryContract('EmbeddedStore (SQLite)', factory, options);
describeAliasRepositoryContract('EmbeddedStore (SQLite)', factory, options);
describeGrantRepositoryContract('EmbeddedStore (SQLite)', factory, options);
describeLeaseRepositoryContract('EmbeddedStore (SQLite)', factory, options);
describeExternalKeyRepositoryContract('EmbeddedStore (SQLite)', factory, options);
describeCustomKeyStoreRepositoryContract('EmbeddedStore (SQLite)', factory, options);

describe('EmbeddedStore key cache', () => {
  it('a change written through another connection (another process) is seen by the next read', async () => {
    const first = await factory();
    await first.init();
    const second = new EmbeddedStore(databaseFile);
    await second.init();
    try {
      const key = makeKey(keyIdFor(7), { description: 'before' });
      await first.keys.insert(key);
      const cached = (await first.keys.get(scope, key.keyId))!;
      expect(await first.keys.get(scope, key.keyId)).toBe(cached);
      const changed = await second.keys.replace({ ...(await second.keys.get(scope, key.keyId))!, description: 'after' });
      const seen = (await first.keys.get(scope, key.keyId))!;
      expect(seen.description).toBe('after');
      expect(seen.revision).toBe(changed.revision);
      await second.keys.delete(scope, key.keyId);
      expect(await first.keys.get(scope, key.keyId)).toBeUndefined();
    } finally {
      await second.close();
      await first.close();
      await options.cleanup!();
    }
  });
});
