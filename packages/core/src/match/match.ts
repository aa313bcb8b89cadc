/**
 * Inventory × VulnDb → findings. Pure and synchronous: the CLI and the server's re-match run the same code, and
 * the database is read only through the `VulnDb` interface.
 *
 * For each package: the lookups of ecosystem.ts, every advisory affecting each lookup evaluated by ranges.ts,
 * then one finding per (package, vulnerability):
 *
 * Identity. A non-errata advisory (GHSA, GO, PYSEC, a tracker's per-CVE record, UBUNTU-CVE-…) *is* one
 * vulnerability: its id and its `aliases` name the same thing, so advisories sharing any of those ids merge.
 * An erratum (DSA, DLA, RHSA, ALSA, RLSA, USN, … — one package update fixing several CVEs, listed in `related` or
 * `aliases`) is *not* one vulnerability: it expands to one finding per CVE, with the erratum id as an alias that
 * never joins anything (otherwise two unrelated CVEs fixed by one DSA would collapse into one finding). An erratum
 * without a CVE is its own vulnerability, except bug-fix and enhancement errata (ALBA, ALEA, RHBA, RHEA, …), which
 * are not security advisories and are dropped. The finding id is a CVE when one is among the ids (the lowest, when
 * an advisory declares several aliases), else a GHSA id, else the lowest advisory id.
 *
 * Verdict per vulnerability: an explicit "not affected" for this package and release from a per-vulnerability
 * record (Debian `<not-affected>`, tracker "resolved in 0") removes it — the vendor's specific statement outweighs
 * a generic range; an erratum's `<not-affected>` line only means that erratum does not apply. Otherwise any advisory
 * saying affected makes a finding (sources are unioned: a missing fix in one feed is not hidden by another), and if
 * none says affected but one could not be decided (a version or bound the scheme refuses), the finding is still
 * reported, with status `under_investigation` and `match.by: 'unknown-version'`, next to an issue naming what could
 * not be read (house rule 7: never a silent "not affected").
 *
 * Status: `under_investigation` for unknown results; else `fixed` when a fixed version above the installed one
 * exists for this release; else the distro's status (end_of_life > will_not_fix > fix_deferred >
 * under_investigation > affected: the most specific statement about why there is no fix); else `affected`.
 *
 * Packages with `ownedBy` are skipped: a language artifact installed by an OS package (python3-yaml's dist-info,
 * a jar from libfoo-java) is covered by the distro's advisories for the owning package, whose fixes are
 * backported without changing the upstream version, so matching it against GHSA/PyPI data as well would report
 * vulnerabilities the distro already fixed, twice. Go binaries are the exception: distros track Go
 * vulnerabilities on the toolchain's source package (golang-1.19), which is not in the image, while the binary
 * carries the vulnerable standard library and modules compiled in; so they are matched even when a deb owns them.
 */
import type { Distro } from '../distro/detect.js';
import type { Issue } from '../model/issue.js';
import type { Package } from '../model/package.js';
import type { CvssScore, Finding, FindingStatus } from '../model/report.js';
import { isInvalidVersionError, type VersionScheme } from '../version/scheme.js';
import type { Advisory, Affected, VendorSeverity, VendorStatus, VulnDb } from '../vulndb/model.js';
import { distroEcosystems, lookupTargets, type LookupTarget } from './ecosystem.js';
import { boundCoercion, evaluateAffected, VersionComparator, type EvaluationProblem, type Verdict } from './ranges.js';
import { decideSeverity, erratumRating, scoreCvss } from './severity.js';

export interface MatchResult {
  readonly findings: Finding[];
  readonly issues: Issue[];
}

/** `Issue.extractor` of everything the matcher reports: names the component, as extractors name themselves. */
export const MATCH_ISSUE_SOURCE = 'match';

