// Chooses the metadata store from configuration.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MetadataStore } from '../core/ports';
import { EmbeddedStore } from './embedded';
import { MongoStore } from './mongo';

export { EmbeddedStore } from './embedded';
export { MongoStore, MongoStoreSetupError } from './mongo';

export const EMBEDDED_STORE_FILE = 'metadata.sqlite';

/**
 * - `mongodb://…` or `mongodb+srv://…`: MongoStore.
 * - `sqlite:<path>`, `file:<path>` or `file:///<absolute path>`: EmbeddedStore at that path;
 *   a relative path is taken relative to `dataDir`, not the working directory.
 * - absent or empty: EmbeddedStore at `<dataDir>/metadata.sqlite`.
 *
 * The returned store still needs init().
 */
export function openMetadataStore(uri: string | undefined, dataDir: string): MetadataStore {
  if (!uri) return new EmbeddedStore(path.join(dataDir, EMBEDDED_STORE_FILE));
  if (uri.startsWith('mongodb://') || uri.startsWith('mongodb+srv://')) return new MongoStore(uri);
  const filePath = embeddedPathInUri(uri);
  if (filePath === undefined) {
    // Name only the scheme: the rest of a URI may hold credentials.
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1] ?? '(none)';
    throw new Error(`unsupported metadata store URI scheme "${scheme}": use mongodb://, mongodb+srv://, sqlite: or file:`);
  }
  return new EmbeddedStore(path.resolve(dataDir, filePath));
}

function embeddedPathInUri(uri: string): string | undefined {
  if (uri.startsWith('file://')) return fileURLToPath(uri);
  for (const scheme of ['sqlite:', 'file:']) {
    if (uri.startsWith(scheme) && uri.length > scheme.length) return uri.slice(scheme.length);
  }
  return undefined;
}
