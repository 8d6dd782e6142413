// Child process of softhsm-token.test.ts: opens two tokens of one module under different
// SoftHSM configurations (the inherited one and a second one) and uses both.
import { randomBytes } from 'node:crypto';
import { SOFTHSM_MODULE } from '../../src/config';
import { openDefaultToken } from '../../src/pkcs11';

async function main(): Promise<void> {
  const [first, second] = JSON.parse(process.argv[2]!) as { label: string; pin: string; conf?: string }[];
  const open = (t: typeof first) => openDefaultToken({
    modulePath: SOFTHSM_MODULE, tokenLabel: t!.label, pin: t!.pin, poolSize: 2, acquireTimeoutMs: 5000,
    reconnectDelayMs: { initial: 10, max: 200 }, ...(t!.conf ? { moduleEnvironment: { SOFTHSM2_CONF: t!.conf } } : {}),
  });
  const tokens = [open(first), open(second)];
  const id = randomBytes(32).toString('hex');
  const roundTrips: string[] = [];
  for (const token of tokens) {
    await token.keyObjects.generateAesKey(id, 'kms:coexist');
    const sealed = await token.encrypt(id, Buffer.alloc(0), Buffer.from(token.connection.info.label));
    roundTrips.push((await token.decrypt(id, Buffer.alloc(0), sealed)).toString());
  }
  const destroyedInSecond = await tokens[1]!.keyObjects.destroyKey(id);
  const result = {
    labels: tokens.map((t) => t.connection.info.label),
    roundTrips,
    separateInstances: tokens[0]!.connection.lib !== tokens[1]!.connection.lib,
    destroyedInSecond,
    stillInFirst: await tokens[0]!.keyObjects.hasKey(id),
    stillInSecond: await tokens[1]!.keyObjects.hasKey(id),
    environmentRestored: process.env.SOFTHSM2_CONF !== second!.conf,
  };
  await tokens[0]!.keyObjects.destroyKey(id);
  for (const token of tokens) await token.close();
  process.stdout.write(JSON.stringify(result));
}

main().catch((e: unknown) => {
  process.stderr.write(String(e instanceof Error ? e.stack : e));
  process.exit(1);
});