const CVE = /^CVE-\d{4}-\d{4,}$/;
/** Ids that embed the CVE they are about: UBUNTU-CVE-2021-3782, DEBIAN-CVE-2024-1013, ALPINE-CVE-…. */
const EMBEDDED_CVE = /^[A-Z]+-(CVE-\d{4}-\d{4,})$/;

/** Id prefixes of errata (one advisory per package update, naming the CVEs it fixes). */
const ERRATA_PREFIXES: ReadonlySet<string> = new Set([
  'DSA', 'DLA', 'DTSA', 'ELA', 'USN', 'LSN',
  'RHSA', 'RHBA', 'RHEA', 'ALSA', 'ALBA', 'ALEA', 'RLSA', 'RLBA', 'RLEA', 'ELSA', 'ELBA', 'ELEA',
  'SUSE', 'openSUSE', 'MGASA',
]);
/** Errata that are not security advisories: bug-fix and enhancement updates. */
const NON_SECURITY_ERRATA: ReadonlySet<string> = new Set(['RHBA', 'RHEA', 'ALBA', 'ALEA', 'RLBA', 'RLEA', 'ELBA', 'ELEA']);

function prefixOf(id: string): string {
  const dash = id.indexOf('-');
  return dash < 0 ? id : id.slice(0, dash);
}

function isErratumId(id: string): boolean {
  return ERRATA_PREFIXES.has(prefixOf(id));
}

/**
 * Natural order for ids and names: digit runs compare as numbers (CVE-2021-9999 < CVE-2021-10000), everything else
 * by UTF-16 code unit; a total order (ties after numeric equality, e.g. leading zeros, fall back to plain order).
 * Hand-rolled because it runs for every finding: no regex, no allocation.
 */
export function naturalCompare(a: string, b: string): number {
  const la = a.length;
  const lb = b.length;
  let i = 0;
  let j = 0;
  while (i < la && j < lb) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (ca >= 48 && ca <= 57 && cb >= 48 && cb <= 57) {
      let si = i;
      while (si < la && a.charCodeAt(si) === 48) si++;
      let sj = j;
      while (sj < lb && b.charCodeAt(sj) === 48) sj++;
      let ei = si;
      while (ei < la && isDigit(a.charCodeAt(ei))) ei++;
      let ej = sj;
      while (ej < lb && isDigit(b.charCodeAt(ej))) ej++;
      if (ei - si !== ej - sj) return ei - si < ej - sj ? -1 : 1;
      for (let k = 0; k < ei - si; k++) {
        const d = a.charCodeAt(si + k) - b.charCodeAt(sj + k);
        if (d !== 0) return d < 0 ? -1 : 1;
      }
      i = ei;
      j = ej;
      continue;
    }
    if (ca !== cb) return ca < cb ? -1 : 1;
    i++;
    j++;
  }
  if (i < la) return 1;
  if (j < lb) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

// ---------------------------------------------------------------------------------------------------------------
// Per-advisory facts that do not depend on the package (cached per advisory object)

/** How one advisory splits into vulnerabilities: join keys, plus aliases that must never join (errata ids). */
interface Identity {
  readonly keys: readonly string[];
  readonly extra: readonly string[];
  readonly erratum: boolean;
}

function identitiesOf(a: Advisory): readonly Identity[] {
  const p = prefixOf(a.id);
  if (ERRATA_PREFIXES.has(p)) {
    const ids = [...a.aliases, ...a.related];
    const cves = [...new Set(ids.map((x) => EMBEDDED_CVE.exec(x)?.[1] ?? x).filter((x) => CVE.test(x)))];
    const others = [...new Set(a.aliases.filter((x) => !CVE.test(x) && x !== a.id))];
    if (cves.length === 0) return NON_SECURITY_ERRATA.has(p) ? [] : [{ keys: [a.id], extra: others, erratum: true }];
    return cves.map((cve) => ({ keys: [cve], extra: [a.id, ...others], erratum: true }));
  }
  const keys = new Set<string>();
  const extra = new Set<string>();
  for (const id of [a.id, ...a.aliases]) {
    if (isErratumId(id)) {
      extra.add(id);
      continue;
    }
    keys.add(id);
    const embedded = EMBEDDED_CVE.exec(id)?.[1];
    if (embedded !== undefined) keys.add(embedded);
  }
  return [{ keys: [...keys], extra: [...extra], erratum: false }];
}

