import { arr, isObject, obj, str, strings, type JsonObject } from '../util/json.js';
import { normalizePackageName, type Advisory, type Affected, type AffectedRange, type CvssVector, type RangeEvent, type VendorSeverity } from './model.js';

/** Why a record was not turned into an advisory. */
export type OsvSkip = { readonly skipped: 'withdrawn' | 'invalid'; readonly id: string | null; readonly reason: string };

const EVENT_KEYS = ['introduced', 'fixed', 'last_affected', 'limit'] as const;

function parseEvents(events: readonly unknown[]): RangeEvent[] {
  const out: RangeEvent[] = [];
  for (const e of events) {
    if (!isObject(e)) continue;
    for (const key of EVENT_KEYS) {
      const v = str(e, key);
      if (v !== null) {
        out.push({ [key]: v } as RangeEvent);
        break;
      }
    }
  }
  return out;
}

function parseRange(r: unknown): AffectedRange | null {
  if (!isObject(r)) return null;
  const type = str(r, 'type');
  if (type !== 'ECOSYSTEM' && type !== 'SEMVER' && type !== 'GIT') return null;
  return { type, events: parseEvents(arr(r, 'events') ?? []) };
}

const GHSA_SEVERITY: Readonly<Record<string, VendorSeverity['level']>> = {
  CRITICAL: 'CRITICAL',
  HIGH: 'HIGH',
  MODERATE: 'MEDIUM',
  MEDIUM: 'MEDIUM',
  LOW: 'LOW',
};

function cvssOf(record: JsonObject, source: string): CvssVector[] {
  const out: CvssVector[] = [];
  for (const s of arr(record, 'severity') ?? []) {
    if (!isObject(s)) continue;
    const type = str(s, 'type');
    const vector = str(s, 'score');
    if (!vector || (type !== 'CVSS_V2' && type !== 'CVSS_V3' && type !== 'CVSS_V4')) continue;
    out.push({ type, vector, source });
  }
  return out;
}

function parseAffected(a: unknown): Affected | null {
  if (!isObject(a)) return null;
  const pkg = obj(a, 'package');
  const ecosystem = pkg ? str(pkg, 'ecosystem') : null;
  const name = pkg ? str(pkg, 'name') : null;
  if (!ecosystem || !name) return null;
  return {
    ecosystem,
    package: normalizePackageName(ecosystem, name),
    ranges: (arr(a, 'ranges') ?? []).map(parseRange).filter((r): r is AffectedRange => r !== null),
    versions: strings(a, 'versions'),
  };
}

/** Which database an OSV id comes from, for `dataSource` and severity attribution. */
const SOURCE_BY_PREFIX: Readonly<Record<string, string>> = {
  GHSA: 'ghsa',
  GO: 'go-vulndb',
  PYSEC: 'pypa',
  RUSTSEC: 'rustsec',
  ALSA: 'almalinux',
  ALBA: 'almalinux',
  ALEA: 'almalinux',
  DSA: 'debian',
  DLA: 'debian',
  DEBIAN: 'debian',
  USN: 'ubuntu',
  UBUNTU: 'ubuntu',
  RLSA: 'rocky',
  RHSA: 'redhat',
  MAL: 'ossf-malicious',
};

/** Which database an OSV id comes from, for `dataSource` and severity attribution. */
export function osvSourceOf(id: string): string {
  return SOURCE_BY_PREFIX[id.split('-')[0] ?? ''] ?? 'osv';
}

/** An OSV record → Advisory, or why it was skipped (withdrawn records are never imported). */
export function parseOsvRecord(json: unknown): Advisory | OsvSkip {
  if (!isObject(json)) return { skipped: 'invalid', id: null, reason: 'not a JSON object' };
  const id = str(json, 'id');
  if (!id) return { skipped: 'invalid', id: null, reason: 'no id' };
  if (str(json, 'withdrawn')) return { skipped: 'withdrawn', id, reason: `withdrawn ${str(json, 'withdrawn')}` };
  const source = osvSourceOf(id);
  const dbSeverity = str(obj(json, 'database_specific') ?? {}, 'severity');
  const level = dbSeverity ? GHSA_SEVERITY[dbSeverity.toUpperCase()] : undefined;
  const affected = (arr(json, 'affected') ?? []).map(parseAffected).filter((a): a is Affected => a !== null);
  return {
    id,
    aliases: strings(json, 'aliases'),
    related: strings(json, 'related'),
    source: `osv:${source}`,
    summary: str(json, 'summary') ?? '',
    details: str(json, 'details') ?? '',
    published: str(json, 'published'),
    modified: str(json, 'modified'),
    cvss: cvssOf(json, source),
    severity: level ? { level, source } : null,
    references: (arr(json, 'references') ?? []).filter(isObject).map((r) => str(r, 'url')).filter((u): u is string => u !== null),
    affected,
  };
}

export function isSkip(x: Advisory | OsvSkip): x is OsvSkip {
  return 'skipped' in x;
}
