import { REPORT_SCHEMA_VERSION, type ReportLayer, type ScanReport, type SensorType } from '../model/report.js';
import { TOOL_VERSION } from '../tool.js';
import type { SbomDocument } from './read.js';

/**
 * A Tally report for an SBOM given as a scan target (`sbom:FILE`): its packages, layers and image facts as the
 * document states them, ready for the same matching as a scanned image. Skipped entries become issues.
 */
export function reportFromSbom(doc: SbomDocument, ref: string, sensor: SensorType): ScanReport {
  const counts = doc.layers.map(() => ({ os: 0, lang: 0 }));
  for (const p of doc.packages) {
    const c = counts[p.layer.index];
    if (c) c[p.class]++;
  }
  const layers: ReportLayer[] = doc.layers.map((l, i) => ({
    index: l.index,
    digest: null,
    diffId: l.diffId,
    mediaType: '',
    size: null,
    createdBy: l.createdBy,
    created: null,
    comment: null,
    packages: counts[i] ?? { os: 0, lang: 0 },
  }));
  const os = doc.packages.filter((p) => p.class === 'os').length;
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'tally', version: TOOL_VERSION },
    scannedAt: new Date().toISOString(),
    // the scans that produced the SBOM, when it says; its packages are at least what an SCA reading finds
    scanTypes: doc.scanTypes.length > 0 ? doc.scanTypes : ['SCA'],
    sensor: { type: sensor, performScaScan: doc.packages.some((p) => p.class === 'lang') },
    image: {
      ref,
      source: 'sbom',
      imageId: doc.image.imageId,
      manifestDigest: doc.image.manifestDigest,
      repoTags: doc.image.repoTags,
      repoDigests: doc.image.repoDigests,
      platform: doc.image.platform,
      created: doc.image.created,
      os: doc.os,
      layers,
      history: [],
    },
    packages: doc.packages,
    issues: [
      ...doc.skipped.map((s) => ({ layer: null, path: s.purl, extractor: 'sbom', message: `${s.name} skipped: ${s.reason}` })),
      ...(doc.skippedCount > doc.skipped.length ? [{ layer: null, path: null, extractor: 'sbom', message: `${doc.skippedCount - doc.skipped.length} more entries skipped` }] : []),
      ...doc.warnings.map((w) => ({ layer: null, path: null, extractor: 'sbom', message: w })),
    ],
    summary: { packages: { total: doc.packages.length, os, lang: doc.packages.length - os } },
  };
}
