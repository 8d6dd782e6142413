// The key stores of the proxy configuration file in the form requests need them: by URI path
// prefix, each with its credentials by access key id, its policies and its request quota.
// Rebuilt from each accepted version of the file.
import type { Credential } from '../auth/sigv4';
import type { XksKeyStoreConfig, XksProxyConfig } from '../../xks-config';

/** A token bucket: `perSecond` requests a second, bursts of up to a second's worth. */
class RequestQuota {
  private tokens: number;
  private last: number;

  constructor(private readonly perSecond: number, now: number) {
    this.tokens = perSecond;
    this.last = now;
  }

  take(now: number): boolean {
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class XksKeyStore {
  private readonly credentials = new Map<string, Credential>();
  private readonly quota?: RequestQuota;

  constructor(readonly config: XksKeyStoreConfig, now: number) {
    for (const { accessKeyId, secretAccessKey } of config.credentials) {
      // SigV4 asks for a principal; the caller of a key store is whoever holds its credential.
      this.credentials.set(accessKeyId, { accessKeyId, secretAccessKey, principal: { arn: `xks-credential:${accessKeyId}`, accountId: '', policies: [] } });
    }
    if (config.requestsPerSecond !== undefined) this.quota = new RequestQuota(config.requestsPerSecond, now);
  }

  get prefix(): string {
    return this.config.uriPathPrefix;
  }

  credential(accessKeyId: string): Credential | undefined {
    return this.credentials.get(accessKeyId);
  }

  /** False once the key store has used up its quota for now. */
  admit(now: number): boolean {
    return this.quota ? this.quota.take(now) : true;
  }
}

export class XksKeyStores {
  private readonly byPrefix = new Map<string, XksKeyStore>();

  constructor(readonly config: XksProxyConfig, now = Date.now()) {
    for (const store of config.keyStores) this.byPrefix.set(store.uriPathPrefix, new XksKeyStore(store, now));
  }

  find(prefix: string): XksKeyStore | undefined {
    return this.byPrefix.get(prefix);
  }

  get size(): number {
    return this.byPrefix.size;
  }
}
