/**
 * Severity of a finding: CVSS vectors validated and scored, vendor ratings, and the one precedence rule.
 *
 * THE PRECEDENCE RULE (copied into the docs; `severitySource` names the tier that decided):
 *
 *   1. OS packages (deb, apk, rpm):
 *        a. the distro's rating of this package for this vulnerability (the tracker's per-package rating, e.g. the
 *           Debian urgency: unimportant → NEGLIGIBLE, low → LOW, medium → MEDIUM, high → HIGH);
 *        b. else the distro advisory's own rating (an advisory-wide distro rating; for Red Hat family errata
 *           (RHSA/ALSA/RLSA/ELSA) the "Critical/Important/Moderate/Low:" prefix of the title →
 *           CRITICAL/HIGH/MEDIUM/LOW);
 *        c. else CVSS (rule 3).
 *      severitySource: the distro ("debian", "ubuntu", "alpine", "redhat", "almalinux", "rocky", …).
 *   2. Language packages and runtimes (npm, pypi, maven, golang, nuget, the node binary):
 *        a. the GitHub advisory rating (GHSA `database_specific.severity`: LOW/MODERATE/HIGH/CRITICAL), taken from
 *           a matched GHSA or from the GHSA an alias points to;
 *        b. else the Node.js Security WG's rating (its legacy npm and Node.js core advisories);
 *        c. else CVSS (rule 3).
 *      severitySource: "ghsa" | "nodejs-security-wg".
 *   3. CVSS: the newest CVSS version present wins, v4.0 > v3.1 > v3.0 > v2.0, whatever its source; several
 *      vectors of that version → the highest score. Score → FIRST qualitative rating:
 *        v3.x / v4.0: 0.0 → NEGLIGIBLE (FIRST "None": no impact, so not even LOW), 0.1–3.9 LOW, 4.0–6.9 MEDIUM,
 *                     7.0–8.9 HIGH, 9.0–10.0 CRITICAL;
 *        v2.0:        0.0–3.9 LOW, 4.0–6.9 MEDIUM, 7.0–10.0 HIGH (v2 has no CRITICAL).
 *      severitySource: "cvss-v4.0" | "cvss-v3.1" | "cvss-v3.0" | "cvss-v2.0".
 *   4. Nothing usable → UNKNOWN, severitySource "none".
 *   Several ratings in the deciding tier (two distro feeds, a DSA line and the tracker) → the highest level:
 *   when sources disagree about one vulnerability, the report errs towards attention.
 *
 * Why vendor first: a distro rates the vulnerability as it ships in its own build (backports, compile options,
 * default configuration); NVD's CVSS rates the upstream worst case. For language packages the package *is* the
 * upstream, and GHSA's rating is curated per package, so it comes before a bare vector.
 * Why newest CVSS first: later versions fix known v2/v3 distortions; a v4 vector is a deliberate, recent choice.
 *
 * Vectors are validated here before scoring (every base metric present exactly once, every metric and value legal
 * for its version, the prefix matching the declared OSV type) because ae-cvss-calculator scores a malformed vector
 * as 0 instead of refusing it. v2 and v3.x report the base score (what NVD and GHSA publish); v4.0 reports the
 * score of the whole vector (CVSS-B, -BT, -BE or -BTE: v4 has no separate "base score" once threat metrics are
 * given). Scores are cached by vector: the same few thousand vectors recur across a scan.
 */
import ae from 'ae-cvss-calculator';
import type { PackageClass } from '../model/package.js';
import type { CvssScore, Severity } from '../model/report.js';
import type { Advisory, CvssVector, VendorSeverity } from '../vulndb/model.js';

export type CvssVersion = CvssScore['version'];

// ---------------------------------------------------------------------------------------------------------------
// Validation

/** Legal values per metric; `base` lists the metrics every vector must carry. */
interface MetricTable {
  readonly base: readonly string[];
  readonly values: Readonly<Record<string, readonly string[]>>;
}

const CIA2 = ['N', 'P', 'C'];
const REQ2 = ['L', 'M', 'H', 'ND'];
const V2: MetricTable = {
  base: ['AV', 'AC', 'Au', 'C', 'I', 'A'],
  values: {
    AV: ['L', 'A', 'N'],
    AC: ['H', 'M', 'L'],
    Au: ['M', 'S', 'N'],
    C: CIA2,
    I: CIA2,
    A: CIA2,
    E: ['U', 'POC', 'F', 'H', 'ND'],
    RL: ['OF', 'TF', 'W', 'U', 'ND'],
    RC: ['UC', 'UR', 'C', 'ND'],
    CDP: ['N', 'L', 'LM', 'MH', 'H', 'ND'],
    TD: ['N', 'L', 'M', 'H', 'ND'],
    CR: REQ2,
    IR: REQ2,
    AR: REQ2,
  },
};

