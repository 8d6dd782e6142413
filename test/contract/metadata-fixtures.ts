// What the repository contract suites share: the store each test runs against, and the records
// they store.
import type { AliasRecord, GrantRecord, KeyRecord, KeyScope } from '../../src/core/model';
import type { MetadataStore, Page, PageRequest } from '../../src/core/ports';

/** A new, not yet initialised store over empty storage. */
export type StoreFactory = () => Promise<MetadataStore>;

export interface StoreContractOptions {
  /**
   * Persistent stores only: a new, uninitialised instance over the storage of the most recent
   * factory() call. The suite closes that instance first. When given, the suites check that data
   * survives a restart; memory-only stores leave it out and those tests are not registered.
   */
  reopen?: () => Promise<MetadataStore>;
  /** Runs after each test, once the suite has closed its store: discard what factory() created. */
  cleanup?: () => Promise<void>;
}

/**
 * Registers a suite whose every test gets a fresh store from `factory`, initialised before and
 * closed after. `tests` registers the tests and is handed:
 * - `store`, which stands for the current test's store (each access goes to the store open now);
 * - `restart`, for persistent stores only, which closes the store and opens its storage again
 *   as a restarted service would.
 */
export function describeStoreContract(
  title: string,
  factory: StoreFactory,
  options: StoreContractOptions,
  tests: (store: MetadataStore, restart: (() => Promise<void>) | undefined) => void,
): void {
  describe(title, () => {
    let current: MetadataStore | undefined;
    const open = (): MetadataStore => {
      if (!current) throw new Error('no store is open outside a test');
      return current;
    };

    beforeEach(async () => {
      current = await factory();
      await current.init();
    });

    afterEach(async () => {
      // `current` is undefined when the factory failed before the first test; close() is idempotent.
      await current?.close();
      current = undefined;
      await options.cleanup?.();
    });

    const store: MetadataStore = {
      get keys() { return open().keys; },
      get aliases() { return open().aliases; },
      get grants() { return open().grants; },
      get leases() { return open().leases; },
      get externalKeys() { return open().externalKeys; },
      get customKeyStores() { return open().customKeyStores; },
      get audit() { return open().audit; },
      init: () => open().init(),
      close: () => open().close(),
      ping: () => open().ping(),
    };
    const { reopen } = options;
    const restart = reopen && (async () => {
      await open().close();
      current = await reopen();
      await current.init();
    });
    tests(store, restart);
  });
}

export const scope: KeyScope = { accountId: '111122223333', region: 'us-east-1' };
export const otherAccount: KeyScope = { accountId: '444455556666', region: 'us-east-1' };
export const otherRegion: KeyScope = { accountId: '111122223333', region: 'eu-west-1' };

// Never mutate these: the factories below hand out copies, which tests may mutate.
export const createdAt = new Date('2024-05-06T07:08:09.123Z');
export const updatedAt = new Date('2024-05-07T10:11:12.456Z');

/** A valid key id whose order follows `n`, so expected orderings read plainly. */
export function keyIdFor(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** A key with no optional fields. */
export function makeKey(keyId: string, overrides: Partial<KeyRecord> = {}): KeyRecord {
  return {
    ...scope,
    keyId,
    createdAt: new Date(createdAt),
    description: '',
    keySpec: 'SYMMETRIC_DEFAULT',
    keyUsage: 'ENCRYPT_DECRYPT',
    origin: 'AWS_KMS',
    keyManager: 'CUSTOMER',
    multiRegion: false,
    state: 'Enabled',
    versions: [],
    tags: [],
    revision: 0,
    updatedAt: new Date(updatedAt),
    ...overrides,
  };
}

/** A key with every optional field set, and versions of both backing kinds. */
export function makeFullKey(keyId: string): KeyRecord {
  return makeKey(keyId, {
    description: 'every field — with non-ASCII: 키 관리',
    state: 'PendingDeletion',
    deletionDate: new Date('2024-06-01T00:00:00.789Z'),
    pendingWindowInDays: 7,
    customKeyStoreId: 'cks-1234567890abcdef0',
    xksKeyId: 'ext-key-1',
    multiRegion: true,
    versions: [
      {
        id: 'a'.repeat(64),
        backing: { kind: 'pkcs11', tokenId: 'default', objectId: '0a1b2c3d' },
        createdAt: new Date('2024-05-06T07:08:09.001Z'),
        status: 'ACTIVE',
      },
      {
        id: 'b'.repeat(64),
        backing: { kind: 'xks', keyStoreId: 'cks-1234567890abcdef0', xksKeyId: 'ext-key-1', localObjectId: '5c'.repeat(32) },
        createdAt: new Date('2024-05-06T08:00:00.002Z'),
        status: 'PENDING',
      },
    ],
    currentVersionId: 'a'.repeat(64),
    tags: [{ TagKey: 'team', TagValue: 'payments' }, { TagKey: 'empty', TagValue: '' }],
    policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*' }] }),
    incomplete: false,
    revision: 3,
  });
}

export function makeAlias(aliasName: string, targetKeyId: string, aliasScope: KeyScope = scope): AliasRecord {
  return { ...aliasScope, aliasName, targetKeyId, createdAt: new Date(createdAt), updatedAt: new Date(updatedAt) };
}

export const ALICE_ARN = `arn:aws:iam::${scope.accountId}:user/alice`;
export const BOB_ARN = `arn:aws:iam::${scope.accountId}:user/bob`;

/** A valid grant id (64 hex) whose order follows `n`. */
export function grantIdFor(n: number): string {
  return n.toString(16).padStart(64, '0');
}

/** A grant with no optional fields; `overrides` may move it to another scope. */
export function makeGrant(grantId: string, keyId: string, overrides: Partial<GrantRecord> = {}): GrantRecord {
  return {
    ...scope,
    keyId,
    grantId,
    grantToken: `token-${grantId}`,
    granteePrincipal: ALICE_ARN,
    issuingAccount: scope.accountId,
    operations: ['Encrypt', 'Decrypt'],
    createdAt: new Date(createdAt),
    ...overrides,
  };
}

/** A grant with every optional field set. */
export function makeFullGrant(grantId: string, keyId: string): GrantRecord {
  return makeGrant(grantId, keyId, {
    name: 'every-field:/_-',
    retiringPrincipal: BOB_ARN,
    issuingAccount: otherAccount.accountId,
    operations: ['GenerateDataKey', 'ReEncryptFrom', 'CreateGrant', 'RetireGrant', 'DescribeKey'],
    constraints: {
      encryptionContextSubset: { Department: 'IT', 'case': 'Value' },
      encryptionContextEquals: { purpose: 'backups — 키', empty: '' },
    },
  });
}

/** Follows nextMarker to the end, returning each page's items. */
export async function collectPages<T>(fetch: (page: PageRequest) => Promise<Page<T>>, limit: number): Promise<T[][]> {
  const pages: T[][] = [];
  let marker: string | undefined;
  do {
    const page = await fetch(marker === undefined ? { limit } : { limit, marker });
    pages.push(page.items);
    marker = page.nextMarker;
    if (pages.length > 100) throw new Error('pagination does not terminate');
  } while (marker !== undefined);
  return pages;
}

export const invalidMarkers = ['not-a-marker', '%%%', 'AAAA', '{"keyId":"x"}'];
