/**
 * npm package versions: SemVer 2.0.0 exactly as node-semver 7 implements it (the library npm itself uses).
 *
 * `npmScheme` is node-semver's *strict* mode, which is what the npm registry and OSV npm ranges contain:
 * `MAJOR.MINOR.PATCH[-prerelease][+build]`, an optional leading `v` and surrounding spaces tolerated (node-semver
 * trims and accepts `v1.2.3`), no leading zeros in numeric parts, numbers up to Number.MAX_SAFE_INTEGER. Build
 * metadata is ignored (`1.2.3+a = 1.2.3+b`).
 *
 * `npmLooseScheme` / `compareNpmLoose` use `{ loose: true }` for what lockfiles and old package.json files contain:
 * `=1.2.3`, `v 1.2.3`, `1.2.3beta`, `1.2.3-01`. Use it only on the installed side, never to make a vulnerability
 * range match.
 */
import { compare as semverCompare, satisfies as semverSatisfies, valid as semverValid, validRange } from 'semver';
import { InvalidVersionError, sign, type VersionScheme } from './scheme.js';

export type NpmRangeMode = 'strict' | 'loose' | 'includePrerelease';

function compareWith(name: string, loose: boolean, a: string, b: string): -1 | 0 | 1 {
  if (semverValid(a, { loose }) === null) throw new InvalidVersionError(name, a, loose ? 'not a semver version, even loosely' : 'not a strict semver version');
  if (semverValid(b, { loose }) === null) throw new InvalidVersionError(name, b, loose ? 'not a semver version, even loosely' : 'not a strict semver version');
  return sign(semverCompare(a, b, { loose }));
}

export const npmScheme: VersionScheme = {
  name: 'npm',
  compare(a: string, b: string): -1 | 0 | 1 {
    return compareWith('npm', false, a, b);
  },
  valid(v: string): boolean {
    return semverValid(v) !== null;
  },
};

export const npmLooseScheme: VersionScheme = {
  name: 'npm-loose',
  compare(a: string, b: string): -1 | 0 | 1 {
    return compareWith('npm-loose', true, a, b);
  },
  valid(v: string): boolean {
    return semverValid(v, { loose: true }) !== null;
  },
};

/** node-semver `{ loose: true }` comparison, for lockfile junk (`=1.2.3`, `v1.2.3`, `1.2.3beta`). */
export function compareNpmLoose(a: string, b: string): -1 | 0 | 1 {
  return npmLooseScheme.compare(a, b);
}

function rangeOptions(mode: NpmRangeMode): { loose?: boolean; includePrerelease?: boolean } {
  return mode === 'loose' ? { loose: true } : mode === 'includePrerelease' ? { includePrerelease: true } : {};
}

/**
 * node-semver range satisfaction (`^1.2.3`, `~1.2`, `1.0.0 - 2.0.0`, `>=1 <2 || 3.x`; an empty range is `*`). An
 * unparsable range or version gives false, as in node-semver; check `isValidNpmRange` first when that matters.
 */
export function npmSatisfies(version: string, range: string, mode: NpmRangeMode = 'strict'): boolean {
  return semverSatisfies(version, range, rangeOptions(mode));
}

/** Whether node-semver can parse the range at all. */
export function isValidNpmRange(range: string, mode: NpmRangeMode = 'strict'): boolean {
  return validRange(range, rangeOptions(mode)) !== null;
}
