// The token capability profiles as loaded at start-up: the shipped ones pass the checks, and a
// profile that claims Ed25519ph without EdDSA, or says it in anything but a boolean, stops start-up.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defaultProfileDir, loadProfiles } from '../../src/pkcs11/profile';

const softhsm = JSON.parse(readFileSync(path.join(defaultProfileDir, 'softhsm2.json'), 'utf8')) as Record<string, unknown>;

function loadOne(profile: Record<string, unknown>) {
  const dir = mkdtempSync(path.join(tmpdir(), 'hsm-kms-profile-'));
  writeFileSync(path.join(dir, 'vendor.json'), JSON.stringify(profile));
  return loadProfiles(dir);
}

it('the shipped profiles load: SoftHSM runs Ed25519 but not Ed25519ph, the generic profile neither', () => {
  const profiles = new Map(loadProfiles().map((p) => [p.vendor, p]));
  expect(profiles.get('SoftHSM2')).toMatchObject({ eddsa: true, eddsaPrehash: false });
  expect(profiles.get('generic PKCS#11 v2.40')).toMatchObject({ eddsa: false, eddsaPrehash: false });
});

it('eddsaPrehash may be absent (false), and must otherwise be a boolean that is true only with eddsa', () => {
  const { eddsaPrehash: _omitted, ...withoutPrehash } = softhsm;
  expect(loadOne(withoutPrehash)[0]!.eddsaPrehash).toBeUndefined();
  expect(loadOne({ ...softhsm, eddsaPrehash: true })[0]!.eddsaPrehash).toBe(true);
  expect(() => loadOne({ ...softhsm, eddsa: false, eddsaPrehash: true })).toThrow(/missing or invalid eddsaPrehash/);
  expect(() => loadOne({ ...softhsm, eddsaPrehash: 'yes' })).toThrow(/missing or invalid eddsaPrehash/);
});
