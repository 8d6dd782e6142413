// RotateKeyOnDemand: rotates now, whether or not automatic rotation is on, at most 10 times per
// key. The automatic schedule is unchanged. The rotation completes before the call returns.
import { keyIdField } from '../api/fields';
import { keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { rotateKey } from '../rotation/rotation';
import { s, schema } from '../api/schema';

export const rotateKeyOnDemand = defineOperation({
  name: 'RotateKeyOnDemand',
  input: schema({ KeyId: s.required(keyIdField()) }),
  async run(deps, ctx, input) {
    const resolved = await keyForOperation(deps, ctx, 'RotateKeyOnDemand', input.KeyId, { aliases: false });
    await rotateKey(deps, resolved, 'ON_DEMAND');
    return { KeyId: resolved.key.keyId };
  },
});
