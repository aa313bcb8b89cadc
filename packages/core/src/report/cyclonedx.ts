/**
 * CycloneDX 1.6 JSON, built with @cyclonedx/cyclonedx-library (models + its 1.6 JSON normaliser), so the output
 * follows the spec's shape rules (license choice, tool components, dependency graph) without us restating them.
 *
 * Layout:
 * - metadata.component: the image (type container, version = image id, purl `pkg:oci/...` when there is a digest);
 *   metadata.tools.components: Tally; metadata.properties: scan types and sensor.
 * - components: one `library` per package (bom-ref = the package id) plus one `operating-system` for the distro;
 *   the `tally:*` properties (sbom/properties.ts) carry layer, scan type, locations, evidence and source package.
 * - dependencies: image → every package and the OS; OS → its OS packages. Tally knows no package-to-package edges.
 * - vulnerabilities: one per finding (a vulnerability in two packages is two entries: severity, status and fixed
 *   versions are per package). Fixed versions are expressed three ways: `affects[].versions` lists the installed
 *   version as `affected` and each fixed version as `unaffected` (the schema's own place for it); `recommendation`
 *   says it in words; `tally:fixedVersion` properties give them verbatim. `analysis.response` is `update` when a fix
 *   exists and `will_not_fix` when the distro said so; no `analysis.state` is claimed (Tally has not assessed
 *   exploitability). The finding's `status` is kept as `tally:status`.
 */
import { createHash } from 'node:crypto';
import { Contrib, Enums, Models, Serialize, Spec } from '@cyclonedx/cyclonedx-library';
import parseSpdxExpression from 'spdx-expression-parse';
import type { Package } from '../model/package.js';
import type { CvssScore, Finding, ScanReport, Severity } from '../model/report.js';
import { imageName, imageProperties, imagePurl, imageVersion, osProperties } from '../sbom/image.js';
import { packageProperties, type Property } from '../sbom/properties.js';
import { writeText, type Formatter } from './formatter.js';
import { advisorySourceName, advisoryUrl } from './sarif.js';

const V = Models.Vulnerability;
const VE = Enums.Vulnerability;

const licenseFactory = new Contrib.License.Factories.LicenseFactory((expression: string) => {
  parseSpdxExpression(expression);
});

function addProperties(repo: Models.PropertyRepository, props: readonly Property[]): void {
  for (const [name, value] of props) repo.add(new Models.Property(name, value));
}

/**
 * One license string → SpdxLicense (a listed id), LicenseExpression (a valid compound expression), or NamedLicense.
 * Several strings are each an id or a name: CycloneDX allows one expression *or* a list of licenses, and joining
 * them with AND would claim a conjunction the package never stated.
 */
function licensesOf(p: Package): Models.License[] {
  const list = p.licenses ?? [];
  if (list.length === 1) return [licenseFactory.makeFromString(list[0]!)];
  return list.map((l) => licenseFactory.makeDisjunctive(l));
}

/** CycloneDX `group`/`name`: Maven's groupId and npm's scope go to group, as the spec's examples do. */
function groupAndName(p: Package): { group?: string; name: string } {
  if (p.type === 'maven') {
    const i = p.name.indexOf(':');
    if (i > 0) return { group: p.name.slice(0, i), name: p.name.slice(i + 1) };
  }
  if (p.type === 'npm' && p.name.startsWith('@')) {
    const i = p.name.indexOf('/');
    if (i > 0) return { group: p.name.slice(0, i), name: p.name.slice(i + 1) };
  }
  return { name: p.name };
}

function packageComponent(p: Package): Models.Component {
  const { group, name } = groupAndName(p);
  const c = new Models.Component(Enums.ComponentType.Library, name, {
    bomRef: p.id,
    version: p.version,
    purl: p.purl,
    ...(group !== undefined ? { group } : {}),
    ...(p.vendor !== undefined ? { publisher: p.vendor } : {}),
  });
  for (const l of licensesOf(p)) c.licenses.add(l);
  addProperties(c.properties, packageProperties(p, { licenses: false }));
  return c;
}

