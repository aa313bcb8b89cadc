/**
 * OSV `affected[]` evaluation for one installed version: ECOSYSTEM and SEMVER ranges with `introduced`, `fixed`,
 * `last_affected` and `limit` events, plus the explicit `versions` list. GIT ranges are ignored (they name commits,
 * which an installed package does not have); the osv.dev copies of such records enumerate the affected releases
 * in `versions`, which is evaluated.
 *
 * Range semantics (OSV schema, "Evaluation"): sort the events by version and walk them; `introduced` switches to
 * affected at its version, `fixed` back to unaffected at its version, `last_affected` back to unaffected just after
 * its version. The state at the installed version is the answer; `limit` events additionally cap the range
 * (the version must be below some limit; `*` is no limit). Several introduced/fixed pairs in one range and events
 * listed out of order are normal (Go stdlib ranges, GHSA ranges). Implemented without sorting: the event that
 * decides is the highest event "at or below" the installed version (introduced/fixed: bound <= v; last_affected:
 * bound < v), so one comparison per event against the installed version plus a few among those events suffice.
 * On a tie between an opening and a closing event at the same version the closing one wins (an empty interval).
 * SEMVER ranges are compared with the ecosystem's scheme too (Go's SEMVER ranges drop the `v`, which the Go
 * scheme accepts); a version is only ever ordered by its ecosystem's scheme.
 *
 * Special bounds: `introduced: "0"` is "before every version" and is never parsed (npm's scheme rightly refuses
 * "0"); `limit: "*"` is "no limit". One documented coercion: an npm bound written as a partial version ("1.0",
 * "2") — GHSA data has them (GHSA-r683-j2x4-v87g) — means that release with the missing parts zero ("1.0.0"),
 * since npm only publishes full SemVer and GitHub's own range reading does the same. Installed versions are never
 * coerced.
 *
 * Unparsable input is never "not affected": a range with a bound the scheme refuses is `unknown` unless the answer
 * cannot depend on that bound (a refused `fixed`/`last_affected` cannot make a version affected, a refused
 * `introduced`/`limit` cannot make an affected version safe), or another range or the `versions` list of the same
 * entry already says affected; an installed version the scheme refuses makes every entry that has data `unknown`.
 * Every refused bound is returned as a problem either way, so the caller can report the broken record. `versions` entries are compared by exact string first, then
 * by the scheme; an entry the scheme refuses can only equal the same spelling, so it is skipped silently (it
 * cannot denote a valid installed version).
 */
import type { VersionScheme } from '../version/scheme.js';
import { isInvalidVersionError } from '../version/scheme.js';
import type { Affected, AffectedRange, RangeEvent } from '../vulndb/model.js';

export type Verdict = 'affected' | 'not_affected' | 'unknown';

export interface AffectedEvaluation {
  readonly verdict: Verdict;
  /**
   * Human-readable ranges: for `affected` the interval(s) holding the installed version ('>=2.13.0, <2.15.0',
   * '<1.19.10', '=0.7.29', '>=0' for an open range), for `unknown` the ranges that could not be decided, as written.
   */
  readonly ranges: readonly string[];
  /**
   * `fixed` events above the installed version, as written in the data (unsorted; every range of the entry). When
   * the installed version itself cannot be compared, every `fixed` event: the user still learns where fixes are.
   */
  readonly fixed: readonly string[];
  /** Why something was `unknown`: each refused version or bound, once. */
  readonly problems: readonly EvaluationProblem[];
}

export interface EvaluationProblem {
  readonly kind: 'installed-version' | 'range-bound';
  readonly value: string;
  readonly reason: string;
}

/** A comparison against the installed version, bound to one scheme; the installed version is known valid. */
export class VersionComparator {
  private readonly cache = new Map<string, -1 | 0 | 1 | InvalidBound>();

  constructor(
    readonly scheme: VersionScheme,
    readonly installed: string,
    private readonly coerce: (bound: string) => string,
  ) {}

