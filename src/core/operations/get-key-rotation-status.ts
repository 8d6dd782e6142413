// GetKeyRotationStatus: whether automatic rotation is on, its period and next date, and the
// start of an on-demand rotation while one is under way. Asymmetric and HMAC keys answer
// false; a key pending deletion answers false too, and CancelKeyDeletion brings the stored
// setting back.
import { keyIdField } from '../api/fields';
import { keyForOperation } from '../keys/resolve';
import { defineOperation } from '../api/operation';
import { isSymmetricEncryptionKey, originRefusal, rotationOf } from '../rotation/rotation';
import { s, schema } from '../api/schema';

export const getKeyRotationStatus = defineOperation({
  name: 'GetKeyRotationStatus',
  input: schema({ KeyId: s.required(keyIdField()) }),
  async run(deps, ctx, input) {
    const { key, arn } = await keyForOperation(deps, ctx, 'GetKeyRotationStatus', input.KeyId, { aliases: false });
    const refusal = originRefusal(key, arn);
    if (refusal) throw refusal;
    if (!isSymmetricEncryptionKey(key)) return { KeyId: key.keyId, KeyRotationEnabled: false };
    const rotation = rotationOf(key);
    const enabled = rotation.enabled && key.state !== 'PendingDeletion' && key.state !== 'PendingReplicaDeletion';
    const onDemandStart = rotation.inProgress
      .filter((e) => e.type === 'ON_DEMAND' && !e.abandoned)
      .map((e) => e.startedAt)
      .sort((a, b) => a.getTime() - b.getTime())[0];
    return {
      KeyId: key.keyId,
      KeyRotationEnabled: enabled,
      ...(enabled ? { RotationPeriodInDays: rotation.periodInDays, NextRotationDate: rotation.nextRotationDate } : {}),
      ...(onDemandStart ? { OnDemandRotationStartDate: onDemandStart } : {}),
    };
  },
});