const RATING_SEVERITY: Readonly<Record<Severity, Enums.Vulnerability.Severity>> = {
  CRITICAL: VE.Severity.Critical,
  HIGH: VE.Severity.High,
  MEDIUM: VE.Severity.Medium,
  LOW: VE.Severity.Low,
  // Negligible is the distros' "not worth a fix" grade: CycloneDX's informational level
  NEGLIGIBLE: VE.Severity.Info,
  UNKNOWN: VE.Severity.Unknown,
};

const CVSS_METHOD: Readonly<Record<CvssScore['version'], Enums.Vulnerability.RatingMethod>> = {
  '2.0': VE.RatingMethod.CVSSv2,
  '3.0': VE.RatingMethod.CVSSv3,
  '3.1': VE.RatingMethod.CVSSv31,
  '4.0': VE.RatingMethod.CVSSv4,
};

/** The qualitative rating of a CVSS score (v2: NVD's three bands; v3 and v4: the spec's five). */
export function cvssSeverity(version: CvssScore['version'], score: number): Severity | 'NONE' {
  if (version === '2.0') return score >= 7 ? 'HIGH' : score >= 4 ? 'MEDIUM' : 'LOW';
  if (score === 0) return 'NONE';
  return score >= 9 ? 'CRITICAL' : score >= 7 ? 'HIGH' : score >= 4 ? 'MEDIUM' : 'LOW';
}

function cvssRating(c: CvssScore): Models.Vulnerability.Rating {
  const sev = cvssSeverity(c.version, c.score);
  return new V.Rating({
    source: new V.Source({ name: c.source }),
    score: c.score,
    severity: sev === 'NONE' ? VE.Severity.None : RATING_SEVERITY[sev],
    method: CVSS_METHOD[c.version],
    vector: c.vector,
  });
}

function recommendation(f: Finding): string {
  if (f.fixedVersions.length > 0) return `Upgrade ${f.package.name} to ${f.fixedVersions.join(' or ')}.`;
  switch (f.status) {
    case 'will_not_fix':
      return 'No fix: the vendor will not fix this vulnerability in this release.';
    case 'fix_deferred':
      return 'No fix yet: the vendor has deferred the fix.';
    case 'end_of_life':
      return 'No fix: this release is end of life.';
    case 'under_investigation':
      return 'No fix yet: the vendor is investigating.';
    default:
      return 'No fixed version is known yet.';
  }
}

function findingProperties(f: Finding): Property[] {
  return [
    ['tally:status', f.status],
    ...f.fixedVersions.map((v) => ['tally:fixedVersion', v] as const),
    ['tally:severity', f.severity],
    ['tally:severitySource', f.severitySource],
    ['tally:kev', String(f.kev)],
    ...(f.epss !== null ? [['tally:epss', String(f.epss)] as const] : []),
    ['tally:scanType', f.scanType],
    ['tally:class', f.class],
    ['tally:layer:index', String(f.layer.index)],
    ['tally:match:by', f.match.by],
    ['tally:match:ecosystem', f.match.ecosystem],
    ['tally:match:range', f.match.range],
    ['tally:dataSource:id', f.dataSource.id],
  ];
}