  /** Sign of (installed − bound), or InvalidBound. Cached: the same bounds recur across a package's advisories. */
  vsInstalled(bound: string): -1 | 0 | 1 | InvalidBound {
    const hit = this.cache.get(bound);
    if (hit !== undefined) return hit;
    let r: -1 | 0 | 1 | InvalidBound;
    try {
      r = this.scheme.compare(this.installed, this.coerce(bound));
    } catch (err) {
      if (!isInvalidVersionError(err)) throw err;
      r = new InvalidBound(bound, err.reason);
    }
    this.cache.set(bound, r);
    return r;
  }

  /** Order two bounds already known valid (they compared against the installed version). */
  bounds(a: string, b: string): -1 | 0 | 1 {
    return this.scheme.compare(this.coerce(a), this.coerce(b));
  }
}

export class InvalidBound {
  constructor(
    readonly value: string,
    readonly reason: string,
  ) {}
}

const asWritten = (b: string): string => b;
const npmPartial = (b: string): string => (/^\d+$/.test(b) ? `${b}.0.0` : /^\d+\.\d+$/.test(b) ? `${b}.0` : b);

/** The coercion named in the header (npm partial versions); identity elsewhere. */
export function boundCoercion(ecosystem: string): (bound: string) => string {
  return ecosystem === 'npm' ? npmPartial : asWritten;
}

type Kind = 'introduced' | 'fixed' | 'last_affected' | 'limit';

function eventOf(e: RangeEvent): { kind: Kind; bound: string } {
  if ('introduced' in e) return { kind: 'introduced', bound: e.introduced };
  if ('fixed' in e) return { kind: 'fixed', bound: e.fixed };
  if ('last_affected' in e) return { kind: 'last_affected', bound: e.last_affected };
  return { kind: 'limit', bound: e.limit };
}

/** A range as written, for display when it could not be decided. */
export function describeRange(range: AffectedRange): string {
  const parts = range.events.map((e) => {
    const { kind, bound } = eventOf(e);
    switch (kind) {
      case 'introduced':
        return `>=${bound}`;
      case 'fixed':
        return `<${bound}`;
      case 'last_affected':
        return `<=${bound}`;
      case 'limit':
        return `limit ${bound}`;
    }
  });
  return parts.length > 0 ? parts.join(', ') : '(no events)';
}

interface RangeResult {
  readonly verdict: Verdict;
  readonly display: string;
  readonly fixed: readonly string[];
  readonly problems: readonly EvaluationProblem[];
}

function problemOf(b: InvalidBound): EvaluationProblem {
  return { kind: 'range-bound', value: b.value, reason: b.reason };
}

/** One ECOSYSTEM/SEMVER range against the installed version (see the header for the algorithm). */
const NONE: readonly never[] = Object.freeze([]);

