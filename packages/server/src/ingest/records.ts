/** Writes shared by uploads and the sensor endpoints: containers, and the per-image counts. */
import type { Kysely, Transaction } from 'kysely';
import type { Tables } from '../store/schema.js';
import type { WrittenRows } from '../store/fleet-aggregates.js';
import type { ContainerInput } from './validate.js';

export const SEVERITY_COLUMNS = {
  CRITICAL: 'vulns_critical',
  HIGH: 'vulns_high',
  MEDIUM: 'vulns_medium',
  LOW: 'vulns_low',
  NEGLIGIBLE: 'vulns_negligible',
  UNKNOWN: 'vulns_unknown',
} as const;

export type Severity = keyof typeof SEVERITY_COLUMNS;
export const SEVERITY_ORDER = Object.keys(SEVERITY_COLUMNS) as Severity[];

export function emptyCounts(): Record<Severity, number> {
  return { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, NEGLIGIBLE: 0, UNKNOWN: 0 };
}

export interface ImageCounts {
  readonly total: number;
  readonly bySeverity: Record<Severity, number>;
}

/** Detections of one image, scan type and severity: how many, and their CVSS extremes. */
interface VulnGroup {
  image_pk: number;
  scan_type: string;
  severity: string;
  n: number;
  cmax: number | null;
  cmin: number | null;
}

/** Packages of one image and type. */
interface PackageGroup {
  image_pk: number;
  type: string;
  n: number;
}

/** An image's rows grouped the way the counts need them. */
interface Grouped {
  readonly vulns: readonly VulnGroup[];
  readonly packages: readonly PackageGroup[];
}

/** The groups of rows just written (for images that held none before: then these are all of their rows). */
export function groupedWritten(written: WrittenRows): Grouped {
  const vulns = new Map<string, VulnGroup>();
  for (const d of written.detections) {
    const k = JSON.stringify([d.image_pk, d.scan_type, d.severity]);
    let g = vulns.get(k);
    if (g === undefined) vulns.set(k, (g = { image_pk: d.image_pk, scan_type: d.scan_type, severity: d.severity, n: 0, cmax: null, cmin: null }));
    g.n++;
    const score = d.cvss_score ?? null;
    if (score !== null) {
      g.cmax = Math.max(g.cmax ?? -Infinity, score);
      g.cmin = Math.min(g.cmin ?? Infinity, score);
    }
  }
  const packages = new Map<string, PackageGroup>();
  for (const p of written.packages) {
    const k = JSON.stringify([p.imagePk, p.type]);
    let g = packages.get(k);
    if (g === undefined) packages.set(k, (g = { image_pk: p.imagePk, type: p.type, n: 0 }));
    g.n++;
  }
  return { vulns: [...vulns.values()], packages: [...packages.values()] };
}

