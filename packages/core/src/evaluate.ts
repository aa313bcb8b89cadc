import type { Distro } from './distro/detect.js';
import { matchPackages } from './match/match.js';
import { SCAN_TYPES, type ScanType } from './model/package.js';
import { SEVERITIES, type Finding, type ScanReport, type Severity } from './model/report.js';
import type { VulnDb } from './vulndb/model.js';

/** The distro as the report records it: all the matcher needs (family and version). */
function distroOf(report: ScanReport): Distro | null {
  const os = report.image.os;
  return os ? { family: os.family, name: os.name, version: os.version, prettyName: os.prettyName, codename: null, detectedBy: 'report' } : null;
}

export function severityCounts(findings: readonly Finding[]): Record<Severity, number> {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) counts[f.severity]++;
  return counts;
}

/**
 * Posture evaluation: match a report's inventory against a vulnerability database and return the report with
 * `vulnerabilities` and their counts. The same function serves the CLI, SBOM re-scans and the backend's
 * re-evaluation after a database update, so a finding never depends on where the matching ran.
 */
export function evaluateReport(report: ScanReport, db: VulnDb): ScanReport {
  const { findings, issues } = matchPackages(report.packages, distroOf(report), db);
  return {
    ...report,
    vulnerabilities: findings,
    issues: [...report.issues.filter((i) => i.extractor !== 'match'), ...issues],
    summary: { ...report.summary, vulnerabilities: severityCounts(findings) },
  };
}

export interface FindingFilter {
  /** Keep only these severities. */
  readonly severities?: readonly Severity[];
  /** Drop findings without a fixed version. */
  readonly ignoreUnfixed?: boolean;
  /** Keep only findings on packages found by these scans. */
  readonly scanTypes?: readonly ScanType[];
}

/** Apply the CLI's --severity, --ignore-unfixed and --scan-type to a matched report; counts follow. */
export function filterFindings(report: ScanReport, filter: FindingFilter): ScanReport {
  if (!report.vulnerabilities) return report;
  const kept = report.vulnerabilities.filter(
    (f) =>
      (!filter.severities || filter.severities.includes(f.severity)) &&
      (!filter.ignoreUnfixed || f.fixedVersions.length > 0) &&
      (!filter.scanTypes || filter.scanTypes.includes(f.scanType)),
  );
  return { ...report, vulnerabilities: kept, summary: { ...report.summary, vulnerabilities: severityCounts(kept) } };
}

export function parseSeverities(text: string): Severity[] {
  return parseList(text, SEVERITIES, 'severity');
}

export function parseScanTypes(text: string): ScanType[] {
  return parseList(text, SCAN_TYPES, 'scan type');
}

function parseList<T extends string>(text: string, allowed: readonly T[], what: string): T[] {
  return text.split(',').map((raw) => {
    const v = raw.trim();
    const hit = allowed.find((a) => a.toLowerCase() === v.toLowerCase());
    if (!hit) throw new Error(`unknown ${what} ${JSON.stringify(v)} (expected ${allowed.join(', ')})`);
    return hit;
  });
}
