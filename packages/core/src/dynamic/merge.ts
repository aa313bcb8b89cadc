import { packageId } from '../inventory.js';
import { isWithin } from '../image/path.js';
import type { Issue } from '../model/issue.js';
import type { LayerRef, Package, PackageType, ScanType } from '../model/package.js';
import { buildPurl } from '../model/purl.js';
import type { ReportLayer, ScanReport } from '../model/report.js';
import type { DynamicPackage } from './probe.js';

/**
 * How a Dynamic scan's answer becomes the report. The Static pass (layer by layer, the usual pipeline) has already
 * found every package database and attributed each package to the layer it has been present since. The package
 * manager's answer then replaces the Static OS packages read from the database that manager reads:
 * - a package in both keeps the Static entry's identity (id, purl, layer, location) with scanType Dynamic;
 * - a package only the manager lists goes to the top layer, with an issue (no layer's database holds it);
 * - a Static package of that database the manager does not list is dropped, with an issue (the running image says
 *   it is not installed).
 * Packages from other databases (distroless `status.d/`, a manager that failed) stay Static; language packages
 * (the SCA pass) are untouched. Layer counts and the summary are recomputed.
 */

export interface ManagerAnswer {
  readonly type: Extract<PackageType, 'deb' | 'rpm' | 'apk'>;
  /** The command that answered, for messages ("dpkg-query"). */
  readonly tool: string;
  readonly packages: readonly DynamicPackage[];
}

/** The database each manager reads, as Static locations name it. */
const DATABASES: Record<ManagerAnswer['type'], { readonly location: string; readonly matches: (path: string) => boolean }> = {
  deb: { location: '/var/lib/dpkg/status', matches: (p) => p === '/var/lib/dpkg/status' },
  rpm: { location: '/var/lib/rpm/rpmdb.sqlite', matches: (p) => ['/var/lib/rpm', '/usr/lib/sysimage/rpm', '/usr/share/rpm'].some((d) => isWithin(p, d)) },
  apk: { location: '/lib/apk/db/installed', matches: (p) => p === '/lib/apk/db/installed' || p === '/usr/lib/apk/db/installed' },
};

const DEFAULT_NAMESPACE: Record<ManagerAnswer['type'], string> = { deb: 'debian', rpm: 'rpm', apk: 'alpine' };
const MAX_LISTED = 20;

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** inventory.ts's order: OS before language packages, then layer, name, version, location. */
function comparePackages(a: Package, b: Package): number {
  if (a.class !== b.class) return a.class === 'os' ? -1 : 1;
  return a.layer.index - b.layer.index || cmp(a.name, b.name) || cmp(a.version, b.version) || cmp(a.locations[0] ?? '', b.locations[0] ?? '');
}

function nva(name: string, version: string, arch: string | null | undefined): string {
  return `${name}\0${version}\0${arch ?? ''}`;
}

function listed(items: readonly string[]): string {
  return items.length > MAX_LISTED ? `${items.slice(0, MAX_LISTED).join(', ')} and ${items.length - MAX_LISTED} more` : items.join(', ');
}

