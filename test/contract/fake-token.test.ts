// The KeyToken contract on the node:crypto FakeToken, so core unit tests run against a fake
// that behaves like the real adapter.
import { FakeToken } from '../support/fake-token';
import { describeKeyTokenContract } from './key-token.contract';

describeKeyTokenContract('FakeToken on node:crypto', async () => {
  const token = new FakeToken();
  return { token, nativeOaepHashes: token.nativeOaepHashes, close: async () => undefined };
});
