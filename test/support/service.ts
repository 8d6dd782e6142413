// A service wired like main.ts, on a throwaway token and a temporary embedded store; with
// KMS_TEST_STORE=mongo (npm run test:mongo), on a fresh database of KMS_TEST_MONGODB_URI instead.
import { KMSClient } from '@aws-sdk/client-kms';
import { MongoClient } from 'mongodb';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CoreDeps } from '../../src/core/deps';
import type { Clock, MetadataStore } from '../../src/core/ports';
import { systemClock } from '../../src/core/ports';
import { composeCore, type XksProxyParts } from '../../src/compose';
import type { CoreService } from '../../src/core/calls/service';
import type { KeyStoreConnectors } from '../../src/core/key-stores/connectors';
import { createApp } from '../../src/http/app';
import type { JwtIssuerConfig } from '../../src/auth-config';
import { BearerAuthenticator } from '../../src/http/auth/bearer';
import { PrincipalDirectory, type CredentialsFileEntry } from '../../src/http/auth/principals';
import { createLogger } from '../../src/log/logger';
import type { Pkcs11Token } from '../../src/pkcs11';
import { EmbeddedStore } from '../../src/store/embedded';
import { MongoStore } from '../../src/store/mongo';
import { createTestToken, openTestToken, type TestToken } from './softhsm';

export const ACCOUNT = '111122223333';
export const REGION = 'us-east-1';
export const ROOT = { accessKeyId: 'AKIAROOTTEST00000001', secretAccessKey: 'root-secret-key-for-tests-only-0000000001' };
export const ALICE: CredentialsFileEntry = {
  accessKeyId: 'AKIAALICETEST0000001', secretAccessKey: 'alice-secret-key-for-tests-only-00000001', principalArn: `arn:aws:iam::${ACCOUNT}:user/alice`,
};
/** A user whose identity policy allows exactly Encrypt, DescribeKey and GenerateDataKey on the account's keys, and ListKeys. */
export const BOB: CredentialsFileEntry = {
  accessKeyId: 'AKIABOBTEST000000001', secretAccessKey: 'bob-secret-key-for-tests-only-0000000001', principalArn: `arn:aws:iam::${ACCOUNT}:user/bob`,
  policies: [{
    Version: '2012-10-17',
    Statement: [
      { Sid: 'UseKeys', Effect: 'Allow', Action: ['kms:Encrypt', 'kms:DescribeKey', 'kms:GenerateDataKey'], Resource: `arn:aws:kms:*:${ACCOUNT}:key/*` },
      { Sid: 'ListKeys', Effect: 'Allow', Action: 'kms:ListKeys', Resource: '*' },
    ],
  }],
};
export const OTHER_ROOT: CredentialsFileEntry = {
  accessKeyId: 'AKIAOTHERROOT0000001', secretAccessKey: 'other-root-secret-for-tests-only-0000001', principalArn: 'arn:aws:iam::444455556666:root',
};

export interface TestService {
  app: ReturnType<typeof createApp>;
  logger: ReturnType<typeof createLogger>;
  deps: CoreDeps;
  store: MetadataStore;
  /** The default key store: the throwaway SoftHSM token. */
  defaultStore: Pkcs11Token;
  service: CoreService;
  token: TestToken;
  dir: string;
  logFile: string;
  url?: string;
  /** Stops the service; with `keepData`, the token and directory survive for a restart. */
  close(options?: { keepData?: boolean }): Promise<void>;
}

export interface TestServiceOptions {
  listen?: boolean;
  clock?: Clock;
  /** Wraps the real store, e.g. to inject failures. */
  wrapStore?: (store: MetadataStore) => MetadataStore;
  maxBodyBytes?: number;
  /** Reuse a token and a data directory, as a restarted service would. */
  restartOf?: { token: TestToken; dir: string };
  /** Principals from this credentials file, watched as main.ts does, instead of ALICE, BOB and OTHER_ROOT. */
  credentialsFile?: string;
  /** How often credentialsFile is polled; 50 ms unless set. */
  credentialsPollMs?: number;
  /** Accept bearer JWTs from these issuers, as KMS_JWT_ISSUERS would. */
  jwtIssuers?: JwtIssuerConfig[];
  /** Compose core with the XKS proxy's operations (test/support/xks.ts serves them). */
  xksProxy?: XksProxyParts;
  /** How custom key stores are reached. */
  connectors?: KeyStoreConnectors;
  /** Record every call in the audit trail (KMS_AUDIT); on unless false. */
  audit?: boolean;
  /** Token capability profiles from this directory instead of hsm/profiles (a token with other capabilities). */
  profileDir?: string;
  /** KMS_DEV_ANY_CREDENTIALS: an unknown access key id signs as the account root. */
  anyCredentials?: boolean;
  /** KMS_DEV_RESET: serve POST /moto-api/reset and /hsm-kms/reset. */
  devReset?: boolean;
}