const CIA3 = ['H', 'L', 'N'];
const MCIA3 = ['X', 'H', 'L', 'N'];
const REQ3 = ['X', 'L', 'M', 'H'];
/** CVSS 3.0 and 3.1 share metrics and values (3.1 changed formulas and guidance, not the vocabulary). */
const V3: MetricTable = {
  base: ['AV', 'AC', 'PR', 'UI', 'S', 'C', 'I', 'A'],
  values: {
    AV: ['N', 'A', 'L', 'P'],
    AC: ['L', 'H'],
    PR: ['N', 'L', 'H'],
    UI: ['N', 'R'],
    S: ['U', 'C'],
    C: CIA3,
    I: CIA3,
    A: CIA3,
    E: ['X', 'U', 'P', 'F', 'H'],
    RL: ['X', 'O', 'T', 'W', 'U'],
    RC: ['X', 'U', 'R', 'C'],
    CR: REQ3,
    IR: REQ3,
    AR: REQ3,
    MAV: ['X', 'N', 'A', 'L', 'P'],
    MAC: ['X', 'L', 'H'],
    MPR: ['X', 'N', 'L', 'H'],
    MUI: ['X', 'N', 'R'],
    MS: ['X', 'U', 'C'],
    MC: MCIA3,
    MI: MCIA3,
    MA: MCIA3,
  },
};

const V4: MetricTable = {
  base: ['AV', 'AC', 'AT', 'PR', 'UI', 'VC', 'VI', 'VA', 'SC', 'SI', 'SA'],
  values: {
    AV: ['N', 'A', 'L', 'P'],
    AC: ['L', 'H'],
    AT: ['N', 'P'],
    PR: ['N', 'L', 'H'],
    UI: ['N', 'P', 'A'],
    VC: CIA3,
    VI: CIA3,
    VA: CIA3,
    SC: CIA3,
    SI: CIA3,
    SA: CIA3,
    E: ['X', 'A', 'P', 'U'],
    CR: ['X', 'H', 'M', 'L'],
    IR: ['X', 'H', 'M', 'L'],
    AR: ['X', 'H', 'M', 'L'],
    MAV: ['X', 'N', 'A', 'L', 'P'],
    MAC: ['X', 'L', 'H'],
    MAT: ['X', 'N', 'P'],
    MPR: ['X', 'N', 'L', 'H'],
    MUI: ['X', 'N', 'P', 'A'],
    MVC: MCIA3,
    MVI: MCIA3,
    MVA: MCIA3,
    MSC: MCIA3,
    MSI: ['X', 'S', 'H', 'L', 'N'],
    MSA: ['X', 'S', 'H', 'L', 'N'],
    S: ['X', 'N', 'P'],
    AU: ['X', 'N', 'Y'],
    R: ['X', 'A', 'U', 'I'],
    V: ['X', 'D', 'C'],
    RE: ['X', 'L', 'M', 'H'],
    U: ['X', 'Clear', 'Green', 'Amber', 'Red'],
  },
};

export type CvssCheck = { readonly ok: true; readonly version: CvssVersion } | { readonly ok: false; readonly reason: string };

const PREFIXES: ReadonlyArray<readonly [string, CvssVersion, MetricTable]> = [
  ['CVSS:3.1/', '3.1', V3],
  ['CVSS:3.0/', '3.0', V3],
  ['CVSS:4.0/', '4.0', V4],
];

function checkMetrics(body: string, table: MetricTable): string | null {
  if (body === '') return 'no metrics';
  const seen = new Set<string>();
  for (const part of body.split('/')) {
    const colon = part.indexOf(':');
    if (colon <= 0) return `malformed metric ${JSON.stringify(part)}`;
    const name = part.slice(0, colon);
    const value = part.slice(colon + 1);
    const legal = Object.hasOwn(table.values, name) ? table.values[name] : undefined;
    if (legal === undefined) return `unknown metric ${JSON.stringify(name)}`;
    if (!legal.includes(value)) return `illegal value ${JSON.stringify(value)} for ${name}`;
    if (seen.has(name)) return `metric ${name} given twice`;
    seen.add(name);
  }
  const missing = table.base.filter((m) => !seen.has(m));
  return missing.length > 0 ? `missing base metric${missing.length > 1 ? 's' : ''} ${missing.join(', ')}` : null;
}

