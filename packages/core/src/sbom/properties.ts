/**
 * The `tally:*` name/value pairs Tally writes into the SBOMs it produces (CycloneDX `properties`; SPDX carries the
 * same list in one annotation per package) and reads back from `sbom:` targets. They hold what the SBOM formats
 * have no field for (layer, scan type, locations, source package, ...), so that image → SBOM → `sbom:` gives the
 * same packages, with the same ids, and therefore the same findings.
 */
import { PACKAGE_TYPES, SCAN_TYPES, type Evidence, type LayerRef, type Package, type PackageClass, type PackageType, type ScanType } from '../model/package.js';

export const PROP = {
  layerIndex: 'tally:layer:index',
  layerDiffId: 'tally:layer:diffId',
  layerCreatedBy: 'tally:layer:createdBy',
  scanType: 'tally:scanType',
  class: 'tally:class',
  /** One property per location, in order (the first one is part of the package id). */
  location: 'tally:location',
  evidence: 'tally:evidence',
  /** `evidence:location`, one per entry of `evidenceSources`. */
  evidenceSource: 'tally:evidenceSource',
  identifiedBy: 'tally:identifiedBy',
  sourceName: 'tally:source:name',
  sourceVersion: 'tally:source:version',
  arch: 'tally:arch',
  vendor: 'tally:vendor',
  ownedByType: 'tally:ownedBy:type',
  ownedByName: 'tally:ownedBy:name',
  ownedByVersion: 'tally:ownedBy:version',
  /** Prefix: `tally:metadata:<key>`. */
  metadata: 'tally:metadata:',
  /** The license strings exactly as the scan found them (SPDX only: CycloneDX has its own license list). */
  license: 'tally:license',
} as const;

/** Image-level facts, on the image component (CycloneDX) or the CONTAINER package (SPDX). */
export const IMAGE_PROP = {
  ref: 'tally:image:ref',
  source: 'tally:image:source',
  imageId: 'tally:image:imageId',
  manifestDigest: 'tally:image:manifestDigest',
  repoTag: 'tally:image:repoTag',
  repoDigest: 'tally:image:repoDigest',
  platform: 'tally:image:platform',
  created: 'tally:image:created',
  osFamily: 'tally:os:family',
  osName: 'tally:os:name',
  osVersion: 'tally:os:version',
  osPrettyName: 'tally:os:prettyName',
} as const;

export type Property = readonly [name: string, value: string];

/** The prefix of the SPDX annotation comment that carries a package's property list as JSON. */
export const SPDX_ANNOTATION_PREFIX = 'tally:properties ';

export function packageProperties(p: Package, options: { licenses: boolean }): Property[] {
  const out: Property[] = [
    [PROP.layerIndex, String(p.layer.index)],
    ...(p.layer.diffId !== null ? [[PROP.layerDiffId, p.layer.diffId] as const] : []),
    ...(p.layer.createdBy !== null ? [[PROP.layerCreatedBy, p.layer.createdBy] as const] : []),
    [PROP.scanType, p.scanType],
    [PROP.class, p.class],
    ...p.locations.map((l) => [PROP.location, l] as const),
    [PROP.evidence, p.evidence],
    ...(p.evidenceSources ?? []).map((e) => [PROP.evidenceSource, `${e.evidence}:${e.location}`] as const),
  ];
  if (p.identifiedBy !== undefined) out.push([PROP.identifiedBy, p.identifiedBy]);
  if (p.source) out.push([PROP.sourceName, p.source.name], [PROP.sourceVersion, p.source.version]);
  if (p.arch !== undefined) out.push([PROP.arch, p.arch]);
  if (p.vendor !== undefined) out.push([PROP.vendor, p.vendor]);
  if (p.ownedBy) out.push([PROP.ownedByType, p.ownedBy.type], [PROP.ownedByName, p.ownedBy.name], [PROP.ownedByVersion, p.ownedBy.version]);
  for (const [k, v] of Object.entries(p.metadata ?? {})) out.push([PROP.metadata + k, v]);
  if (options.licenses) for (const l of p.licenses ?? []) out.push([PROP.license, l]);
  return out;
}