// ---------------------------------------------------------------------------------------------------------------
// Per-package evaluation

interface AdvisoryEvaluation {
  readonly verdict: Verdict;
  /** A per-package `not_affected` status (explicit, not merely "outside the ranges"). */
  readonly explicitNotAffected: boolean;
  readonly ranges: readonly string[];
  readonly fixed: readonly string[];
  readonly statuses: readonly VendorStatus[];
  readonly packageRatings: readonly VendorSeverity[];
  readonly problems: readonly EvaluationProblem[];
}

interface Candidate {
  readonly advisory: Advisory;
  /** The advisory's `affected` entries for the looked-up (ecosystem, package). */
  readonly entries: readonly Affected[];
}

interface Unit {
  readonly advisory: Advisory;
  readonly target: LookupTarget;
  readonly evaluation: AdvisoryEvaluation;
  readonly identity: Identity;
}

const EMPTY: readonly never[] = Object.freeze([]);

function evaluateAdvisory(
  entries: readonly Affected[],
  cmp: VersionComparator | null,
  invalid: { value: string; reason: string } | null,
): AdvisoryEvaluation {
  if (entries.length === 1) {
    // The common case, without the merging below.
    const e = entries[0]!;
    const ev = evaluateAffected(e, cmp, invalid);
    return {
      verdict: ev.verdict,
      explicitNotAffected: e.status === 'not_affected' && ev.verdict !== 'affected',
      ranges: ev.ranges,
      fixed: ev.fixed,
      statuses: e.status !== undefined && ev.verdict !== 'not_affected' ? [e.status] : EMPTY,
      packageRatings: e.severity !== undefined && ev.verdict !== 'not_affected' ? [e.severity] : EMPTY,
      problems: ev.problems,
    };
  }
  let explicit = false;
  const byVerdict: Record<Verdict, { ranges: string[]; statuses: VendorStatus[]; ratings: VendorSeverity[] }> = {
    affected: { ranges: [], statuses: [], ratings: [] },
    unknown: { ranges: [], statuses: [], ratings: [] },
    not_affected: { ranges: [], statuses: [], ratings: [] },
  };
  const fixed: string[] = [];
  const problems: EvaluationProblem[] = [];
  for (const e of entries) {
    if (e.status === 'not_affected') explicit = true;
    const ev = evaluateAffected(e, cmp, invalid);
    problems.push(...ev.problems);
    // Every fix above the installed version, from every entry for the package: Log4Shell lists its three
    // branches as three entries, and 2.4 can move to 2.12.2 or to 2.15.0.
    fixed.push(...ev.fixed);
    const slot = byVerdict[ev.verdict];
    slot.ranges.push(...ev.ranges);
    if (e.status !== undefined) slot.statuses.push(e.status);
    if (e.severity !== undefined) slot.ratings.push(e.severity);
  }
  const verdict: Verdict = byVerdict.affected.ranges.length > 0 ? 'affected' : byVerdict.unknown.ranges.length > 0 ? 'unknown' : 'not_affected';
  const slot = byVerdict[verdict];
  return {
    verdict,
    explicitNotAffected: explicit && verdict !== 'affected',
    ranges: slot.ranges,
    fixed,
    statuses: slot.statuses,
    packageRatings: slot.ratings,
    problems,
  };
}

interface VulnFacts {
  readonly id: string;
  readonly aliases: readonly string[];
  readonly cvss: readonly CvssScore[];
  readonly advisoryRatings: readonly VendorSeverity[];
  readonly kev: boolean;
  readonly epss: number | null;
}

