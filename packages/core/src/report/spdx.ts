/**
 * SPDX 2.3 JSON, hand-written (no maintained JS writer exists). One CONTAINER package for the image, one
 * OPERATING_SYSTEM package for the distro (the JSON schema's spelling; tag-value writes OPERATING-SYSTEM), one
 * package per scanned package with its purl as a PACKAGE-MANAGER external ref; relationships DOCUMENT DESCRIBES
 * image, image CONTAINS each of them.
 *
 * SPDX has no place for layers or scan types: a human-readable `comment` states them, and one annotation per
 * package carries the same `tally:*` list as the CycloneDX properties (sbom/properties.ts), as JSON after
 * `tally:properties `, for `sbom:` to read back.
 *
 * The 2.3 schema checks little (no id syntax, no license syntax, and it rejects a top-level `$schema`), so the
 * rules it leaves out are kept here: ids match `SPDXRef-[A-Za-z0-9.-]+`, `licenseDeclared` always parses as an SPDX
 * expression (a string that does not becomes a `LicenseRef-` with its text in hasExtractedLicensingInfos), and
 * `created` has no fractional seconds.
 */
import { createHash } from 'node:crypto';
import parseSpdxExpression from 'spdx-expression-parse';
import type { Package } from '../model/package.js';
import type { ScanReport } from '../model/report.js';
import { imageName, imageProperties, imagePurl, imageVersion, osProperties } from '../sbom/image.js';
import { packageProperties, SPDX_ANNOTATION_PREFIX, type Property } from '../sbom/properties.js';
import { writeText, type Formatter } from './formatter.js';
import { cleanText, TALLY_INFORMATION_URI } from './sarif.js';

export interface SpdxExternalRef {
  readonly referenceCategory: 'PACKAGE-MANAGER' | 'SECURITY' | 'PERSISTENT-ID' | 'OTHER';
  readonly referenceType: string;
  readonly referenceLocator: string;
}

export interface SpdxAnnotation {
  readonly annotationDate: string;
  readonly annotationType: 'OTHER' | 'REVIEW';
  readonly annotator: string;
  readonly comment: string;
}

export type SpdxPurpose = 'APPLICATION' | 'FRAMEWORK' | 'LIBRARY' | 'CONTAINER' | 'OPERATING_SYSTEM' | 'DEVICE' | 'FIRMWARE' | 'SOURCE' | 'ARCHIVE' | 'FILE' | 'INSTALL' | 'OTHER';

export interface SpdxPackage {
  readonly SPDXID: string;
  readonly name: string;
  readonly versionInfo?: string;
  readonly downloadLocation: string;
  readonly filesAnalyzed: boolean;
  readonly licenseConcluded: string;
  readonly licenseDeclared: string;
  readonly copyrightText: string;
  readonly primaryPackagePurpose?: SpdxPurpose;
  readonly supplier?: string;
  readonly sourceInfo?: string;
  readonly description?: string;
  readonly comment?: string;
  readonly externalRefs?: readonly SpdxExternalRef[];
  readonly annotations?: readonly SpdxAnnotation[];
}

export interface SpdxRelationship {
  readonly spdxElementId: string;
  readonly relationshipType: 'DESCRIBES' | 'CONTAINS';
  readonly relatedSpdxElement: string;
}

export interface SpdxExtractedLicense {
  readonly licenseId: string;
  readonly extractedText: string;
  readonly name?: string;
  readonly comment?: string;
}

export interface SpdxDocument {
  readonly spdxVersion: 'SPDX-2.3';
  readonly dataLicense: 'CC0-1.0';
  readonly SPDXID: 'SPDXRef-DOCUMENT';
  readonly name: string;
  readonly documentNamespace: string;
  readonly creationInfo: { readonly created: string; readonly creators: readonly string[]; readonly comment?: string };
  readonly comment?: string;
  readonly packages: readonly SpdxPackage[];
  readonly relationships: readonly SpdxRelationship[];
  readonly hasExtractedLicensingInfos?: readonly SpdxExtractedLicense[];
}

