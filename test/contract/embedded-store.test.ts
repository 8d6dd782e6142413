import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { EmbeddedStore } from '../../src/store/embedded';
import { describeAliasRepositoryContract } from './alias-repository.contract';
import { describeAuditRepositoryContract, draft, expectChained } from './audit-repository.contract';
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
describeAuditRepositoryContract('EmbeddedStore (SQLite)', factory, options);

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

describe('EmbeddedStore audit trail across connections', () => {
  it('two connections (two instances on one file) appending concurrently form one gap-free chain', async () => {
    const first = await factory();
    await first.init();
    const second = new EmbeddedStore(databaseFile);
    await second.init();
    // A third connection holds the write lock for a while, as another process would: appends wait
    // for it (asynchronously, through patient()) instead of failing or numbering records alike.
    const blocker = new Database(databaseFile);
    try {
      blocker.exec('BEGIN IMMEDIATE');
      const appends = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? first : second).audit.append([draft(), ...(i % 3 === 0 ? [draft()] : [])]));
      await new Promise((resolve) => setTimeout(resolve, 50));
      blocker.exec('COMMIT');
      const results = await Promise.all(appends);
      const stored = await first.audit.range(1, 1000);
      expect(stored).toHaveLength(results.flat().length);
      expectChained(stored);
      expect(await second.audit.range(1, 1000)).toEqual(stored);
    } finally {
      blocker.close();
      await second.close();
      await first.close();
      await options.cleanup!();
    }
  });
});
