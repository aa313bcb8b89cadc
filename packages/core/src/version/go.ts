/**
 * Go versions: module versions (golang.org/x/mod/semver semantics) and Go toolchain versions (for the standard
 * library), both turned into one canonical SemVer string and compared with node-semver.
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
 * Invalid: anything else, including four-part versions, `v1.2-pre`, leading zeros (`v1.02.0`), and numbers above
 * Number.MAX_SAFE_INTEGER (a node-semver limit; x/mod has none).
 */
import { compare as semverCompare, valid as semverValid } from 'semver';
import { InvalidVersionError, sign, type VersionScheme } from './scheme.js';

const NUM = '(?:0|[1-9][0-9]*)';
const PRE_ID = `(?:${NUM}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)`;
const BUILD_ID = '[0-9A-Za-z-]+';
/** x/mod semver, `v` optional: full form with optional pre-release and build, or a bare major[.minor] shorthand. */
const MODULE = new RegExp(
  `^v?(?:(${NUM})\\.(${NUM})\\.(${NUM})(-${PRE_ID}(?:\\.${PRE_ID})*)?(\\+${BUILD_ID}(?:\\.${BUILD_ID})*)?|(${NUM})(?:\\.(${NUM}))?)$`,
);
/** Go toolchain: `go` prefix, or a pre-release glued to the number (which no module version has). */
const TOOLCHAIN = new RegExp(`^(?:go(${NUM})(?:\\.(${NUM}))?(?:\\.(${NUM}))?((?:alpha|beta|rc)${NUM})?|(${NUM})(?:\\.(${NUM}))?(?:\\.(${NUM}))?((?:alpha|beta|rc)${NUM}))$`);

/** The canonical SemVer form (no `v`, three parts, build kept) of a Go version, or null if it is not one. */
export function canonicalGoVersion(v: string): string | null {
  const m = MODULE.exec(v);
  if (m !== null) {
    const s = m[1] !== undefined ? `${m[1]}.${m[2] ?? '0'}.${m[3] ?? '0'}${m[4] ?? ''}${m[5] ?? ''}` : `${m[6] ?? '0'}.${m[7] ?? '0'}.0`;
    return semverValid(s) === null ? null : s;
  }
  const t = TOOLCHAIN.exec(v);
  if (t !== null) {
    const goForm = t[1] !== undefined;
    const major = (goForm ? t[1] : t[5]) ?? '0';
    const minor = (goForm ? t[2] : t[6]) ?? '0';
    const patch = (goForm ? t[3] : t[7]) ?? '0';
    const pre = (goForm ? t[4] : t[8]) ?? '';
    const preMatch = /^(alpha|beta|rc)(\d+)$/.exec(pre);
    const s = `${major}.${minor}.${patch}${preMatch ? `-${preMatch[1] ?? ''}.${preMatch[2] ?? ''}` : ''}`;
    return semverValid(s) === null ? null : s;
  }
  return null;
}

function canonicalOrThrow(v: string): string {
  const c = canonicalGoVersion(v);
  if (c === null) throw new InvalidVersionError('golang', v, 'not a Go module or toolchain version');
  return c;
}

export const goScheme: VersionScheme = {
  name: 'golang',
  compare(a: string, b: string): -1 | 0 | 1 {
    return sign(semverCompare(canonicalOrThrow(a), canonicalOrThrow(b)));
  },
  valid(v: string): boolean {
    return canonicalGoVersion(v) !== null;
  },
};