interface EvalFacts {
  /** Fixed versions above the installed one, valid, deduplicated and in scheme order. */
  readonly fixed: readonly string[];
  readonly statuses: ReadonlySet<VendorStatus>;
  /** `Finding.match` when this evaluation speaks for a finding (shared by the findings of an erratum). */
  readonly match: Finding['match'];
}

function rankPrimary(a: Unit, b: Unit, id: string): number {
  return (
    Number(a.advisory.id !== id) - Number(b.advisory.id !== id) ||
    Number(a.identity.erratum) - Number(b.identity.erratum) ||
    naturalCompare(a.advisory.id, b.advisory.id) ||
    naturalCompare(a.advisory.source, b.advisory.source) ||
    naturalCompare(a.target.ecosystem, b.target.ecosystem)
  );
}

const STATUS_PRIORITY: readonly (VendorStatus & FindingStatus)[] = ['end_of_life', 'will_not_fix', 'fix_deferred', 'under_investigation', 'affected'];

/**
 * Group units into vulnerabilities: units sharing any join key are one vulnerability. Most units carry keys no other
 * unit has, so groups are kept in a key → group map and merged only when two meet.
 */
function groupUnits(units: readonly Unit[]): Unit[][] {
  const groupOf = new Map<string, Unit[]>();
  const groups: Unit[][] = [];
  for (const u of units) {
    let target: Unit[] | undefined;
    for (const k of u.identity.keys) {
      const g = groupOf.get(k);
      if (g === undefined || g === target) continue;
      if (target === undefined) target = g;
      else {
        // Two groups meet through this unit: move the smaller one's units and keys into the other.
        const [big, small] = target.length >= g.length ? [target, g] : [g, target];
        for (const m of small) {
          big.push(m);
          for (const mk of m.identity.keys) groupOf.set(mk, big);
        }
        small.length = 0;
        target = big;
      }
    }
    if (target === undefined) {
      target = [];
      groups.push(target);
    }
    target.push(u);
    for (const k of u.identity.keys) groupOf.set(k, target);
  }
  return groups.filter((g) => g.length > 0); // merges leave emptied groups behind
}

function byId(a: Finding, b: Finding): number {
  return naturalCompare(a.id, b.id);
}

// ---------------------------------------------------------------------------------------------------------------
// The matcher

class MatchRun {
  private readonly lookups = new Map<string, readonly Candidate[]>();
  private readonly byIdCache = new Map<string, Advisory | null>();
  private readonly kevCache = new Map<string, boolean>();
  private readonly epssCache = new Map<string, number | null>();
  private readonly identities = new WeakMap<Advisory, readonly Identity[]>();
  private readonly scored = new WeakMap<Advisory, readonly CvssScore[]>();
  private readonly issues = new Map<string, Issue>();
  private readonly unsupported = new Map<string, number>();
  /** Findings per package, each list sorted by id; the packages are ordered once at the end. */
  private readonly perPackage: { readonly pkg: Package; readonly findings: Finding[] }[] = [];
  private readonly ratings = new WeakMap<Advisory, readonly VendorSeverity[]>();
  private readonly facts = new WeakMap<Identity, VulnFacts>();
  private readonly evalCache = new WeakMap<AdvisoryEvaluation, EvalFacts>();
  private readonly summaries = new WeakMap<Advisory, string>();
  private readonly dataSources = new WeakMap<Advisory, Finding['dataSource']>();

  constructor(
    private readonly db: VulnDb,
    private readonly distro: Distro | null,
  ) {}

  private readonly osEcosystemsCache = new Map<string, ReturnType<typeof distroEcosystems>>();
  private osEcosystems = (type: 'deb' | 'apk' | 'rpm'): ReturnType<typeof distroEcosystems> => {
    let hit = this.osEcosystemsCache.get(type);
    if (hit === undefined) {
      hit = distroEcosystems(this.distro, type);
      this.osEcosystemsCache.set(type, hit);
    }
    return hit;
  };