export function applyDynamicAnswers(report: ScanReport, answers: readonly ManagerAnswer[], extraIssues: readonly Issue[] = []): ScanReport {
  const layers = report.image.layers;
  const top = Math.max(0, layers.length - 1);
  const topRef: LayerRef = { index: top, diffId: layers[top]?.diffId ?? null, createdBy: layers[top]?.createdBy ?? null };
  const os = report.image.os;
  const issues: Issue[] = [...report.issues, ...extraIssues];
  const replaced = new Set(answers.map((a) => a.type));
  const fromDb = (p: Package): boolean => p.class === 'os' && replaced.has(p.type as ManagerAnswer['type']) && DATABASES[p.type as ManagerAnswer['type']].matches(p.locations[0] ?? '');

  const kept = report.packages.filter((p) => !fromDb(p));
  const out: Package[] = [...kept];
  for (const answer of answers) {
    const db = DATABASES[answer.type];
    const candidates = report.packages.filter((p) => p.type === answer.type && fromDb(p));
    const exact = new Map(candidates.map((p) => [nva(p.name, p.version, p.arch), p] as const));
    const byNameVersion = new Map<string, Package>();
    for (const p of candidates) if (!byNameVersion.has(nva(p.name, p.version, null))) byNameVersion.set(nva(p.name, p.version, null), p);
    const used = new Set<Package>();
    const seen = new Set<string>();
    for (const d of answer.packages) {
      const key = nva(d.name, d.version, d.arch);
      if (seen.has(key)) continue; // a manager listing one package twice
      seen.add(key);
      const match = [exact.get(key), byNameVersion.get(nva(d.name, d.version, null))].find((p) => p !== undefined && !used.has(p));
      if (match) {
        used.add(match);
        out.push({
          ...match,
          scanType: 'Dynamic',
          ...(match.source || !d.source ? {} : { source: d.source }),
          ...(match.licenses || !d.licenses ? {} : { licenses: d.licenses }),
          ...(match.vendor || !d.vendor ? {} : { vendor: d.vendor }),
        });
        continue;
      }
      const qualifiers: Record<string, string> = {};
      if (d.arch) qualifiers['arch'] = d.arch;
      if (os?.version) qualifiers['distro'] = `${os.family}-${os.version}`;
      if (d.epoch !== undefined) qualifiers['epoch'] = d.epoch;
      let purl: string;
      try {
        purl = buildPurl({ type: d.type, name: d.name, version: d.version, namespace: os?.family ?? DEFAULT_NAMESPACE[d.type], qualifiers });
      } catch (err) {
        issues.push({ layer: top, path: db.location, extractor: null, message: `${answer.tool} lists ${d.name} ${d.version}, skipped: ${err instanceof Error ? err.message : String(err)}` });
        continue;
      }
      out.push({
        id: packageId(d.type, d.name, d.version, d.arch ?? '', db.location),
        name: d.name,
        version: d.version,
        type: d.type,
        purl,
        class: 'os',
        scanType: 'Dynamic',
        ...(d.source ? { source: d.source } : {}),
        ...(d.arch ? { arch: d.arch } : {}),
        layer: topRef,
        locations: [db.location],
        evidence: 'installed',
        identifiedBy: answer.tool,
        ...(d.licenses && d.licenses.length > 0 ? { licenses: d.licenses } : {}),
        ...(d.vendor ? { vendor: d.vendor } : {}),
      });
      issues.push({
        layer: top,
        path: db.location,
        extractor: null,
        message: `${answer.tool} lists ${d.name} ${d.version}${d.arch ? ` (${d.arch})` : ''}, which no layer's package database holds: attributed to the top layer`,
      });
    }
    const dropped = candidates.filter((p) => !used.has(p)).map((p) => `${p.name} ${p.version}`);
    if (dropped.length > 0) {
      issues.push({
        layer: null,
        path: db.location,
        extractor: null,
        message: `${dropped.length} package(s) in the image's files are not listed by ${answer.tool} in the running image and are left out: ${listed(dropped)}`,
      });
    }
  }
  out.sort(comparePackages);

  const counts = layers.map(() => ({ os: 0, lang: 0 }));
  for (const p of out) {
    const c = counts[p.layer.index];
    if (c) c[p.class]++;
  }
  const newLayers: ReportLayer[] = layers.map((l, i) => ({ ...l, packages: counts[i]! }));
  const osCount = out.filter((p) => p.class === 'os').length;
  const scanTypes: ScanType[] = ['Dynamic'];
  if (out.some((p) => p.scanType === 'Static')) scanTypes.push('Static');
  if (report.scanTypes.includes('SCA')) scanTypes.push('SCA');
  return {
    ...report,
    scanTypes,
    image: { ...report.image, layers: newLayers },
    packages: out,
    issues,
    summary: { ...report.summary, packages: { total: out.length, os: osCount, lang: out.length - osCount } },
  };
}
