/**
 * Maven versions, ordered like maven-artifact 3.9.x `ComparableVersion` (the "Version Order Specification" of the
 * POM reference), written from that specification and checked against maven-artifact-3.9.6.jar.
 *
 * - The version is lower-cased and cut into tokens at `.`, at `-`, and at every switch between digits and
 *   non-digits. A `-` or a digit/letter switch opens a nested sub-list (`1-2` is `[1, [2]]`, `1rc2` is
 *   `[1, [rc, [2]]]`); a `.` stays in the current list, except that a qualifier right after a `.` (followed by a
 *   number, or ending the version) is read as if after a `-`: `1.0.0.rc1 = 1.0.0-rc1`, `2.0.a < 2-1`. An empty token
 *   is `0`.
 * - Numbers compare as unbounded integers. Qualifiers order `alpha < beta < milestone < rc = cr < snapshot <
 *   "" = ga = final = release < sp < any other word` (other words among themselves alphabetically); `a1`, `b1`,
 *   `m1` mean `alpha-1`, `beta-1`, `milestone-1`.
 * - Trailing "null" items (`0`, the release qualifiers, empty lists) are dropped from every list, so `1.0.0 = 1`,
 *   `1-ga = 1`, `1.0-final = 1`.
 * - Lists compare item by item, a missing item counting as "null": a number beats a list, which beats a qualifier
 *   (`1.0.1 > 1.0-1 > 1.0-rc1`), and `1-snapshot < 1 < 1-sp1 < 1.1`.
 *
 * Tool-dependent cases (maven-version-dependent.txt: MNG-7644 and later changes, where the vectors' sources expect
 * a newer rule): this module answers like **maven-artifact 3.9.6** (the same as 3.8.7 there), e.g. `1-1 > 1-ga-1`,
 * `6.1.12.rc5 > 6.1.12rc1`, `1.2.31.sec10 > 1.2.31_noneautotype`. Checked against maven-artifact-3.9.6.jar on 60,000
 * random and vector-derived pairs: no difference.
 *
 * Every string is a Maven version (ComparableVersion accepts anything); only the empty string and strings with
 * whitespace or control characters are invalid here. Only ASCII 0-9 count as digits (Java's Character.isDigit
 * would also take other Unicode digits; no real artifact uses them).
 */
import { InvalidVersionError, compareDigitStrings, compareStrings, hasSpaceOrControl, isAsciiDigit, type VersionScheme } from './scheme.js';

type Item =
  | { readonly kind: 'number'; readonly digits: string }
  | { readonly kind: 'qualifier'; readonly key: string }
  | { readonly kind: 'list'; readonly items: Item[] };

const KNOWN_QUALIFIERS: readonly string[] = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const QUALIFIER_ALIASES: ReadonlyMap<string, string> = new Map([
  ['ga', ''],
  ['final', ''],
  ['release', ''],
  ['cr', 'rc'],
]);
/** Sort key of the release qualifier ("", ga, final, release). */
const RELEASE_KEY = String(KNOWN_QUALIFIERS.indexOf(''));

/** Sort key of a qualifier: its rank among the known ones, or "7-word" so unknown words sort after all of them. */
function qualifierKey(word: string): string {
  const canonical = QUALIFIER_ALIASES.get(word) ?? word;
  const rank = KNOWN_QUALIFIERS.indexOf(canonical);
  return rank >= 0 ? String(rank) : `${KNOWN_QUALIFIERS.length}-${canonical}`;
}

function qualifier(word: string, followedByDigit: boolean): Item {
  let w = word;
  if (followedByDigit && w.length === 1) {
    if (w === 'a') w = 'alpha';
    else if (w === 'b') w = 'beta';
    else if (w === 'm') w = 'milestone';
  }
  return { kind: 'qualifier', key: qualifierKey(w) };
}

function numberItem(digits: string): Item {
  let i = 0;
  while (i < digits.length - 1 && digits.charCodeAt(i) === 48) i++;
  return { kind: 'number', digits: digits.slice(i) };
}

const ZERO: Item = { kind: 'number', digits: '0' };

