// CancelKeyDeletion: stops a scheduled deletion; the key comes back Disabled, as in AWS, or
// PendingImport if it is an EXTERNAL key without key material.
import { keyIdField } from '../api/fields';
import { assertStateAllows } from '../keys/key-state';
import { changeKey, keyForOperation } from '../keys/resolve';
import { currentVersion } from '../model';
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';

export const cancelKeyDeletion = defineOperation({
  name: 'CancelKeyDeletion',
  input: schema({ KeyId: s.required(keyIdField()) }),
  async run(deps, ctx, input) {
    const resolved = await keyForOperation(deps, ctx, 'CancelKeyDeletion', input.KeyId, { aliases: false });
    await changeKey(deps, resolved, (key, arn) => {
      assertStateAllows('CancelKeyDeletion', key.state, arn);
      const awaitingMaterial = key.origin === 'EXTERNAL' && currentVersion(key) === undefined;
      return { ...key, state: awaitingMaterial ? 'PendingImport' : 'Disabled', deletionDate: undefined, pendingWindowInDays: undefined };
    });
    return { KeyId: resolved.arn };
  },
});
