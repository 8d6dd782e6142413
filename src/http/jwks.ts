// GET /.well-known/jwks.json (beyond AWS): the public keys of the configured account's
// SIGN_VERIFY keys tagged jwks=true, as a JSON Web Key Set, so JWTs signed through Sign can
// be verified by any JOSE library. Public keys only, so the route is unauthenticated.
//
// Each JWK has kid = the key ARN and use = "sig". EC keys carry their one JWS alg (ES256,
// ES384, ES512, ES256K); Ed25519 keys are OKP keys (RFC 8037) with alg EdDSA, which is
// ED25519_SHA_512 with MessageType RAW over the JWS signing input. RSA keys carry no alg: a KMS RSA signing key signs with both
// RSASSA-PKCS1-v1_5 (RS256/384/512) and RSASSA-PSS (PS256/384/512), and a JWK's alg would
// allow only one; the verifier takes the alg from the JWS header and the key by kid.
// Only Enabled keys are listed: disabling a key (or scheduling its deletion) withdraws it.
import { createPublicKey } from 'node:crypto';
import express from 'express';
import type { JWK } from 'jose';
import type { CoreDeps } from '../core/deps';
import { PARTITION } from '../core/keys/key-id';
import { curves, edwardsCurves, isEccSpec, isEdwardsSpec, signingAlgorithmsOf } from '../core/keys/key-specs';
import { currentVersion, keyArn, type KeyRecord, type KeyScope } from '../core/model';
import type { Logger } from '../log/logger';

export const JWKS_PATH = '/.well-known/jwks.json';
export const JWKS_TAG = { TagKey: 'jwks', TagValue: 'true' } as const;

export interface JwksOptions {
  /** The account and region whose keys are published. */
  accountId: string;
  region: string;
}

function published(key: KeyRecord): boolean {
  return key.state === 'Enabled'
    && key.keyUsage === 'SIGN_VERIFY'
    && signingAlgorithmsOf(key.keySpec, key.keyUsage) !== undefined
    && currentVersion(key)?.publicKeySpki !== undefined
    && key.tags.some((t) => t.TagKey === JWKS_TAG.TagKey && t.TagValue === JWKS_TAG.TagValue);
}

export async function jwkOf(key: KeyRecord): Promise<JWK> {
  // jose is ESM-only: loaded on first use (Node ≥ 20.19 requires ESM natively), so merely
  // loading the app never needs it.
  const { exportJWK } = await import('jose');
  const spki = Buffer.from(currentVersion(key)!.publicKeySpki!, 'base64');
  const jwk = await exportJWK(createPublicKey({ key: spki, format: 'der', type: 'spki' }));
  const alg = isEccSpec(key.keySpec) ? curves[key.keySpec].jwsAlg : isEdwardsSpec(key.keySpec) ? edwardsCurves[key.keySpec].jwsAlg : undefined;
  return { ...jwk, kid: keyArn(PARTITION, key, key.keyId), use: 'sig', ...(alg ? { alg } : {}) };
}

async function allKeys(deps: CoreDeps, scope: KeyScope): Promise<KeyRecord[]> {
  const keys: KeyRecord[] = [];
  let marker: string | undefined;
  do {
    const page = await deps.store.keys.list(scope, { limit: 1000, ...(marker ? { marker } : {}) });
    keys.push(...page.items);
    marker = page.nextMarker;
  } while (marker);
  return keys;
}

export function jwksRouter(deps: CoreDeps, options: JwksOptions, logger: Logger): express.Router {
  const router = express.Router();
  const scope: KeyScope = { accountId: options.accountId, region: options.region };
  router.get(JWKS_PATH, async (_req, res) => {
    try {
      const keys = await Promise.all((await allKeys(deps, scope)).filter(published).map(jwkOf));
      res.status(200).set('Cache-Control', 'public, max-age=60').type('application/json').send(JSON.stringify({ keys }));
    } catch (e) {
      logger.error('jwks failed', { requestId: res.locals.requestId, detail: e instanceof Error ? e.message : String(e) });
      res.status(500).type('application/json').send(JSON.stringify({ error: 'internal error' }));
    }
  });
  return router;
}
