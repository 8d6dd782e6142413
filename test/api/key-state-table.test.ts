// The key-state table (KMS-SPEC §3), cell by cell: every operation that exists, against a
// key in every state, through the HTTP API. Expectations are written out here from the
// specification, independently of src/core/key-state.ts.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { keyStates, type KeyState } from '../../src/core/model';
import { oaepWrap } from '../support/import-wrap';
import { kmsCall } from '../support/signed';
import { ACCOUNT, REGION, startTestService, type TestService } from '../support/service';

const scope = { accountId: ACCOUNT, region: REGION };
let svc: TestService;
beforeAll(async () => { svc = await startTestService(); });
afterAll(async () => { await svc.close(); });

type Expectation = 'ok' | 'mlKem' | 'disabled' | 'pendingDeletion' | 'pendingImport' | 'unavailable' | 'creating' | 'updating' | 'notPendingDeletion' | 'externalOrigin';

const crypto: Record<KeyState, Expectation> = {
  Enabled: 'ok', Disabled: 'disabled', PendingDeletion: 'pendingDeletion', PendingReplicaDeletion: 'pendingDeletion',
  PendingImport: 'pendingImport', Unavailable: 'unavailable', Creating: 'creating', Updating: 'ok',
};
const always: Record<KeyState, Expectation> = {
  Enabled: 'ok', Disabled: 'ok', PendingDeletion: 'ok', PendingReplicaDeletion: 'ok', PendingImport: 'ok', Unavailable: 'ok', Creating: 'ok', Updating: 'ok',
};
const managed: Record<KeyState, Expectation> = { ...always, PendingDeletion: 'pendingDeletion', PendingReplicaDeletion: 'pendingDeletion' };
const enableDisable: Record<KeyState, Expectation> = {
  ...always, PendingDeletion: 'pendingDeletion', PendingReplicaDeletion: 'pendingDeletion', PendingImport: 'pendingImport', Creating: 'creating', Updating: 'updating',
};
const cancelDeletion: Record<KeyState, Expectation> = {
  Enabled: 'notPendingDeletion', Disabled: 'notPendingDeletion', PendingDeletion: 'ok', PendingReplicaDeletion: 'ok',
  PendingImport: 'notPendingDeletion', Unavailable: 'notPendingDeletion', Creating: 'notPendingDeletion', Updating: 'notPendingDeletion',
};
const scheduleDeletion: Record<KeyState, Expectation> = { ...managed, Updating: 'updating' };
/** CreateGrant: like a cryptographic operation (✗1, ✗2/3, ✗5, ✗14) except that an Unavailable key takes grants. */
const createGrant: Record<KeyState, Expectation> = { ...crypto, Unavailable: 'ok' };
/** EnableKeyRotation, DisableKeyRotation: ✓/?7 where the key is eligible, ✗1, ✗3, ✗6 (PendingImport keys are EXTERNAL), ✗14. */
const rotationSettings: Record<KeyState, Expectation> = {
  ...always, Disabled: 'disabled', PendingDeletion: 'pendingDeletion', PendingReplicaDeletion: 'pendingDeletion', PendingImport: 'externalOrigin', Creating: 'creating',
};
/** GetKeyRotationStatus: ?7 everywhere but PendingImport (✗6); ListKeyRotations reads the same state. */
const rotationStatus: Record<KeyState, Expectation> = { ...always, PendingImport: 'externalOrigin' };
/**
 * GetParametersForImport and ImportKeyMaterial on an EXTERNAL key: ?9 (allowed) where it can have
 * imported material, ✗8 pending deletion, ✗14, ✗15 (ImportKeyMaterial ✓ while Updating). The
 * Unavailable glyph was lost; only custom-key-store keys are Unavailable: refused as unavailable.
 */
const importParameters: Record<KeyState, Expectation> = {
  ...always, PendingDeletion: 'pendingDeletion', PendingReplicaDeletion: 'pendingDeletion', Unavailable: 'unavailable', Creating: 'creating', Updating: 'updating',
};
const importMaterial: Record<KeyState, Expectation> = { ...importParameters, Updating: 'ok' };
/** DeleteImportedKeyMaterial on an EXTERNAL key: ?9 in Enabled, Disabled, PendingDeletion; ✓ (no effect) PendingImport; N/A Unavailable; ✗14; ✗15. */
const deleteImported: Record<KeyState, Expectation> = { ...always, Unavailable: 'unavailable', Creating: 'creating', Updating: 'updating' };

