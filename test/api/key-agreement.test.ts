// DeriveSharedSecret through the HTTP API on SoftHSM: ECDH in the token between the KMS key's
// private key and a peer's public key, matched against node:crypto ECDH with a local key pair
// (both directions: the peer computes the same secret from GetPublicKey), and AWS's refusals.
import { createECDH, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { kmsCall } from '../support/signed';
import { startTestService, type TestService } from '../support/service';

let svc: TestService;
beforeAll(async () => { svc = await startTestService(); });
afterAll(async () => { await svc.close(); });

const b64 = (b: Buffer | string) => (typeof b === 'string' ? Buffer.from(b) : b).toString('base64');
type Meta = Record<string, unknown> & { KeyId: string; Arn: string };
const curves = [['ECC_NIST_P256', 'prime256v1', 32], ['ECC_NIST_P384', 'secp384r1', 48], ['ECC_NIST_P521', 'secp521r1', 66]] as const;

async function createKey(KeySpec: string, KeyUsage = 'KEY_AGREEMENT'): Promise<Meta> {
  const res = await kmsCall(svc.app, 'CreateKey', { KeySpec, KeyUsage });
  expect(res.status).toBe(200);
  return res.body.KeyMetadata as Meta;
}

const spki = (key: KeyObject) => key.export({ format: 'der', type: 'spki' });

describe.each(curves)('%s', (spec, namedCurve, secretBytes) => {
  it('derives the raw ECDH secret node:crypto derives, from either side', async () => {
    const meta = await createKey(spec);
    expect(meta.KeyAgreementAlgorithms).toEqual(['ECDH']);
    const kmsPublic = createPublicKey({ key: Buffer.from((await kmsCall(svc.app, 'GetPublicKey', { KeyId: meta.KeyId })).body.PublicKey, 'base64'), format: 'der', type: 'spki' });
    for (let i = 0; i < 3; i++) {
      const peer = generateKeyPairSync('ec', { namedCurve });
      const res = await kmsCall(svc.app, 'DeriveSharedSecret', { KeyId: meta.KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: b64(spki(peer.publicKey)) });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['KeyAgreementAlgorithm', 'KeyId', 'KeyOrigin', 'SharedSecret']);
      expect(res.body).toMatchObject({ KeyId: meta.Arn, KeyAgreementAlgorithm: 'ECDH', KeyOrigin: 'AWS_KMS' });
      const secret = Buffer.from(res.body.SharedSecret, 'base64');
      expect(secret).toHaveLength(secretBytes);
      expect(secret).toEqual(diffieHellman({ privateKey: peer.privateKey, publicKey: kmsPublic }));
    }
  });
});

describe('DeriveSharedSecret refusals', () => {
  it('a peer public key must be a DER SubjectPublicKeyInfo on the KMS key\'s curve.', async () => {
    const meta = await createKey('ECC_NIST_P256');
    const wrongCurve = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey;
    const secp256k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    const ed = generateKeyPairSync('ed25519').publicKey;
    const good = spki(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey);
    const offCurve = Buffer.from(good);
    offCurve[offCurve.length - 1] = offCurve[offCurve.length - 1]! ^ 1;
    // A bare uncompressed point is not a SubjectPublicKeyInfo.
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    for (const PublicKey of [spki(wrongCurve), spki(secp256k1), spki(rsa), spki(ed), offCurve, ecdh.getPublicKey(), Buffer.from('not a key')]) {
      const res = await kmsCall(svc.app, 'DeriveSharedSecret', { KeyId: meta.KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: b64(PublicKey) });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ __type: 'ValidationException', message: '' });
    }
  });

  it('answers AWS\'s errors for key usage, key spec and algorithm, and DryRun', async () => {
    const signing = await createKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const symmetric = (await kmsCall(svc.app, 'CreateKey', {})).body.KeyMetadata as Meta;
    const agreement = await createKey('ECC_NIST_P384');
    const PublicKey = b64(spki(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey));
    expect((await kmsCall(svc.app, 'DeriveSharedSecret', { KeyId: signing.KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey })).body).toEqual({
      __type: 'InvalidKeyUsageException', message: `${signing.Arn} key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret.`,
    });
    expect((await kmsCall(svc.app, 'DeriveSharedSecret', { KeyId: symmetric.KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey })).body).toEqual({
      __type: 'InvalidKeyUsageException', message: `${symmetric.Arn} key usage is ENCRYPT_DECRYPT which is not valid for DeriveSharedSecret.`,
    });
    expect((await kmsCall(svc.app, 'CreateKey', { KeySpec: 'RSA_2048', KeyUsage: 'KEY_AGREEMENT' })).body).toEqual({ __type: 'ValidationException', message: 'KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048' });
    expect((await kmsCall(svc.app, 'DeriveSharedSecret', { KeyId: agreement.KeyId, KeyAgreementAlgorithm: 'INVALID', PublicKey })).body).toEqual({
      __type: 'ValidationException', message: "1 validation error detected: Value 'INVALID' at 'keyAgreementAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [ECDH]",
    });
    // A KEY_AGREEMENT key does nothing else.
    expect((await kmsCall(svc.app, 'Sign', { KeyId: agreement.KeyId, Message: b64('m'), SigningAlgorithm: 'ECDSA_SHA_384' })).body.message).toBe(`${agreement.Arn} key usage is KEY_AGREEMENT which is not valid for Sign.`);
    const derive = jest.spyOn(svc.defaultStore.keyPairs, 'deriveSharedSecret');
    expect((await kmsCall(svc.app, 'DeriveSharedSecret', { KeyId: agreement.KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey, DryRun: true })).body.__type).toBe('DryRunOperationException');
    expect(derive).not.toHaveBeenCalled();
    derive.mockRestore();
  });
});