async function groupedStored(trx: Kysely<Tables> | Transaction<Tables>, pks: readonly number[], withPackages: boolean): Promise<Grouped> {
  const vulns = await trx
    .selectFrom('detections')
    .select(['image_pk', 'scan_type', 'severity', (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.max('cvss_score').as('cmax'), (eb) => eb.fn.min('cvss_score').as('cmin')])
    .where('image_pk', 'in', pks)
    .groupBy(['image_pk', 'scan_type', 'severity'])
    .execute();
  const packages = !withPackages
    ? []
    : await trx
        .selectFrom('image_packages as ip')
        .innerJoin('packages as p', 'p.pk', 'ip.package_pk')
        .select(['ip.image_pk', 'p.type', (eb) => eb.fn.countAll<number>().as('n')])
        .where('ip.image_pk', 'in', pks)
        .groupBy(['ip.image_pk', 'p.type'])
        .execute();
  return { vulns, packages };
}

/**
 * Recompute the denormalised columns of these images from their rows: vulnerability counts (images.vulns_*,
 * scans.vulns), CVSS extremes, package count and package types. Three grouped reads for the whole set (none when
 * the caller has the groups: `grouped`), then one write per image (and per scan row), so the re-evaluation can
 * recount a batch at once.
 */
export async function recountImages(trx: Kysely<Tables> | Transaction<Tables>, imagePks: readonly number[], options: { packages?: boolean; grouped?: Grouped } = {}): Promise<Map<number, ImageCounts>> {
  const withPackages = options.packages ?? true;
  const out = new Map<number, ImageCounts>();
  if (imagePks.length === 0) return out;
  const pks = [...imagePks];
  const { vulns: vulnRows, packages: pkgRows } = options.grouped ?? (await groupedStored(trx, pks, withPackages));
  interface Acc {
    total: number;
    bySeverity: Record<Severity, number>;
    byScanType: Map<string, number>;
    cmax: number | null;
    cmin: number | null;
    packages: number;
    types: string[];
  }
  const acc = new Map<number, Acc>(pks.map((pk) => [pk, { total: 0, bySeverity: emptyCounts(), byScanType: new Map(), cmax: null, cmin: null, packages: 0, types: [] }]));
  for (const r of vulnRows) {
    const a = acc.get(Number(r.image_pk));
    if (a === undefined) continue;
    const n = Number(r.n);
    a.total += n;
    if (r.severity in a.bySeverity) a.bySeverity[r.severity as Severity] += n;
    a.byScanType.set(r.scan_type, (a.byScanType.get(r.scan_type) ?? 0) + n);
    if (r.cmax !== null) a.cmax = Math.max(a.cmax ?? -Infinity, Number(r.cmax));
    if (r.cmin !== null) a.cmin = Math.min(a.cmin ?? Infinity, Number(r.cmin));
  }
  for (const r of pkgRows) {
    const a = acc.get(Number(r.image_pk));
    if (a === undefined) continue;
    a.packages += Number(r.n);
    a.types.push(r.type);
  }
  if (withPackages) {
    await trx.deleteFrom('image_package_types').where('image_pk', 'in', pks).execute();
    const typeRows = [...acc].flatMap(([pk, a]) => a.types.map((type) => ({ image_pk: pk, type })));
    for (let i = 0; i < typeRows.length; i += 500) await trx.insertInto('image_package_types').values(typeRows.slice(i, i + 500)).execute();
  }
  await trx.updateTable('scans').set({ vulns: 0 }).where('image_pk', 'in', pks).execute();
  for (const [pk, a] of acc) {
    await trx
      .updateTable('images')
      .set({
        ...(withPackages ? { packages_total: a.packages } : {}),
        vulns_total: a.total,
        vulns_critical: a.bySeverity.CRITICAL,
        vulns_high: a.bySeverity.HIGH,
        vulns_medium: a.bySeverity.MEDIUM,
        vulns_low: a.bySeverity.LOW,
        vulns_negligible: a.bySeverity.NEGLIGIBLE,
        vulns_unknown: a.bySeverity.UNKNOWN,
        cvss_max: a.cmax,
        cvss_min: a.cmin,
      })
      .where('pk', '=', pk)
      .execute();
    for (const [scanType, n] of a.byScanType) {
      await trx.updateTable('scans').set({ vulns: n }).where('image_pk', '=', pk).where('scan_type', '=', scanType).execute();
    }
    out.set(pk, { total: a.total, bySeverity: a.bySeverity });
  }
  return out;
}

export async function recountImage(trx: Kysely<Tables> | Transaction<Tables>, imagePk: number, grouped?: Grouped): Promise<ImageCounts> {
  return (await recountImages(trx, [imagePk], grouped === undefined ? {} : { grouped })).get(imagePk) ?? { total: 0, bySeverity: emptyCounts() };
}

export interface ContainerUpdate {
  readonly sensorPk: number | null;
  readonly host: string;
  readonly now: string;
  readonly containers: readonly ContainerInput[];
  /**
   * What the list is complete for: every container of the host (`PUT /api/v1/containers`), or only those of one
   * image (a report's `containers`). Containers in scope but missing from the list are marked removed.
   */
  readonly scope: { readonly imageId: string } | 'host';
}

export async function upsertContainers(trx: Transaction<Tables>, u: ContainerUpdate): Promise<{ upserted: number; removed: number }> {
  const seen = new Set<string>();
  for (const c of u.containers) {
    if (seen.has(c.id)) continue;
    seen.add(c.id);
    const facts = {
      sensor_pk: u.sensorPk,
      name: c.name,
      image_id: c.imageId,
      image_ref: c.image,
      state: c.state,
      created: c.created,
      ports: JSON.stringify(c.ports),
      last_seen: u.now,
      removed_at: null,
    };
    await trx
      .insertInto('containers')
      .values({ host: u.host, container_id: c.id, first_seen: u.now, ...facts })
      .onConflict((oc) => oc.columns(['host', 'container_id']).doUpdateSet(facts))
      .execute();
  }
  let q = trx.updateTable('containers').set({ removed_at: u.now }).where('host', '=', u.host).where('removed_at', 'is', null);
  if (u.scope !== 'host') q = q.where('image_id', '=', u.scope.imageId);
  if (seen.size > 0) q = q.where('container_id', 'not in', [...seen]);
  const r = await q.executeTakeFirst();
  return { upserted: seen.size, removed: Number(r.numUpdatedRows) };
}
