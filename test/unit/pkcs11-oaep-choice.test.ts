// The PKCS#11 adapter's choice between native OAEP in the token and the raw RSA primitive plus
// host-side decoding, made from the token's capability profile alone (core never sees it).
import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';
import { KmsError } from '../../src/core/errors';
import type { HashAlgorithm } from '../../src/core/key-stores/port';
import { TokenKeyPairs } from '../../src/pkcs11/key-pairs';
import type { TokenObjects } from '../../src/pkcs11/token-objects';

describe('RSA decryption follows the token\'s capability profile', () => {
  let pair: { publicKey: KeyObject; privateKey: KeyObject };
  beforeAll(() => { pair = generateKeyPairSync('rsa', { modulusLength: 2048 }); });

  /** The adapter over a token holding one RSA private key, with the OAEP hashes its profile lists as native. */
  function tokenWith(rsaOaepHashes: HashAlgorithm[]) {
    const calls: unknown[] = [];
    const keyPairs = new TokenKeyPairs({ profile: { rsaOaepHashes } } as unknown as TokenObjects);
    // The token's own decryption, replaced by node:crypto: what is under test is the choice around it.
    jest.spyOn(keyPairs, 'rsaDecrypt').mockImplementation(async (_objectId, padding, ciphertext) => {
      calls.push(padding);
      try {
        // The adapter checks length and range before the token sees a block, as here.
        if (padding === 'RAW') return privateDecrypt({ key: pair.privateKey, padding: constants.RSA_NO_PADDING }, ciphertext);
        return privateDecrypt({ key: pair.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: padding.oaep === 'SHA_1' ? 'sha1' : 'sha256' }, ciphertext);
      } catch {
        throw new KmsError('InvalidCiphertextException', '');
      }
    });
    return { keyPairs, calls };
  }

  const encrypt = (hash: string, plaintext: Buffer) => publicEncrypt({ key: pair.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, plaintext);

  it('a token that supports OAEP-SHA-256 decrypts natively; one that does not gets the raw primitive and host-side decoding', async () => {
    const plaintext = Buffer.from('capability profile');
    const native = tokenWith(['SHA_1', 'SHA_256']);
    expect(await native.keyPairs.rsaOaepDecrypt('v', 'SHA_256', encrypt('sha256', plaintext))).toEqual(plaintext);
    expect(await native.keyPairs.rsaOaepDecrypt('v', 'SHA_1', encrypt('sha1', plaintext))).toEqual(plaintext);
    expect(native.calls).toEqual([{ oaep: 'SHA_256' }, { oaep: 'SHA_1' }]);
    const softhsm = tokenWith(['SHA_1']);
    expect(await softhsm.keyPairs.rsaOaepDecrypt('v', 'SHA_256', encrypt('sha256', plaintext))).toEqual(plaintext);
    expect(await softhsm.keyPairs.rsaOaepDecrypt('v', 'SHA_1', encrypt('sha1', plaintext))).toEqual(plaintext);
    expect(softhsm.calls).toEqual(['RAW', { oaep: 'SHA_1' }]);
    const none = tokenWith([]);
    expect(await none.keyPairs.rsaOaepDecrypt('v', 'SHA_1', encrypt('sha1', plaintext))).toEqual(plaintext);
    expect(none.calls).toEqual(['RAW']);
  });

  it('answers one InvalidCiphertextException for a padding failure on either path', async () => {
    for (const hashes of [['SHA_1', 'SHA_256'], []] as HashAlgorithm[][]) {
      const { keyPairs } = tokenWith(hashes);
      const wrongHash = encrypt('sha1', Buffer.from('x'));
      await expect(keyPairs.rsaOaepDecrypt('v', 'SHA_256', wrongHash)).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
      const otherKey = publicEncrypt({ key: other, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from('x'));
      await expect(keyPairs.rsaOaepDecrypt('v', 'SHA_1', otherKey)).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
    }
  });
});
