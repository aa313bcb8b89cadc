/**
 * SARIF 2.1.0, shaped for GitHub code scanning (docs: "SARIF support for code scanning"):
 * - one run; tool.driver.rules has one rule per vulnerability id, with shortDescription, fullDescription, help
 *   (text and markdown: package, installed and fixed versions), helpUri, and properties `tags` (including
 *   "security", without which GitHub ignores `security-severity`), `precision` and `security-severity`;
 * - one result per finding (package × vulnerability), with the rule's id and index, a level from the severity,
 *   one location: the package's file inside the image as a relative URI with region startLine 1 (GitHub needs a
 *   line), and the purl as a logical location; `partialFingerprints` so re-runs update alerts instead of adding.
 *
 * `security-severity` is what GitHub sorts and labels by (≥9 critical, 7–8.9 high, 4–6.9 medium, <4 low). It is
 * the CVSS score whose qualitative band matches the severity Tally reports (the severity source's own score first),
 * so GitHub's label agrees with `--fail-on`; with no such score, the middle of that band; NEGLIGIBLE and UNKNOWN get
 * none (GitHub then shows the level).
 */
import { createHash } from 'node:crypto';
import type { Location, Log, ReportingDescriptor, Result } from 'sarif';
import type { Package } from '../model/package.js';
import { SEVERITIES, type CvssScore, type Finding, type ScanReport, type Severity } from '../model/report.js';
import { imageName } from '../sbom/image.js';
import { writeText, type Formatter } from './formatter.js';

export const SARIF_SCHEMA_URI = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';
export const TALLY_INFORMATION_URI = 'https://tally.dev';

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** A page about an advisory id, by the id's own namespace (OSV has every namespace it imports). */
export function advisoryUrl(id: string): string {
  if (!SAFE_ID.test(id)) return `https://osv.dev/vulnerability/${encodeURIComponent(id)}`;
  if (id.startsWith('CVE-')) return `https://nvd.nist.gov/vuln/detail/${id}`;
  if (id.startsWith('GHSA-')) return `https://github.com/advisories/${id}`;
  if (id.startsWith('GO-')) return `https://pkg.go.dev/vuln/${id}`;
  if (/^(DSA|DLA)-/.test(id)) return `https://security-tracker.debian.org/tracker/${id}`;
  if (/^RH[SBE]A-/.test(id)) return `https://access.redhat.com/errata/${id}`;
  return `https://osv.dev/vulnerability/${id}`;
}

export function advisorySourceName(id: string): string {
  if (id.startsWith('CVE-')) return 'NVD';
  if (id.startsWith('GHSA-')) return 'GitHub Advisory Database';
  if (id.startsWith('GO-')) return 'Go Vulnerability Database';
  if (/^(DSA|DLA)-/.test(id)) return 'Debian Security Tracker';
  if (/^RH[SBE]A-/.test(id)) return 'Red Hat';
  return 'OSV';
}

const LEVEL: Readonly<Record<Severity, 'error' | 'warning' | 'note'>> = {
  CRITICAL: 'error',
  HIGH: 'error',
  MEDIUM: 'warning',
  LOW: 'note',
  NEGLIGIBLE: 'note',
  UNKNOWN: 'note',
};

export function sarifLevel(severity: Severity): 'error' | 'warning' | 'note' {
  return LEVEL[severity];
}

/** GitHub's bands, upper bound exclusive, and the middle used when no CVSS score falls inside. */
const BAND: Partial<Record<Severity, readonly [min: number, below: number, middle: number]>> = {
  CRITICAL: [9, 10.01, 9.5],
  HIGH: [7, 9, 8],
  MEDIUM: [4, 7, 5.5],
  LOW: [0.1, 4, 2],
};

const CVSS_RANK: Readonly<Record<CvssScore['version'], number>> = { '4.0': 4, '3.1': 3, '3.0': 2, '2.0': 1 };

/** See the module comment. Returns null when the severity has no band (NEGLIGIBLE, UNKNOWN). */
export function securitySeverity(f: Pick<Finding, 'severity' | 'severitySource' | 'cvss'>): number | null {
  const band = BAND[f.severity];
  if (!band) return null;
  const [min, below, middle] = band;
  const inBand = f.cvss.filter((c) => c.score >= min && c.score < below);
  inBand.sort((a, b) => Number(b.source === f.severitySource) - Number(a.source === f.severitySource) || CVSS_RANK[b.version] - CVSS_RANK[a.version]);
  return inBand[0]?.score ?? middle;
}

