/**
 * purl type → version scheme. An explicit table (no import side effects); `registry.test.ts` keeps it in step with
 * the scheme modules of this folder.
 */
import { apkScheme } from './apk.js';
import { debScheme } from './deb.js';
import { goScheme } from './go.js';
import { mavenScheme } from './maven.js';
import { nugetScheme } from './nuget.js';
import { pep440Scheme } from './pep440.js';
import { rpmScheme } from './rpm.js';
import { UnsupportedVersionSchemeError, type VersionScheme } from './scheme.js';
import { npmScheme } from './semver.js';

export const VERSION_SCHEMES: Readonly<Record<string, VersionScheme>> = Object.freeze({
  deb: debScheme,
  rpm: rpmScheme,
  apk: apkScheme,
  npm: npmScheme,
  pypi: pep440Scheme,
  maven: mavenScheme,
  nuget: nugetScheme,
  golang: goScheme,
});

/** The scheme for a purl type (`deb`, `rpm`, `apk`, `npm`, `pypi`, `maven`, `nuget`, `golang`), or null. */
export function schemeFor(purlType: string): VersionScheme | null {
  return Object.hasOwn(VERSION_SCHEMES, purlType) ? (VERSION_SCHEMES[purlType] ?? null) : null;
}

/**
 * Compare two versions of a purl type. Throws `UnsupportedVersionSchemeError` for a type without a scheme and
 * `InvalidVersionError` for a version the scheme refuses.
 */
export function compareVersions(purlType: string, a: string, b: string): -1 | 0 | 1 {
  const scheme = schemeFor(purlType);
  if (scheme === null) throw new UnsupportedVersionSchemeError(purlType);
  return scheme.compare(a, b);
}
