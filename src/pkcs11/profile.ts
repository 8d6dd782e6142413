// Token quirks are data (hsm/profiles/<vendor>.json), chosen by the token's manufacturer
// and model, so supporting a new HSM means writing a profile rather than branching code.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface TokenProfile {
  vendor: string;
  match: { manufacturerId?: string; model?: string };
  /** The token fills in GCM IVs itself. Informational: IVs always come from the token RNG. */
  generatesGcmIv: boolean;
  /** Which CK_GCM_PARAMS layout the module expects. */
  gcmParams: 'v240' | 'legacy';
  /** CKR names that mean "GCM tag did not verify" for this token. */
  gcmAuthFailureCodes: string[];
  notes?: string[];
}

export const defaultProfileDir = path.resolve(__dirname, '..', '..', 'hsm', 'profiles');

export function loadProfiles(dir = defaultProfileDir): TokenProfile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as TokenProfile);
}

/** The most specific profile whose match fields all equal the token's; `generic` otherwise. */
export function selectProfile(
  profiles: TokenProfile[],
  token: { manufacturerId: string; model: string },
  forcedVendor?: string,
): TokenProfile {
  if (forcedVendor) {
    const forced = profiles.find((p) => p.vendor === forcedVendor);
    if (!forced) throw new Error(`no token profile named '${forcedVendor}'`);
    return forced;
  }
  const matching = profiles.filter(
    (p) =>
      (p.match.manufacturerId === undefined || p.match.manufacturerId === token.manufacturerId) &&
      (p.match.model === undefined || p.match.model === token.model),
  );
  matching.sort((a, b) => Object.keys(b.match).length - Object.keys(a.match).length);
  const chosen = matching[0];
  if (!chosen) throw new Error('no token profile matches and there is no generic profile');
  return chosen;
}