const SEVERITY_RANK: Readonly<Record<Severity, number>> = Object.fromEntries(SEVERITIES.map((s, i) => [s, i])) as Record<Severity, number>;

/** Strings from images strangers built: no control characters, no lone surrogates (they break URI encoding). */
export function cleanText(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\uFFFD')
      .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
  );
}

function oneLine(text: string, max = 300): string {
  const flat = cleanText(text).replace(/\s+/g, ' ').trim();
  return flat.length > max ? flat.slice(0, max - 1) + '…' : flat;
}

/** Markdown that renders as the literal text: every markup character backslash-escaped, HTML as entities. */
export function markdownText(text: string): string {
  return oneLine(text, 1000)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_{}[\]()#+\-.!|~]/g, '\\$&');
}

/**
 * The package's file inside the image as a relative URI: no leading '/', the outer archive of a nested one
 * (`/app/a.jar!/BOOT-INF/lib/b.jar` → `app/a.jar`, the file that exists in the image), each segment encoded.
 */
export function artifactUri(location: string): string {
  const outer = cleanText(location).split('!/')[0] ?? '';
  const segments = outer.split('/').filter((s) => s !== '' && s !== '.');
  return segments.length === 0 ? 'image' : segments.map((s) => encodeURIComponent(s)).join('/');
}

function fixText(f: Finding): string {
  if (f.fixedVersions.length > 0) return `fixed in ${f.fixedVersions.join(', ')}`;
  return `no fix (${f.status.replace(/_/g, ' ')})`;
}

const HELP_PACKAGES = 50;

function ruleName(findings: readonly Finding[]): string {
  if (findings.every((f) => f.class === 'os')) return 'OsPackageVulnerability';
  if (findings.every((f) => f.class === 'lang')) return 'LanguagePackageVulnerability';
  return 'PackageVulnerability';
}

function rule(id: string, findings: readonly Finding[], packages: ReadonlyMap<string, Package>): ReportingDescriptor {
  const worst = [...findings].sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity])[0]!;
  const summary = findings.map((f) => f.summary).find((s) => s.trim() !== '') ?? '';
  const names = [...new Set(findings.map((f) => f.package.name))];
  const short = summary !== '' ? `${id}: ${oneLine(summary, 200)}` : `${id} in ${oneLine(names.join(', '), 200)}`;
  const score = securitySeverity(worst);
  const where = (f: Finding): string => packages.get(f.packageId)?.locations[0] ?? '';
  // the help is per rule: a CVE in hundreds of packages would make it unreadable (each result names its package)
  const listed = findings.slice(0, HELP_PACKAGES);
  const more = findings.length > HELP_PACKAGES ? [`… and ${findings.length - HELP_PACKAGES} more packages`] : [];

  const text = [
    `${id} (${worst.severity}, rated by ${oneLine(worst.severitySource)})`,
    ...(summary !== '' ? [oneLine(summary, 2000)] : []),
    '',
    'Affected packages:',
    ...listed.map((f) => `- ${oneLine(f.package.name)} ${oneLine(f.package.version)} (${f.package.type}) at ${oneLine(where(f))}, layer ${f.layer.index}: ${oneLine(fixText(f))}`),
    ...more,
    '',
    `More: ${advisoryUrl(id)}`,
  ].join('\n');
  const markdown = [
    `**${markdownText(id)}** · ${worst.severity} (rated by ${markdownText(worst.severitySource)})`,
    '',
    ...(summary !== '' ? [markdownText(summary), ''] : []),
    '| Package | Type | Installed | Fixed | Location | Layer |',
    '| --- | --- | --- | --- | --- | --- |',
    ...listed.map(
      (f) =>
        `| ${markdownText(f.package.name)} | ${f.package.type} | ${markdownText(f.package.version)} | ${f.fixedVersions.length > 0 ? markdownText(f.fixedVersions.join(', ')) : markdownText(f.status.replace(/_/g, ' '))} | ${markdownText(where(f))} | ${f.layer.index} |`,
    ),
    ...more.map(markdownText),
    '',
    `[${markdownText(id)}](${advisoryUrl(id)})`,
  ].join('\n');

  return {
    id,
    name: ruleName(findings),
    shortDescription: { text: short },
    fullDescription: { text: summary !== '' ? oneLine(summary, 2000) : short },
    helpUri: advisoryUrl(id),
    help: { text, markdown },
    defaultConfiguration: { level: sarifLevel(worst.severity) },
    properties: {
      ...(score !== null ? { 'security-severity': score.toFixed(1) } : {}),
      precision: 'high',
      tags: ['security', 'vulnerability', ...new Set(findings.map((f) => f.class)), worst.severity],
    },
  };
}