function vulnerability(f: Finding, index: number, component: Models.Component): Models.Vulnerability.Vulnerability {
  const v = new V.Vulnerability({
    // unique per entry: the same id appears once per affected package
    bomRef: `vuln-${index}:${f.id}`,
    id: f.id,
    source: new V.Source({ name: f.dataSource.source, url: advisoryUrl(f.dataSource.id) }),
    description: f.summary,
    recommendation: recommendation(f),
  });
  for (const c of f.cvss) v.ratings.add(cvssRating(c));
  // the severity Tally reports, from the source it chose (a distro's own rating where there is one)
  v.ratings.add(new V.Rating({ source: new V.Source({ name: f.severitySource }), severity: RATING_SEVERITY[f.severity], method: VE.RatingMethod.Other }));
  const refs = new Set([...f.aliases, f.dataSource.id].filter((id) => id !== f.id));
  for (const id of refs) v.references.add(new V.Reference(id, new V.Source({ name: advisorySourceName(id), url: advisoryUrl(id) })));
  const versions = new V.AffectedVersionRepository();
  versions.add(new V.AffectedSingleVersion(f.package.version, { status: VE.AffectStatus.Affected }));
  for (const fixed of f.fixedVersions) versions.add(new V.AffectedSingleVersion(fixed, { status: VE.AffectStatus.Unaffected }));
  v.affects.add(new V.Affect(component.bomRef, { versions }));
  if (f.fixedVersions.length > 0 || f.status === 'will_not_fix') {
    const analysis = new V.Analysis();
    analysis.response.add(f.fixedVersions.length > 0 ? VE.AnalysisResponse.Update : VE.AnalysisResponse.WillNotFix);
    v.analysis = analysis;
  }
  addProperties(v.properties, findingProperties(f));
  return v;
}

/** urn:uuid derived from the report (image, scan time, tool): unique per report, yet the same bytes for the same report. */
function serialNumber(report: ScanReport): string {
  const h = createHash('sha256').update(`${report.image.imageId ?? report.image.ref}\0${report.scannedAt}\0${report.tool.version}`).digest('hex');
  // RFC 9562 version 8 (custom) and variant 10xx
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function buildCycloneDxBom(report: ScanReport): Models.Bom {
  const img = report.image;
  const bom = new Models.Bom({ serialNumber: serialNumber(report) });
  const purl = imagePurl(img);
  const version = imageVersion(img);
  const image = new Models.Component(Enums.ComponentType.Container, imageName(img), {
    bomRef: purl ?? `image:${imageName(img)}`,
    ...(version !== null ? { version } : {}),
    ...(purl !== null ? { purl } : {}),
  });
  addProperties(image.properties, imageProperties(img));
  bom.metadata.component = image;
  bom.metadata.timestamp = new Date(report.scannedAt);
  bom.metadata.tools.components.add(new Models.Component(Enums.ComponentType.Application, report.tool.name, { version: report.tool.version }));
  addProperties(bom.metadata.properties, [
    ...report.scanTypes.map((t) => ['tally:scanType', t] as const),
    ['tally:sensor', report.sensor.type],
    ['tally:performScaScan', String(report.sensor.performScaScan)],
  ]);

  let os: Models.Component | undefined;
  if (img.os) {
    os = new Models.Component(Enums.ComponentType.OperatingSystem, img.os.family, {
      bomRef: `os:${img.os.family}@${img.os.version}`,
      version: img.os.version,
      ...(img.os.prettyName !== null ? { description: img.os.prettyName } : {}),
    });
    addProperties(os.properties, osProperties(img.os));
    bom.components.add(os);
    image.dependencies.add(os.bomRef);
  }

  const byId = new Map<string, Models.Component>();
  for (const p of report.packages) {
    const c = packageComponent(p);
    byId.set(p.id, c);
    bom.components.add(c);
    image.dependencies.add(c.bomRef);
    if (os && p.class === 'os') os.dependencies.add(c.bomRef);
  }

  (report.vulnerabilities ?? []).forEach((f, i) => {
    const component = byId.get(f.packageId);
    if (component) bom.vulnerabilities.add(vulnerability(f, i, component));
  });
  return bom;
}

const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));

/** The CycloneDX 1.6 JSON text. Insertion order is kept (packages as the report sorts them), not re-sorted. */
export function renderCycloneDx(report: ScanReport): string {
  return serializer.serialize(buildCycloneDxBom(report), { sortLists: false, space: 2 });
}

export const cyclonedxFormatter: Formatter = {
  name: 'cyclonedx',
  async write(report, out) {
    await writeText(out, renderCycloneDx(report) + '\n');
  },
};