export function evaluateRange(range: AffectedRange, cmp: VersionComparator): RangeResult {
  // Written allocation-light: this runs for every (package, advisory, range), and most answers are "not affected".
  let fixed: string[] | null = null;
  let problems: EvaluationProblem[] | null = null;
  // The deciding event: the highest applicable one; `deciderBound` null = introduced "0".
  let hasDecider = false;
  let deciderBound: string | null = null;
  let deciderOpening = false;
  let sawIntroduced = false;
  // Which kinds of event could not be compared: a refused closing event cannot make a version affected, a refused
  // opening event (or limit) cannot make an affected version unaffected; anything else is undecidable.
  let invalidOpening = false;
  let invalidClosing = false;
  let limits = 0;
  let belowALimit = false;
  // Closing bounds above the installed version, for the display of the interval (the nearest one is the end).
  let above: { bound: string; inclusive: boolean }[] | null = null;

  for (const e of range.events) {
    let kind: Kind;
    let bound: string;
    if ('introduced' in e) {
      kind = 'introduced';
      bound = e.introduced;
      sawIntroduced = true;
      if (bound === '0') {
        if (!hasDecider) {
          hasDecider = true;
          deciderBound = null;
          deciderOpening = true;
        }
        continue;
      }
    } else if ('fixed' in e) {
      kind = 'fixed';
      bound = e.fixed;
    } else if ('last_affected' in e) {
      kind = 'last_affected';
      bound = e.last_affected;
    } else {
      kind = 'limit';
      bound = e.limit;
      limits++;
      if (bound === '*') {
        belowALimit = true;
        continue;
      }
    }
    const c = cmp.vsInstalled(bound);
    if (c instanceof InvalidBound) {
      (problems ??= []).push(problemOf(c));
      if (kind === 'introduced' || kind === 'limit') invalidOpening = true;
      else invalidClosing = true;
      continue;
    }
    let applicable = false;
    switch (kind) {
      case 'limit':
        if (c < 0) belowALimit = true;
        continue;
      case 'introduced':
        applicable = c >= 0;
        break;
      case 'fixed':
        applicable = c >= 0;
        if (!applicable) {
          (fixed ??= []).push(bound);
          (above ??= []).push({ bound, inclusive: false });
        }
        break;
      case 'last_affected':
        applicable = c > 0;
        if (!applicable) (above ??= []).push({ bound, inclusive: true });
        break;
    }
    if (!applicable) continue;
    const opening = kind === 'introduced';
    // The later of two applicable events wins; at equal versions the closing one (an empty interval).
    if (!hasDecider || deciderBound === null) {
      hasDecider = true;
      deciderBound = bound;
      deciderOpening = opening;
    } else {
      const o = cmp.bounds(bound, deciderBound);
      if (o > 0 || (o === 0 && !opening)) {
        deciderBound = bound;
        deciderOpening = opening;
      }
    }
  }

  const fixedOut = fixed ?? NONE;
  const problemsOut = problems ?? NONE;
  if (!sawIntroduced) {
    // The schema requires an `introduced` in every range; without one the walk never turns affected, which would
    // silently read "not affected" out of a broken record.
    const display = describeRange(range);
    return { verdict: 'unknown', display, fixed: fixedOut, problems: [...problemsOut, { kind: 'range-bound', value: display, reason: 'range has no introduced event' }] };
  }
  const affected = hasDecider && deciderOpening && (limits === 0 || belowALimit);
  if (problems !== null) {
    const decided = affected ? !invalidClosing : !invalidOpening;
    if (!decided) return { verdict: 'unknown', display: describeRange(range), fixed: fixedOut, problems: problemsOut };
  }
  if (!affected) return { verdict: 'not_affected', display: '', fixed: fixedOut, problems: problemsOut };
  return { verdict: 'affected', display: intervalText(deciderBound, above ?? NONE, cmp), fixed: fixedOut, problems: problemsOut };
}

function intervalText(lower: string | null, above: readonly { bound: string; inclusive: boolean }[], cmp: VersionComparator): string {
  let end: { bound: string; inclusive: boolean } | null = null;
  for (const a of above) {
    if (end === null) end = a;
    else {
      const c = cmp.bounds(a.bound, end.bound);
      // The nearest closing bound ends the interval; at equal versions `<X` ends it before `<=X` does.
      if (c < 0 || (c === 0 && !a.inclusive)) end = a;
    }
  }
  const parts: string[] = [];
  if (lower !== null) parts.push(`>=${lower}`);
  if (end !== null) parts.push(`${end.inclusive ? '<=' : '<'}${end.bound}`);
  return parts.length > 0 ? parts.join(', ') : '>=0';
}

/**
 * A necessary condition for scheme equality, for the language schemes whose data carries long `versions` lists
 * (osv.dev enumerates every affected release there): the version's digit runs before any `+`, leading zeros
 * dropped, zero-valued runs dropped. Equal versions always have equal keys under these schemes ("1.0" = "1.0.0",
 * "1.0a1" = "1.0.alpha.1", "v1.2.3" = "1.2.3+build.5", "2.0.RELEASE" = "2"), so the scheme only has to look at the
 * listed versions with the installed version's key instead of every entry (a PyPI list has hundreds).
 * Checked against every `=` line of the shared version vectors for these schemes (ranges.test.ts). Not used for
 * apk (its junk-tail rule makes "1-ruff1" = "1-ruff2") nor for deb/rpm, whose records carry no lists.
 */
export function equalityKey(v: string): string {
  const plus = v.indexOf('+');
  const s = plus < 0 ? v : v.slice(0, plus);
  let out = '';
  for (let i = 0; i < s.length; ) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) {
      i++;
      continue;
    }
    let j = i;
    while (j < s.length && s.charCodeAt(j) === 48) j++;
    let k = j;
    while (k < s.length && s.charCodeAt(k) >= 48 && s.charCodeAt(k) <= 57) k++;
    if (k > j) out += out === '' ? s.slice(j, k) : `.${s.slice(j, k)}`;
    i = k;
  }
  return out;
}

