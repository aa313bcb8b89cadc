/**
 * The Node.js Security WG's legacy advisories (nodejs/security-wg `vuln/npm/*.json`, `vuln/core/*.json`), as
 * wrapped in ../shared/vulndb: `{"nswg_id": "NSWG-ECO-1", "source_path": "vuln/npm/1.json", "record": {...}}`.
 *
 *  - npm modules (NSWG-ECO-n): `module_name`, `vulnerable_versions`, `patched_versions` (semver ranges) → ecosystem
 *    `npm`.
 *  - Node.js core (NSWG-COR-n): `vulnerable` ("8.x || 7.x"), `patched` ("^8.1.4 || ^7.10.1") → ecosystem `Node.js`,
 *    package `node` (the runtime; the matcher maps the inventoried `pkg:generic/node` binary to it).
 *
 * Semver ranges become OSV events: each comparator set of `vulnerable` gives one range [lower, upper), and a patched
 * set that starts inside it moves its `fixed` down to where the patch starts (8.x patched by ^8.1.4 → [8.0.0,
 * 8.1.4)). `<=v` upper bounds become `last_affected`. Malicious-module records ("<=99.999.99999" / "<0.0.0") become
 * "every version".
 */
import semver from 'semver';
import { isObject, obj, str, strings } from '../../util/json.js';
import type { Advisory, AffectedRange, CvssVector, RangeEvent, VendorSeverity } from '../model.js';
import { CVE_PATTERN, skip, type Parsed } from './types.js';

export const NODEJS_ECOSYSTEM = 'Node.js';

export function looksLikeNswg(v: unknown): boolean {
  return isObject(v) && typeof v['nswg_id'] === 'string' && isObject(v['record']);
}

interface Bound {
  readonly version: string;
  readonly inclusive: boolean;
}

interface Interval {
  readonly lower: Bound | null;
  readonly upper: Bound | null;
  /** An exact version (`=1.2.3`). */
  readonly exact: string | null;
}

/** A semver range → its comparator sets as intervals; null when it does not parse. */
export function semverIntervals(range: string): Interval[] | null {
  let r: semver.Range;
  try {
    r = new semver.Range(range, { loose: true });
  } catch {
    return null;
  }
  const out: Interval[] = [];
  for (const set of r.set) {
    let lower: Bound | null = null;
    let upper: Bound | null = null;
    let exact: string | null = null;
    for (const c of set) {
      if (c.value === '') continue; // the ANY comparator (`*`)
      const v = c.semver.version;
      switch (c.operator) {
        case '>=':
        case '>':
          if (lower === null || semver.gt(v, lower.version)) lower = { version: v, inclusive: c.operator === '>=' };
          break;
        case '<':
        case '<=':
          if (upper === null || semver.lt(v, upper.version)) upper = { version: v, inclusive: c.operator === '<=' };
          break;
        default:
          exact = v;
      }
    }
    out.push({ lower, upper, exact });
  }
  return out;
}

/** `9.0.0-0` (semver's "below every 9.0.0 prerelease") reads as 9.0.0 in a fixed event. */
function clean(v: string): string {
  return v.endsWith('-0') ? v.slice(0, -2) : v;
}

/** Placeholder upper bounds of malicious-module records: every version. */
function unbounded(b: Bound | null): boolean {
  return b === null || semver.major(b.version) >= 99;
}