/**
 * Is `vector` a well-formed CVSS vector, and of which version? The `CVSS:3.x/` prefix decides 3.0 vs 3.1; a vector
 * without a prefix is v2 (NVD's form, `AV:N/AC:L/Au:N/C:P/I:P/A:P`). When the OSV severity type is given, it must
 * agree with the prefix (a `CVSS_V3` entry holding a v2 vector is refused, not reinterpreted).
 */
export function validateCvss(vector: string, declared?: CvssVector['type']): CvssCheck {
  if (vector.length > 512) return { ok: false, reason: 'vector too long' };
  let version: CvssVersion = '2.0';
  let table = V2;
  let body = vector;
  if (vector.startsWith('CVSS:')) {
    const hit = PREFIXES.find(([p]) => vector.startsWith(p));
    if (hit === undefined) return { ok: false, reason: `unknown CVSS version prefix ${JSON.stringify(vector.slice(0, 9))}` };
    [, version, table] = hit;
    body = vector.slice(hit[0].length);
  }
  if (declared !== undefined) {
    const expected = declared === 'CVSS_V2' ? ['2.0'] : declared === 'CVSS_V3' ? ['3.0', '3.1'] : ['4.0'];
    if (!expected.includes(version)) return { ok: false, reason: `${declared} entry holds a CVSS ${version} vector` };
  }
  const problem = checkMetrics(body, table);
  return problem === null ? { ok: true, version } : { ok: false, reason: problem };
}

// ---------------------------------------------------------------------------------------------------------------
// Scoring

export type CvssResult =
  | { readonly ok: true; readonly version: CvssVersion; readonly score: number }
  | { readonly ok: false; readonly reason: string };

const scoreCache = new Map<string, CvssResult>();
const SCORE_CACHE_LIMIT = 100_000;

function calculate(vector: string, version: CvssVersion): number | undefined {
  switch (version) {
    case '2.0':
      return new ae.Cvss2(vector).calculateScores().base;
    case '3.0':
      return new ae.Cvss3P0(vector).calculateScores().base;
    case '3.1':
      return new ae.Cvss3P1(vector).calculateScores().base;
    case '4.0':
      return new ae.Cvss4P0(vector).calculateScores().overall;
  }
}

/** Validate, then score with ae-cvss-calculator; cached by (declared type, vector). Never throws. */
export function scoreCvss(vector: string, declared?: CvssVector['type']): CvssResult {
  const key = `${declared ?? ''}\0${vector}`;
  const hit = scoreCache.get(key);
  if (hit !== undefined) return hit;
  let result: CvssResult;
  const check = validateCvss(vector, declared);
  if (!check.ok) {
    result = check;
  } else {
    let score: number | undefined;
    try {
      score = calculate(vector, check.version);
    } catch (err) {
      // The calculator throws on inputs our validation let through only if the two disagree: refuse, do not guess.
      result = { ok: false, reason: `calculator error: ${err instanceof Error ? err.message : String(err)}` };
      return remember(key, result);
    }
    result =
      typeof score === 'number' && Number.isFinite(score) && score >= 0 && score <= 10
        ? { ok: true, version: check.version, score: Math.round(score * 10) / 10 }
        : { ok: false, reason: 'calculator returned no score' };
  }
  return remember(key, result);
}

function remember(key: string, result: CvssResult): CvssResult {
  if (scoreCache.size >= SCORE_CACHE_LIMIT) scoreCache.clear(); // a crude bound; real scans use far fewer vectors
  scoreCache.set(key, result);
  return result;
}

/** FIRST qualitative rating of a score (see the rule at the top for v2 vs v3/v4 and for 0.0). */
export function cvssSeverity(version: CvssVersion, score: number): Severity {
  if (version === '2.0') return score >= 7 ? 'HIGH' : score >= 4 ? 'MEDIUM' : 'LOW';
  if (score >= 9) return 'CRITICAL';
  if (score >= 7) return 'HIGH';
  if (score >= 4) return 'MEDIUM';
  if (score > 0) return 'LOW';
  return 'NEGLIGIBLE';
}

// ---------------------------------------------------------------------------------------------------------------
// Vendor ratings

