/**
 * Test-only helpers: real advisory records from ../shared/vulndb, inventory packages, and Debian/Alpine advisories
 * in the exact shape the importers produce (ecosystem `Debian:11`, package = SOURCE name, status, severity). The
 * small DSA-list and tracker readers here only serve tests; the real importers live in vulndb/importers/.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { gunzipSync, createGunzip } from 'node:zlib';
import type { Package, PackageType } from '../../model/package.js';
import { packageClassOf } from '../../model/package.js';
import type { Distro } from '../../distro/detect.js';
import type { Advisory, Affected, KevEntry, VendorSeverity, VendorStatus } from '../../vulndb/model.js';
import { isSkip, parseOsvRecord, type OsvSkip } from '../../vulndb/osv.js';

/** ../shared/vulndb, resolved from this folder (src/match/testdata → repo root's sibling `shared`). */
export const VULNDB_DIR = fileURLToPath(new URL('../../../../../../shared/vulndb/', import.meta.url));

export const OSV_FILES = [
  'almalinux.osv.ndjson.gz',
  'ghsa-maven.osv.ndjson.gz',
  'ghsa-npm.osv.ndjson.gz',
  'ghsa-nuget.osv.ndjson.gz',
  'go-vulndb.osv.ndjson.gz',
  'maven-osvdev-2024.osv.ndjson.gz',
  'osv-format-samples.osv.ndjson.gz',
  'pypi-pypa.osv.ndjson.gz',
] as const;

export interface LoadedOsv {
  readonly advisories: Advisory[];
  readonly skipped: OsvSkip[];
}

const cache = new Map<string, Promise<LoadedOsv>>();

/** Every record of one `*.osv.ndjson.gz` file through parseOsvRecord (withdrawn records come back as skips). */
export function loadOsv(file: string): Promise<LoadedOsv> {
  let hit = cache.get(file);
  if (hit === undefined) {
    hit = (async () => {
      const advisories: Advisory[] = [];
      const skipped: OsvSkip[] = [];
      const lines = createInterface({ input: createReadStream(VULNDB_DIR + file).pipe(createGunzip()), crlfDelay: Infinity });
      for await (const line of lines) {
        if (line.trim() === '') continue;
        const parsed = parseOsvRecord(JSON.parse(line) as unknown);
        if (isSkip(parsed)) skipped.push(parsed);
        else advisories.push(parsed);
      }
      return { advisories, skipped };
    })();
    cache.set(file, hit);
  }
  return hit;
}

export async function loadAllOsv(): Promise<Advisory[]> {
  const all: Advisory[] = [];
  for (const f of OSV_FILES) all.push(...(await loadOsv(f)).advisories);
  return all;
}

export function byId(advisories: readonly Advisory[], id: string): Advisory {
  const a = advisories.find((x) => x.id === id);
  if (a === undefined) throw new Error(`fixture: no advisory ${id}`);
  return a;
}

// ---------------------------------------------------------------------------------------------------------------
// Inventory

let seq = 0;

/** A package as the inventory reports it; `source` only for OS packages. */
export function pkg(
  type: PackageType,
  name: string,
  version: string,
  extra: { source?: { name: string; version: string }; ownedBy?: Package['ownedBy']; metadata?: Record<string, string>; layer?: number } = {},
): Package {
  seq++;
  const cls = packageClassOf(type);
  return {
    id: `pkg-${type}-${name}-${version}-${seq}`,
    name,
    version,
    type,
    purl: `pkg:${type}/${encodeURIComponent(name)}@${encodeURIComponent(version)}`,
    class: cls,
    scanType: cls === 'os' ? 'Static' : 'SCA',
    ...(extra.source ? { source: extra.source } : {}),
    layer: { index: extra.layer ?? 0, diffId: `sha256:${'0'.repeat(63)}${extra.layer ?? 0}`, createdBy: null },
    locations: [cls === 'os' ? '/var/lib/dpkg/status' : `/app/${name}`],
    evidence: 'installed',
    ...(extra.ownedBy ? { ownedBy: extra.ownedBy } : {}),
    ...(extra.metadata ? { metadata: extra.metadata } : {}),
  };
}

