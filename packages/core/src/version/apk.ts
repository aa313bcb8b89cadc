/**
 * Alpine (apk-tools) package versions: `number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}`.
 *
 * Ordering. A version is read as a sequence of tokens and two versions are compared token by token:
 * - numbers compare as unbounded integers, except that a dotted (non-first) component with a leading zero on either
 *   side compares as a string (apk-tools 3, Gentoo rule): `8.2.0 < 8.2.001 < 8.2.0015 < 8.2.002`;
 * - the letter compares by character; suffixes in the order `alpha < beta < pre < rc < (none) < cvs < svn < git <
 *   hg < p`, then their numbers; the `~hash` compares as a string; the `-r` revision as a number;
 * - when the two token sequences first differ in *kind* (one version has more parts), a pre-release suffix
 *   (`_alpha`, `_beta`, `_pre`, `_rc`) loses; otherwise the version whose next token is "earlier" in the grammar
 *   wins: another number beats a letter, beats a suffix, beats a hash, beats a revision, beats the end of the string
 *   (`1.2.1 > 1.2a > 1.2_p1 > 1.2-r1 > 1.2 > 1.2_rc1`).
 *
 * Leniency. `apk version -t` orders any string, and real secdb/OSV data contains versions apk-tools 3 would refuse
 * (`6.6.2p1`, old openssh), so `compare` accepts every non-empty string without whitespace, reading it as apk-tools
 * 2.x did and as the shared vectors (generated with `apk version -t`) require:
 * - a letter may be followed by digits, read as another number (`6.6.2p1 < 6.6.2p2`, and `6.6.2p1 > 6.6.2_p1`);
 * - an empty number (leading `.`, `..`, a version starting with a letter) counts as 0 in first position, and as an
 *   "empty component" elsewhere that sorts below a real number and below a letter (`0..8 > 0...8`, `0.r1 < 0r2`);
 * - `-r` with no digits is revision 0 (`1-r = 1-r0`), but `-r` followed by a letter is not a revision (`1-ruff`);
 * - anything that does not fit the grammar is junk: comparison stops there, two junk tails are equal, and a junk
 *   tail sorts below anything else (`1.2 > 1.2_blah`, `1.2_cvs1 > 1.2_blah`, `1-ruff1 = 1-ruff2`).
 * `isStrictApkVersion` is apk-tools 3's own validity rule (what `abuild` lets into a package), for callers that
 * want to flag such versions.
 */
import {
  InvalidVersionError,
  compareDigitStrings,
  compareStrings,
  hasSpaceOrControl,
  isAsciiDigit,
  type VersionScheme,
} from './scheme.js';

// Token kinds, in grammar order. On a kind mismatch the side with the *higher* kind is the lesser version.
const NUM = 1;
const LETTER = 2;
const EMPTY = 3; // lenient: a dotted component with no digits
const SUFFIX = 4;
const SUFFIX_NO = 5;
const HASH = 6;
const REVISION = 7;
const END = 8;
const JUNK = 9;

interface Token {
  readonly kind: number;
  /** The digits, the letter, the suffix name, the hash, or the junk tail. */
  readonly text: string;
  /** SUFFIX: ordering weight (pre-release < 0 < post-release). */
  readonly weight: number;
  /** NUM: a `.`-separated component after the first (the leading-zero string rule applies). */
  readonly dotted: boolean;
  /** NUM: digits that follow a letter (lenient, apk-tools 2.x). */
  readonly afterLetter: boolean;
}

const SUFFIX_WEIGHT: ReadonlyMap<string, number> = new Map([
  ['alpha', -4],
  ['beta', -3],
  ['pre', -2],
  ['rc', -1],
  ['cvs', 1],
  ['svn', 2],
  ['git', 3],
  ['hg', 4],
  ['p', 5],
]);

function isLower(c: number): boolean {
  return c >= 97 && c <= 122;
}

function isLowerHex(c: number): boolean {
  return isAsciiDigit(c) || (c >= 97 && c <= 102);
}

function token(kind: number, text = '', extra?: { weight?: number; dotted?: boolean; afterLetter?: boolean }): Token {
  return { kind, text, weight: extra?.weight ?? 0, dotted: extra?.dotted ?? false, afterLetter: extra?.afterLetter ?? false };
}