/** What the `tally:*` properties of one SBOM entry say about the package; absent facts stay undefined. */
export interface PackageHints {
  layer?: LayerRef;
  scanType?: ScanType;
  class?: PackageClass;
  locations?: string[];
  evidence?: Evidence;
  evidenceSources?: { evidence: Evidence; location: string }[];
  identifiedBy?: string;
  source?: { name: string; version: string };
  arch?: string;
  vendor?: string;
  ownedBy?: { type: PackageType; name: string; version: string };
  metadata?: Record<string, string>;
  licenses?: string[];
}

/** Layer indexes beyond this are not believed: a caller rebuilding the layer list must not allocate millions. */
export const MAX_LAYER_INDEX = 1023;
const DIFF_ID = /^sha256:[0-9a-f]{64}$/;
const EVIDENCE: readonly Evidence[] = ['installed', 'declared', 'binary'];

function isEvidence(v: string): v is Evidence {
  return (EVIDENCE as readonly string[]).includes(v);
}
function isScanType(v: string): v is ScanType {
  return (SCAN_TYPES as readonly string[]).includes(v);
}
export function isPackageType(v: string): v is PackageType {
  return (PACKAGE_TYPES as readonly string[]).includes(v);
}

/**
 * Read back `packageProperties`. Untrusted input: values that do not fit the report's vocabulary (an unknown scan
 * type, a layer index that is not a small integer, a diffId that is not a sha256) are ignored, not passed on.
 */
export function hintsFromProperties(props: readonly Property[]): PackageHints {
  const hints: PackageHints = {};
  const first = new Map<string, string>();
  const locations: string[] = [];
  const evidenceSources: { evidence: Evidence; location: string }[] = [];
  // a Map, then Object.fromEntries: keys such as `__proto__` or `toString` become plain own properties
  const metadata = new Map<string, string>();
  const licenses: string[] = [];
  for (const [name, value] of props) {
    if (name === PROP.location) locations.push(value);
    else if (name === PROP.license) licenses.push(value);
    else if (name === PROP.evidenceSource) {
      const i = value.indexOf(':');
      const evidence = value.slice(0, i);
      if (i > 0 && isEvidence(evidence)) evidenceSources.push({ evidence, location: value.slice(i + 1) });
    } else if (name.startsWith(PROP.metadata) && name.length > PROP.metadata.length) {
      const key = name.slice(PROP.metadata.length);
      if (!metadata.has(key)) metadata.set(key, value);
    } else if (!first.has(name)) first.set(name, value);
  }
  const index = first.get(PROP.layerIndex);
  if (index !== undefined && /^\d{1,4}$/.test(index) && Number(index) <= MAX_LAYER_INDEX) {
    const diffId = first.get(PROP.layerDiffId);
    hints.layer = {
      index: Number(index),
      diffId: diffId !== undefined && DIFF_ID.test(diffId) ? diffId : null,
      createdBy: first.get(PROP.layerCreatedBy) ?? null,
    };
  }
  const scanType = first.get(PROP.scanType);
  if (scanType !== undefined && isScanType(scanType)) hints.scanType = scanType;
  const cls = first.get(PROP.class);
  if (cls === 'os' || cls === 'lang') hints.class = cls;
  if (locations.length > 0) hints.locations = locations;
  const evidence = first.get(PROP.evidence);
  if (evidence !== undefined && isEvidence(evidence)) hints.evidence = evidence;
  if (evidenceSources.length > 0) hints.evidenceSources = evidenceSources;
  const identifiedBy = first.get(PROP.identifiedBy);
  if (identifiedBy !== undefined) hints.identifiedBy = identifiedBy;
  const sourceName = first.get(PROP.sourceName);
  const sourceVersion = first.get(PROP.sourceVersion);
  if (sourceName !== undefined && sourceVersion !== undefined) hints.source = { name: sourceName, version: sourceVersion };
  const arch = first.get(PROP.arch);
  if (arch !== undefined) hints.arch = arch;
  const vendor = first.get(PROP.vendor);
  if (vendor !== undefined) hints.vendor = vendor;
  const ownedType = first.get(PROP.ownedByType);
  const ownedName = first.get(PROP.ownedByName);
  const ownedVersion = first.get(PROP.ownedByVersion);
  if (ownedType !== undefined && isPackageType(ownedType) && ownedName !== undefined && ownedVersion !== undefined) {
    hints.ownedBy = { type: ownedType, name: ownedName, version: ownedVersion };
  }
  if (metadata.size > 0) hints.metadata = Object.fromEntries(metadata);
  if (licenses.length > 0) hints.licenses = licenses;
  return hints;
}
