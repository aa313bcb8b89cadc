/**
 * Debian facts shared by the tracker JSON and the DSA/DLA list importers: release codenames → the release numbers
 * used in OSV ecosystem names (`Debian:12`), and tracker urgencies → Tally's severity scale.
 */
import type { VendorSeverity } from '../model.js';

/**
 * Codename → number, as Debian numbers its releases and as the distro detector reports `VERSION_ID` (major only
 * from 4 on). woody and sarge keep their dotted numbers (3.0, 3.1): they shared a major.
 * `sid` and `experimental` are deliberately absent: unstable has no release number, and an image built from it is
 * matched against nothing rather than against a guess.
 */
const RELEASES: ReadonlyMap<string, string> = new Map([
  ['hamm', '2.0'],
  ['slink', '2.1'],
  ['potato', '2.2'],
  ['woody', '3.0'],
  ['sarge', '3.1'],
  ['etch', '4'],
  ['lenny', '5'],
  ['squeeze', '6'],
  ['wheezy', '7'],
  ['jessie', '8'],
  ['stretch', '9'],
  ['buster', '10'],
  ['bullseye', '11'],
  ['bookworm', '12'],
  ['trixie', '13'],
  ['forky', '14'],
  ['duke', '15'],
]);

/** `bookworm` → `Debian:12`; null for sid, experimental and names this table does not know. */
export function debianEcosystem(codename: string): string | null {
  const n = RELEASES.get(codename.toLowerCase());
  return n === undefined ? null : `Debian:${n}`;
}

/**
 * Tracker urgency → severity. The tracker marks urgencies it inferred from NVD with `*` or `**` (`high**`), which
 * do not change the level. `not yet assigned` and `end-of-life` are not severities: null.
 */
export function debianUrgency(urgency: string): VendorSeverity['level'] | null {
  const u = urgency.trim().toLowerCase().replace(/\*+$/, '');
  switch (u) {
    case 'unimportant':
      return 'NEGLIGIBLE';
    case 'low':
      return 'LOW';
    case 'medium':
      return 'MEDIUM';
    case 'high':
      return 'HIGH';
    default:
      return null;
  }
}

export const DEBIAN_TRACKER_URL = 'https://security-tracker.debian.org/tracker/';
