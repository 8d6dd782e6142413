import { MemoryStore } from '../support/memory-store';
import { describeMetadataStoreContract } from './metadata-store.contract';

describeMetadataStoreContract('MemoryStore', async () => new MemoryStore());