export function distro(family: string, version: string, codename: string | null = null): Distro {
  return { family, name: family, version, prettyName: null, codename, detectedBy: 'os-release' };
}

// ---------------------------------------------------------------------------------------------------------------
// Debian, in the importers' shape

const CODENAMES: Readonly<Record<string, string>> = {
  wheezy: '7', jessie: '8', stretch: '9', buster: '10', bullseye: '11', bookworm: '12', trixie: '13',
};

function debianUrgency(u: string): VendorSeverity['level'] | null {
  switch (u.toLowerCase().replace(/\*+$/, '')) {
    case 'unimportant':
      return 'NEGLIGIBLE';
    case 'low':
      return 'LOW';
    case 'medium':
      return 'MEDIUM';
    case 'high':
      return 'HIGH';
    default:
      return null;
  }
}

/** One Debian `affected` entry in importer shape. */
export function debianAffected(release: string, source: string, what: { fixed: string } | { status: VendorStatus }, urgency?: string): Affected {
  const level = urgency ? debianUrgency(urgency) : null;
  const status: VendorStatus = 'fixed' in what ? 'fixed' : what.status;
  return {
    ecosystem: `Debian:${release}`,
    package: source,
    ranges:
      'fixed' in what
        ? [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: what.fixed }] }]
        : status === 'not_affected'
          ? []
          : [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }],
    versions: [],
    status,
    ...(level ? { severity: { level, source: 'debian' } } : {}),
  };
}

function advisory(id: string, source: string, affected: Affected[], extra: Partial<Advisory> = {}): Advisory {
  return {
    id,
    aliases: [],
    related: [],
    source,
    summary: '',
    details: '',
    published: null,
    modified: null,
    cvss: [],
    severity: null,
    references: [],
    affected,
    ...extra,
  };
}

/** A Debian tracker record (one per source package and CVE), as the tracker importer builds it. */
export function trackerAdvisory(cve: string, affected: Affected[], details = ''): Advisory {
  return advisory(cve, 'debian-tracker', affected, { details });
}

/**
 * The DSA entries named, read from the real debian-dsa-list.txt.gz (release lines with a version, `<unfixed>`,
 * `<not-affected>`, `<end-of-life>`); minimal, test-only.
 */
export function readDsaEntries(ids: readonly string[]): Map<string, Advisory> {
  const text = gunzipSync(readFileSync(VULNDB_DIR + 'debian-dsa-list.txt.gz')).toString('utf8');
  const want = new Set(ids);
  const out = new Map<string, Advisory>();
  let cur: { id: string; title: string; cves: string[]; affected: Affected[] } | null = null;
  const flush = (): void => {
    if (cur && want.has(cur.id)) out.set(cur.id, advisory(cur.id, 'debian-dsa', cur.affected, { related: cur.cves, summary: cur.title }));
    cur = null;
  };
  for (const raw of text.split('\n')) {
    const header = /^\[\d+ \w+ \d+\] ((?:DSA|DLA)-\d+-\d+) (.*)$/.exec(raw);
    if (header) {
      flush();
      cur = { id: header[1]!, title: header[2]!.trim(), cves: [], affected: [] };
      continue;
    }
    if (cur === null) continue;
    const line = raw.trim();
    if (line.startsWith('{')) cur.cves.push(...line.replace(/[{}]/g, ' ').split(/\s+/).filter((t) => /^CVE-\d{4}-\d+$/.test(t)));
    const rel = /^\[([a-z]+)\] - (\S+) (\S+)/.exec(line);
    if (rel) {
      const release = CODENAMES[rel[1]!];
      if (release === undefined) continue;
      const what = rel[3]!;
      const status: { fixed: string } | { status: VendorStatus } =
        what === '<not-affected>' ? { status: 'not_affected' } : what === '<unfixed>' ? { status: 'affected' } : what === '<end-of-life>' ? { status: 'end_of_life' } : { fixed: what };
      cur.affected.push(debianAffected(release, rel[2]!, status));
    }
  }
  flush();
  return out;
}

