// CreateKey: a new key whose material is generated inside the token: an AES key, an RSA, EC or
// Ed25519 key pair, or an HMAC key, every one sensitive and non-extractable.
import { authorize } from '../access/authorize';
import { callerScope } from '../api/context';
import { KmsError } from '../errors';
import { assertNoLockout, validateKeyPolicy } from '../access/key-policy';
import { tagsField } from '../api/fields';
import { emptyImportState } from '../import/import-state';
import { keyMetadata } from '../keys/key-metadata';
import { assertStoreMakesEd25519, assertTokenCanHold, isEdwardsSpec, usagesBySpec } from '../keys/key-specs';
import { discardDraft, generateDraftMaterial } from '../keys/new-material';
import { signingAlgorithmsListed } from '../crypto/signing';
import { newKeyId, newKeyMaterialId, newMultiRegionKeyId, PARTITION } from '../keys/key-id';
import { keyArn, keySpecs, keyUsages, origins, type KeyRecord } from '../model';
import { defaultKeyPolicy } from '../access/policy';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { multiRegionConfiguration } from '../multi-region/set';
import { validateTags } from '../keys/tags';
import { assertXksKeyUnused, checkCustomKeyStoreRequest, placeInCustomKeyStore, type Placement } from '../custom-key-stores/keys';