/** Sources whose ratings are a distro's own (rule 1). Anything else (ghsa, nvd, go-vulndb, …) is not. */
const DISTRO_SOURCES: ReadonlySet<string> = new Set([
  'debian',
  'ubuntu',
  'alpine',
  'redhat',
  'almalinux',
  'rocky',
  'oracle',
  'suse',
  'amazon',
  'wolfi',
  'chainguard',
]);

export function isDistroSource(source: string): boolean {
  return DISTRO_SOURCES.has(source);
}

/** Red Hat's four-level scale, which AlmaLinux, Rocky and Oracle errata reuse. */
const RED_HAT_SCALE: Readonly<Record<string, VendorSeverity['level']>> = {
  critical: 'CRITICAL',
  important: 'HIGH',
  moderate: 'MEDIUM',
  low: 'LOW',
};

const RED_HAT_FAMILY: Readonly<Record<string, string>> = { RHSA: 'redhat', ALSA: 'almalinux', RLSA: 'rocky', ELSA: 'oracle' };

/**
 * Red Hat family security errata carry their rating only as a title prefix ("Important: firefox security
 * update"); the OSV conversion keeps the title but has no severity field. Read it back as the distro's rating.
 */
export function erratumRating(advisory: Pick<Advisory, 'id' | 'summary'>): VendorSeverity | null {
  const source = RED_HAT_FAMILY[advisory.id.split('-')[0] ?? ''];
  if (source === undefined) return null;
  const m = /^\s*(Critical|Important|Moderate|Low)\s*:/i.exec(advisory.summary);
  const level = m ? RED_HAT_SCALE[m[1]!.toLowerCase()] : undefined;
  return level === undefined ? null : { level, source };
}

// ---------------------------------------------------------------------------------------------------------------
// The rule

export interface SeverityInput {
  readonly class: PackageClass;
  /** Ratings on the matched `affected` entries (the tracker's per-package urgency). */
  readonly packageRatings: readonly VendorSeverity[];
  /** Advisory-wide ratings of every advisory behind the finding (GHSA severity, erratum title ratings, …). */
  readonly advisoryRatings: readonly VendorSeverity[];
  /** Scored vectors (invalid ones already dropped). */
  readonly cvss: readonly CvssScore[];
}

export interface SeverityDecision {
  readonly severity: Severity;
  readonly source: string;
}

const LEVEL_RANK: Readonly<Record<Severity, number>> = { CRITICAL: 5, HIGH: 4, MEDIUM: 3, LOW: 2, NEGLIGIBLE: 1, UNKNOWN: 0 };
const VERSION_RANK: Readonly<Record<CvssVersion, number>> = { '4.0': 4, '3.1': 3, '3.0': 2, '2.0': 1 };

/**
 * The highest rating of a tier (only sources `accept` admits), ignoring UNKNOWN: a vendor saying "unknown" has not
 * rated. Ties: the first source by name. Runs once per finding, so it does not allocate.
 */
function highest(ratings: readonly VendorSeverity[], accept: (source: string) => boolean): SeverityDecision | null {
  let best: VendorSeverity | null = null;
  for (const r of ratings) {
    if (r.level === 'UNKNOWN' || !accept(r.source)) continue;
    if (best === null || LEVEL_RANK[r.level] > LEVEL_RANK[best.level] || (r.level === best.level && r.source < best.source)) best = r;
  }
  return best === null ? null : { severity: best.level, source: best.source };
}

const isGhsa = (source: string): boolean => source === 'ghsa';
const isNodeWg = (source: string): boolean => source === 'nodejs-security-wg';

function fromCvss(scores: readonly CvssScore[]): SeverityDecision | null {
  let best: CvssScore | null = null;
  for (const s of scores) {
    if (best === null) best = s;
    else {
      const dv = VERSION_RANK[s.version] - VERSION_RANK[best.version];
      if (dv > 0 || (dv === 0 && s.score > best.score)) best = s;
    }
  }
  return best === null ? null : { severity: cvssSeverity(best.version, best.score), source: `cvss-v${best.version}` };
}

/** Apply the precedence rule at the top of this file. */
export function decideSeverity(input: SeverityInput): SeverityDecision {
  if (input.class === 'os') {
    const t = highest(input.packageRatings, isDistroSource) ?? highest(input.advisoryRatings, isDistroSource);
    if (t !== null) return t;
  } else {
    const t = highest(input.advisoryRatings, isGhsa) ?? highest(input.advisoryRatings, isNodeWg);
    if (t !== null) return t;
  }
  return fromCvss(input.cvss) ?? UNKNOWN;
}

const UNKNOWN: SeverityDecision = { severity: 'UNKNOWN', source: 'none' };