const KEYED_SCHEMES: ReadonlySet<string> = new Set(['pypi', 'maven', 'npm', 'golang', 'nuget']);
const listIndexes = new WeakMap<readonly string[], ReadonlyMap<string, readonly string[]>>();

function listIndex(versions: readonly string[]): ReadonlyMap<string, readonly string[]> {
  let idx = listIndexes.get(versions);
  if (idx === undefined) {
    const m = new Map<string, string[]>();
    for (const v of versions) {
      const k = equalityKey(v);
      const list = m.get(k);
      if (list) list.push(v);
      else m.set(k, [v]);
    }
    idx = m;
    listIndexes.set(versions, idx);
  }
  return idx;
}

/** The listed version equal to the installed one (exact spelling first, then scheme equality), or null. */
function listed(versions: readonly string[], cmp: VersionComparator): string | null {
  if (versions.includes(cmp.installed)) return cmp.installed;
  const candidates = KEYED_SCHEMES.has(cmp.scheme.name) ? (listIndex(versions).get(equalityKey(cmp.installed)) ?? NONE) : versions;
  for (const v of candidates) if (cmp.vsInstalled(v) === 0) return v;
  return null;
}

const OPEN_STATUSES: ReadonlySet<string> = new Set(['affected', 'will_not_fix', 'fix_deferred', 'end_of_life', 'under_investigation']);

/**
 * One `affected` entry against an installed version. `cmp` is null when the installed version is invalid for the
 * scheme (`invalidInstalled` says why): then any entry with data is `unknown`.
 */
export function evaluateAffected(
  entry: Affected,
  cmp: VersionComparator | null,
  invalidInstalled: { value: string; reason: string } | null = null,
): AffectedEvaluation {
  if (entry.status === 'not_affected') return { verdict: 'not_affected', ranges: NONE, fixed: NONE, problems: NONE };
  const ranges = entry.ranges.some((r) => r.type === 'GIT') ? entry.ranges.filter((r) => r.type !== 'GIT') : entry.ranges;
  const hasData = ranges.length > 0 || entry.versions.length > 0;
  if (!hasData) {
    // A distro tracker may state an open status without a range; the status is the fact.
    if (entry.status !== undefined && OPEN_STATUSES.has(entry.status)) return { verdict: 'affected', ranges: ['>=0'], fixed: [], problems: [] };
    return { verdict: 'not_affected', ranges: NONE, fixed: NONE, problems: NONE };
  }
  if (cmp === null) {
    const problem: EvaluationProblem = { kind: 'installed-version', value: invalidInstalled?.value ?? '', reason: invalidInstalled?.reason ?? 'invalid version' };
    const fixed = ranges.flatMap((r) => r.events.flatMap((e) => ('fixed' in e ? [e.fixed] : [])));
    return { verdict: 'unknown', ranges: ranges.map(describeRange), fixed, problems: [problem] };
  }

  // The common shape (one range, no list) returns the range's own arrays; several are concatenated.
  let hits: string[] | null = null;
  let undecided: string[] | null = null;
  let fixed: readonly string[] = NONE;
  let problems: readonly EvaluationProblem[] = NONE;
  for (const r of ranges) {
    const res = evaluateRange(r, cmp);
    if (res.fixed.length > 0) fixed = fixed.length === 0 ? res.fixed : [...fixed, ...res.fixed];
    if (res.problems.length > 0) problems = problems.length === 0 ? res.problems : [...problems, ...res.problems];
    if (res.verdict === 'affected') (hits ??= []).push(res.display);
    else if (res.verdict === 'unknown') (undecided ??= []).push(res.display);
  }
  // The list is consulted only when no range matched: osv.dev enumerates the range's versions there, which would
  // only repeat the range in the display.
  if (hits === null && entry.versions.length > 0) {
    const exact = listed(entry.versions, cmp);
    if (exact !== null) hits = [`=${exact}`];
  }
  if (hits !== null) return { verdict: 'affected', ranges: hits, fixed, problems };
  if (undecided !== null) return { verdict: 'unknown', ranges: undecided, fixed, problems };
  return { verdict: 'not_affected', ranges: NONE, fixed, problems };
}