/** Read a version into tokens; the last one is always END or JUNK. */
function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const digits = (): string => {
    const start = i;
    while (i < s.length && isAsciiDigit(s.charCodeAt(i))) i++;
    return s.slice(start, i);
  };
  out.push(token(NUM, digits()));
  let prev = NUM;
  for (;;) {
    if (i >= s.length) {
      out.push(token(END));
      return out;
    }
    const c = s.charCodeAt(i);
    let next: Token | null = null;
    if (isLower(c)) {
      if (prev === NUM || prev === EMPTY) {
        next = token(LETTER, s[i]);
        i++;
      }
    } else if (isAsciiDigit(c)) {
      // only reachable right after a letter or a suffix name: number runs are read whole
      if (prev === LETTER) next = token(NUM, digits(), { afterLetter: true });
      else if (prev === SUFFIX) next = token(SUFFIX_NO, digits());
    } else if (c === 46 /* . */) {
      if (prev === NUM || prev === EMPTY) {
        i++;
        const d = digits();
        next = d.length > 0 ? token(NUM, d, { dotted: true }) : token(EMPTY);
      }
    } else if (c === 95 /* _ */) {
      if (prev <= SUFFIX_NO) {
        const start = i + 1;
        let k = start;
        while (k < s.length && isLower(s.charCodeAt(k))) k++;
        const w = SUFFIX_WEIGHT.get(s.slice(start, k));
        if (w !== undefined) {
          next = token(SUFFIX, s.slice(start, k), { weight: w });
          i = k;
        }
      }
    } else if (c === 126 /* ~ */) {
      if (prev < HASH) {
        const start = i + 1;
        let k = start;
        while (k < s.length && isLowerHex(s.charCodeAt(k))) k++;
        if (k > start) {
          next = token(HASH, s.slice(start, k));
          i = k;
        }
      }
    } else if (c === 45 /* - */) {
      if (prev < REVISION && s.charCodeAt(i + 1) === 114 /* r */ && !isLower(s.charCodeAt(i + 2))) {
        i += 2;
        next = token(REVISION, digits());
      }
    }
    if (next === null) {
      out.push(token(JUNK, s.slice(i)));
      return out;
    }
    out.push(next);
    prev = next.kind;
  }
}

function compareSameKind(x: Token, y: Token): -1 | 0 | 1 {
  switch (x.kind) {
    case NUM:
      if (x.dotted && y.dotted && (x.text.charCodeAt(0) === 48 || y.text.charCodeAt(0) === 48)) {
        return compareStrings(x.text, y.text);
      }
      return compareDigitStrings(x.text, y.text);
    case SUFFIX_NO:
    case REVISION:
      return compareDigitStrings(x.text, y.text);
    case SUFFIX:
      return x.weight < y.weight ? -1 : x.weight > y.weight ? 1 : 0;
    case LETTER:
    case HASH:
      return compareStrings(x.text, y.text);
    default:
      return 0; // EMPTY, END, JUNK
  }
}

function compareTokens(ta: readonly Token[], tb: readonly Token[], fuzzy: boolean): -1 | 0 | 1 {
  let n = 0;
  for (;;) {
    const x = ta[n];
    const y = tb[n];
    if (x === undefined || y === undefined) return 0; // unreachable: both end with END or JUNK
    if (x.kind !== y.kind) {
      if (fuzzy && y.kind === END) return 0; // b is a prefix of a: `a ~ b`
      if (x.kind === SUFFIX && x.weight < 0) return -1;
      if (y.kind === SUFFIX && y.weight < 0) return 1;
      return x.kind > y.kind ? -1 : 1;
    }
    if (x.kind === END || x.kind === JUNK) return 0;
    const r = compareSameKind(x, y);
    if (r !== 0) return r;
    n++;
  }
}

function tokenizeOrThrow(v: string): Token[] {
  if (v.length === 0) throw new InvalidVersionError('apk', v, 'empty');
  if (hasSpaceOrControl(v)) throw new InvalidVersionError('apk', v, 'contains whitespace or control characters');
  return tokenize(v);
}

/** apk-tools 3 `apk_version_validate`: the version is fully in the grammar (no lenient reading needed). */
export function isStrictApkVersion(v: string): boolean {
  if (v.length === 0 || hasSpaceOrControl(v)) return false;
  const tokens = tokenize(v);
  for (const t of tokens) {
    if (t.kind === JUNK || t.kind === EMPTY || t.afterLetter) return false;
    if (t.kind === NUM && t.text.length === 0) return false; // no leading number
    if (t.kind === REVISION && t.text.length === 0) return false; // `-r` without digits
  }
  return true;
}

/**
 * apk's fuzzy comparison (`~` dependency operator): like `compare`, but when every token of `b` matched the start of
 * `a`, the result is 0. So `3.6.9 ~ 3.6` and `3.6_pre1 ~ 3.6`, but not `3.8 ~ 3.8.1`.
 */
export function compareApkFuzzy(a: string, b: string): -1 | 0 | 1 {
  return compareTokens(tokenizeOrThrow(a), tokenizeOrThrow(b), true);
}

export type ApkOperator = '<' | '<=' | '=' | '>=' | '>' | '~' | '<~' | '>~' | '!~' | '!=';

/**
 * apk's `apk_version_match(a, op, b)`: does `a` satisfy `op b`? `~` matches by prefix; `<~` / `>~` mean "less /
 * greater, or a fuzzy match"; a leading `!` negates.
 */
export function apkVersionMatch(a: string, op: ApkOperator, b: string): boolean {
  const negate = op.startsWith('!');
  const ops = negate ? op.slice(1) : op;
  const fuzzy = ops.includes('~');
  const r = fuzzy ? compareApkFuzzy(a, b) : apkScheme.compare(a, b);
  const ok = (r < 0 && ops.includes('<')) || (r > 0 && ops.includes('>')) || (r === 0 && (ops.includes('=') || fuzzy));
  return negate ? !ok : ok;
}

export const apkScheme: VersionScheme = {
  name: 'apk',
  compare(a: string, b: string): -1 | 0 | 1 {
    return compareTokens(tokenizeOrThrow(a), tokenizeOrThrow(b), false);
  },
  valid(v: string): boolean {
    return v.length > 0 && !hasSpaceOrControl(v);
  },
};
