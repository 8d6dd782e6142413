// Where a SoftHSM token keeps its files in this run's token directory, found by label, so a
// test can take the token's storage away and give it back.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export function tokenDirectoryOf(label: string): string {
  const root = path.join(process.env.KMS_TEST_ROOT!, 'tokens');
  for (const entry of readdirSync(root)) {
    const objectFile = path.join(root, entry, 'token.object');
    try {
      // The label is stored blank-padded to 32 bytes; match it with its padding.
      if (readFileSync(objectFile).includes(Buffer.from(label.padEnd(32, ' ')))) return path.join(root, entry);
    } catch {
      // Not a token directory.
    }
  }
  throw new Error(`no SoftHSM token directory for label ${label}`);
}