function location(f: Finding, pkg: Package | undefined): Location {
  const loc = pkg?.locations[0];
  return {
    physicalLocation: {
      artifactLocation: { uri: loc !== undefined ? artifactUri(loc) : artifactUri(`${f.package.type}/${f.package.name}`) },
      region: { startLine: 1 },
    },
    logicalLocations: [{ name: cleanText(f.package.name), fullyQualifiedName: cleanText(f.package.purl), kind: 'package' }],
  };
}

function result(f: Finding, ruleIndex: number, pkg: Package | undefined): Result {
  const loc = pkg?.locations[0] ?? '';
  const fingerprint = createHash('sha256').update(`${f.id}\0${f.package.type}\0${f.package.name}\0${loc}`).digest('hex');
  const layer = f.layer.createdBy !== null ? `layer ${f.layer.index} (${oneLine(f.layer.createdBy, 120)})` : `layer ${f.layer.index}`;
  return {
    ruleId: f.id,
    ruleIndex,
    level: sarifLevel(f.severity),
    message: {
      text: `${oneLine(f.package.name)} ${oneLine(f.package.version)} (${f.package.type}) is affected by ${f.id} (${f.severity}); ${oneLine(fixText(f))}. Installed by ${layer}.`,
    },
    locations: [location(f, pkg)],
    // one alert per vulnerability, package and place: a version bump that is still vulnerable stays the same alert
    partialFingerprints: { 'tallyFinding/v1': fingerprint },
    properties: {
      packageName: f.package.name,
      packageType: f.package.type,
      installedVersion: f.package.version,
      fixedVersions: [...f.fixedVersions],
      status: f.status,
      purl: f.package.purl,
      // the full path, nested archives included (the physical location names only the outer file)
      location: loc,
      layerIndex: f.layer.index,
      layerDiffId: f.layer.diffId,
      scanType: f.scanType,
      severity: f.severity,
      kev: f.kev,
      epss: f.epss,
      aliases: [...f.aliases],
    },
  };
}

export function buildSarif(report: ScanReport): Log {
  const packages = new Map(report.packages.map((p) => [p.id, p]));
  const findings = [...(report.vulnerabilities ?? [])].sort(
    (a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || cmp(a.id, b.id) || cmp(a.package.name, b.package.name) || cmp(a.packageId, b.packageId),
  );
  const byId = new Map<string, Finding[]>();
  for (const f of findings) {
    const list = byId.get(f.id);
    if (list) list.push(f);
    else byId.set(f.id, [f]);
  }
  // rule order follows the first (worst) finding of each id, so the index is stable for a given report
  const ruleIds = [...byId.keys()];
  const ruleIndex = new Map(ruleIds.map((id, i) => [id, i]));
  const img = report.image;
  return {
    $schema: SARIF_SCHEMA_URI,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'Tally',
            version: report.tool.version,
            semanticVersion: report.tool.version,
            informationUri: TALLY_INFORMATION_URI,
            rules: ruleIds.map((id) => rule(id, byId.get(id)!, packages)),
          },
        },
        results: findings.map((f) => result(f, ruleIndex.get(f.id)!, packages.get(f.packageId))),
        columnKind: 'utf16CodeUnits',
        properties: {
          image: imageName(img),
          imageRef: img.ref,
          imageId: img.imageId,
          manifestDigest: img.manifestDigest,
          repoTags: [...img.repoTags],
          scannedAt: report.scannedAt,
          scanTypes: [...report.scanTypes],
          vulnerabilitiesMatched: report.vulnerabilities !== undefined,
        },
      },
    ],
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export const sarifFormatter: Formatter = {
  name: 'sarif',
  async write(report, out) {
    await writeText(out, JSON.stringify(buildSarif(report), null, 2) + '\n');
  },
};
