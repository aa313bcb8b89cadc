/**
 * Go versions: module versions (golang.org/x/mod/semver semantics) and Go toolchain versions (for the standard
 * library), both read as SemVer 2.0.0 and compared by SemVer precedence.
 *
 * Module versions: `v1.2.3`, `v1.2.3-pre.1`, pseudo-versions (`v0.0.0-20060102150405-abcdef123456`,
 * `v1.3.0-pre.0.20060102150405-abcdef123456`), `+incompatible`. The `v` is optional because OSV Go ranges drop it
 * (`fixed: "1.6.0"`). As in x/mod: `v1` and `v1.2` are shorthands for `v1.0.0` and `v1.2.0` (only without a
 * pre-release or build suffix), numbers have no leading zeros, and build metadata (so `+incompatible`) is ignored.
 * A pseudo-version sorts below the release it precedes, as SemVer pre-release ordering gives for free.
 *
 * Toolchain versions: `go1.21.3`, `go1.21`, `go1.21rc2`, `go1.9beta1`, and the same without `go` when a
 * pre-release is glued on (`1.21rc2`). They map the way the Go vulnerability database maps them to SemVer:
 * `go1.21rc2 → 1.21.0-rc.2`, `go1.21 → 1.21.0`, `go1.21.3 → 1.21.3`. Hence `1.21rc2 < 1.21.0 < 1.21.1` and
 * `1.21.0-0 < 1.21rc1` (OSV's `introduced: 1.21.0-0` covers the release candidates). Note: Go's own `go/version`
 * puts the *language* version `1.21` below `1.21rc1`; a bare `1.21` here is the module shorthand `1.21.0`, which is
 * what stdlib vulnerability ranges mean.
 *
 * Invalid: anything else, including four-part versions, `v1.2-pre`, and leading zeros (`v1.02.0`, `v1.0.0-01`).
 *
 * The comparison itself is SemVer 2.0.0 precedence done here rather than by node-semver: x/mod puts no limit on
 * numbers (its own test table compares `v1.2.99999999999999999`), node-semver refuses anything above 2^53 - 1 and
 * turns big pre-release numbers into strings.
 */
import { InvalidVersionError, compareDigitStrings, compareStrings, isAsciiDigit, type VersionScheme } from './scheme.js';

export interface GoVersion {
  readonly major: string;
  readonly minor: string;
  readonly patch: string;
  /** Pre-release identifiers; empty for a release. */
  readonly prerelease: readonly string[];
}

const NUM = '(?:0|[1-9][0-9]*)';
const PRE_ID = `(?:${NUM}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)`;
const BUILD_ID = '[0-9A-Za-z-]+';
/** x/mod semver, `v` optional: full form with optional pre-release and build, or a bare major[.minor] shorthand. */
const MODULE = new RegExp(
  `^v?(?:(${NUM})\\.(${NUM})\\.(${NUM})(?:-(${PRE_ID}(?:\\.${PRE_ID})*))?(?:\\+${BUILD_ID}(?:\\.${BUILD_ID})*)?|(${NUM})(?:\\.(${NUM}))?)$`,
);
/** Go toolchain: `go` prefix, or a pre-release glued to the number (which no module version has). */
const TOOLCHAIN = new RegExp(
  `^(?:go(${NUM})(?:\\.(${NUM}))?(?:\\.(${NUM}))?(?:(alpha|beta|rc)(${NUM}))?|(${NUM})(?:\\.(${NUM}))?(?:\\.(${NUM}))?(alpha|beta|rc)(${NUM}))$`,
);

/** Parse a Go module or toolchain version (see the module comment), or null. */
export function parseGoVersion(v: string): GoVersion | null {
  const m = MODULE.exec(v);
  if (m !== null) {
    if (m[1] !== undefined) {
      return { major: m[1], minor: m[2] ?? '0', patch: m[3] ?? '0', prerelease: m[4] === undefined ? [] : m[4].split('.') };
    }
    return { major: m[5] ?? '0', minor: m[6] ?? '0', patch: '0', prerelease: [] };
  }
  const t = TOOLCHAIN.exec(v);
  if (t !== null) {
    const goForm = t[1] !== undefined;
    const label = goForm ? t[4] : t[9];
    const n = goForm ? t[5] : t[10];
    return {
      major: (goForm ? t[1] : t[6]) ?? '0',
      minor: (goForm ? t[2] : t[7]) ?? '0',
      patch: (goForm ? t[3] : t[8]) ?? '0',
      prerelease: label === undefined || n === undefined ? [] : [label, n],
    };
  }
  return null;
}

/** The canonical SemVer spelling (`1.21.0-rc.2`, build metadata dropped), or null if `v` is not a Go version. */
export function canonicalGoVersion(v: string): string | null {
  const p = parseGoVersion(v);
  if (p === null) return null;
  return `${p.major}.${p.minor}.${p.patch}${p.prerelease.length > 0 ? `-${p.prerelease.join('.')}` : ''}`;
}

function isNumeric(id: string): boolean {
  for (let i = 0; i < id.length; i++) if (!isAsciiDigit(id.charCodeAt(i))) return false;
  return id.length > 0;
}

/** SemVer 2.0.0 precedence. */
export function compareGoVersions(a: GoVersion, b: GoVersion): -1 | 0 | 1 {
  const core = compareDigitStrings(a.major, b.major) || compareDigitStrings(a.minor, b.minor) || compareDigitStrings(a.patch, b.patch);
  if (core !== 0) return core;
  const pa = a.prerelease;
  const pb = b.prerelease;
  if (pa.length === 0 || pb.length === 0) {
    if (pa.length === pb.length) return 0;
    return pa.length === 0 ? 1 : -1; // a release sorts after its pre-releases
  }
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = isNumeric(x);
    const ny = isNumeric(y);
    const r = nx && ny ? compareDigitStrings(x, y) : nx !== ny ? (nx ? -1 : 1) : compareStrings(x, y);
    if (r !== 0) return r;
  }
  return pa.length === pb.length ? 0 : pa.length < pb.length ? -1 : 1;
}

function parseOrThrow(v: string): GoVersion {
  const p = parseGoVersion(v);
  if (p === null) throw new InvalidVersionError('golang', v, 'not a Go module or toolchain version');
  return p;
}

export const goScheme: VersionScheme = {
  name: 'golang',
  compare(a: string, b: string): -1 | 0 | 1 {
    return compareGoVersions(parseOrThrow(a), parseOrThrow(b));
  },
  valid(v: string): boolean {
    return parseGoVersion(v) !== null;
  },
};
