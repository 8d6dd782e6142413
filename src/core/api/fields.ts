// Field descriptions shared by several operations, with AWS's limits.
import { dataKeyPairSpecs, dataKeySpecs, encryptionAlgorithms, keyAgreementAlgorithms, macAlgorithms, messageTypes, signingAlgorithms } from '../model';
import { s } from './schema';

export const keyIdField = () => s.string({ min: 1, max: 2048 });
export const encryptionContextField = () => s.stringMap();
/** Grant tokens are bearer credentials: secret. */
export const grantTokensField = () => s.secret(s.list(s.string({ min: 1, max: 8192 }), { min: 0, max: 10 }));
export const dryRunField = () => s.boolean();
export const encryptionAlgorithmField = () => s.enum(encryptionAlgorithms);
export const dataKeySpecField = () => s.enum(dataKeySpecs);
export const numberOfBytesField = () => s.integer({ min: 1, max: 1024 });
export const limitField = () => s.integer({ min: 1, max: 1000 });
export const markerField = () => s.string({ min: 1, max: 1024, pattern: /^[\u0020-\u00FF]*$/ });
/** AliasNameType in the AWS model: the pattern admits ':', which the alias operations then refuse. */
export const aliasNameField = () => s.string({ min: 1, max: 256, pattern: /^[a-zA-Z0-9:/_-]+$/ });
export const tagsField = () =>
  s.list(s.structure({ TagKey: s.required(s.string({ min: 1, max: 128 })), TagValue: s.required(s.string({ min: 0, max: 256 })) }));
export const signingAlgorithmField = () => s.enum(signingAlgorithms);
export const messageTypeField = () => s.enum(messageTypes);
/** In AWS's message order (recorded), which is not the declaration order. */
export const macAlgorithmField = () => s.enum(macAlgorithms, ['HMAC_SHA_384', 'HMAC_SHA_256', 'HMAC_SHA_224', 'HMAC_SHA_512']);
export const keyAgreementAlgorithmField = () => s.enum(keyAgreementAlgorithms);
export const dataKeyPairSpecField = () => s.enum(dataKeyPairSpecs);
/** Sign, Verify, GenerateMac and VerifyMac messages: 1 to 4096 bytes. */
export const messageField = () => s.blob({ min: 1, max: 4096 });
/** Signatures and MACs: 1 to 6144 bytes. */
export const signatureField = () => s.blob({ min: 1, max: 6144 });
/** A DER SubjectPublicKeyInfo: 1 to 8192 bytes. */
export const publicKeyField = () => s.blob({ min: 1, max: 8192 });
