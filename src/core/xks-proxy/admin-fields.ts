// What the operator's external key operations (the admin command) share: the fields naming a
// key, their checks, and the status change that enable and disable both are.
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import type { CoreDeps } from '../deps';
import { KmsError, RevisionConflictError } from '../errors';
import { EXTERNAL_KEY_ID_PATTERN, externalKeyView, isKeyStorePrefix, type ExternalKeyRecord, type ExternalKeyStatus } from './external-key';

export const keyStorePrefixField = () => s.string({ max: 117 });
export const externalKeyIdField = () => s.string({ min: 1, max: 128, pattern: EXTERNAL_KEY_ID_PATTERN });

export function checkKeyStorePrefix(prefix: string): void {
  // Precondition: a key store prefix is empty or 9 to 117 characters of '/'-separated segments of letters, digits, '-' and '_'.
  if (!isKeyStorePrefix(prefix)) {
    throw new KmsError('ValidationException', `Key store prefix '${prefix}' is invalid: use '' or 9 to 117 characters such as /keystores/alpha (segments of A-Z, a-z, 0-9, '-' and '_').`);
  }
}

export async function existingExternalKey(deps: CoreDeps, keyStorePrefix: string, externalKeyId: string): Promise<ExternalKeyRecord> {
  const key = await deps.store.externalKeys.get(keyStorePrefix, externalKeyId);
  if (!key) throw new KmsError('NotFoundException', `External key ${externalKeyId} is not found in key store '${keyStorePrefix}'.`);
  return key;
}

/** EnableExternalKey and DisableExternalKey: set the status, retried on a concurrent change. */
export function statusChangeOperation(name: string, status: ExternalKeyStatus) {
  return defineOperation({
    name,
    input: schema({ keyStorePrefix: s.required(keyStorePrefixField()), externalKeyId: s.required(externalKeyIdField()) }),
    async run(deps, _ctx, input) {
      for (let attempt = 1; ; attempt++) {
        const key = await existingExternalKey(deps, input.keyStorePrefix, input.externalKeyId);
        if (key.status === status) return externalKeyView(key);
        try {
          return externalKeyView(await deps.store.externalKeys.replace({ ...key, status, updatedAt: deps.clock.now() }));
        } catch (e) {
          if (!(e instanceof RevisionConflictError) || attempt >= 5) throw e;
        }
      }
    },
  });
}
