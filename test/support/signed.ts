// SigV4-signed raw requests for supertest, so tests can send exactly the bytes they want.
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import request from 'supertest';
import type { App } from 'supertest/types';
import { REGION, ROOT } from './service';

export interface SignOptions {
  credentials?: { accessKeyId: string; secretAccessKey: string };
  region?: string;
  contentType?: string;
  target?: string | null;
  signingDate?: Date;
}

export async function signedHeaders(target: string | null, body: Buffer, options: SignOptions = {}): Promise<Record<string, string>> {
  const headers: Record<string, string> = { host: 'localhost', 'content-type': options.contentType ?? 'application/x-amz-json-1.1' };
  if (target !== null) headers['x-amz-target'] = `TrentService.${target}`;
  const signer = new SignatureV4({ service: 'kms', region: options.region ?? REGION, credentials: options.credentials ?? ROOT, sha256: Sha256 });
  const signed = await signer.sign(new HttpRequest({ method: 'POST', protocol: 'http:', hostname: 'localhost', path: '/', headers, body }), { signingDate: options.signingDate });
  return signed.headers as Record<string, string>;
}

/** POSTs `body` (an object is JSON-encoded) to the KMS endpoint with a valid signature. */
export async function kmsCall(app: App, target: string | null, body: unknown, options: SignOptions = {}) {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const headers = await signedHeaders(target, bytes, options);
  let req = request(app).post('/');
  for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
  const res = await req.send(bytes);
  // The AWS content type is not one supertest parses by itself.
  return Object.assign(res, { body: res.text ? JSON.parse(res.text) : {} });
}