export function nswgRanges(vulnerable: string, patched: string | null): { ranges: AffectedRange[]; versions: string[] } | null {
  const vuln = semverIntervals(vulnerable);
  if (vuln === null) return null;
  const fixes = patched === null || patched.trim() === '' ? [] : semverIntervals(patched) ?? [];
  const ranges: AffectedRange[] = [];
  const versions: string[] = [];
  for (const iv of vuln) {
    if (iv.exact !== null) {
      versions.push(iv.exact);
      continue;
    }
    // `<0.0.0` matches nothing (it is how "no patched version" is written in the patched field).
    if (iv.upper !== null && !iv.upper.inclusive && iv.upper.version === '0.0.0') continue;
    const lo = iv.lower?.version ?? '0.0.0';
    let fixed: string | null = unbounded(iv.upper) ? null : iv.upper && !iv.upper.inclusive ? iv.upper.version : null;
    let lastAffected = !unbounded(iv.upper) && iv.upper?.inclusive ? iv.upper.version : null;
    for (const p of fixes) {
      const start = p.lower?.version;
      if (start === undefined || semver.lt(start, lo)) continue;
      if (fixed !== null && semver.gte(start, fixed)) continue;
      // Past a `<=` bound, only a fix in the same minor line closes this range; a far-off patched range (">=3.0"
      // for "<=1.0") would otherwise mark 1.x and 2.x vulnerable, which the record does not say.
      if (lastAffected !== null && semver.gt(start, lastAffected) && (semver.major(start) !== semver.major(lastAffected) || semver.minor(start) !== semver.minor(lastAffected))) continue;
      fixed = start;
    }
    if (fixed !== null && lastAffected !== null) {
      // "<=1.5.1" patched by ">=1.5.2": report the fix (users need it); "<=2.0" patched by ">=1.8": the fix is inside.
      lastAffected = null;
    }
    const events: RangeEvent[] = [{ introduced: iv.lower ? iv.lower.version : '0' }];
    if (fixed !== null) events.push({ fixed: clean(fixed) });
    else if (lastAffected !== null) events.push({ last_affected: lastAffected });
    ranges.push({ type: 'SEMVER', events });
  }
  return { ranges, versions };
}

const SEVERITY: Readonly<Record<string, VendorSeverity['level']>> = { critical: 'CRITICAL', high: 'HIGH', medium: 'MEDIUM', moderate: 'MEDIUM', low: 'LOW' };

export function parseNswg(wrapper: unknown): Parsed {
  if (!isObject(wrapper)) return skip('invalid', 'nodejs-security-wg entry is not an object');
  const id = str(wrapper, 'nswg_id');
  const record = obj(wrapper, 'record');
  if (id === null || !/^NSWG-(ECO|COR)-\d+$/.test(id) || record === null) return skip('invalid', 'nodejs-security-wg entry without an id or record');
  const core = id.startsWith('NSWG-COR-');
  const vulnerable = str(record, core ? 'vulnerable' : 'vulnerable_versions');
  const patched = str(record, core ? 'patched' : 'patched_versions');
  const name = core ? 'node' : str(record, 'module_name');
  if (name === null || vulnerable === null) return skip('invalid', `${id}: no module name or vulnerable range`, id);
  const r = nswgRanges(vulnerable, patched);
  if (r === null) return skip('invalid', `${id}: unparsable range ${JSON.stringify(vulnerable.slice(0, 60))}`, id);
  if (r.ranges.length === 0 && r.versions.length === 0) return skip('ignored', `${id}: the range matches no version`, id);
  const cves = [...strings(record, core ? 'cve' : 'cves')].filter((c) => CVE_PATTERN.test(c));
  const vector = str(record, 'cvss_vector') ?? str(record, 'cvss');
  const cvss: CvssVector[] = [];
  if (vector && /^CVSS:3\.[01]\//.test(vector)) cvss.push({ type: 'CVSS_V3', vector, source: 'nodejs-security-wg' });
  const level = SEVERITY[(str(record, 'severity') ?? '').toLowerCase()];
  const refs = [...strings(record, 'references'), ...(str(record, 'ref') ? [str(record, 'ref') ?? ''] : [])].filter((u) => /^https?:\/\//.test(u));
  const date = str(record, 'publish_date');
  const advisory: Advisory = {
    id,
    aliases: cves,
    related: [],
    source: 'nodejs-security-wg',
    summary: str(record, 'title') ?? str(record, 'description') ?? '',
    details: [str(record, 'overview'), str(record, 'recommendation')].filter((s): s is string => s !== null && s !== '').join('\n\n'),
    published: date,
    modified: str(record, 'updated_at'),
    cvss,
    severity: level ? { level, source: 'nodejs-security-wg' } : null,
    references: refs,
    affected: [{ ecosystem: core ? NODEJS_ECOSYSTEM : 'npm', package: name, ranges: r.ranges, versions: r.versions }],
  };
  return { key: id, advisory };
}
