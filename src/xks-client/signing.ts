// SigV4 for XKS proxy requests, as AWS KMS signs them (XKS proxy API, Appendix A): service
// "kms-xks-proxy", the KMS region, the store's access key id and secret, SignedHeaders
// host;x-amz-date, the path exactly as sent. The signing is @smithy/signature-v4's, the signer
// of the AWS SDK for JavaScript, with SHA-256 and HMAC-SHA-256 from node:crypto (the pure
// JavaScript @aws-crypto/sha256-js is several times slower).
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

export const XKS_SIGNING_SERVICE = 'kms-xks-proxy';

/** What smithy hands a hash: @smithy/types' SourceData, restated (the package is not a dependency of ours). */
type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytesOf(data: SourceData, encoding?: BufferEncoding): Buffer {
  if (typeof data === 'string') return Buffer.from(data, encoding ?? 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/**
 * SHA-256, or HMAC-SHA-256 when constructed with a secret: smithy's Checksum (and the older
 * Hash) interface over node:crypto.
 */
export class NodeSha256 {
  readonly digestLength = 32;
  private state: Hash | Hmac;

  constructor(private readonly secret?: SourceData) {
    this.state = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(this.secret));
  }

  update(data: SourceData, encoding?: 'utf8' | 'ascii' | 'latin1'): void {
    this.state.update(bytesOf(data, encoding));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.state.digest());
  }

  reset(): void {
    this.state = this.fresh();
  }
}

export interface XksSigningCredential {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Signs requests to one proxy with one credential. The secret stays inside the signer. */
export class XksRequestSigner {
  private readonly signer: SignatureV4;

  constructor(region: string, credential: XksSigningCredential) {
    this.signer = new SignatureV4({
      service: XKS_SIGNING_SERVICE,
      region,
      credentials: { accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey },
      sha256: NodeSha256,
      // The XKS proxy verifies the path as received, with no normalisation and no re-encoding.
      uriEscapePath: false,
      applyChecksum: false,
    });
  }

  /**
   * The headers that authenticate a POST of `body` to `path` on `host` ("hostname[:port]", as
   * the Host header carries it): host, x-amz-date and authorization. Only host and x-amz-date
   * are signed, as AWS KMS signs; other headers may be added to the request afterwards.
   */
  async sign(host: string, path: string, body: Buffer, signingDate: Date = new Date()): Promise<Record<string, string>> {
    const signed = await this.signer.sign(
      new HttpRequest({ method: 'POST', hostname: host, path, headers: { host }, body }),
      { signingDate },
    );
    return { ...(signed.headers as Record<string, string>) };
  }
}
