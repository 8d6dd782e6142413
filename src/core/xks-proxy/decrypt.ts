// XKS Decrypt: AES-256-GCM in the token under an external key that may decrypt, with the same
// AAD construction as Encrypt. Any change to the ciphertext, IV, tag, AAD or ciphertext
// metadata fails as InvalidCiphertextException.
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { KmsError } from '../errors';
import { MAX_AAD_BYTES, MAX_CIPHERTEXT_METADATA_BYTES, xksGcmAad } from './aad';
import { authorizeXksCall } from './authorize';
import { MAX_PLAINTEXT_BYTES } from './encrypt';
import { externalKeyIdOf, findExternalKey, requireEnabled, requireUsage, tokenOf, withinDeadline, xksCallOf, xksDepsOf } from './keys';
import { cryptoRequestMetadata } from './request-metadata';

/** The IV this proxy's Encrypt makes. */
const IV_BYTES = 12;

export const xksDecrypt = defineOperation({
  name: 'Decrypt',
  input: schema({
    requestMetadata: s.required(cryptoRequestMetadata()),
    ciphertext: s.required(s.blob({ min: 1 })),
    ciphertextMetadata: s.blob({ max: MAX_CIPHERTEXT_METADATA_BYTES }),
    encryptionAlgorithm: s.required(s.enum(['AES_GCM'] as const)),
    additionalAuthenticatedData: s.blob(),
    initializationVector: s.required(s.blob({ min: 12, max: 16 })),
    authenticationTag: s.required(s.blob({ min: 16, max: 16 })),
  }),
  async run(deps, ctx, input) {
    const xks = xksCallOf(ctx);
    const proxy = xksDepsOf(deps);
    const externalKeyId = externalKeyIdOf(xks);
    const iv = input.initializationVector;
    // Precondition: an initialization vector must be 12 or 16 bytes.
    if (iv.length !== 12 && iv.length !== 16) throw new KmsError('ValidationException', 'The initialization vector must be 12 or 16 bytes.');
    // Precondition: ciphertext beyond what the proxy supports is UnsupportedOperationException.
    if (input.ciphertext.length > MAX_PLAINTEXT_BYTES) throw new KmsError('UnsupportedOperationException', `This proxy decrypts at most ${MAX_PLAINTEXT_BYTES} bytes of ciphertext.`);
    const aad = input.additionalAuthenticatedData;
    if (aad && aad.length > MAX_AAD_BYTES) throw new KmsError('UnsupportedOperationException', `This proxy takes at most ${MAX_AAD_BYTES} bytes of additional authenticated data.`);
    authorizeXksCall(deps.clock, xks, 'Decrypt', externalKeyId, input.requestMetadata);
    const key = await findExternalKey(deps, xks, externalKeyId);
    requireEnabled(key);
    requireUsage(key, 'DECRYPT');
    // Precondition: a 16-byte initialization vector is InvalidCiphertextException, as this proxy's Encrypt never makes one.
    if (iv.length !== IV_BYTES) throw new KmsError('InvalidCiphertextException', 'The ciphertext, initialization vector, additional authenticated data or authentication tag is invalid.', '16-byte IV');

    const sealed = { iv, ciphertext: input.ciphertext, tag: input.authenticationTag };
    const plaintext = await withinDeadline(proxy, 'decrypt', tokenOf(deps, key).decrypt(key.backing.objectId, xksGcmAad(aad, input.ciphertextMetadata), sealed));
    return { plaintext };
  },
});