export const SPDX_IMAGE_ID = 'SPDXRef-Image';
export const SPDX_OS_ID = 'SPDXRef-OperatingSystem';
const NOASSERTION = 'NOASSERTION';

/** Characters an SPDX idstring may hold are [A-Za-z0-9.-]; everything else becomes '-'. */
function idPart(text: string, max: number): string {
  const s = text.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '');
  return s.slice(0, max) || 'x';
}

/** SPDX wants `YYYY-MM-DDThh:mm:ssZ`: no fractional seconds. */
function spdxDate(iso: string): string {
  const d = new Date(iso);
  return (Number.isNaN(d.getTime()) ? new Date(0) : d).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Licenses → one valid SPDX expression; strings that do not parse become LicenseRefs collected for the document. */
class LicenseMapper {
  readonly extracted = new Map<string, SpdxExtractedLicense>();
  private readonly refByText = new Map<string, string>();

  private refFor(text: string): string {
    const known = this.refByText.get(text);
    if (known) return known;
    const id = `LicenseRef-${idPart(text, 40)}-${createHash('sha256').update(text).digest('hex').slice(0, 8)}`;
    this.refByText.set(text, id);
    this.extracted.set(id, { licenseId: id, extractedText: text, name: cleanText(text).replace(/\s+/g, ' ').slice(0, 200) });
    return id;
  }

  /** A LicenseRef someone already wrote needs its own hasExtractedLicensingInfos entry; its text is unknown. */
  private declareRefs(node: parseSpdxExpression.Info): void {
    if ('license' in node) {
      if (node.license.startsWith('LicenseRef-') && !this.extracted.has(node.license)) {
        this.extracted.set(node.license, { licenseId: node.license, extractedText: NOASSERTION, comment: 'Named by the package; its text was not captured.' });
      }
    } else {
      this.declareRefs(node.left);
      this.declareRefs(node.right);
    }
  }

  private one(text: string): { expr: string; compound: boolean } | null {
    const t = text.trim();
    if (t === '' || t === 'NONE' || t === NOASSERTION) return null;
    try {
      const ast = parseSpdxExpression(t);
      // a DocumentRef points into another document this one does not reference
      if (!t.includes('DocumentRef-')) {
        this.declareRefs(ast);
        return { expr: t, compound: !('license' in ast) || ast.exception !== undefined };
      }
    } catch {
      // not an SPDX expression: kept verbatim as an extracted license below
    }
    return { expr: this.refFor(t), compound: false };
  }

  /** Several license strings of one package are all of its licenses: their conjunction. */
  declared(licenses: readonly string[] | undefined): string {
    const parts = (licenses ?? []).map((l) => this.one(l)).filter((x) => x !== null);
    const unique = [...new Map(parts.map((p) => [p.expr, p])).values()];
    if (unique.length === 0) return NOASSERTION;
    if (unique.length === 1) return unique[0]!.expr;
    return unique.map((p) => (p.compound ? `(${p.expr})` : p.expr)).join(' AND ');
  }
}

function annotation(props: readonly Property[], date: string, annotator: string): SpdxAnnotation {
  return { annotationDate: date, annotationType: 'OTHER', annotator, comment: SPDX_ANNOTATION_PREFIX + JSON.stringify(props) };
}

function packageComment(p: Package): string {
  const layer = `layer ${p.layer.index}${p.layer.createdBy ? ` (${cleanText(p.layer.createdBy).replace(/\s+/g, ' ').slice(0, 300)})` : ''}`;
  return `Introduced by ${layer}; found by the ${p.scanType} scan (${p.class} package, evidence: ${p.evidence}) at ${p.locations.map((l) => cleanText(l)).join(', ')}.`;
}

export function buildSpdx(report: ScanReport): SpdxDocument {
  const img = report.image;
  const created = spdxDate(report.scannedAt);
  const tool = `Tool: tally-${report.tool.version}`;
  const licenses = new LicenseMapper();
  const name = imageName(img);
  const version = imageVersion(img);
  const purl = imagePurl(img);

  const imagePkg: SpdxPackage = {
    SPDXID: SPDX_IMAGE_ID,
    name,
    ...(version !== null ? { versionInfo: version } : {}),
    downloadLocation: NOASSERTION,
    filesAnalyzed: false,
    licenseConcluded: NOASSERTION,
    licenseDeclared: NOASSERTION,
    copyrightText: NOASSERTION,
    primaryPackagePurpose: 'CONTAINER',
    ...(purl !== null ? { externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: purl }] } : {}),
    comment: `Container image scanned as ${cleanText(img.ref)} (${img.source}); scan types: ${report.scanTypes.join(', ')}.`,
    annotations: [annotation(imageProperties(img), created, tool)],
  };
  const packages: SpdxPackage[] = [imagePkg];
  const relationships: SpdxRelationship[] = [{ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: SPDX_IMAGE_ID }];

  if (img.os) {
    packages.push({
      SPDXID: SPDX_OS_ID,
      name: img.os.family,
      versionInfo: img.os.version,
      downloadLocation: NOASSERTION,
      filesAnalyzed: false,
      licenseConcluded: NOASSERTION,
      licenseDeclared: NOASSERTION,
      copyrightText: NOASSERTION,
      primaryPackagePurpose: 'OPERATING_SYSTEM',
      ...(img.os.prettyName !== null ? { description: img.os.prettyName } : {}),
      annotations: [annotation(osProperties(img.os), created, tool)],
    });
    relationships.push({ spdxElementId: SPDX_IMAGE_ID, relationshipType: 'CONTAINS', relatedSpdxElement: SPDX_OS_ID });
  }

  const used = new Set<string>([SPDX_IMAGE_ID, SPDX_OS_ID]);
  for (const p of report.packages) {
    // readable (type and name) and unique (the package id, longer or numbered on the rare clash)
    const base = `SPDXRef-Package-${p.type}-${idPart(p.name, 60)}`;
    const idHex = idPart(p.id, 64);
    let spdxId = `${base}-${idHex.slice(0, 16)}`;
    if (used.has(spdxId)) spdxId = `${base}-${idHex}`;
    for (let n = 2; used.has(spdxId); n++) spdxId = `${base}-${idHex}-${n}`;
    used.add(spdxId);
    packages.push({
      SPDXID: spdxId,
      name: p.name,
      versionInfo: p.version,
      downloadLocation: NOASSERTION,
      filesAnalyzed: false,
      licenseConcluded: NOASSERTION,
      licenseDeclared: licenses.declared(p.licenses),
      copyrightText: NOASSERTION,
      ...(p.vendor !== undefined ? { supplier: `Organization: ${cleanText(p.vendor).replace(/\s+/g, ' ')}` } : {}),
      ...(p.source ? { sourceInfo: `built from source package ${p.source.name} ${p.source.version}` } : {}),
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl }],
      comment: packageComment(p),
      annotations: [annotation(packageProperties(p, { licenses: true }), created, tool)],
    });
    relationships.push({ spdxElementId: SPDX_IMAGE_ID, relationshipType: 'CONTAINS', relatedSpdxElement: spdxId });
  }

  const nsKey = createHash('sha256').update(`${img.ref}\0${img.imageId ?? ''}\0${report.scannedAt}`).digest('hex').slice(0, 12);
  const imageIdPart = img.imageId ? img.imageId.replace(/^sha256:/, '') : 'no-image-id';
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name,
    // unique per report: the image id and the scan time are in it (plus the ref, for images without an id)
    documentNamespace: `${TALLY_INFORMATION_URI}/spdx/${encodeURIComponent(idPart(name, 64).toLowerCase())}/${imageIdPart}/${created.replace(/[:]/g, '')}-${nsKey}`,
    creationInfo: { created, creators: [tool] },
    packages,
    relationships,
    ...(licenses.extracted.size > 0 ? { hasExtractedLicensingInfos: [...licenses.extracted.values()] } : {}),
  };
}

export const spdxFormatter: Formatter = {
  name: 'spdx',
  async write(report, out) {
    await writeText(out, JSON.stringify(buildSpdx(report), null, 2) + '\n');
  },
};
