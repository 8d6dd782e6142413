// UpdatePrimaryRegion: the replica in PrimaryRegion becomes the primary of its multi-Region set
// and the current primary a replica; both pass through Updating (see multi-region/update-primary.ts).
// AWS requires kms:UpdatePrimaryRegion on both keys.
import { keyIdField } from '../api/fields';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { KmsError } from '../errors';
import { assertStateAllows } from '../keys/key-state';
import { arnOf, authorizeKeyAction, keyForOperation } from '../keys/resolve';
import { assertPrimary, replicaIn, updatePrimaryRegion } from '../multi-region/update-primary';

export const updatePrimaryRegionOperation = defineOperation({
  name: 'UpdatePrimaryRegion',
  input: schema({
    KeyId: s.required(keyIdField()),
    PrimaryRegion: s.required(s.string({ min: 1, max: 32, pattern: /^([a-z]+-){2,3}\d+$/ })),
  }),
  async run(deps, ctx, input) {
    const resolved = await keyForOperation(deps, ctx, 'UpdatePrimaryRegion', input.KeyId, {
      aliases: false,
      authorization: { conditions: { 'kms:PrimaryRegion': input.PrimaryRegion } },
    });
    assertPrimary(resolved.key, resolved.arn);
    // Precondition: the new primary region is another region than the current primary's.
    if (input.PrimaryRegion === resolved.key.region) {
      throw new KmsError('ValidationException', `${resolved.arn} is already the primary key in ${input.PrimaryRegion}. Specify the region of one of its replica keys.`);
    }
    const replica = await replicaIn(deps, resolved.key, input.PrimaryRegion);
    const replicaArn = arnOf(replica);
    await authorizeKeyAction(deps, { ...ctx, region: replica.region }, { key: replica, arn: replicaArn, state: replica.state }, 'UpdatePrimaryRegion', {
      conditions: { 'kms:PrimaryRegion': input.PrimaryRegion },
    });
    assertStateAllows('UpdatePrimaryRegion', replica.state, replicaArn);
    await updatePrimaryRegion(deps, resolved, replica);
    return {};
  },
});
