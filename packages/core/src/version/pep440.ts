/**
 * Python package versions: PEP 440, as python `packaging` (≥ 22) orders them, through @renovatebot/pep440 (checked
 * against packaging 26.2). Examples: `1.0.dev1 < 1.0a1 < 1.0rc1 < 1.0 = 1.0.0 < 1.0+local < 1.0.post1 < 1!0.1`.
 * Spelling variants are normalised (`1.0-RC1 = 1.0rc1`, `v1.0 = 1.0`, `1.0-1 = 1.0.post1`).
 *
 * Legacy (pre-PEP 440) versions such as `0.1-bulbasaur` or `2013-01-21T20:33:09+0100` are NOT supported: they are
 * invalid, exactly as current `packaging` refuses them (it dropped `LegacyVersion` in 22.0), so the matcher reports
 * "unknown" instead of guessing an order (pip 24.1 dropped them too).
 *
 * Two guards keep the library honest:
 * - it turns every number into a JS Number, so a numeric part above 2^53 - 1 would silently lose precision: such a
 *   version is rejected (`InvalidVersionError`, reason 'number too large') rather than compared wrongly;
 * - it reads local-version parts with `Number()`, which takes `0x10`, `1e3` or `Infinity` for numbers: the local
 *   part (after `+`) is therefore compared here, by PEP 440's rule (split on `.`/`-`/`_`; all-digit parts compare
 *   as integers and sort after alphanumeric parts, which compare case-insensitively; a longer local version wins a
 *   tie; no local version sorts first).
 */
import { compare as pep440Compare, valid as pep440Valid } from '@renovatebot/pep440';
import { InvalidVersionError, compareDigitStrings, compareStrings, isAsciiDigit, sign, type VersionScheme } from './scheme.js';

const MAX_SAFE = String(Number.MAX_SAFE_INTEGER);

function invalidReason(v: string): string | null {
  if (pep440Valid(v) === null) return 'not a PEP 440 version';
  // every digit run must survive Number()
  for (let i = 0; i < v.length; ) {
    if (!isAsciiDigit(v.charCodeAt(i))) {
      i++;
      continue;
    }
    const start = i;
    while (i < v.length && isAsciiDigit(v.charCodeAt(i))) i++;
    if (compareDigitStrings(v.slice(start, i), MAX_SAFE) > 0) return 'number too large for exact comparison';
  }
  return null;
}

function isAllDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isAsciiDigit(s.charCodeAt(i))) return false;
  return true;
}

/** PEP 440 local version ordering; `null` = no local part. */
function compareLocal(a: string | null, b: string | null): -1 | 0 | 1 {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  const pa = a.toLowerCase().split(/[._-]/);
  const pb = b.toLowerCase().split(/[._-]/);
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = isAllDigits(x);
    const ny = isAllDigits(y);
    let r: -1 | 0 | 1;
    if (nx && ny) r = compareDigitStrings(x, y);
    else if (nx !== ny) r = nx ? 1 : -1; // numeric parts sort after alphanumeric ones
    else r = compareStrings(x, y);
    if (r !== 0) return r;
  }
  return sign(pa.length - pb.length);
}

function splitLocal(v: string): [publicPart: string, local: string | null] {
  const plus = v.indexOf('+');
  return plus < 0 ? [v, null] : [v.slice(0, plus), v.slice(plus + 1)];
}

export const pep440Scheme: VersionScheme = {
  name: 'pypi',
  compare(a: string, b: string): -1 | 0 | 1 {
    const ra = invalidReason(a);
    if (ra !== null) throw new InvalidVersionError('pypi', a, ra);
    const rb = invalidReason(b);
    if (rb !== null) throw new InvalidVersionError('pypi', b, rb);
    const [pa, la] = splitLocal(a);
    const [pb, lb] = splitLocal(b);
    return sign(pep440Compare(pa, pb)) || compareLocal(la, lb);
  },
  valid(v: string): boolean {
    return invalidReason(v) === null;
  },
};
