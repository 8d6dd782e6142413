// The key-state table (KMS-SPEC §3): which operations a key's state allows, and the exact
// error AWS gives otherwise. One table; each new operation adds its row.
import { KmsError, messages } from '../errors';
import type { KeyState } from '../model';

type Failure = 'disabled' | 'pendingDeletion' | 'pendingImport' | 'unavailable' | 'creating' | 'updating' | 'notPendingDeletion' | 'externalOrigin';

const failures: Record<Failure, (arn: string) => KmsError> = {
  disabled: (arn) => new KmsError('DisabledException', messages.disabled(arn)),
  pendingDeletion: (arn) => new KmsError('KMSInvalidStateException', messages.pendingDeletion(arn)),
  pendingImport: (arn) => new KmsError('KMSInvalidStateException', messages.pendingImport(arn)),
  unavailable: (arn) => new KmsError('KMSInvalidStateException', messages.unavailable(arn)),
  creating: (arn) => new KmsError('KMSInvalidStateException', `${arn} is creating.`),
  updating: (arn) => new KmsError('KMSInvalidStateException', `${arn} is updating.`),
  notPendingDeletion: (arn) => new KmsError('KMSInvalidStateException', `${arn} is not pending deletion.`),
  /** Footnote 6: only keys with imported material (origin EXTERNAL) are PendingImport. */
  externalOrigin: (arn) => new KmsError('UnsupportedOperationException', `${arn} origin is EXTERNAL which is not valid for this operation.`),
};

/** States absent from a row are allowed. */
type Row = Partial<Record<KeyState, Failure>>;

const cryptographic: Row = {
  Disabled: 'disabled',
  PendingDeletion: 'pendingDeletion',
  PendingReplicaDeletion: 'pendingDeletion',
  PendingImport: 'pendingImport',
  Unavailable: 'unavailable',
  Creating: 'creating',
};

const anyState: Row = {};

/** Management that only a key pending deletion refuses. */
const notWhilePendingDeletion: Row = {
  PendingDeletion: 'pendingDeletion',
  PendingReplicaDeletion: 'pendingDeletion',
};

const enableOrDisable: Row = {
  PendingDeletion: 'pendingDeletion',
  PendingReplicaDeletion: 'pendingDeletion',
  PendingImport: 'pendingImport',
  Creating: 'creating',
  Updating: 'updating',
};

const onlyWhilePendingDeletion: Row = {
  Enabled: 'notPendingDeletion',
  Disabled: 'notPendingDeletion',
  PendingImport: 'notPendingDeletion',
  Unavailable: 'notPendingDeletion',
  Creating: 'notPendingDeletion',
  Updating: 'notPendingDeletion',
};

/** EnableKeyRotation and DisableKeyRotation: KMS-SPEC §3 (footnotes 1, 3, 6, 14). */
const rotationSettings: Row = {
  Disabled: 'disabled',
  PendingDeletion: 'pendingDeletion',
  PendingReplicaDeletion: 'pendingDeletion',
  PendingImport: 'externalOrigin',
  Creating: 'creating',
};

/** GetKeyRotationStatus (KMS-SPEC §3, footnote 6); ListKeyRotations reads the same state. */
const rotationStatus: Row = { PendingImport: 'externalOrigin' };

/**
 * GetParametersForImport and ImportKeyMaterial on a key of origin EXTERNAL (KMS-SPEC §3: ?9 where
 * the key can have imported material, ✗8 pending deletion, ✗14, ✗15 except ImportKeyMaterial
 * while Updating). Only custom-key-store keys are Unavailable, and they cannot be EXTERNAL; an
 * EXTERNAL key forced there is refused like a cryptographic operation. Keys of other origins are
 * refused by origin first (footnote 9), whatever their state.
 */
const importing: Row = {
  PendingDeletion: 'pendingDeletion',
  PendingReplicaDeletion: 'pendingDeletion',
  Unavailable: 'unavailable',
  Creating: 'creating',
  Updating: 'updating',
};

