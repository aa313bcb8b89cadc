/** Row → API object mapping shared by several routes, and per-page lookups (refs, scans, layers, counts). */
import type { Kysely, Selectable } from 'kysely';
import type { ImageRow, ImagesTable, ScansTable, Tables } from '../store/schema.js';
import { emptyCounts, type Severity } from '../ingest/records.js';
import { num, parseJsonArray } from './context.js';

export interface ImageSummaryOut {
  imageId: string;
  repo: string | null;
  repoTags: string[];
  repoDigests: string[];
  manifestDigest: string | null;
  ref: string;
  source: string;
  os: { family: string; name: string | null; version: string | null; prettyName: string | null } | null;
  platform: { os: string | null; architecture: string | null; variant: string | null } | null;
  created: string | null;
  firstSeen: string;
  lastSeen: string;
  layers: number;
  packages: number;
  scanTypes: { scanType: string; active: boolean; scannedAt: string; receivedAt: string; toolVersion: string; packages: number; vulnerabilities: number }[];
  vulnerabilities: { total: number; bySeverity: Record<Severity, number> };
}

export function countsOf(r: Selectable<ImagesTable>): { total: number; bySeverity: Record<Severity, number> } {
  return {
    total: num(r.vulns_total),
    bySeverity: {
      CRITICAL: num(r.vulns_critical),
      HIGH: num(r.vulns_high),
      MEDIUM: num(r.vulns_medium),
      LOW: num(r.vulns_low),
      NEGLIGIBLE: num(r.vulns_negligible),
      UNKNOWN: num(r.vulns_unknown),
    },
  };
}

const SCAN_ORDER: Readonly<Record<string, number>> = { Static: 0, Dynamic: 1, SCA: 2 };

/** Summaries for a page of images: two extra queries for the whole page (refs, scans). */
export async function imageSummaries(db: Kysely<Tables>, rows: readonly ImageRow[]): Promise<ImageSummaryOut[]> {
  if (rows.length === 0) return [];
  const pks = rows.map((r) => r.pk);
  const refs = await db.selectFrom('image_refs').select(['image_pk', 'kind', 'value']).where('image_pk', 'in', pks).orderBy('first_seen').orderBy('value').execute();
  const scans = await db.selectFrom('scans').selectAll().where('image_pk', 'in', pks).execute();
  const refsOf = new Map<number, { tags: string[]; digests: string[] }>();
  for (const r of refs) {
    const pk = num(r.image_pk);
    let e = refsOf.get(pk);
    if (e === undefined) refsOf.set(pk, (e = { tags: [], digests: [] }));
    (r.kind === 'tag' ? e.tags : e.digests).push(r.value);
  }
  const scansOf = new Map<number, Selectable<ScansTable>[]>();
  for (const s of scans) {
    const pk = num(s.image_pk);
    const list = scansOf.get(pk);
    if (list === undefined) scansOf.set(pk, [s]);
    else list.push(s);
  }
  return rows.map((r) => {
    const e = refsOf.get(r.pk) ?? { tags: [], digests: [] };
    return {
      imageId: r.image_id,
      repo: r.repo,
      repoTags: e.tags,
      repoDigests: e.digests,
      manifestDigest: r.manifest_digest,
      ref: r.ref,
      source: r.source,
      os: r.os_family === null ? null : { family: r.os_family, name: r.os_name, version: r.os_version, prettyName: r.os_pretty },
      platform: r.platform_os === null && r.architecture === null ? null : { os: r.platform_os, architecture: r.architecture, variant: r.variant },
      created: r.created,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
      layers: num(r.layer_count),
      packages: num(r.packages_total),
      scanTypes: (scansOf.get(r.pk) ?? [])
        .sort((a, b) => (SCAN_ORDER[a.scan_type] ?? 9) - (SCAN_ORDER[b.scan_type] ?? 9))
        .map((s) => ({
          scanType: s.scan_type,
          active: num(s.active) === 1,
          scannedAt: s.scanned_at,
          receivedAt: s.received_at,
          toolVersion: s.tool_version,
          packages: num(s.packages),
          vulnerabilities: num(s.vulns),
        })),
      vulnerabilities: countsOf(r),
    };
  });
}

export interface LayerRefOut {
  index: number;
  diffId: string | null;
  createdBy: string | null;
}

/** index → layer ref for one image. */
export async function layerRefs(db: Kysely<Tables>, imagePk: number): Promise<(index: number) => LayerRefOut> {
  const rows = await db.selectFrom('layers').select(['idx', 'diff_id', 'created_by']).where('image_pk', '=', imagePk).execute();
  const byIndex = new Map(rows.map((r) => [num(r.idx), r]));
  return (index) => {
    const r = byIndex.get(index);
    return { index, diffId: r?.diff_id ?? null, createdBy: r?.created_by ?? null };
  };
}

export function severityCountsFrom(rows: readonly { severity: string; n: unknown }[]): { total: number; bySeverity: Record<Severity, number> } {
  const bySeverity = emptyCounts();
  let total = 0;
  for (const r of rows) {
    const n = num(r.n);
    total += n;
    if (r.severity in bySeverity) bySeverity[r.severity as Severity] += n;
  }
  return { total, bySeverity };
}

export interface DetectionData {
  aliases: string[];
  cvss: { version: string; vector: string; score: number; source: string }[];
  severitySource: string;
  summary: string;
  dataSource: { id: string; source: string };
  match: { by: string; ecosystem: string; range: string };
}

export function detectionData(text: string): DetectionData {
  const fallback: DetectionData = { aliases: [], cvss: [], severitySource: '', summary: '', dataSource: { id: '', source: '' }, match: { by: '', ecosystem: '', range: '' } };
  try {
    const v = JSON.parse(text) as Partial<DetectionData>;
    return { ...fallback, ...v };
  } catch {
    return fallback;
  }
}

export { parseJsonArray };
