// Opens the configured tokens. Later issues add custom key stores as further tokens.
import type { KeyToken, TokenDirectory } from '../core/ports';
import { Pkcs11Token, type Pkcs11TokenOptions } from './token';

export { Pkcs11Token } from './token';

export const DEFAULT_TOKEN_ID = 'default';

export class Pkcs11TokenDirectory implements TokenDirectory {
  private readonly tokens = new Map<string, Pkcs11Token>();

  constructor(readonly defaultToken: Pkcs11Token) {
    this.tokens.set(defaultToken.id, defaultToken);
  }

  static open(options: Omit<Pkcs11TokenOptions, 'tokenId'>): Pkcs11TokenDirectory {
    return new Pkcs11TokenDirectory(Pkcs11Token.open({ ...options, tokenId: DEFAULT_TOKEN_ID }));
  }

  get(tokenId: string): KeyToken | undefined {
    return this.tokens.get(tokenId);
  }

  close(): void {
    for (const token of this.tokens.values()) token.close();
  }
}
