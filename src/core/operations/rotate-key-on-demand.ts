// RotateKeyOnDemand: rotates now, whether or not automatic rotation is on, at most 10 times per
// key. The automatic schedule is unchanged. The rotation completes before the call returns.
import { keyIdField } from '../fields';
import { keyForOperation } from '../keys';
import { defineOperation } from '../operation';
import { rotateKey } from '../rotation';
import { s, schema } from '../schema';

export const rotateKeyOnDemand = defineOperation({
  name: 'RotateKeyOnDemand',
  input: schema({ KeyId: s.required(keyIdField()) }),
  async run(deps, ctx, input) {
    const resolved = await keyForOperation(deps, ctx, 'RotateKeyOnDemand', input.KeyId, { aliases: false });
    await rotateKey(deps, resolved, 'ON_DEMAND');
    return { KeyId: resolved.key.keyId };
  },
});
