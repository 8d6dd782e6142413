// The AWS Encryption SDK for JavaScript, with its KMS keyring pointed at the service: envelope
// encryption as applications do it (GenerateDataKey, Encrypt and Decrypt under the hood).
import { buildClient, CommitmentPolicy, KmsKeyringNode } from '@aws-crypto/client-node';
import { CreateKeyCommand, KMS } from '@aws-sdk/client-kms';
import { ACCOUNT, REGION, ROOT, startTestService, type TestService } from '../support/service';

const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

let svc: TestService;
let kms: KMS;
/** Every region the keyrings asked a client for. */
const regionsAsked: string[] = [];
let first: string;
let second: string;
let unrelated: string;

// The keyring asks for a client per region (taken from the key ARN); ours serves them all.
const clientProvider = (region: string) => {
  regionsAsked.push(region);
  return kms;
};

async function createKeyArn(): Promise<string> {
  const out = await kms.send(new CreateKeyCommand({ Description: 'encryption sdk' }));
  return out.KeyMetadata!.Arn!;
}

beforeAll(async () => {
  svc = await startTestService({ listen: true });
  kms = new KMS({ endpoint: svc.url, region: REGION, credentials: ROOT, maxAttempts: 1 });
  first = await createKeyArn();
  second = await createKeyArn();
  unrelated = await createKeyArn();
});
afterAll(async () => {
  kms.destroy();
  await svc.close();
});

const context = { purpose: 'e2e', tenant: 'acme' };
const message = Buffer.from('a message for the encryption sdk; '.repeat(400));

describe('AWS Encryption SDK with KmsKeyringNode', () => {
  it('encrypts with an encryption context and decrypts it back', async () => {
    const keyring = new KmsKeyringNode({ clientProvider, generatorKeyId: first });
    const { result, messageHeader } = await encrypt(keyring, message, { encryptionContext: context });
    expect(messageHeader.encryptionContext).toMatchObject(context);
    expect(messageHeader.encryptedDataKeys).toHaveLength(1);
    expect(messageHeader.encryptedDataKeys[0]).toMatchObject({ providerId: 'aws-kms', providerInfo: first });
    expect(Buffer.from(result).includes(message.subarray(0, 32))).toBe(false);

    const decrypted = await decrypt(keyring, result);
    expect(Buffer.from(decrypted.plaintext).equals(message)).toBe(true);
    expect(decrypted.messageHeader.encryptionContext).toMatchObject(context);
    expect(regionsAsked.length).toBeGreaterThan(0);
    expect(new Set(regionsAsked)).toEqual(new Set([REGION]));
  });

  it('wraps the data key under two KMS keys; a keyring knowing only the second decrypts', async () => {
    const both = new KmsKeyringNode({ clientProvider, generatorKeyId: first, keyIds: [second] });
    const { result, messageHeader } = await encrypt(both, message, { encryptionContext: context });
    expect(messageHeader.encryptedDataKeys.map((k) => k.providerInfo)).toEqual([first, second]);

    const onlySecond = new KmsKeyringNode({ clientProvider, keyIds: [second] });
    const decrypted = await decrypt(onlySecond, result);
    expect(Buffer.from(decrypted.plaintext).equals(message)).toBe(true);
    expect(decrypted.messageHeader.encryptionContext).toMatchObject(context);

    // A discovery keyring limited to our account finds a key it may use by itself.
    const discovery = new KmsKeyringNode({ clientProvider, discovery: true, discoveryFilter: { accountIDs: [ACCOUNT], partition: 'aws' } });
    expect(Buffer.from((await decrypt(discovery, result)).plaintext).equals(message)).toBe(true);
  });

  it('fails to decrypt with a keyring for an unrelated key', async () => {
    const keyring = new KmsKeyringNode({ clientProvider, generatorKeyId: first });
    const { result } = await encrypt(keyring, message, { encryptionContext: context });
    // The keyring only tries data keys wrapped under its own keys: none here.
    const stranger = new KmsKeyringNode({ clientProvider, keyIds: [unrelated] });
    await expect(decrypt(stranger, result)).rejects.toThrow('unencryptedDataKey has not been set');
  });

  it('fails to decrypt a message whose encryption context was tampered with', async () => {
    const keyring = new KmsKeyringNode({ clientProvider, generatorKeyId: first });
    const { result } = await encrypt(keyring, Buffer.from('short'), { encryptionContext: context });
    // The header carries the context; change one byte of its value 'acme' to 'acmf'.
    const tampered = Buffer.from(result);
    const at = tampered.indexOf(Buffer.from('acme'));
    expect(at).toBeGreaterThan(0);
    tampered[at + 3] = 'f'.charCodeAt(0);
    // The keyring passes the header's context to KMS Decrypt, which refuses it.
    await expect(decrypt(keyring, tampered)).rejects.toThrow(/InvalidCiphertextException/);
  });
});
