import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EmbeddedStore } from '../../src/store/embedded';
import { describeMetadataStoreContract } from './metadata-store.contract';

/** The database file of the current test; each test gets a fresh directory. */
let databaseFile = '';

describeMetadataStoreContract(
  'EmbeddedStore (SQLite)',
  async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hsm-kms-embedded-store-'));
    // A subdirectory that does not exist yet: init() must create it.
    databaseFile = path.join(dir, 'data', 'metadata.sqlite');
    return new EmbeddedStore(databaseFile);
  },
  {
    reopen: async () => new EmbeddedStore(databaseFile),
    cleanup: async () => rm(path.dirname(path.dirname(databaseFile)), { recursive: true, force: true }),
  },
);
