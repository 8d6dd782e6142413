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
import type { StoreContractOptions, StoreFactory } from './metadata-fixtures';

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