function isNullItem(item: Item): boolean {
  switch (item.kind) {
    case 'number':
      return compareDigitStrings(item.digits, '0') === 0;
    case 'qualifier':
      return item.key === RELEASE_KEY;
    case 'list':
      return item.items.length === 0;
  }
}

/** Drop trailing null items; a non-null list is stepped over, anything else non-null stops the trimming. */
function trimNulls(items: Item[]): void {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i];
    if (item === undefined) continue;
    if (isNullItem(item)) items.splice(i, 1);
    else if (item.kind !== 'list') break;
  }
}

/** Parse into the nested item list. */
export function parseMavenVersion(version: string): Item[] {
  const v = version.toLowerCase();
  const root: Item[] = [];
  const opened: Item[][] = [root]; // every list, outermost first
  let list = root;
  const openSublist = (): void => {
    const sub: Item[] = [];
    list.push({ kind: 'list', items: sub });
    opened.push(sub);
    list = sub;
  };
  const token = (start: number, end: number, digits: boolean): Item => (digits ? numberItem(v.slice(start, end)) : qualifier(v.slice(start, end), false));

  let start = 0;
  let digits = false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 46 /* . */ || c === 45 /* - */) {
      list.push(i === start ? ZERO : token(start, i, digits));
      start = i + 1;
      if (c === 45) openSublist();
    } else if (isAsciiDigit(c)) {
      if (!digits && i > start) {
        // a qualifier directly after `.` is read as if after `-`: `1.0.0.x1` sorts like `1.0.0-x1`
        if (list.length > 0) openSublist();
        list.push(qualifier(v.slice(start, i), true));
        start = i;
        openSublist();
      }
      digits = true;
    } else {
      if (digits && i > start) {
        list.push(numberItem(v.slice(start, i)));
        start = i;
        openSublist();
      }
      digits = false;
    }
  }
  if (v.length > start) {
    if (!digits && list.length > 0) openSublist(); // same rule for a trailing qualifier: `2.0.a` sorts like `2.0-a`
    list.push(token(start, v.length, digits));
  }
  for (let k = opened.length - 1; k >= 0; k--) trimNulls(opened[k] ?? []);
  return root;
}

/** Compare an item with another item, or with "nothing" (`null`: the shorter list ran out). */
function compareItem(x: Item, y: Item | null): -1 | 0 | 1 {
  switch (x.kind) {
    case 'number':
      if (y === null) return compareDigitStrings(x.digits, '0') === 0 ? 0 : 1;
      return y.kind === 'number' ? compareDigitStrings(x.digits, y.digits) : 1;
    case 'qualifier':
      if (y === null) return compareStrings(x.key, RELEASE_KEY);
      return y.kind === 'qualifier' ? compareStrings(x.key, y.key) : -1;
    case 'list':
      if (y === null) {
        for (const item of x.items) {
          const r = compareItem(item, null);
          if (r !== 0) return r;
        }
        return 0;
      }
      if (y.kind === 'number') return -1;
      if (y.kind === 'qualifier') return 1;
      return compareLists(x.items, y.items);
  }
}

function negate(r: -1 | 0 | 1): -1 | 0 | 1 {
  return r === 0 ? 0 : r === 1 ? -1 : 1;
}

function compareLists(a: readonly Item[], b: readonly Item[]): -1 | 0 | 1 {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    const r = x === null ? (y === null ? 0 : negate(compareItem(y, null))) : compareItem(x, y);
    if (r !== 0) return r;
  }
  return 0;
}

function check(v: string): void {
  if (v.length === 0) throw new InvalidVersionError('maven', v, 'empty');
  if (hasSpaceOrControl(v)) throw new InvalidVersionError('maven', v, 'contains whitespace or control characters');
}

export const mavenScheme: VersionScheme = {
  name: 'maven',
  compare(a: string, b: string): -1 | 0 | 1 {
    check(a);
    check(b);
    return compareLists(parseMavenVersion(a), parseMavenVersion(b));
  },
  valid(v: string): boolean {
    return v.length > 0 && !hasSpaceOrControl(v);
  },
};
