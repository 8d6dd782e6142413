// Fakes of the custom key store connectors for core tests: declared clusters backed by
// FakeTokens, and an XKS proxy in memory with switchable faults.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KeyStoreConnectionError, XksProxyFailure, type TokenClusters, type XksHealth, type XksProxyClient, type XksProxyConnector, type XksProxyEndpoint, type XksProxyFailureKind, type XksSealed } from '../../src/core/key-stores/connectors';
import type { KeyStoreCall } from '../../src/core/key-stores/port';
import { makeTestPki } from './certificates';
import { FakeToken } from './fake-token';

export const CLUSTER = 'cluster-abcdefghijk';
export const OTHER_CLUSTER = 'cluster-bcdefghijkl';
export const PIN = 'kmsuser-pin-1';
export const SECRET = 'S'.repeat(43);
export const ACCESS_KEY_ID = 'ABCDEFGHIJKLMNOPQRST';

export class FakeClusters implements TokenClusters {
  readonly clusters = new Map<string, { pin: string; token?: FakeToken; lockedOut?: boolean; missing?: boolean }>([[CLUSTER, { pin: PIN }], [OTHER_CLUSTER, { pin: PIN }]]);
  connects = 0;
  has(clusterId: string): boolean {
    return this.clusters.has(clusterId);
  }
  async connect(customKeyStoreId: string, clusterId: string, pin: string) {
    this.connects++;
    const cluster = this.clusters.get(clusterId)!;
    if (cluster.missing) throw new KeyStoreConnectionError('CLUSTER_NOT_FOUND', 'no token with that label');
    if (cluster.lockedOut) throw new KeyStoreConnectionError('USER_LOCKED_OUT', 'locked');
    if (pin !== cluster.pin) throw new KeyStoreConnectionError('INVALID_CREDENTIALS', 'wrong PIN');
    cluster.token ??= new FakeToken(customKeyStoreId);
    return cluster.token;
  }
}

/** An XKS proxy in memory: AES-256-GCM per external key, with a switchable fault. */
export class FakeProxy implements XksProxyConnector {
  readonly keys = new Map<string, { key: Buffer; spec: string; usage: string[]; status: string }>();
  fault?: XksProxyFailureKind;
  healthStatuses = ['ACTIVE'];
  /** Decrypt answers with other plaintext than it was given. */
  lies = false;
  readonly calls: { api: string; call: Partial<KeyStoreCall>; secret: string }[] = [];
  opened: XksProxyEndpoint[] = [];

  addKey(id: string, overrides: Partial<{ spec: string; usage: string[]; status: string }> = {}): void {
    this.keys.set(id, { key: randomBytes(32), spec: 'AES_256', usage: ['ENCRYPT', 'DECRYPT'], status: 'ENABLED', ...overrides });
  }

  open(endpoint: XksProxyEndpoint): XksProxyClient {
    this.opened.push(endpoint);
    const enter = (api: string, call: Partial<KeyStoreCall>) => {
      this.calls.push({ api, call, secret: endpoint.rawSecretAccessKey });
      if (endpoint.rawSecretAccessKey !== SECRET) throw new XksProxyFailure('AuthenticationFailedException', 'bad signature');
      if (this.fault) throw new XksProxyFailure(this.fault, 'injected');
    };
    const keyOf = (id: string) => {
      const key = this.keys.get(id);
      if (!key) throw new XksProxyFailure('KeyNotFoundException', id);
      return key;
    };
    return {
      encrypt: async (xksKeyId: string, aad: Buffer, plaintext: Buffer, call: KeyStoreCall): Promise<XksSealed> => {
        enter('Encrypt', call);
        const iv = randomBytes(12);
        const cipher = createCipheriv('aes-256-gcm', keyOf(xksKeyId).key, iv).setAAD(aad);
        const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
        return { iv, ciphertext, tag: cipher.getAuthTag(), metadata: Buffer.from('v1') };
      },
      decrypt: async (xksKeyId: string, aad: Buffer, sealed: XksSealed, call: KeyStoreCall): Promise<Buffer> => {
        enter('Decrypt', call);
        if (this.lies) return randomBytes(sealed.ciphertext.length);
        try {
          const decipher = createDecipheriv('aes-256-gcm', keyOf(xksKeyId).key, sealed.iv).setAAD(aad).setAuthTag(sealed.tag);
          return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
        } catch (e) {
          if (e instanceof XksProxyFailure) throw e;
          throw new XksProxyFailure('InvalidCiphertextException', 'tag');
        }
      },
      getKeyMetadata: async (xksKeyId: string, call: KeyStoreCall) => {
        enter('GetKeyMetadata', call);
        const key = keyOf(xksKeyId);
        return { keySpec: key.spec, keyUsage: key.usage, keyStatus: key.status };
      },
      getHealthStatus: async (call: Pick<KeyStoreCall, 'operation' | 'requestId'>): Promise<XksHealth> => {
        enter('GetHealthStatus', call);
        return { xksProxyFleetSize: 1, xksProxyVendor: 'fake', xksProxyModel: 'fake', ekmVendor: 'fake', ekmFleetDetails: this.healthStatuses.map((healthStatus, i) => ({ id: `ekm-${i}`, model: 'fake', healthStatus })) };
      },
      close: async () => {},
    };
  }
}

let trustAnchor: string | undefined;

/** A PEM CA certificate, made once per test file. */
export function trustAnchorPem(): string {
  trustAnchor ??= readFileSync(makeTestPki(mkdtempSync(path.join(tmpdir(), 'cks-pki-'))).ca.cert, 'utf8');
  return trustAnchor;
}
