// Child process: one of several writers racing for a key's per-key limits on one store. Waits
// until the agreed start time, then inserts its aliases and grants for the key with
// insertWithinLimit and prints how many were accepted, as JSON.
import { MongoStore } from '../../src/store/mongo';
import { EmbeddedStore } from '../../src/store/embedded';

const [storeSpec, writer, countText, limitText, startAtText] = process.argv.slice(2) as [string, string, string, string, string];
const scope = { accountId: '111122223333', region: 'us-east-1' };
const keyId = '1234abcd-12ab-34cd-56ef-1234567890ab';

async function main(): Promise<void> {
  const store = storeSpec.startsWith('mongodb')
    ? new MongoStore(storeSpec.split('#')[0]!, storeSpec.split('#')[1])
    : new EmbeddedStore(storeSpec);
  await store.init();
  const count = Number(countText);
  const limit = Number(limitText);
  while (Date.now() < Number(startAtText)) { /* every writer starts together */ }
  const now = new Date();
  const aliases = await Promise.all(Array.from({ length: count }, (_, i) => store.aliases.insertWithinLimit(
    { ...scope, aliasName: `alias/w${writer}-${i}`, targetKeyId: keyId, createdAt: now, updatedAt: now }, limit,
  )));
  const grants = await Promise.all(Array.from({ length: count }, (_, i) => store.grants.insertWithinLimit({
    ...scope, keyId, grantId: `${writer}`.padStart(4, '0') + `${i}`.padStart(60, '0'), grantToken: `token-${writer}-${i}`,
    granteePrincipal: 'arn:aws:iam::111122223333:user/alice', issuingAccount: scope.accountId, operations: ['Decrypt'], createdAt: now,
  }, limit)));
  await store.close();
  process.stdout.write(JSON.stringify({ aliases: aliases.filter(Boolean).length, grants: grants.filter(Boolean).length }));
}

main().catch((e: unknown) => {
  process.stderr.write(String((e as Error).stack ?? e));
  process.exit(1);
});
