// The gauges read from the metadata store, on the embedded store as servers run it:
// SecondsUntilKeyMaterialExpiration lists every imported key whose material expires.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { storeGauges } from '../../src/metrics/store-gauges';
import { EmbeddedStore } from '../../src/store/embedded';
import { emptyImportState } from '../../src/core/import/import-state';
import { FakeClock } from '../support/clock';
import { parseExposition, valueOf } from '../support/prometheus';
import { makeKey } from './metadata-fixtures';

it('SecondsUntilKeyMaterialExpiration names each imported key whose material expires, with the seconds left', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-gauges-'));
  const store = new EmbeddedStore(path.join(dir, 'metadata.sqlite'));
  await store.init();
  try {
    const clock = new FakeClock(new Date('2026-12-03T00:00:00Z'));
    const expiringId = '30000000-0000-4000-8000-000000000001';
    const validTo = new Date('2026-12-10T00:00:00Z');
    await store.keys.insert(makeKey(expiringId, {
      origin: 'EXTERNAL', imported: { ...emptyImportState(), expirationModel: 'KEY_MATERIAL_EXPIRES', validTo, upkeepAt: validTo },
    }));
    await store.keys.insert(makeKey('30000000-0000-4000-8000-000000000002', {
      origin: 'EXTERNAL', imported: { ...emptyImportState(), expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' },
    }));
    const registry = new Registry();
    storeGauges(registry, store, clock);
    const samples = parseExposition(await registry.metrics());
    const gauge = samples.filter((s) => s.name.endsWith('seconds_until_key_material_expiration'));
    expect(gauge.map((s) => s.labels.KeyId)).toEqual([expiringId]);
    expect(valueOf(samples, gauge[0]!.name, { KeyId: expiringId })).toBe(7 * 86_400);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
