// KMS_SEED_FILE at start-up: the file is read and checked before the token is opened, and
// applied once the store and the token are, under the seeding lease, before the service listens.
import { readFileSync } from 'node:fs';
import { isKmsError } from '../core/errors';
import type { CoreService } from '../core/calls/service';
import { rootContext, seedKey, SeedConflictError, withSeedingLease } from '../core/seeding/seed-keys';
import type { KeyScope } from '../core/model';
import type { Logger } from '../log/logger';
import { parseSeedFile, SeedFileError, type SeedEntry } from './seed-file';

export { SeedFileError } from './seed-file';

/** The seed file's keys, checked; throws SeedFileError when it cannot be read or used. */
export function readSeedFile(file: string): SeedEntry[] {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (e) {
    throw new SeedFileError(`KMS_SEED_FILE ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseSeedFile(source, file);
}

/**
 * Applies the keys in the file's order, as the account root of `scope`. A key that cannot be
 * applied stops start-up, named with its line; keys before it stay applied (a restart finishes).
 */
export async function applySeedFile(file: string, entries: SeedEntry[], service: CoreService, scope: KeyScope, owner: string, logger: Logger): Promise<void> {
  const context = rootContext(scope);
  const counts = { created: 0, updated: 0, unchanged: 0 };
  try {
    await withSeedingLease(service.deps, owner, async () => {
      for (const { seed, line } of entries) {
        try {
          counts[await seedKey(service, context, seed)]++;
        } catch (e) {
          // Operation errors carry AWS's message; none of them can hold the material, which only ever travels wrapped.
          const reason = e instanceof SeedConflictError ? e.message : isKmsError(e) ? `${e.code}: ${e.message}` : (e as Error).message;
          throw new SeedFileError(`KMS_SEED_FILE ${file}:${line}: key ${seed.keyId} cannot be seeded: ${reason}`);
        }
      }
    });
  } catch (e) {
    if (e instanceof SeedConflictError) throw new SeedFileError(`KMS_SEED_FILE ${file}: ${e.message}`);
    throw e;
  } finally {
    // The material is not needed once applied (or refused).
    for (const { seed } of entries) {
      if (seed.material?.kind === 'secret') seed.material.bytes.fill(0);
      if (seed.material?.kind === 'privateKey') seed.material.pkcs8.fill(0);
    }
  }
  logger.info('seed file applied', { file, ...counts });
}
