// Encryption context: the non-secret key/value map bound to a ciphertext as AAD.

export type EncryptionContext = Readonly<Record<string, string>>;

function lengthPrefixed(bytes: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

/**
 * Order-independent, unambiguous byte encoding: pair count, then each pair sorted by the
 * UTF-8 bytes of its key, every string length-prefixed. Two contexts encode equally
 * exactly when they hold the same pairs.
 */
export function canonicalEncryptionContext(context: EncryptionContext | undefined): Buffer {
  const pairs = Object.entries(context ?? {}).map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const);
  pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
  const count = Buffer.alloc(4);
  count.writeUInt32BE(pairs.length);
  return Buffer.concat([count, ...pairs.flatMap(([k, v]) => [lengthPrefixed(k), lengthPrefixed(v)])]);
}