  /** The advisories for (ecosystem, name), each with its entries for that package; looked up once per run. */
  private affecting(ecosystem: string, name: string): readonly Candidate[] {
    const k = `${ecosystem}\0${name}`;
    let hit = this.lookups.get(k);
    if (hit === undefined) {
      const list: Candidate[] = [];
      for (const advisory of this.db.affecting(ecosystem, name)) {
        const entries = advisory.affected.filter((e) => e.ecosystem === ecosystem && e.package === name);
        if (entries.length > 0) list.push({ advisory, entries });
      }
      hit = list;
      this.lookups.set(k, hit);
    }
    return hit;
  }

  private advisoryById(id: string): Advisory | null {
    let hit = this.byIdCache.get(id);
    if (hit === undefined) {
      hit = this.db.advisory(id);
      this.byIdCache.set(id, hit);
    }
    return hit;
  }

  private identitiesOf(a: Advisory): readonly Identity[] {
    let hit = this.identities.get(a);
    if (hit === undefined) {
      hit = identitiesOf(a);
      this.identities.set(a, hit);
    }
    return hit;
  }

  /** The advisory's vectors, validated and scored; invalid ones become one issue each and are dropped. */
  private cvssOf(a: Advisory): readonly CvssScore[] {
    let hit = this.scored.get(a);
    if (hit !== undefined) return hit;
    const out: CvssScore[] = [];
    for (const v of a.cvss) {
      const r = scoreCvss(v.vector, v.type);
      if (r.ok) out.push({ version: r.version, vector: v.vector, score: r.score, source: v.source });
      else this.issue(null, null, `${a.id}: CVSS vector ${JSON.stringify(v.vector)} ignored: ${r.reason}`);
    }
    hit = out;
    this.scored.set(a, hit);
    return hit;
  }

  private issue(layer: number | null, path: string | null, message: string): void {
    const k = `${layer ?? ''}\0${path ?? ''}\0${message}`;
    if (!this.issues.has(k)) this.issues.set(k, { layer, path, extractor: MATCH_ISSUE_SOURCE, message });
  }

  private kev(cve: string): boolean {
    let hit = this.kevCache.get(cve);
    if (hit === undefined) {
      hit = this.db.kev(cve) !== null;
      this.kevCache.set(cve, hit);
    }
    return hit;
  }

  private epss(cve: string): number | null {
    let hit = this.epssCache.get(cve);
    if (hit === undefined) {
      const e = this.db.epss(cve);
      hit = e === null || !Number.isFinite(e.score) ? null : e.score;
      this.epssCache.set(cve, hit);
    }
    return hit;
  }

  matchPackage(pkg: Package): void {
    if (pkg.ownedBy !== undefined && pkg.type !== 'golang') return; // see the header: matched through the owning OS package
    const t = lookupTargets(pkg, this.osEcosystems);
    if ('unsupported' in t) {
      this.unsupported.set(t.unsupported, (this.unsupported.get(t.unsupported) ?? 0) + 1);
      return;
    }
    const units: Unit[] = [];
    for (const target of t.targets) this.collectUnits(pkg, target, units);
    if (units.length === 0) return;
    const out: Finding[] = [];
    const ref: Finding['package'] = { name: pkg.name, version: pkg.version, type: pkg.type, purl: pkg.purl };
    for (const group of groupUnits(units)) {
      const f = this.finding(pkg, ref, group);
      if (f !== null) out.push(f);
    }
    if (out.length > 0) this.perPackage.push({ pkg, findings: out.sort(byId) });
  }