/** ReplicateKey on the primary: ✗1, ✗2/3, ✗5, ✗14, ✗15 (Unavailable N/A: only custom-key-store keys, never multi-Region). */
const replicate: Record<KeyState, Expectation> = { ...crypto, Updating: 'updating' };
/** UpdatePrimaryRegion on the primary: ✗1, ✗2/3, ✗5, ✗14, ✓ while Updating (Unavailable N/A). */
const updatePrimary: Record<KeyState, Expectation> = { ...crypto };

const table: Record<string, Record<KeyState, Expectation>> = {
  Encrypt: crypto, Decrypt: crypto, ReEncrypt: crypto, GenerateDataKey: crypto, GenerateDataKeyWithoutPlaintext: crypto,
  GenerateDataKeyPair: crypto, GenerateDataKeyPairWithoutPlaintext: crypto,
  // The seed table's N/A for PendingImport and Unavailable predates asymmetric and HMAC import: like Decrypt.
  Sign: crypto, Verify: crypto, GetPublicKey: crypto, GenerateMac: crypto, VerifyMac: crypto, DeriveSharedSecret: crypto,
  DescribeKey: always, ListResourceTags: always, DeleteAlias: always,
  // Not in the seed table: it reads the audit trail, never the key material, so every state answers.
  GetKeyLastUsage: always,
  // Cryptographic operations; where the state allows them, refused because no key here is ML-KEM.
  Encapsulate: { ...crypto, Enabled: 'mlKem', Updating: 'mlKem' },
  Decapsulate: { ...crypto, Enabled: 'mlKem', Updating: 'mlKem' },
  EnableKey: enableDisable, DisableKey: enableDisable,
  UpdateKeyDescription: managed, CreateAlias: managed, UpdateAlias: managed, TagResource: managed, UntagResource: managed,
  ScheduleKeyDeletion: scheduleDeletion, CancelKeyDeletion: cancelDeletion,
  EnableKeyRotation: rotationSettings, DisableKeyRotation: rotationSettings, GetKeyRotationStatus: rotationStatus, ListKeyRotations: rotationStatus,
  // Not in the seed table; recorded from AWS: DisabledException when disabled, "is pending import." when pending import.
  RotateKeyOnDemand: crypto,
  CreateGrant: createGrant, ListGrants: always, RetireGrant: always, RevokeGrant: always,
  GetKeyPolicy: always, PutKeyPolicy: always, ListKeyPolicies: always,
  GetParametersForImport: importParameters, ImportKeyMaterial: importMaterial, DeleteImportedKeyMaterial: deleteImported,
  ReplicateKey: replicate, UpdatePrimaryRegion: updatePrimary,
};

function expectedError(expectation: Expectation, arn: string): { __type: string; message: string } | undefined {
  switch (expectation) {
    case 'ok': return undefined;
    case 'mlKem': return {
      __type: 'UnsupportedOperationException',
      message: expect.stringMatching(/^(En|De)capsulate is not supported by this service: it needs an ML-KEM key .*; arn:aws:kms:.* has key usage ENCRYPT_DECRYPT\.$/) as unknown as string,
    };
    case 'disabled': return { __type: 'DisabledException', message: `${arn} is disabled.` };
    case 'pendingDeletion': return { __type: 'KMSInvalidStateException', message: `${arn} is pending deletion.` };
    case 'pendingImport': return { __type: 'KMSInvalidStateException', message: `${arn} is pending import.` };
    case 'unavailable': return { __type: 'KMSInvalidStateException', message: `${arn} is unavailable.` };
    case 'creating': return { __type: 'KMSInvalidStateException', message: `${arn} is creating.` };
    case 'updating': return { __type: 'KMSInvalidStateException', message: `${arn} is updating.` };
    case 'notPendingDeletion': return { __type: 'KMSInvalidStateException', message: `${arn} is not pending deletion.` };
    case 'externalOrigin': return { __type: 'UnsupportedOperationException', message: `${arn} origin is EXTERNAL which is not valid for this operation.` };
  }
}

