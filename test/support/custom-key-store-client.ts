// What a client of custom key stores does through the AWS SDK: wait for a connection to
// settle by polling DescribeCustomKeyStores, and look at a call's failure.
import { DescribeCustomKeyStoresCommand, type CustomKeyStoresListEntry, type KMSClient } from '@aws-sdk/client-kms';

/** Polls as a client would, until the store leaves CONNECTING. */
export async function settled(kms: KMSClient, id: string, timeoutMs = 20_000): Promise<CustomKeyStoresListEntry> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const entry = (await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: id }))).CustomKeyStores![0]!;
    if (entry.ConnectionState !== 'CONNECTING') return entry;
    if (Date.now() > deadline) throw new Error(`still CONNECTING after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The exception name and message a call that must fail failed with. */
export async function rejection(promise: Promise<unknown>): Promise<{ name: string; message: string }> {
  const error = await promise.then(() => undefined, (e: unknown) => e as Error);
  if (!error) throw new Error('expected the call to fail');
  return { name: error.name, message: error.message };
}
