// CreateKey: a new key whose material is generated inside the token.
import { authorize } from '../authorize';
import { callerScope } from '../context';
import { KmsError } from '../errors';
import { tagsField } from '../fields';
import { keyMetadata } from '../key-metadata';
import { newKeyId, newKeyMaterialId } from '../key-id';
import { keySpecs, keyUsages, origins, type KeyRecord } from '../model';
import { defineOperation } from '../operation';
import { s, schema } from '../schema';
import { validateTags } from '../tags';

/** The order AWS lists KeySpec values in its enum message. */
const keySpecsAsListed = ['RSA_2048', 'ECC_NIST_P384', 'ECC_NIST_P256', 'ECC_NIST_P521', 'HMAC_384', 'RSA_3072', 'ECC_SECG_P256K1', 'RSA_4096', 'SYMMETRIC_DEFAULT', 'HMAC_256', 'HMAC_224', 'HMAC_512', 'SM2', 'ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87', 'ECC_NIST_EDWARDS25519'];

export function defaultKeyPolicy(accountId: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: 'kms:*', Resource: '*' }],
  }, null, 2);
}

export const createKey = defineOperation({
  name: 'CreateKey',
  input: schema({
    Policy: s.string({ min: 1, max: 32768 }),
    Description: s.string({ min: 0, max: 8192 }),
    KeyUsage: s.enum(keyUsages),
    CustomerMasterKeySpec: s.enum(keySpecs, keySpecsAsListed),
    KeySpec: s.enum(keySpecs, keySpecsAsListed),
    Origin: s.enum(origins),
    CustomKeyStoreId: s.string({ min: 1, max: 64 }),
    BypassPolicyLockoutSafetyCheck: s.boolean(),
    Tags: tagsField(),
    MultiRegion: s.boolean(),
    XksKeyId: s.string({ min: 1, max: 128 }),
  }),
  async run(deps, ctx, input) {
    authorize(ctx.principal, 'CreateKey', '*');
    const keySpec = input.KeySpec ?? input.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT';
    const keyUsage = input.KeyUsage ?? 'ENCRYPT_DECRYPT';
    if (input.KeySpec && input.CustomerMasterKeySpec) {
      throw new KmsError('ValidationException', 'You cannot specify both KeySpec and CustomerMasterKeySpec. CustomerMasterKeySpec is deprecated; use KeySpec.');
    }
    if (keySpec === 'SYMMETRIC_DEFAULT' && keyUsage !== 'ENCRYPT_DECRYPT') {
      throw new KmsError('ValidationException', `KeyUsage ${keyUsage} is not compatible with KeySpec ${keySpec}`);
    }
    if (keySpec !== 'SYMMETRIC_DEFAULT') throw new KmsError('UnsupportedOperationException', `KeySpec ${keySpec} is not supported by this service yet.`);
    if ((input.Origin ?? 'AWS_KMS') !== 'AWS_KMS') throw new KmsError('UnsupportedOperationException', `Origin ${input.Origin} is not supported by this service yet.`);
    if (input.CustomKeyStoreId !== undefined || input.XksKeyId !== undefined) throw new KmsError('UnsupportedOperationException', 'Custom key stores are not supported by this service yet.');
    if (input.MultiRegion) throw new KmsError('UnsupportedOperationException', 'Multi-Region keys are not supported by this service yet.');
    const tags = validateTags(input.Tags ?? []);

    const now = deps.clock.now();
    const scope = callerScope(ctx);
    const token = deps.tokens.defaultToken;
    const versionId = newKeyMaterialId();
    const draft: KeyRecord = {
      ...scope,
      keyId: newKeyId(),
      createdAt: now,
      updatedAt: now,
      description: input.Description ?? '',
      keySpec,
      keyUsage,
      origin: 'AWS_KMS',
      keyManager: 'CUSTOMER',
      multiRegion: false,
      state: 'Enabled',
      versions: [{ id: versionId, backing: { kind: 'pkcs11', tokenId: token.id, objectId: versionId }, createdAt: now, status: 'PENDING' }],
      tags,
      policy: input.Policy ?? defaultKeyPolicy(scope.accountId),
      incomplete: true,
      revision: 0,
    };

    // Crash safety: the record is written first, marked incomplete, so a token object can
    // never exist without a record naming it; recovery removes incomplete leftovers.
    await deps.store.insertKey(draft);
    try {
      await token.generateAesKey(versionId, `kms:${draft.keyId}`);
    } catch (e) {
      await deps.store.deleteKey(scope, draft.keyId).catch(() => undefined);
      throw e;
    }
    try {
      const complete = await deps.store.replaceKey({
        ...draft,
        incomplete: false,
        currentVersionId: versionId,
        versions: draft.versions.map((v) => ({ ...v, status: 'ACTIVE' as const })),
      });
      return { KeyMetadata: keyMetadata(complete) };
    } catch (e) {
      await token.destroyKey(versionId).catch(() => undefined);
      await deps.store.deleteKey(scope, draft.keyId).catch(() => undefined);
      throw e;
    }
  },
});