export const keyStateTable = {
  Encrypt: cryptographic,
  Decrypt: cryptographic,
  ReEncrypt: cryptographic,
  GenerateDataKey: cryptographic,
  GenerateDataKeyWithoutPlaintext: cryptographic,
  GenerateDataKeyPair: cryptographic,
  GenerateDataKeyPairWithoutPlaintext: cryptographic,
  /** The seed table marks PendingImport N/A here (written before asymmetric and HMAC import); treated like Decrypt. */
  Sign: cryptographic,
  Verify: cryptographic,
  GetPublicKey: cryptographic,
  GenerateMac: cryptographic,
  VerifyMac: cryptographic,
  DeriveSharedSecret: cryptographic,
  DescribeKey: anyState,
  EnableKey: enableOrDisable,
  DisableKey: enableOrDisable,
  UpdateKeyDescription: notWhilePendingDeletion,
  ScheduleKeyDeletion: { ...notWhilePendingDeletion, Updating: 'updating' },
  CancelKeyDeletion: onlyWhilePendingDeletion,
  CreateAlias: notWhilePendingDeletion,
  /** Checked on the key the alias is moved to; the key it leaves may be in any state. */
  UpdateAlias: notWhilePendingDeletion,
  DeleteAlias: anyState,
  TagResource: notWhilePendingDeletion,
  UntagResource: notWhilePendingDeletion,
  ListResourceTags: anyState,
  GetKeyPolicy: anyState,
  PutKeyPolicy: anyState,
  ListKeyPolicies: anyState,
  /** Not in the seed table; the API reference lists no KMSInvalidStateException for it: every state answers. */
  GetKeyLastUsage: anyState,
  /** Not in the seed table: cryptographic operations (and refused after the state check: see encapsulate.ts). */
  Encapsulate: cryptographic,
  Decapsulate: cryptographic,
  /** KMS-SPEC §3: cryptographic-like, except that an Unavailable key still takes grants. */
  CreateGrant: {
    Disabled: 'disabled',
    PendingDeletion: 'pendingDeletion',
    PendingReplicaDeletion: 'pendingDeletion',
    PendingImport: 'pendingImport',
    Creating: 'creating',
  },
  ListGrants: anyState,
  RetireGrant: anyState,
  RevokeGrant: anyState,
  EnableKeyRotation: rotationSettings,
  DisableKeyRotation: rotationSettings,
  GetKeyRotationStatus: rotationStatus,
  ListKeyRotations: rotationStatus,
  /** Not in the seed table: makes new material in the token, so it follows the cryptographic row (recorded: disabled, pending import). */
  RotateKeyOnDemand: cryptographic,
  GetParametersForImport: importing,
  ImportKeyMaterial: { ...importing, Updating: undefined },
  /** KMS-SPEC §3: ?9 in Enabled, Disabled and PendingDeletion; no effect in PendingImport; ✗14, ✗15. */
  DeleteImportedKeyMaterial: { Unavailable: 'unavailable', Creating: 'creating', Updating: 'updating' },
  /** KMS-SPEC §3: ✗1, ✗2/3, ✗5, ✗14, ✗15 on the primary. */
  ReplicateKey: { ...cryptographic, Updating: 'updating' },
  /** KMS-SPEC §3: ✗1, ✗2/3, ✗5, ✗14; Updating is allowed by the table (an update in flight is refused by the operation). Applied to both keys. */
  UpdatePrimaryRegion: cryptographic,
  /**
   * The resolve-and-authorise step of the three import operations: every state passes, because
   * they check the origin before the state (footnotes 8 and 9) and then apply their own rows.
   */
  ResolveForImport: anyState,
} satisfies Record<string, Row>;

export type StateCheckedOperation = keyof typeof keyStateTable;

// Precondition: an operation runs only in the key states the key-state table allows.
export function assertStateAllows(operation: StateCheckedOperation, state: KeyState, arn: string): void {
  const failure = (keyStateTable[operation] as Row)[state];
  if (failure) throw failures[failure](arn);
}
