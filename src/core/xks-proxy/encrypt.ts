// XKS Encrypt: AES-256-GCM in the token under an external key that may encrypt, with the
// spec's AAD (length-prefixed AAD ‖ length-prefixed ciphertext metadata; we add no metadata).
// With ciphertextDataIntegrityValueAlgorithm SHA_256 the CDIV is computed first (Appendix C),
// then the result is decrypted in the token and compared before it is returned, so a key that
// may only encrypt cannot answer with a CDIV.
import { timingSafeEqual } from 'node:crypto';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { KmsError, messages } from '../errors';
import { MAX_AAD_BYTES, xksGcmAad } from './aad';
import { authorizeXksCall } from './authorize';
import { ciphertextDataIntegrityValue } from './cdiv';
import { externalKeyIdOf, findExternalKey, requireEnabled, requireUsage, tokenOf, withinDeadline, xksCallOf, xksDepsOf } from './keys';
import { cryptoRequestMetadata } from './request-metadata';

/** The spec asks for 4300 bytes; the proxy takes more, up to this. */
export const MAX_PLAINTEXT_BYTES = 65536;

export const xksEncrypt = defineOperation({
  name: 'Encrypt',
  input: schema({
    requestMetadata: s.required(cryptoRequestMetadata()),
    plaintext: s.required(s.blob({ min: 1 })),
    encryptionAlgorithm: s.required(s.enum(['AES_GCM'] as const)),
    additionalAuthenticatedData: s.blob(),
    ciphertextDataIntegrityValueAlgorithm: s.enum(['SHA_256'] as const),
  }),
  async run(deps, ctx, input) {
    const xks = xksCallOf(ctx);
    const proxy = xksDepsOf(deps);
    const externalKeyId = externalKeyIdOf(xks);
    const aad = input.additionalAuthenticatedData;
    // Precondition: plaintext beyond what the proxy supports is UnsupportedOperationException.
    if (input.plaintext.length > MAX_PLAINTEXT_BYTES) throw new KmsError('UnsupportedOperationException', `This proxy encrypts at most ${MAX_PLAINTEXT_BYTES} bytes of plaintext.`);
    // Precondition: additional authenticated data beyond what its 2-byte length prefix states is UnsupportedOperationException.
    if (aad && aad.length > MAX_AAD_BYTES) throw new KmsError('UnsupportedOperationException', `This proxy takes at most ${MAX_AAD_BYTES} bytes of additional authenticated data.`);
    authorizeXksCall(deps.clock, xks, 'Encrypt', externalKeyId, input.requestMetadata);
    const key = await findExternalKey(deps, xks, externalKeyId);
    requireEnabled(key);
    requireUsage(key, 'ENCRYPT');
    const withCdiv = input.ciphertextDataIntegrityValueAlgorithm !== undefined;
    if (withCdiv) requireUsage(key, 'DECRYPT');

    const token = tokenOf(deps, key);
    const gcmAad = xksGcmAad(aad);
    const sealed = await withinDeadline(proxy, 'encrypt', token.encrypt(key.backing.objectId, gcmAad, input.plaintext));
    const output = { ciphertext: sealed.ciphertext, initializationVector: sealed.iv, authenticationTag: sealed.tag };
    if (!withCdiv) return output;

    // Appendix C: the CDIV over what is returned, before that is used for anything.
    const cdiv = ciphertextDataIntegrityValue(aad, undefined, sealed);
    const opened = await withinDeadline(proxy, 'decrypt for the CDIV', token.decrypt(key.backing.objectId, gcmAad, sealed));
    // Precondition: a CDIV is returned only for a result that decrypts to the plaintext.
    if (opened.length !== input.plaintext.length || !timingSafeEqual(opened, input.plaintext)) {
      throw new KmsError('KMSInternalException', messages.internal, 'the encryption result did not decrypt to the plaintext');
    }
    return { ...output, ciphertextDataIntegrityValue: cdiv };
  },
});