/** The tracker JSON sample → per (package, CVE) advisories in importer shape (test-only reader). */
export function readTrackerSample(): Advisory[] {
  const doc = JSON.parse(gunzipSync(readFileSync(VULNDB_DIR + 'debian-tracker-json.sample.json.gz')).toString('utf8')) as Record<string, unknown>;
  const out: Advisory[] = [];
  for (const [pkgName, cves] of Object.entries(doc)) {
    if (typeof cves !== 'object' || cves === null || Array.isArray(cves)) continue;
    for (const [cve, entry] of Object.entries(cves as Record<string, unknown>)) {
      const e = entry as { description?: string; releases?: Record<string, { status?: string; fixed_version?: string; urgency?: string; nodsa?: string; nodsa_reason?: string }> };
      const affected: Affected[] = [];
      for (const [codename, r] of Object.entries(e.releases ?? {})) {
        const release = CODENAMES[codename];
        if (release === undefined) continue;
        const urgency = r.urgency ?? '';
        let what: { fixed: string } | { status: VendorStatus };
        if (r.status === 'resolved') what = r.fixed_version === '0' ? { status: 'not_affected' } : { fixed: r.fixed_version ?? '' };
        else if (r.status === 'open') {
          what =
            urgency === 'end-of-life'
              ? { status: 'end_of_life' }
              : r.nodsa_reason === 'postponed'
                ? { status: 'fix_deferred' }
                : r.nodsa !== undefined
                  ? { status: 'will_not_fix' }
                  : { status: 'affected' };
        } else what = { status: 'under_investigation' };
        affected.push(debianAffected(release, pkgName, what, urgency));
      }
      if (affected.length > 0) out.push(trackerAdvisory(cve, affected, e.description ?? ''));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Alpine, in the secdb importer's shape

/** Advisories for one package of one real secdb document (`v3.11`/`main`), merged per id like the importer. */
export function readSecdbPackage(branch: string, repo: string, name: string): Advisory[] {
  const text = gunzipSync(readFileSync(VULNDB_DIR + 'alpine-secdb-2020.secdb.ndjson.gz')).toString('utf8');
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const doc = JSON.parse(line) as { distroversion: string; reponame: string; packages: { pkg: { name: string; secfixes: Record<string, string[]> } }[] | '' };
    if (doc.distroversion !== branch || doc.reponame !== repo || doc.packages === '') continue;
    const p = doc.packages.find((x) => x.pkg.name === name);
    if (!p) return [];
    const ecosystem = `Alpine:${branch}`;
    const byCve = new Map<string, string[]>();
    for (const [fixed, ids] of Object.entries(p.pkg.secfixes)) {
      for (const id of ids) {
        const cve = /^CVE-\d{4}-\d+/.exec(id)?.[0];
        if (cve) byCve.set(cve, [...(byCve.get(cve) ?? []), fixed]);
      }
    }
    return [...byCve].map(([cve, fixes]) =>
      advisory(cve, 'alpine-secdb', [
        {
          ecosystem,
          package: name,
          ranges: fixes.filter((f) => f !== '0').map((f) => ({ type: 'ECOSYSTEM' as const, events: [{ introduced: '0' }, { fixed: f }] })),
          versions: [],
          status: fixes.every((f) => f === '0') ? 'not_affected' : 'fixed',
        },
      ]),
    );
  }
  return [];
}

// ---------------------------------------------------------------------------------------------------------------
// CISA KEV (real feed)

export function readKev(): KevEntry[] {
  const doc = JSON.parse(gunzipSync(readFileSync(VULNDB_DIR + 'cisa-kev.json.gz')).toString('utf8')) as {
    vulnerabilities: { cveID: string; dateAdded: string; dueDate?: string; knownRansomwareCampaignUse?: string }[];
  };
  return doc.vulnerabilities.map((v) => ({
    cve: v.cveID,
    dateAdded: v.dateAdded,
    dueDate: v.dueDate ?? null,
    knownRansomwareCampaignUse: v.knownRansomwareCampaignUse ?? null,
  }));
}
