// Opens PKCS#11 tokens as key stores: the default token at start-up, and later custom key
// stores (further tokens) through the same call.
import { DEFAULT_KEY_STORE_ID } from '../core/key-stores/registry';
import { Pkcs11Token, type Pkcs11TokenOptions } from './token';

export { Pkcs11Token } from './token';
export type { Pkcs11TokenOptions } from './token';

/** The default token, registered in core's key store registry under the default id. */
export function openDefaultToken(options: Omit<Pkcs11TokenOptions, 'tokenId'>): Pkcs11Token {
  return Pkcs11Token.open({ ...options, tokenId: DEFAULT_KEY_STORE_ID });
}