/** The store a test service runs on: the embedded one, or MongoDB with KMS_TEST_STORE=mongo. */
interface TestStore {
  store: MetadataStore;
  /** Deletes what the store holds (the embedded file goes with the directory). */
  discard(): Promise<void>;
}

/** The file in a service's directory naming its MongoDB database, so that a restart (restartOf) finds the same one. */
const MONGO_DATABASE_FILE = 'mongo-database';

async function openTestStore(dir: string): Promise<TestStore> {
  if (process.env.KMS_TEST_STORE !== 'mongo') {
    const store = new EmbeddedStore(path.join(dir, 'metadata.sqlite'));
    await store.init();
    return { store, discard: async () => undefined };
  }
  const uri = process.env.KMS_TEST_MONGODB_URI;
  if (!uri) throw new Error('KMS_TEST_STORE=mongo needs KMS_TEST_MONGODB_URI, the URI of a MongoDB replica set to test against (npm run test:mongo)');
  // One database per service, unique so that test files running in parallel, and runs sharing a server, never meet.
  const nameFile = path.join(dir, MONGO_DATABASE_FILE);
  const dbName = existsSync(nameFile) ? readFileSync(nameFile, 'utf8') : `kms_api_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  writeFileSync(nameFile, dbName);
  const store = new MongoStore(uri, dbName);
  await store.init();
  return {
    store,
    async discard() {
      const admin = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
      try {
        await admin.db(dbName).dropDatabase();
      } finally {
        await admin.close();
      }
    },
  };
}

export async function startTestService(options: TestServiceOptions = {}): Promise<TestService> {
  const dir = options.restartOf?.dir ?? mkdtempSync(path.join(tmpdir(), 'hsm-kms-svc-'));
  const token = options.restartOf?.token ?? createTestToken();
  const defaultStore = openTestToken(token, options.profileDir ? { profileDir: options.profileDir } : {});
  const { store: realStore, discard } = await openTestStore(dir);
  const store = options.wrapStore ? options.wrapStore(realStore) : realStore;
  const clock = options.clock ?? systemClock;
  const logFile = path.join(dir, 'service.log');
  const logger = createLogger({ level: 'info', file: logFile, silent: true });
  const { deps, service, readiness } = composeCore({
    store, defaultKeyStore: defaultStore, clock, logger, xksProxy: options.xksProxy, connectors: options.connectors, audit: options.audit,
  });
  const principals = new PrincipalDirectory({ ...ROOT, accountId: ACCOUNT }, [ALICE, BOB, OTHER_ROOT]);
  const watched = options.credentialsFile
    ? PrincipalDirectory.watch(options.credentialsFile, { ...ROOT, accountId: ACCOUNT }, {
      intervalMs: options.credentialsPollMs ?? 50,
      onError: (detail) => logger.error('credentials file refused', { detail }),
    })
    : undefined;
  const bearer = options.jwtIssuers ? new BearerAuthenticator(options.jwtIssuers, { defaultRegion: REGION }) : undefined;
  const app = createApp({
    service, readiness, principals: () => watched?.current() ?? principals, bearer, logger, signatureClock: systemClock, maxBodyBytes: options.maxBodyBytes ?? 256 * 1024,
    jwks: { accountId: ACCOUNT, region: REGION }, anyCredentials: options.anyCredentials, devReset: options.devReset,
  });
  let server: Server | undefined;
  let url: string | undefined;
  if (options.listen) {
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }
  return {
    app, logger, deps, service, store: realStore, defaultStore, token, dir, logFile, url,
    async close(closeOptions = {}) {
      watched?.stop();
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server!.close(() => resolve()));
      }
      await new Promise<void>((resolve) => logger.on('finish', resolve).end());
      await realStore.close();
      await deps.keyStores.close();
      if (!closeOptions.keepData) {
        await discard();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * An unmodified AWS SDK client for a listening test service. maxAttempts 1: an error must
 * surface as it is, not after retries.
 */
export function sdkClient(svc: TestService, credentials: { accessKeyId: string; secretAccessKey: string }): KMSClient {
  if (!svc.url) throw new Error('start the service with { listen: true }');
  return new KMSClient({ endpoint: svc.url, region: REGION, credentials, maxAttempts: 1 });
}
