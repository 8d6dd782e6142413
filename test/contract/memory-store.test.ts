import { MemoryStore } from '../support/memory-store';
import { describeAliasRepositoryContract } from './alias-repository.contract';
import { describeAuditRepositoryContract } from './audit-repository.contract';
import { describeCustomKeyStoreRepositoryContract } from './custom-key-store-repository.contract';
import { describeExternalKeyRepositoryContract } from './external-key-repository.contract';
import { describeGrantRepositoryContract } from './grant-repository.contract';
import { describeLeaseRepositoryContract } from './lease-repository.contract';
import { describeKeyRepositoryContract } from './key-repository.contract';

const factory = async () => new MemoryStore();

describeKeyRepositoryContract('MemoryStore', factory);
describeAliasRepositoryContract('MemoryStore', factory);
describeGrantRepositoryContract('MemoryStore', factory);
describeLeaseRepositoryContract('MemoryStore', factory);
describeExternalKeyRepositoryContract('MemoryStore', factory);
describeCustomKeyStoreRepositoryContract('MemoryStore', factory);
describeAuditRepositoryContract('MemoryStore', factory);
