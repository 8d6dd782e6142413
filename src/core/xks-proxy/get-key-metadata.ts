// XKS GetKeyMetadata: the external key's spec (always AES_256), its usage and its status.
// A disabled key answers too, with DISABLED: AWS KMS reads the status from here.
import { defineOperation } from '../api/operation';
import { schema, s } from '../api/schema';
import { authorizeXksCall } from './authorize';
import { externalKeyIdOf, findExternalKey, xksCallOf } from './keys';
import { keyRequestMetadata } from './request-metadata';

export const xksGetKeyMetadata = defineOperation({
  name: 'GetKeyMetadata',
  input: schema({ requestMetadata: s.required(keyRequestMetadata()) }),
  async run(deps, ctx, input) {
    const xks = xksCallOf(ctx);
    const externalKeyId = externalKeyIdOf(xks);
    authorizeXksCall(deps.clock, xks, 'GetKeyMetadata', externalKeyId, input.requestMetadata);
    const key = await findExternalKey(deps, xks, externalKeyId);
    return { keySpec: 'AES_256' as const, keyUsage: [...key.usage], keyStatus: key.status };
  },
});
