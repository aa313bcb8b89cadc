/**
 * Debian package versions, ordered as `dpkg --compare-versions` does (deb-version(7)):
 * `[epoch:]upstream_version[-debian_revision]`.
 *
 * - The epoch is the part before the first `:`; it must be a decimal number (dpkg's strtol also takes a `+` sign)
 *   no larger than INT_MAX. A missing epoch is 0.
 * - The revision is the part after the last `-`; a missing revision compares like `0` (so `1.0` = `1.0-0`).
 * - Upstream and revision are compared by alternating runs: a run of non-digits compared character by character
 *   (letters first, in ASCII order, then every other character after all letters; `~` sorts before everything,
 *   even the end of the string), then a run of digits compared as a number (no size limit). Hence
 *   `1.0~rc1 < 1.0 < 1.0a < 1.0+b1 < 1.0.1` and `1:0.9 > 2.0`. Non-ASCII characters (forbidden by policy, only warned
 *   about by dpkg) count as "other" characters, ordered by UTF-16 code unit.
 *
 * Leniency follows dpkg: what dpkg only warns about (a version not starting with a digit, characters outside the
 * policy set) is accepted and compared. What dpkg rejects as bad syntax is invalid here: an empty string,
 * whitespace, an empty or non-numeric or too-big epoch, nothing after the colon, an empty revision after a
 * trailing `-`, or an empty upstream part.
 */
import { InvalidVersionError, compareDigitStrings, hasSpaceOrControl, isAsciiDigit, isAsciiLetter, type VersionScheme } from './scheme.js';

export interface DebVersion {
  /** Decimal digits, leading zeros kept, sign dropped ('' when absent). */
  readonly epoch: string;
  readonly upstream: string;
  /** '' when absent. */
  readonly revision: string;
}

const INT_MAX_DIGITS = '2147483647';

/** Split a Debian version into its parts, or return the reason dpkg would give for rejecting it. */
export function parseDebVersion(v: string): DebVersion | string {
  if (v.length === 0) return 'empty';
  if (hasSpaceOrControl(v)) return 'contains whitespace or control characters';
  let rest = v;
  let epoch = '';
  const colon = v.indexOf(':');
  if (colon >= 0) {
    epoch = v.slice(0, colon);
    // dpkg reads the epoch with strtol: an optional sign, then digits
    const sign = epoch.charCodeAt(0);
    if (sign === 43 /* + */ || sign === 45 /* - */) epoch = epoch.slice(1);
    if (epoch.length === 0) return 'epoch is empty';
    for (let i = 0; i < epoch.length; i++) if (!isAsciiDigit(epoch.charCodeAt(i))) return 'epoch is not a number';
    if (sign === 45 && compareDigitStrings(epoch, '0') !== 0) return 'epoch is negative';
    if (compareDigitStrings(epoch, INT_MAX_DIGITS) > 0) return 'epoch is too big';
    rest = v.slice(colon + 1);
    if (rest.length === 0) return 'nothing after the epoch colon';
  }
  let upstream = rest;
  let revision = '';
  const hyphen = rest.lastIndexOf('-');
  if (hyphen >= 0) {
    upstream = rest.slice(0, hyphen);
    revision = rest.slice(hyphen + 1);
    if (revision.length === 0) return 'revision is empty';
  }
  if (upstream.length === 0) return 'upstream version is empty';
  return { epoch, upstream, revision };
}

/** Weight of one character inside a non-digit run (0 stands for "end of run"). */
function weight(s: string, i: number): number {
  if (i >= s.length) return 0;
  const c = s.charCodeAt(i);
  if (isAsciiDigit(c)) return 0;
  if (isAsciiLetter(c)) return c;
  if (c === 126) return -1; // '~'
  return c + 256;
}

/** dpkg's ordering of one upstream version or revision string. */
export function compareDebFragment(a: string, b: string): -1 | 0 | 1 {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // non-digit run, character by character; a shorter run behaves as if padded with "end" (weight 0)
    while ((i < a.length && !isAsciiDigit(a.charCodeAt(i))) || (j < b.length && !isAsciiDigit(b.charCodeAt(j)))) {
      const wa = weight(a, i);
      const wb = weight(b, j);
      if (wa !== wb) return wa < wb ? -1 : 1;
      i++;
      j++;
    }
    // digit run, as an unbounded integer
    const si = i;
    while (i < a.length && isAsciiDigit(a.charCodeAt(i))) i++;
    const sj = j;
    while (j < b.length && isAsciiDigit(b.charCodeAt(j))) j++;
    const d = compareDigitStrings(a.slice(si, i), b.slice(sj, j));
    if (d !== 0) return d;
  }
  return 0;
}

function parseOrThrow(v: string): DebVersion {
  const parsed = parseDebVersion(v);
  if (typeof parsed === 'string') throw new InvalidVersionError('deb', v, parsed);
  return parsed;
}

export const debScheme: VersionScheme = {
  name: 'deb',
  compare(a: string, b: string): -1 | 0 | 1 {
    const x = parseOrThrow(a);
    const y = parseOrThrow(b);
    return compareDigitStrings(x.epoch, y.epoch) || compareDebFragment(x.upstream, y.upstream) || compareDebFragment(x.revision, y.revision);
  },
  valid(v: string): boolean {
    return typeof parseDebVersion(v) !== 'string';
  },
};