  /** Every advisory for one lookup, evaluated; those that may concern the package become units (one per identity). */
  private collectUnits(pkg: Package, target: LookupTarget, units: Unit[]): void {
    const advisories = this.affecting(target.ecosystem, target.name);
    if (advisories.length === 0) return;
    const invalid = invalidVersion(target.scheme, target.version);
    const cmp = invalid === null ? new VersionComparator(target.scheme, target.version, boundCoercion(target.ecosystem)) : null;
    if (invalid !== null) {
      this.issue(
        pkg.layer.index,
        pkg.locations[0] ?? null,
        `${pkg.type} ${pkg.name}@${pkg.version}: version ${JSON.stringify(target.version)} is not a valid ${target.scheme.name} version (${invalid.reason}); ` +
          `its ${target.ecosystem} advisories are reported as unknown (status under_investigation)`,
      );
    }
    for (const { advisory, entries } of advisories) {
      const evaluation = evaluateAdvisory(entries, cmp, invalid);
      if (evaluation.problems.length > 0) this.boundIssues(advisory, target, evaluation.problems);
      if (evaluation.verdict === 'not_affected' && !evaluation.explicitNotAffected) continue;
      for (const identity of this.identitiesOf(advisory)) units.push({ advisory, target, evaluation, identity });
    }
  }

  private boundIssues(advisory: Advisory, target: LookupTarget, problems: readonly EvaluationProblem[]): void {
    for (const p of problems) {
      if (p.kind !== 'range-bound') continue;
      this.issue(
        null,
        null,
        `${advisory.id} (${target.ecosystem} ${target.name}): range bound ${JSON.stringify(p.value)} cannot be compared with the ${target.scheme.name} scheme ` +
          `(${p.reason}); where it decides, the result is reported as unknown`,
      );
    }
  }

  /** Advisory-wide ratings: its own field plus the rating an erratum title carries. */
  private ratingsOf(a: Advisory): readonly VendorSeverity[] {
    let hit = this.ratings.get(a);
    if (hit === undefined) {
      const erratum = erratumRating(a);
      hit = [...(a.severity !== null ? [a.severity] : []), ...(erratum !== null ? [erratum] : [])];
      this.ratings.set(a, hit);
    }
    return hit;
  }

  /**
   * Vulnerability-level facts: they depend on which advisories and ids make up the vulnerability, not on the
   * package, so a one-advisory vulnerability (the common case, and every CVE an erratum expands to) computes them
   * once per run. The arrays are shared between findings: findings are read-only values.
   */
  private vulnFacts(group: readonly Unit[]): VulnFacts {
    const single = group.length === 1 ? group[0]!.identity : null;
    if (single !== null) {
      const hit = this.facts.get(single);
      if (hit !== undefined) return hit;
    }
    const keys = new Set<string>();
    const extras = new Set<string>();
    for (const u of group) {
      for (const k of u.identity.keys) keys.add(k);
      for (const x of u.identity.extra) extras.add(x);
    }
    const id = pickId([...keys]);
    for (const k of keys) extras.add(k);
    extras.delete(id);
    const aliases = [...extras].sort(naturalCompare);

    // Severity inputs: every advisory behind the vulnerability, plus the advisories its other ids name (a GO-…
    // record carries no rating; the GHSA it aliases does).
    const advisories = new Set<Advisory>();
    for (const u of group) advisories.add(u.advisory);
    const ownIds = new Set<string>();
    for (const a of advisories) ownIds.add(a.id);
    for (const k of keys) {
      if (ownIds.has(k)) continue;
      const other = this.advisoryById(k);
      if (other !== null) advisories.add(other);
    }
    const advisoryRatings: VendorSeverity[] = [];
    const cvssByKey = new Map<string, CvssScore>();
    for (const a of advisories) {
      advisoryRatings.push(...this.ratingsOf(a));
      for (const sc of this.cvssOf(a)) cvssByKey.set(`${sc.version}\0${sc.vector}\0${sc.source}`, sc);
    }
    const cvss = [...cvssByKey.values()].sort(
      (a, b) => naturalCompare(b.version, a.version) || naturalCompare(a.source, b.source) || naturalCompare(a.vector, b.vector),
    );
    let kev = false;
    let epss: number | null = null;
    for (const c of [id, ...aliases]) {
      if (!CVE.test(c)) continue;
      if (this.kev(c)) kev = true;
      const e = this.epss(c);
      if (e !== null && (epss === null || e > epss)) epss = e;
    }
    const facts: VulnFacts = { id, aliases, cvss, advisoryRatings, kev, epss };
    if (single !== null) this.facts.set(single, facts);
    return facts;
  }

