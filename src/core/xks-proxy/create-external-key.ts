// CreateExternalKey (admin command): an AES-256 key generated in the token, sensitive and
// non-extractable, with CKA_ENCRYPT and CKA_DECRYPT set from its usage, then its metadata.
import { defineOperation } from '../api/operation';
import { s, schema } from '../api/schema';
import { DuplicateRecordError, KmsError } from '../errors';
import { DEFAULT_KEY_STORE_ID, requireCapability } from '../key-stores/registry';
import { checkKeyStorePrefix, externalKeyIdField, keyStorePrefixField } from './admin-fields';
import { canonicalUsage, externalKeyStatuses, externalKeyUsages, externalKeyView, type ExternalKeyRecord } from './external-key';

const alreadyExists = (prefix: string, id: string) => new KmsError('AlreadyExistsException', `Key store '${prefix}' already has an external key ${id}.`);

export const createExternalKey = defineOperation({
  name: 'CreateExternalKey',
  input: schema({
    keyStorePrefix: s.required(keyStorePrefixField()),
    externalKeyId: s.required(externalKeyIdField()),
    usage: s.required(s.list(s.enum(externalKeyUsages), { max: 2 })),
    /** The token (key store id) to make the key in; the default token unless set. */
    tokenId: s.string({ min: 1, max: 64 }),
    status: s.enum(externalKeyStatuses),
  }),
  async run(deps, _ctx, input) {
    const { keyStorePrefix, externalKeyId } = input;
    checkKeyStorePrefix(keyStorePrefix);
    if (await deps.store.externalKeys.get(keyStorePrefix, externalKeyId)) throw alreadyExists(keyStorePrefix, externalKeyId);
    const tokenId = input.tokenId ?? DEFAULT_KEY_STORE_ID;
    const store = deps.keyStores.get(tokenId);
    if (!store) throw new KmsError('NotFoundException', `No token '${tokenId}' is connected.`);
    const token = requireCapability(store, 'externalKeys');
    const usage = canonicalUsage(input.usage);
    const objectId = await token.generateExternalKey(`xks:${keyStorePrefix}:${externalKeyId}`, { encrypt: usage.includes('ENCRYPT'), decrypt: usage.includes('DECRYPT') });
    const now = deps.clock.now();
    const record: ExternalKeyRecord = {
      keyStorePrefix, externalKeyId, usage, status: input.status ?? 'ENABLED', backing: { tokenId, objectId }, createdAt: now, updatedAt: now, revision: 0,
    };
    try {
      await deps.store.externalKeys.insert(record);
    } catch (e) {
      // No metadata names the new object: it goes.
      await token.destroyExternalKey(objectId).catch(() => undefined);
      throw e instanceof DuplicateRecordError ? alreadyExists(keyStorePrefix, externalKeyId) : e;
    }
    return externalKeyView(record);
  },
});
