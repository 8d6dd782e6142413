// ReplicateKey: a replica of a multi-Region primary key in another region, with the same key id
// and the same key material, its own description, policy and tags. Material the service made
// is shared: every region here uses the default token, so the replica names the primary's token
// objects (nothing leaves the token). Imported material is not copied: the replica waits in
// PendingImport for the same material to be imported into it.
//
// Crash safety: the replica is inserted incomplete (Creating, invisible to every API), then the
// primary is fenced (a compare-and-set that checks it may still be replicated, so a concurrent
// ScheduleKeyDeletion sees the replica or this call sees the deletion), then the replica is
// completed with the primary's shared properties as fenced. A crash before completion leaves an
// incomplete record that recovery removes without destroying the objects the primary names.
import { authorize } from '../access/authorize';
import { assertNoLockout, validateKeyPolicy } from '../access/key-policy';
import { defaultKeyPolicy } from '../access/policy';
import { keyIdField, tagsField } from '../api/fields';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { DuplicateRecordError, KmsError } from '../errors';
import { emptyImportState } from '../import/import-state';
import { PARTITION } from '../keys/key-id';
import { keyMetadata } from '../keys/key-metadata';
import { assertStateAllows } from '../keys/key-state';
import { changeKey, keyForOperation } from '../keys/resolve';
import { validateTags } from '../keys/tags';
import { keyArn, type KeyRecord, type KeyScope } from '../model';
import { signingAlgorithmsListed } from '../crypto/signing';
import { memberEvent, multiRegionConfiguration, otherMembers, withSharedProperties } from '../multi-region/set';

/** AWS's RegionName pattern: two or three lowercase words and a number (us-east-1, us-gov-west-1). */
const regionPattern = /^([a-z]+-){2,3}\d+$/;

// Precondition: only a multi-Region primary key is replicated.
function assertReplicablePrimary(key: KeyRecord, arn: string): void {
  if (!key.multiRegion) throw new KmsError('UnsupportedOperationException', `${arn} is not a multi-Region key. Only multi-Region primary keys can be replicated.`);
  if (key.multiRegionKeyType !== 'PRIMARY') throw new KmsError('UnsupportedOperationException', `${arn} is a multi-Region replica key. Only multi-Region primary keys can be replicated.`);
}