  /** Per-evaluation facts, shared by the findings an erratum expands to. */
  private evalFacts(u: Unit): EvalFacts {
    let hit = this.evalCache.get(u.evaluation);
    if (hit === undefined) {
      hit = {
        fixed: sortedVersions(u.evaluation.fixed, u.target.scheme),
        statuses: new Set(u.evaluation.statuses),
        match: {
          by: u.evaluation.verdict === 'unknown' ? 'unknown-version' : u.target.by,
          ecosystem: u.target.ecosystem,
          range: [...new Set(u.evaluation.ranges)].join(' || '),
        },
      };
      this.evalCache.set(u.evaluation, hit);
    }
    return hit;
  }

  private dataSourceOf(a: Advisory): Finding['dataSource'] {
    let hit = this.dataSources.get(a);
    if (hit === undefined) {
      hit = { id: a.id, source: a.source };
      this.dataSources.set(a, hit);
    }
    return hit;
  }

  private finding(pkg: Package, ref: Finding['package'], group: readonly Unit[]): Finding | null {
    let affected = 0;
    let undecided = 0;
    for (const u of group) {
      if (!u.identity.erratum && u.evaluation.explicitNotAffected) return null;
      if (u.evaluation.verdict === 'affected') affected++;
      else if (u.evaluation.verdict === 'unknown') undecided++;
    }
    const unknown = affected === 0;
    if (unknown && undecided === 0) return null;
    const wanted: Verdict = unknown ? 'unknown' : 'affected';
    const contributing = group.length === 1 ? group : group.filter((u) => u.evaluation.verdict === wanted);

    const vuln = this.vulnFacts(group);
    const id = vuln.id;
    // The advisory that speaks for the finding: the one whose own id is the finding's, else a per-vulnerability
    // record before an erratum, then by id, source and ecosystem (a deterministic choice).
    let primary = contributing[0]!;
    for (const u of contributing) if (rankPrimary(u, primary, id) < 0) primary = u;
    const primaryFacts = this.evalFacts(primary);

    let fixedVersions = primaryFacts.fixed;
    let statuses = primaryFacts.statuses;
    let packageRatings = primary.evaluation.packageRatings;
    if (contributing.length > 1) {
      const all: string[] = [];
      const st = new Set<VendorStatus>();
      const ratings: VendorSeverity[] = [];
      for (const u of contributing) {
        const f = this.evalFacts(u);
        all.push(...f.fixed);
        for (const x of f.statuses) st.add(x);
        ratings.push(...u.evaluation.packageRatings);
      }
      fixedVersions = sortedVersions(all, primary.target.scheme);
      statuses = st;
      packageRatings = ratings;
    }

    let status: FindingStatus;
    if (unknown) status = 'under_investigation';
    else if (fixedVersions.length > 0) status = 'fixed';
    else status = STATUS_PRIORITY.find((x) => statuses.has(x)) ?? 'affected';

    const sev = decideSeverity({ class: pkg.class, packageRatings, advisoryRatings: vuln.advisoryRatings, cvss: vuln.cvss });

    return {
      id,
      aliases: vuln.aliases,
      packageId: pkg.id,
      package: ref,
      scanType: pkg.scanType,
      class: pkg.class,
      severity: sev.severity,
      severitySource: sev.source,
      cvss: vuln.cvss,
      status,
      fixedVersions,
      layer: pkg.layer,
      summary: this.summary(primary.advisory, group),
      dataSource: this.dataSourceOf(primary.advisory),
      match: primaryFacts.match,
      kev: vuln.kev,
      epss: vuln.epss,
    };
  }