/** The order AWS lists KeySpec values in its enum message. */
const keySpecsAsListed = ['RSA_2048', 'ECC_NIST_P384', 'ECC_NIST_P256', 'ECC_NIST_P521', 'HMAC_384', 'RSA_3072', 'ECC_SECG_P256K1', 'RSA_4096', 'SYMMETRIC_DEFAULT', 'HMAC_256', 'HMAC_224', 'HMAC_512', 'SM2', 'ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87', 'ECC_NIST_EDWARDS25519', 'ML_KEM_512', 'ML_KEM_768', 'ML_KEM_1024'];


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
    XksKeyId: s.string({ min: 1, max: 128, pattern: /^[a-zA-Z0-9-_.]+$/ }),
  }),
  async run(deps, ctx, input) {
    const keySpec = input.KeySpec ?? input.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT';
    // CreateKey has no key resource yet: identity policies decide, on what is being asked for.
    await authorize(deps, ctx, {
      action: 'CreateKey',
      requestTags: input.Tags,
      conditions: {
        'kms:KeySpec': keySpec, 'kms:KeyUsage': input.KeyUsage ?? 'ENCRYPT_DECRYPT', 'kms:KeyOrigin': input.Origin ?? 'AWS_KMS',
        'kms:MultiRegion': input.MultiRegion ?? false, 'kms:BypassPolicyLockoutSafetyCheck': input.BypassPolicyLockoutSafetyCheck ?? false,
      },
    });
    if (input.KeySpec && input.CustomerMasterKeySpec) {
      throw new KmsError('ValidationException', 'You cannot specify both KeySpec and CustomerMasterKeySpec. CustomerMasterKeySpec is deprecated; use KeySpec.');
    }
    // Precondition: every key spec but SYMMETRIC_DEFAULT needs an explicit KeyUsage.
    if (keySpec !== 'SYMMETRIC_DEFAULT' && input.KeyUsage === undefined) {
      throw new KmsError('ValidationException', 'You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.');
    }
    const keyUsage = input.KeyUsage ?? 'ENCRYPT_DECRYPT';
    // Precondition: a key usage must be one the key spec allows.
    if (!usagesBySpec[keySpec].includes(keyUsage)) {
      throw new KmsError('ValidationException', `KeyUsage ${keyUsage} is not compatible with KeySpec ${keySpec}`);
    }
    // Precondition: a key spec no standard PKCS#11 token can hold is refused.
    assertTokenCanHold(keySpec, 'KeySpec');
    const origin = input.Origin ?? 'AWS_KMS';
    const inCustomKeyStore = origin === 'AWS_CLOUDHSM' || origin === 'EXTERNAL_KEY_STORE' || input.CustomKeyStoreId !== undefined || input.XksKeyId !== undefined;
    if (inCustomKeyStore) checkCustomKeyStoreRequest({ origin, keySpec, keyUsage, CustomKeyStoreId: input.CustomKeyStoreId, XksKeyId: input.XksKeyId, MultiRegion: input.MultiRegion });
    if (isEdwardsSpec(keySpec)) {
      // Precondition: Ed25519 key material is generated in the token, never imported.
      if (origin === 'EXTERNAL') {
        throw new KmsError('UnsupportedOperationException', `Origin EXTERNAL is not supported by this service for KeySpec ${keySpec}: importing Ed25519 key material is not implemented; create the key with Origin AWS_KMS.`);
      }
      assertStoreMakesEd25519(deps.keyStores.storeFor(), 'KeySpec');
    }
    const tags = validateTags(input.Tags ?? []);

    const now = deps.clock.now();
    const scope = callerScope(ctx);
    // A multi-Region key is created as the primary of its set; ReplicateKey adds the replicas.
    const multiRegion = input.MultiRegion ?? false;
    const keyId = multiRegion ? newMultiRegionKeyId() : newKeyId();
    const arn = keyArn(PARTITION, scope, keyId);
    if (input.Policy !== undefined) {
      validateKeyPolicy(input.Policy);
      assertNoLockout(input.Policy, ctx.principal, { arn, accountId: scope.accountId }, input.BypassPolicyLockoutSafetyCheck);
    }
    const versionId = newKeyMaterialId();
    // Where the new material goes: the default token, a custom key store's token, or (for an
    // external key store) our own inner-layer key in the default token beside the external key.
    const placement: Omit<Placement, 'customKeyStore'> & { customKeyStore?: Placement['customKeyStore'] } = inCustomKeyStore
      ? await placeInCustomKeyStore(deps, ctx, { customKeyStoreId: input.CustomKeyStoreId!, xksKeyId: input.XksKeyId, keyId, versionId, arn })
      : { material: deps.keyStores.storeFor(), backing: { kind: 'pkcs11' as const, tokenId: deps.keyStores.storeFor().id, objectId: versionId }, label: `kms:${keyId}` };
    const store = placement.material;
    const draft: KeyRecord = {
      ...scope,
      keyId,
      createdAt: now,
      updatedAt: now,
      description: input.Description ?? '',
      keySpec,
      keyUsage,
      origin: inCustomKeyStore ? origin : 'AWS_KMS',
      keyManager: 'CUSTOMER',
      multiRegion,
      ...(multiRegion ? { multiRegionKeyType: 'PRIMARY' as const } : {}),
      state: 'Enabled',
      ...(inCustomKeyStore ? { customKeyStoreId: input.CustomKeyStoreId } : {}),
      ...(input.XksKeyId !== undefined ? { xksKeyId: input.XksKeyId } : {}),
      versions: [{ id: versionId, backing: placement.backing, createdAt: now, status: 'PENDING' }],
      tags,
      policy: input.Policy ?? defaultKeyPolicy(scope.accountId),
      incomplete: true,
      revision: 0,
    };

    // Origin EXTERNAL: no material and no token object yet; the key waits in PendingImport.
    if (origin === 'EXTERNAL') {
      const external: KeyRecord = { ...draft, origin, state: 'PendingImport', versions: [], imported: emptyImportState(), incomplete: false };
      await deps.store.keys.insert(external);
      return { KeyMetadata: keyMetadata(external, multiRegion ? { multiRegionConfiguration: multiRegionConfiguration(external, []) } : {}) };
    }

    // Crash safety: the record is written first, marked incomplete, so a token object can
    // never exist without a record naming it.
    await deps.store.keys.insert(draft);
    if (draft.xksKeyId !== undefined) {
      // Inserted first, checked after: of two creations racing for one external key, neither can miss the other.
      try {
        await assertXksKeyUnused(deps, draft);
      } catch (e) {
        await discardDraft(deps, store, draft);
        throw e;
      }
    }
    const complete = await generateDraftMaterial(deps, store, draft, placement.label);
    return {
      KeyMetadata: keyMetadata(complete, {
        customKeyStore: placement.customKeyStore, signingAlgorithms: signingAlgorithmsListed(deps, complete),
        ...(multiRegion ? { multiRegionConfiguration: multiRegionConfiguration(complete, []) } : {}),
      }),
    };
  },
});