let aliasCounter = 0;
const nextAlias = () => `alias/state-table-${aliasCounter++}`;

const importOperations = ['GetParametersForImport', 'ImportKeyMaterial', 'DeleteImportedKeyMaterial'];

/** The key an operation needs: symmetric unless it signs, MACs or agrees keys; EXTERNAL for the import operations. */
function keyFor(operation: string): Record<string, string> {
  if (importOperations.includes(operation)) return { Origin: 'EXTERNAL' };
  if (operation === 'ReplicateKey' || operation === 'UpdatePrimaryRegion') return { MultiRegion: 'true' };
  if (['Sign', 'Verify', 'GetPublicKey'].includes(operation)) return { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' };
  if (operation.endsWith('Mac')) return { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' };
  if (operation === 'DeriveSharedSecret') return { KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' };
  return {};
}

/** A key in `state`, plus whatever the operation needs prepared while the key was still Enabled. */
async function prepare(operation: string, state: KeyState) {
  const keyBody: Record<string, unknown> = keyFor(operation);
  if (keyBody.MultiRegion) keyBody.MultiRegion = true;
  const meta = (await kmsCall(svc.app, 'CreateKey', keyBody)).body.KeyMetadata as { KeyId: string; Arn: string };
  const ciphertext = operation === 'Encrypt' || operation === 'Decrypt' || operation === 'ReEncrypt'
    ? (await kmsCall(svc.app, 'Encrypt', { KeyId: meta.KeyId, Plaintext: 'c3RhdGU=' })).body.CiphertextBlob as string
    : '';
  let request: Record<string, unknown> = { KeyId: meta.KeyId };
  if (operation === 'Encrypt') request = { KeyId: meta.KeyId, Plaintext: 'c3RhdGU=' };
  if (operation === 'Decrypt') request = { CiphertextBlob: ciphertext };
  if (operation === 'ReEncrypt') request = { CiphertextBlob: ciphertext, DestinationKeyId: meta.KeyId };
  if (operation.startsWith('GenerateDataKey')) request = { KeyId: meta.KeyId, KeySpec: 'AES_256' };
  if (operation.startsWith('GenerateDataKeyPair')) request = { KeyId: meta.KeyId, KeyPairSpec: 'ECC_NIST_P256' };
  const message = { KeyId: meta.KeyId, Message: 'c3RhdGU=' };
  if (operation === 'Sign' || operation === 'Verify') request = { ...message, SigningAlgorithm: 'ECDSA_SHA_256' };
  if (operation === 'Verify') request.Signature = (await kmsCall(svc.app, 'Sign', request)).body.Signature as string;
  if (operation === 'GenerateMac' || operation === 'VerifyMac') request = { ...message, MacAlgorithm: 'HMAC_SHA_256' };
  if (operation === 'VerifyMac') request.Mac = (await kmsCall(svc.app, 'GenerateMac', request)).body.Mac as string;
  if (operation === 'DeriveSharedSecret') {
    const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' });
    request = { KeyId: meta.KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer.toString('base64') };
  }
  if (operation === 'Encapsulate') request = { KeyId: meta.KeyId, EncapsulationAlgorithm: 'ML_KEM' };
  if (operation === 'Decapsulate') request = { KeyId: meta.KeyId, EncapsulationAlgorithm: 'ML_KEM', SharedSecretCiphertextBlob: 'c3RhdGU=' };
  if (operation === 'UpdateKeyDescription') request = { KeyId: meta.KeyId, Description: 'x' };
  if (operation === 'ScheduleKeyDeletion') request = { KeyId: meta.KeyId, PendingWindowInDays: 7 };
  if (operation === 'CreateAlias') request = { AliasName: nextAlias(), TargetKeyId: meta.KeyId };
  if (operation === 'TagResource') request = { KeyId: meta.KeyId, Tags: [{ TagKey: 'k', TagValue: 'v' }] };
  if (operation === 'PutKeyPolicy') request = { KeyId: meta.KeyId, Policy: (await kmsCall(svc.app, 'GetKeyPolicy', { KeyId: meta.KeyId })).body.Policy };
  if (operation === 'UntagResource') request = { KeyId: meta.KeyId, TagKeys: ['k'] };
  if (operation === 'DeleteAlias') {
    const AliasName = nextAlias();
    await kmsCall(svc.app, 'CreateAlias', { AliasName, TargetKeyId: meta.KeyId });
    request = { AliasName };
  }
  if (operation === 'CreateGrant') request = { KeyId: meta.KeyId, GranteePrincipal: `arn:aws:iam::${ACCOUNT}:user/alice`, Operations: ['Decrypt'] };
  if (operation === 'RetireGrant' || operation === 'RevokeGrant') {
    const grant = await kmsCall(svc.app, 'CreateGrant', { KeyId: meta.KeyId, GranteePrincipal: `arn:aws:iam::${ACCOUNT}:user/alice`, Operations: ['Decrypt'] });
    // Retired by the issuing account (the caller's root); RetireGrant takes the key ARN.
    request = { KeyId: meta.Arn, GrantId: grant.body.GrantId as string };
  }
  if (operation === 'UpdateAlias') {
    // The alias moves from an ordinary key to the key under test, whose state is what counts.
    const other = (await kmsCall(svc.app, 'CreateKey', {})).body.KeyMetadata as { KeyId: string };
    const AliasName = nextAlias();
    await kmsCall(svc.app, 'CreateAlias', { AliasName, TargetKeyId: other.KeyId });
    request = { AliasName, TargetKeyId: meta.KeyId };
  }
  if (operation === 'ReplicateKey') request = { KeyId: meta.KeyId, ReplicaRegion: 'eu-west-1' };
  if (operation === 'UpdatePrimaryRegion') {
    // The replica that takes over is Enabled; the primary's state is the one under test.
    await kmsCall(svc.app, 'ReplicateKey', { KeyId: meta.KeyId, ReplicaRegion: 'eu-west-1' });
    request = { KeyId: meta.KeyId, PrimaryRegion: 'eu-west-1' };
  }
  if (operation === 'GetParametersForImport') request = { KeyId: meta.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' };
  if (operation === 'ImportKeyMaterial') {
    // Parameters fetched while the key is PendingImport; the import runs in the state under test.
    const params = (await kmsCall(svc.app, 'GetParametersForImport', { KeyId: meta.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' })).body;
    const material = oaepWrap(Buffer.from(params.PublicKey as string, 'base64'), 'sha256', randomBytes(32));
    request = { KeyId: meta.KeyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: material.toString('base64'), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' };
  }
  const stored = (await svc.store.keys.get(scope, meta.KeyId))!;
  const pending = state === 'PendingDeletion' || state === 'PendingReplicaDeletion';
  await svc.store.keys.replace({ ...stored, state, ...(pending ? { deletionDate: new Date(Date.now() + 7 * 86_400_000), pendingWindowInDays: 7 } : {}) });
  return { arn: meta.Arn, request };
}

describe.each(Object.keys(table))('%s', (operation) => {
  it.each([...keyStates])('in state %s', async (state) => {
    const { arn, request } = await prepare(operation, state);
    const res = await kmsCall(svc.app, operation, request);
    const error = expectedError(table[operation]![state], arn);
    if (error) {
      expect(res.status).toBe(400);
      expect(res.body).toEqual(error);
    } else {
      expect({ status: res.status, body: res.status === 200 ? 'ok' : res.body }).toEqual({ status: 200, body: 'ok' });
    }
  });
});

it('covers every operation the service offers that takes a key', async () => {
  const { kmsOperations: operations } = await import('../../src/http/kms/operations');
  const keyless = [
    'CreateKey', 'ListKeys', 'GenerateRandom', 'ListAliases', 'ListRetirableGrants',
    // Custom key store operations act on stores, not keys (test/unit/custom-key-stores.test.ts).
    'CreateCustomKeyStore', 'DescribeCustomKeyStores', 'UpdateCustomKeyStore', 'ConnectCustomKeyStore', 'DisconnectCustomKeyStore', 'DeleteCustomKeyStore',
  ];
  expect(Object.keys(operations).filter((name) => !keyless.includes(name)).sort()).toEqual(Object.keys(table).sort());
});