  private summary(primary: Advisory, group: readonly Unit[]): string {
    if (group.length > 1) return summaryOf(primary, group);
    let hit = this.summaries.get(primary);
    if (hit === undefined) {
      hit = summaryOf(primary, group);
      this.summaries.set(primary, hit);
    }
    return hit;
  }

  result(): MatchResult {
    for (const [reason, n] of [...this.unsupported].sort((a, b) => naturalCompare(a[0], b[0]))) {
      this.issue(null, null, `${reason} (${n} package${n === 1 ? '' : 's'})`);
    }
    const findings = this.perPackage
      .sort(
        (a, b) =>
          naturalCompare(a.pkg.type, b.pkg.type) ||
          naturalCompare(a.pkg.name, b.pkg.name) ||
          naturalCompare(a.pkg.version, b.pkg.version) ||
          naturalCompare(a.pkg.id, b.pkg.id),
      )
      .flatMap((p) => p.findings);
    const issues = [...this.issues.values()].sort(
      (a, b) => (a.layer ?? -1) - (b.layer ?? -1) || naturalCompare(a.path ?? '', b.path ?? '') || naturalCompare(a.message, b.message),
    );
    return { findings, issues };
  }
}

/** Null when the scheme accepts the version, else the scheme's reason. */
function invalidVersion(scheme: VersionScheme, version: string): { value: string; reason: string } | null {
  if (scheme.valid(version)) return null;
  try {
    scheme.compare(version, version);
  } catch (err) {
    if (isInvalidVersionError(err)) return { value: version, reason: err.reason };
  }
  return { value: version, reason: 'refused by the scheme' };
}

/** CVE first (the lowest), then GHSA, then the lowest other id. */
function pickId(keys: readonly string[]): string {
  const sorted = [...keys].sort(naturalCompare);
  return sorted.find((k) => CVE.test(k)) ?? sorted.find((k) => k.startsWith('GHSA-')) ?? sorted[0] ?? '';
}

/** Valid versions, deduplicated by scheme equality, in scheme order. */
function sortedVersions(versions: readonly string[], scheme: VersionScheme): string[] {
  const valid = [...new Set(versions)].filter((v) => scheme.valid(v));
  valid.sort((a, b) => scheme.compare(a, b) || naturalCompare(a, b));
  const out: string[] = [];
  for (const v of valid) {
    const last = out[out.length - 1];
    if (last === undefined || scheme.compare(last, v) !== 0) out.push(v);
  }
  return out;
}

/**
 * The primary advisory's title, else the first line of its description (tracker records have no title, and an
 * erratum's title — "openssl - security update" — says less about one CVE than the CVE's own text), else another
 * advisory's title or description.
 */
function summaryOf(primary: Advisory, group: readonly Unit[]): string {
  const firstLine = (text: string): string => {
    const line = text.trim().split('\n')[0]?.trim() ?? '';
    return line.length > 200 ? `${line.slice(0, 199)}…` : line;
  };
  const candidates = [primary, ...group.map((u) => u.advisory)];
  for (const a of candidates) {
    const s = a.summary.trim() || firstLine(a.details);
    if (s !== '') return s;
  }
  return '';
}

/**
 * Match every package against the database. One finding per (package, vulnerability); issues for what could not be
 * evaluated. Deterministic: findings ordered by package (type, name, version, id) then vulnerability id, issues by
 * layer, path and message.
 */
export function matchPackages(packages: readonly Package[], distro: Distro | null, db: VulnDb): MatchResult {
  const run = new MatchRun(db, distro);
  for (const pkg of packages) run.matchPackage(pkg);
  return run.result();
}