export const replicateKey = defineOperation({
  name: 'ReplicateKey',
  input: schema({
    KeyId: s.required(keyIdField()),
    ReplicaRegion: s.required(s.string({ min: 1, max: 32, pattern: regionPattern })),
    Policy: s.string({ min: 1, max: 32768 }),
    BypassPolicyLockoutSafetyCheck: s.boolean(),
    Description: s.string({ min: 0, max: 8192 }),
    Tags: tagsField(),
  }),
  async run(deps, ctx, input) {
    const resolved = await keyForOperation(deps, ctx, 'ReplicateKey', input.KeyId, {
      aliases: false,
      authorization: { conditions: { 'kms:ReplicaRegion': input.ReplicaRegion } },
    });
    const primary = resolved.key;
    assertReplicablePrimary(primary, resolved.arn);
    const replicaScope: KeyScope = { accountId: primary.accountId, region: input.ReplicaRegion };
    const replicaArn = keyArn(PARTITION, replicaScope, primary.keyId);
    // AWS also asks for kms:CreateKey in the replica region (identity policies, as for CreateKey).
    await authorize(deps, { ...ctx, region: input.ReplicaRegion }, {
      action: 'CreateKey',
      requestTags: input.Tags,
      conditions: {
        'kms:KeySpec': primary.keySpec, 'kms:KeyUsage': primary.keyUsage, 'kms:KeyOrigin': primary.origin,
        'kms:MultiRegion': true, 'kms:MultiRegionKeyType': 'REPLICA', 'kms:BypassPolicyLockoutSafetyCheck': input.BypassPolicyLockoutSafetyCheck ?? false,
      },
    });
    // Precondition: a replica is made in another region than its primary's.
    if (input.ReplicaRegion === primary.region) {
      throw new KmsError('ValidationException', `The replica region ${input.ReplicaRegion} is the region of the primary key ${resolved.arn}. Specify another region.`);
    }
    // Precondition: material moves between members only within one token.
    const defaultToken = deps.keyStores.storeFor().id;
    if (primary.versions.some((v) => v.backing.kind !== 'pkcs11' || v.backing.tokenId !== defaultToken)) {
      throw new KmsError('UnsupportedOperationException', `${resolved.arn} cannot be replicated to ${input.ReplicaRegion}: its key material is not in the token that region uses, and this service does not move key material between tokens.`);
    }
    const existing = await deps.store.keys.get(replicaScope, primary.keyId);
    // Precondition: a set has at most one member per region.
    if (existing) throw new KmsError('AlreadyExistsException', `Key ${replicaArn} already exists.`);
    const tags = validateTags(input.Tags ?? []);
    if (input.Policy !== undefined) {
      validateKeyPolicy(input.Policy);
      assertNoLockout(input.Policy, ctx.principal, { arn: replicaArn, accountId: replicaScope.accountId }, input.BypassPolicyLockoutSafetyCheck);
    }

    const now = deps.clock.now();
    const policy = input.Policy ?? defaultKeyPolicy(replicaScope.accountId);
    const draft = withSharedProperties(primary, {
      ...replicaScope,
      keyId: primary.keyId,
      createdAt: now,
      updatedAt: now,
      description: input.Description ?? '',
      keySpec: primary.keySpec,
      keyUsage: primary.keyUsage,
      origin: primary.origin,
      keyManager: 'CUSTOMER',
      multiRegion: true,
      multiRegionKeyType: 'REPLICA',
      state: 'Creating',
      versions: [],
      tags,
      policy,
      // Imported material is imported into each member; the first import fixed what it must be.
      ...(primary.origin === 'EXTERNAL' ? {
        imported: {
          ...emptyImportState(),
          ...(primary.imported?.keyMaterialId ? { keyMaterialId: primary.imported.keyMaterialId } : {}),
          ...(primary.imported?.checkValue ? { checkValue: primary.imported.checkValue } : {}),
        },
      } : {}),
      incomplete: true,
      revision: 0,
    });
    try {
      await deps.store.keys.insert(draft);
    } catch (e) {
      if (e instanceof DuplicateRecordError) throw new KmsError('AlreadyExistsException', `Key ${replicaArn} already exists.`);
      throw e;
    }
    let complete: KeyRecord;
    try {
      // The fence: the primary may still be replicated, checked by a write it must win.
      const fenced = await changeKey(deps, resolved, (key, arn) => {
        assertStateAllows('ReplicateKey', key.state, arn);
        assertReplicablePrimary(key, arn);
        return key;
      });
      const inserted = await deps.store.keys.get(replicaScope, primary.keyId);
      if (!inserted) throw new KmsError('KMSInternalException', 'The replica key was removed while it was being created.');
      complete = await deps.store.keys.replace({
        ...withSharedProperties(fenced, inserted),
        incomplete: false,
        state: primary.origin === 'EXTERNAL' ? 'PendingImport' : 'Enabled',
        updatedAt: deps.clock.now(),
      });
    } catch (e) {
      // The completing write may have landed all the same (its reply was lost): then the replica
      // is whole, maybe already in use, and stays. An incomplete one is removed; nothing of the
      // token to destroy: the objects are the primary's. If the store cannot even be read,
      // recovery removes an incomplete record later (a complete one is whole).
      const now = await deps.store.keys.get(replicaScope, primary.keyId).catch(() => null);
      if (now && !now.incomplete) {
        complete = now;
      } else {
        if (now) await deps.store.keys.delete(replicaScope, primary.keyId).catch(() => undefined);
        throw e;
      }
    }
    await memberEvent(deps, 'CreateKey', complete);
    // AWS answers with the replica as it was created: Creating, not yet enabled.
    const created: KeyRecord = { ...complete, state: 'Creating', currentVersionId: undefined };
    const others = await otherMembers(deps, complete, { withCreating: true });
    return {
      ReplicaKeyMetadata: keyMetadata(created, { signingAlgorithms: signingAlgorithmsListed(deps, complete), multiRegionConfiguration: multiRegionConfiguration(complete, others) }),
      ReplicaPolicy: policy,
      ReplicaTags: tags,
    };
  },
});
