/**
 * The aggregates behind the fleet lists (`GET /api/v1/software`, `GET /api/v1/vulnerabilities`), kept in the same
 * transactions that change `image_packages` or `detections`.
 *
 * Why: a fleet of 10,000 images holds ~5,000,000 image_packages and ~2,300,000 detection rows, and grouping them
 * per request cost 1.3 s (software) and 14 s (vulnerabilities) a page. Covering indexes would still scan millions
 * of index entries for the counts and totals, and a snapshot recomputed every so often would lag and cost seconds
 * of CPU each time; counters per group cost a few hundred small writes per new image (nothing for an unchanged
 * re-upload) and make a page a few index reads. What is kept:
 *
 *  - fleet_packages: per (type, name, version), the images holding it (a count of *images*: an image with the
 *    package at two paths, or as two dictionary rows, counts once).
 *  - fleet_package_scans: per dictionary row and scan type, the images holding the row by that scan: the scan types
 *    of a group, which of its dictionary rows some image still holds, and `scanType:` searches per row.
 *  - fleet_vuln_facets / fleet_vuln_sets / fleet_vuln_set_facets: a facet is a distinct (vulnerability id, package
 *    type and name, and the detection columns that do not depend on the image: scan type, class, severity, status,
 *    fix, KEV, EPSS, CVSS). What one image has of one vulnerability is a *set* of facets, and a set row counts the
 *    images having exactly it. A search over facet columns then gets exact per-vulnerability results without
 *    touching detections: the images of a vulnerability among the detections matching `q` are the sum over the
 *    sets having a matching facet (each image is in exactly one set per vulnerability), and its severity, CVSS,
 *    EPSS, KEV and fix come from the matching facets. Sets and facets are few (per vulnerability, the distinct
 *    combinations across the fleet), and are kept when their count drops to 0 (reused, never dangling).
 *  - fleet_vulns: per vulnerability id, the unfiltered columns of its list row (from its live sets).
 *  - fleet_totals: the number of fleet_packages rows (the software list's total without q).
 *
 * Maintenance: image counts cannot be derived from the rows written alone (is this the image's only row in the
 * group?), so a change is applied as a difference of per-image contributions: what the touched images contributed
 * before the writes and after them, in the same transaction. Every writer of image_packages or detections does
 *
 *   const fleet = await beginFleetUpdate(trx, dialect, imagePks);   // before deleting any of their rows
 *   … delete and insert the images' image_packages / detections …
 *   await fleet.finish();                                            // same transaction, after the inserts
 *
 * (`{ packages: false }` when only detections change). Counter rows are written in one global order (table, then
 * key), so concurrent PostgreSQL transactions queue on a shared counter instead of deadlocking on it.
 *
 * The package counters are written late: a transaction appends its changes to fleet_package_log (one row), and the
 * log is folded into fleet_packages and fleet_package_scans, summed, by the first transaction after it has waited
 * 8 s (foldPacing), and before the software list is read (foldPackageLog; the list waits a second at most). Every
 * upload changes a few hundred counters on random pages of a table and its three sort indexes, so applied at once
 * those pages were rewritten by every commit: 357 of the 966 WAL pages a 500-package upload wrote, and about a
 * fifth of the main thread's time. Folded, a page holding many changed counters is written once per fold (690 WAL
 * pages an upload). The log row is written in the transaction that makes the change, so a kill loses nothing and a
 * fold is exact. A fold's cost goes by the distinct counters it writes, and the uploads between two folds share most
 * of theirs: folding every 8 s instead of every 2 s wrote 120 instead of 276 counter rows an upload (1,500 uploads;
 * the fold took 1.1 instead of 1.9 ms of the writer's time an upload).
 */
import { createHash } from 'node:crypto';
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { Dialect } from './database.js';
import type { NewDetection, Tables } from './schema.js';
import { insertReturning, insertRows } from './bulk.js';
import { paddedIn } from './chunks.js';
import { imagesWithAnyVuln } from './vuln-holders.js';

export interface FleetScope {
  /** image_packages change (default true). */
  readonly packages?: boolean;
  /** detections change (default true). */
  readonly vulnerabilities?: boolean;
  /**
   * Only detections with these vulnerability ids (in any case) are deleted or inserted: the images' other
   * vulnerabilities are left unread (a re-evaluation that revises a few advisories reads a few rows per image).
   */
  readonly vulnIds?: readonly string[];
}

export interface FleetUpdate {
  /**
   * Apply the difference between the images' rows now and when the update began (same transaction). `written`: the
   * rows the update inserted, when it has them at hand; images that held no rows at the start then hold exactly
   * those, so they need not be read back.
   */
  finish(written?: WrittenRows): Promise<void>;
  /** The images held no rows (of the update's scope) when it began. */
  readonly heldNothing: boolean;
}

/** One image_packages row as written, with its dictionary row's group. */
export interface WrittenPackage {
  readonly imagePk: number;
  readonly packagePk: number;
  readonly scanType: string;
  readonly name: string;
  readonly version: string;
  readonly type: string;
}

/** One detection as written: where it is and the columns a facet takes. */
export type WrittenDetection = Pick<NewDetection, 'image_pk' | 'package_pk' | 'scan_type' | 'finding' | (typeof DETECTION_FACET_COLUMNS)[number]>;

export interface WrittenRows {
  readonly packages: readonly WrittenPackage[];
  readonly detections: readonly WrittenDetection[];
}

/** The columns of a facet, in key order. */
interface Facet {
  readonly fkey: string;
  readonly vuln_id: string;
  readonly type: string;
  readonly name: string;
  readonly scan_type: string;
  readonly class: string;
  readonly severity: string;
  readonly severity_rank: number;
  readonly status: string;
  readonly has_fix: number;
  readonly kev: number;
  readonly epss: number | null;
  readonly cvss_score: number | null;
}

interface VulnSet {
  readonly vulnId: string;
  readonly facets: readonly Facet[];
}

/** What some images contribute: images per key. */
interface Contribution {
  /** JSON [name, version, type] → images. */
  readonly groups: Map<string, number>;
  /** JSON [package_pk, scan_type] → images. */
  readonly scans: Map<string, number>;
  /** set key → images. */
  readonly sets: Map<string, number>;
  /** set key → its definition (to create it when new). */
  readonly defs: Map<string, VulnSet>;
}

const IMAGE_CHUNK = 256;
const KEY_CHUNK = 256;

function emptyContribution(): Contribution {
  return { groups: new Map(), scans: new Map(), sets: new Map(), defs: new Map() };
}

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

/**
 * Facet and set keys (sha256 of their text), remembered for the life of the process: uploads keep producing the
 * same few thousand facets and sets, and hashing each image's sets again was a sizeable part of an upload's CPU.
 */
const keys = new Map<string, string>();
const MAX_KEYS = 100_000;

function keyOf(text: string): string {
  let k = keys.get(text);
  if (k === undefined) {
    if (keys.size >= MAX_KEYS) keys.clear();
    keys.set(text, (k = createHash('sha256').update(text).digest('base64url')));
  }
  return k;
}

/** Numbers as the engines return them (PostgreSQL int8 arrives as a number: see database.ts). */
function n(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

function nullableNumber(v: unknown): number | null {
  return v === null || v === undefined ? null : n(v);
}

interface Capture {
  readonly packages: boolean;
  readonly vulnerabilities: boolean;
  /** Lower-cased; null: every vulnerability. */
  readonly vulnIds: readonly string[] | null;
}

async function contributions(db: Kysely<Tables>, dialect: Dialect, imagePks: readonly number[], what: Capture): Promise<Contribution> {
  const c = emptyContribution();
  for (const part of chunks([...new Set(imagePks)], IMAGE_CHUNK)) {
    if (what.packages) await packageContribution(db, part, c);
    if (what.vulnerabilities && what.vulnIds === null) await vulnContribution(db, dialect, part, null, c);
    if (what.vulnerabilities && what.vulnIds !== null) for (const ids of chunks(what.vulnIds, KEY_CHUNK)) await vulnContribution(db, dialect, part, ids, c);
  }
  return c;
}

type Group = Pick<WrittenPackage, 'name' | 'version' | 'type'>;

async function packageContribution(db: Kysely<Tables>, imagePks: readonly number[], c: Contribution): Promise<void> {
  const rows = await db.selectFrom('image_packages').select(['image_pk', 'package_pk', 'scan_type']).where('image_pk', 'in', paddedIn(imagePks)).execute();
  // The group of each distinct dictionary row (the images share most of theirs).
  const groupOf = new Map<number, Group>();
  for (const part of chunks([...new Set(rows.map((r) => n(r.package_pk)))], 500)) {
    for (const p of await db.selectFrom('packages').select(['pk', 'name', 'version', 'type']).where('pk', 'in', paddedIn(part)).execute()) groupOf.set(n(p.pk), p);
  }
  foldPackages(
    rows.map((r) => ({ imagePk: n(r.image_pk), packagePk: n(r.package_pk), scanType: r.scan_type })),
    (pk) => groupOf.get(pk) as Group,
    c,
  );
}

/** Add what these image_packages rows contribute to `c`. */
function foldPackages(rows: readonly Pick<WrittenPackage, 'imagePk' | 'packagePk' | 'scanType'>[], groupOf: (packagePk: number) => Group, c: Contribution): void {
  // An image counts once per key, however many of its rows share it: with the rows in image order, a key is counted
  // when the image differs from the last one counted for it (no set of images per key).
  const ordered = rows.every((r, i) => i === 0 || (rows[i - 1] as (typeof rows)[number]).imagePk <= r.imagePk) ? rows : [...rows].sort((a, b) => a.imagePk - b.imagePk);
  const scanKeys = new Map<string, Map<number, string>>();
  const groupKeys = new Map<number, string>();
  /** Count `image` under `key` in `map` unless it was the last image counted there (`last`: key → image). */
  const count = (map: Map<string, number>, last: Map<string, number>, key: string, image: number): void => {
    if (last.get(key) === image) return;
    last.set(key, image);
    bump(map, key);
  };
  const lastScan = new Map<string, number>();
  const lastGroup = new Map<string, number>();
  for (const r of ordered) {
    let byPk = scanKeys.get(r.scanType);
    if (byPk === undefined) scanKeys.set(r.scanType, (byPk = new Map()));
    let scanKey = byPk.get(r.packagePk);
    if (scanKey === undefined) byPk.set(r.packagePk, (scanKey = JSON.stringify([r.packagePk, r.scanType])));
    count(c.scans, lastScan, scanKey, r.imagePk);
    let groupKey = groupKeys.get(r.packagePk);
    if (groupKey === undefined) {
      const g = groupOf(r.packagePk);
      groupKeys.set(r.packagePk, (groupKey = JSON.stringify([g.name, g.version, g.type])));
    }
    count(c.groups, lastGroup, groupKey, r.imagePk);
  }
}

/** The columns of a detection that a facet takes from it (all but the package's type and name). */
const DETECTION_FACET_COLUMNS = ['vuln_id', 'class', 'severity', 'severity_rank', 'status', 'has_fix', 'kev', 'epss', 'cvss_score'] as const;

type FindingColumns = Pick<Facet, (typeof DETECTION_FACET_COLUMNS)[number]>;

/**
 * finding hash → the detection columns it fixes (the hash covers them: evaluate/posture.ts). Detections are read
 * narrow and these columns looked up here: a fleet has millions of detections but only thousands of findings, and
 * materialising the wide rows was most of the cost of a re-evaluation chunk's update.
 */
const findingColumns = new Map<string, FindingColumns>();
const MAX_FINDINGS = 200_000;

async function vulnContribution(db: Kysely<Tables>, dialect: Dialect, imagePks: readonly number[], vulnIds: readonly string[] | null, c: Contribution): Promise<void> {
  // A few vulnerabilities: their index range within the images' pk range, other images' rows dropped here (both
  // engines planned `image_pk IN (…) AND lower(vuln_id) IN (…)` as a scan of every detection of the images, or of
  // the vulnerabilities: 18–40 ms a chunk on PostgreSQL against 1 ms). SQLite: the images having them, from the
  // term index (store/vuln-holders.ts), then their rows of those ids.
  const members = new Set(imagePks);
  const range = { from: Math.min(...imagePks), to: Math.max(...imagePks) };
  const some =
    vulnIds === null
      ? db.selectFrom('detections').where('image_pk', 'in', paddedIn(imagePks))
      : db
          .selectFrom('detections')
          .where((eb) => eb(eb.fn('lower', ['vuln_id']), 'in', paddedIn(vulnIds)))
          .$if(dialect === 'sqlite', (q) => q.where('image_pk', 'in', imagesWithAnyVuln(db, vulnIds, range)))
          .where('image_pk', '>=', range.from)
          .where('image_pk', '<=', range.to);
  const rows = (await some.select(['image_pk', 'package_pk', 'scan_type', 'finding']).execute()).filter((r) => members.has(n(r.image_pk)));
  // Looked up first into a map of this call's own: the shared one may be cleared while the missing are read.
  const columnsOf = new Map<string, FindingColumns>();
  const missing: string[] = [];
  for (const f of new Set(rows.map((r) => r.finding))) {
    const known = findingColumns.get(f);
    if (known === undefined) missing.push(f);
    else columnsOf.set(f, known);
  }
  for (const part of chunks(missing, 500)) {
    const found = await some
      .select(['finding', ...DETECTION_FACET_COLUMNS])
      .where('finding', 'in', paddedIn(part))
      .groupBy(['finding', ...DETECTION_FACET_COLUMNS])
      .execute();
    if (new Set(found.map((f) => f.finding)).size !== found.length) throw new Error('fleet aggregates: detections of one finding differ in their columns (evaluate/posture.ts must hash them all)');
    if (findingColumns.size + found.length > MAX_FINDINGS) findingColumns.clear();
    for (const f of found) {
      const columns: FindingColumns = {
        vuln_id: f.vuln_id,
        class: f.class,
        severity: f.severity,
        severity_rank: n(f.severity_rank),
        status: f.status,
        has_fix: n(f.has_fix),
        kev: n(f.kev),
        epss: nullableNumber(f.epss),
        cvss_score: nullableNumber(f.cvss_score),
      };
      columnsOf.set(f.finding, columns);
      findingColumns.set(f.finding, columns);
    }
  }
  const names = new Map<number, { type: string; name: string }>();
  for (const part of chunks([...new Set(rows.map((r) => n(r.package_pk)))], 500)) {
    for (const p of await db.selectFrom('packages').select(['pk', 'type', 'name']).where('pk', 'in', paddedIn(part)).execute()) names.set(n(p.pk), p);
  }
  foldVulnerabilities(
    rows.map((r) => ({ image_pk: n(r.image_pk), package_pk: n(r.package_pk), scan_type: r.scan_type, finding: r.finding })),
    (finding) => columnsOf.get(finding) as FindingColumns,
    (pk) => names.get(pk) as { type: string; name: string },
    c,
  );
}

/**
 * Facets by what decides them (finding, scan type, package type and name), remembered for the life of the process
 * (a facet is its content: the same in every store). An upload's ~400 detections are mostly facets seen before;
 * building each again (its columns as JSON, its key looked up) and its one-facet set's key was most of the
 * vulnerability side of an upload's fleet contribution: with them kept, working out a new image's contribution took
 * 0.83 instead of 1.25 ms of the writer's time (1,000 uploads over HTTP, timed inside the writer).
 */
type FacetTree = Map<string, Map<string, Map<string, Map<string, CachedFacet>>>>;
type CachedFacet = Facet & { solo?: string };
const facets: FacetTree = new Map();
let facetCount = 0;
const MAX_FACETS = 100_000;

function facetFor(finding: string, scanType: string, p: { readonly type: string; readonly name: string }, columnsOf: (finding: string) => FindingColumns): CachedFacet {
  let byScan = facets.get(finding);
  if (byScan === undefined) facets.set(finding, (byScan = new Map()));
  let byType = byScan.get(scanType);
  if (byType === undefined) byScan.set(scanType, (byType = new Map()));
  let byName = byType.get(p.type);
  if (byName === undefined) byType.set(p.type, (byName = new Map()));
  let facet = byName.get(p.name);
  if (facet === undefined) {
    const d = columnsOf(finding);
    const columns = [d.vuln_id, p.type, p.name, scanType, d.class, d.severity, d.severity_rank, d.status, d.has_fix, d.kev, d.epss, d.cvss_score] as const;
    const [vuln_id, type, name, scan_type, cls, severity, severity_rank, status, has_fix, kev, epss, cvss_score] = columns;
    facet = { fkey: keyOf(JSON.stringify(columns)), vuln_id, type, name, scan_type, class: cls, severity, severity_rank, status, has_fix, kev, epss, cvss_score };
    if (++facetCount > MAX_FACETS) {
      facets.clear();
      facetCount = 1;
      return facet;
    }
    byName.set(p.name, facet);
  }
  return facet;
}

/** The key of a set of facets of one vulnerability (sorted by key). */
function setKey(vulnId: string, members: readonly Facet[]): string {
  return keyOf(JSON.stringify([vulnId, members.map((f) => f.fkey)]));
}

/** Add what these detections contribute to `c`: per image and vulnerability, the set of its facets. */
function foldVulnerabilities(
  rows: readonly Pick<WrittenDetection, 'image_pk' | 'package_pk' | 'scan_type' | 'finding'>[],
  columnsOf: (finding: string) => FindingColumns,
  nameOf: (packagePk: number) => { readonly type: string; readonly name: string },
  c: Contribution,
): void {
  const perImage = new Map<number, Map<string, { vulnId: string; facets: Map<string, CachedFacet> }>>();
  for (const r of rows) {
    const facet = facetFor(r.finding, r.scan_type, nameOf(r.package_pk), columnsOf);
    const image = r.image_pk;
    let vulns = perImage.get(image);
    if (vulns === undefined) perImage.set(image, (vulns = new Map()));
    let e = vulns.get(facet.vuln_id);
    if (e === undefined) vulns.set(facet.vuln_id, (e = { vulnId: facet.vuln_id, facets: new Map() }));
    e.facets.set(facet.fkey, facet);
  }
  for (const byVuln of perImage.values()) {
    for (const e of byVuln.values()) {
      let skey: string;
      let members: Facet[] | null = null;
      if (e.facets.size === 1) {
        // Most sets have one facet: its key is kept on the facet.
        const only = e.facets.values().next().value as CachedFacet;
        skey = only.solo ??= setKey(e.vulnId, [only]);
        if (!c.defs.has(skey)) members = [only];
      } else {
        members = [...e.facets.values()].sort((a, b) => (a.fkey < b.fkey ? -1 : a.fkey > b.fkey ? 1 : 0));
        skey = setKey(e.vulnId, members);
      }
      bump(c.sets, skey);
      if (members !== null && !c.defs.has(skey)) c.defs.set(skey, { vulnId: e.vulnId, facets: members });
    }
  }
}

/** after − before, non-zero entries. */
function difference(before: Map<string, number>, after: Map<string, number>): Changes {
  const out = before.size === 0 ? after : new Map(after);
  for (const [k, v] of before) bump(out, k, -v);
  return [...out].filter(([, v]) => v !== 0);
}

/** Counter changes in key order, the one order every writer follows (see the header). */
function inKeyOrder(changes: Changes): Changes {
  return changes.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

const PACKAGES_SHAPE = {
  table: 'fleet_packages',
  columns: ['name', 'version', 'type', 'images', 'bucket'],
  onConflictAdd: { key: ['name', 'version', 'type'], add: ['images'] },
  returning: ['name', 'version', 'type', 'images', 'bucket'],
} as const;
const SCANS_SHAPE = { table: 'fleet_package_scans', columns: ['package_pk', 'scan_type', 'images'], onConflictAdd: { key: ['package_pk', 'scan_type'], add: ['images'] } } as const;
const SETS_SHAPE = { table: 'fleet_vuln_sets', columns: ['skey', 'vuln_id', 'images'], onConflictAdd: { key: ['skey'], add: ['images'] } } as const;
const NEW_SETS_SHAPE = { table: 'fleet_vuln_sets', columns: ['skey', 'vuln_id', 'images'], onConflictDoNothing: 'skey' } as const;
const FACETS_SHAPE = {
  table: 'fleet_vuln_facets',
  columns: ['fkey', 'vuln_id', 'type', 'name', 'scan_type', 'class', 'severity', 'severity_rank', 'status', 'has_fix', 'kev', 'epss', 'cvss_score'],
  onConflictDoNothing: 'fkey',
} as const;
const TOTALS_SHAPE = { table: 'fleet_totals', columns: ['name', 'n'], onConflictAdd: { key: ['name'], add: ['n'] } } as const;
const MEMBERS_SHAPE = { table: 'fleet_vuln_set_facets', columns: ['set_pk', 'facet_pk'], onConflictDoNothing: ['set_pk', 'facet_pk'] } as const;

/** The advisory-lock class of fleet_vulns rows (the first key of the two-key form; the id's hash is the second). */
const FLEET_VULN_LOCK = 0x7a11;

/** `bucket` of a count: its decimal digits (see FleetPackagesTable). */
const bucketOf = (images: number): number => String(images).length;

/** Counter changes: [key, images added]. */
type Changes = [string, number][];

/** How long package counter changes may wait in fleet_package_log (see the header); tests lengthen it. */
export const foldPacing = { everyMs: 8000 };
/** When this process last folded (one clock for all its stores: it only paces the folds). */
let foldedAt = Number.NEGATIVE_INFINITY;

async function recordPackages(db: Kysely<Tables>, dialect: Dialect, groups: Changes, scans: Changes, when: 'due' | 'now'): Promise<void> {
  if (when === 'now' || performance.now() - foldedAt >= foldPacing.everyMs) return foldPackageLog(db, dialect, groups, scans);
  if (groups.length + scans.length > 0) await db.insertInto('fleet_package_log').values({ groups: JSON.stringify(groups), scans: JSON.stringify(scans) }).execute();
}

/**
 * Apply the package counter changes waiting in fleet_package_log, and `groups` and `scans` with them, in this
 * transaction. Concurrent folds on PostgreSQL take disjoint log rows: a row another fold deleted is skipped once
 * that fold commits.
 */
export async function foldPackageLog(db: Kysely<Tables>, dialect: Dialect, groups: Changes = [], scans: Changes = []): Promise<void> {
  foldedAt = performance.now();
  const g = new Map(groups);
  const s = new Map(scans);
  for (const row of await db.deleteFrom('fleet_package_log').returning(['groups', 'scans']).execute()) {
    for (const [k, d] of JSON.parse(row.groups) as Changes) bump(g, k, d);
    for (const [k, d] of JSON.parse(row.scans) as Changes) bump(s, k, d);
  }
  await applyPackages(db, dialect, inKeyOrder(difference(new Map(), g)), inKeyOrder(difference(new Map(), s)));
}

async function applyPackages(db: Kysely<Tables>, dialect: Dialect, groupChanges: Changes, scanChanges: Changes): Promise<void> {
  const added = new Map(groupChanges);
  const groups = groupChanges.map(([k, d]) => [...(JSON.parse(k) as [string, string, string]), d] as const);
  // The rows as written come back from the upsert itself: those holding 0 images go; a bucket behind its count is
  // set (rarely: a count gaining a digit); and the number of groups (fleet_totals) moves by those created, less
  // those emptied. Created: holding exactly what was added (a row that existed held at least 1; on PostgreSQL a
  // concurrent creator of the same group commits first, and this upsert then adds to its count).
  const written = await insertReturning<{ name: string; version: string; type: string; images: unknown; bucket: unknown }>(
    db,
    dialect,
    PACKAGES_SHAPE,
    groups.map(([name, version, type, d]) => [name, version, type, d, bucketOf(d)]),
  );
  let created = 0;
  const emptyKeys: string[] = [];
  const behindKeys: string[] = [];
  for (const r of written) {
    const images = n(r.images);
    const key = JSON.stringify([r.name, r.version, r.type]);
    const d = added.get(key) ?? 0;
    if (d > 0 && images === d) created++;
    if (images <= 0) emptyKeys.push(key);
    else if (n(r.bucket) !== bucketOf(images)) behindKeys.push(key);
  }
  // Deleted and updated in key order (the upsert's rows come back in no particular order on PostgreSQL).
  const tuples = (keys: string[]) => keys.sort().map((k) => JSON.parse(k) as [string, string, string]);
  const empty = tuples(emptyKeys);
  const behind = tuples(behindKeys);
  const keysIn = (keys: readonly (readonly [string, string, string])[]) => (eb: ExpressionBuilder<Tables, 'fleet_packages'>) =>
    eb(
      eb.refTuple('name', 'version', 'type'),
      'in',
      keys.map(([name, version, type]) => eb.tuple(name, version, type)),
    );
  for (const part of chunks(empty, KEY_CHUNK)) await db.deleteFrom('fleet_packages').where(keysIn(part)).execute();
  for (const part of chunks(behind, KEY_CHUNK)) {
    await db
      .updateTable('fleet_packages')
      .set({ bucket: sql<number>`length(cast(images as text))` })
      .where(keysIn(part))
      .execute();
  }
  if (created !== empty.length) await insertRows(db, dialect, TOTALS_SHAPE, [['packages', created - empty.length]]);
  const scans = scanChanges.map(([k, d]) => [...(JSON.parse(k) as [number, string]), d] as const);
  await insertRows(db, dialect, SCANS_SHAPE, scans.map(([pk, scanType, d]) => [pk, scanType, d]));
  const gone = scans.filter(([, , d]) => d < 0);
  for (const part of chunks(gone, KEY_CHUNK)) {
    await db
      .deleteFrom('fleet_package_scans')
      .where((eb) =>
        eb(
          eb.refTuple('package_pk', 'scan_type'),
          'in',
          part.map(([pk, scanType]) => eb.tuple(pk, scanType)),
        ),
      )
      .where('images', '<=', 0)
      .execute();
  }
}

/** Creates the sets (with their facets and memberships) that do not exist yet. */
async function ensureSets(db: Kysely<Tables>, dialect: Dialect, wanted: readonly string[], defs: ReadonlyMap<string, VulnSet>): Promise<void> {
  const existing = new Set<string>();
  for (const part of chunks(wanted, KEY_CHUNK)) {
    for (const r of await db.selectFrom('fleet_vuln_sets').select('skey').where('skey', 'in', paddedIn(part)).execute()) existing.add(r.skey);
  }
  const missing = wanted.filter((k) => !existing.has(k));
  if (missing.length === 0) return;
  const facets = new Map<string, Facet>();
  for (const k of missing) for (const f of (defs.get(k) as VulnSet).facets) facets.set(f.fkey, f);
  const fkeys = [...facets.keys()].sort();
  await insertRows(
    db,
    dialect,
    FACETS_SHAPE,
    fkeys.map((k) => {
      const f = facets.get(k) as Facet;
      return [f.fkey, f.vuln_id, f.type, f.name, f.scan_type, f.class, f.severity, f.severity_rank, f.status, f.has_fix, f.kev, f.epss, f.cvss_score];
    }),
  );
  const facetPk = new Map<string, number>();
  for (const part of chunks(fkeys, KEY_CHUNK)) {
    for (const r of await db.selectFrom('fleet_vuln_facets').select(['pk', 'fkey']).where('fkey', 'in', paddedIn(part)).execute()) facetPk.set(r.fkey, n(r.pk));
  }
  await insertRows(
    db,
    dialect,
    NEW_SETS_SHAPE,
    missing.map((k) => [k, (defs.get(k) as VulnSet).vulnId, 0]),
  );
  const members: [number, number][] = [];
  for (const part of chunks(missing, KEY_CHUNK)) {
    for (const r of await db.selectFrom('fleet_vuln_sets').select(['pk', 'skey']).where('skey', 'in', paddedIn(part)).execute()) {
      for (const f of (defs.get(r.skey) as VulnSet).facets) members.push([n(r.pk), facetPk.get(f.fkey) as number]);
    }
  }
  // A concurrent transaction creating the same set waited on its row above: these are then no-ops.
  await insertRows(db, dialect, MEMBERS_SHAPE, members.sort((a, b) => a[0] - b[0] || a[1] - b[1]));
}

async function applyVulnerabilities(db: Kysely<Tables>, dialect: Dialect, before: Contribution, after: Contribution): Promise<void> {
  const sets = inKeyOrder(difference(before.sets, after.sets));
  if (sets.length === 0) return;
  await ensureSets(
    db,
    dialect,
    sets.filter(([, d]) => d > 0).map(([k]) => k),
    after.defs,
  );
  const vulnOf = (k: string): string => ((after.defs.get(k) ?? before.defs.get(k)) as VulnSet).vulnId;
  await insertRows(db, dialect, SETS_SHAPE, sets.map(([k, d]) => [k, vulnOf(k), d]));
  const vulns = [...new Set(sets.map(([k]) => vulnOf(k)))].sort();
  for (const part of chunks(vulns, KEY_CHUNK)) await refreshVulns(db, dialect, part);
}

/**
 * Recompute the fleet_vulns rows of these vulnerability ids (in key order) from their live sets.
 *
 * On PostgreSQL two transactions may change different sets of one vulnerability without ever waiting on each other,
 * and each would then recompute the row from a snapshot missing the other's sets (the second upsert waits on the
 * row, then writes its stale sum). A transaction-scoped advisory lock per id, taken in key order, makes the second
 * wait until the first commits; its recomputation, a new statement, then sees the first's sets (READ COMMITTED).
 */
async function refreshVulns(db: Kysely<Tables>, dialect: Dialect, vulnIds: readonly string[]): Promise<void> {
  if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${FLEET_VULN_LOCK}, hashtext(v)) from unnest(cast(${[...vulnIds]} as text[])) as t(v)`.execute(db);
  const summary = db
    .selectFrom('fleet_vuln_sets as s')
    .innerJoin('fleet_vuln_set_facets as m', 'm.set_pk', 's.pk')
    .innerJoin('fleet_vuln_facets as f', 'f.pk', 'm.facet_pk')
    .where('s.vuln_id', 'in', vulnIds)
    .where('s.images', '>', 0)
    .groupBy('s.vuln_id')
    .orderBy('s.vuln_id')
    .select((eb) => [
      's.vuln_id',
      // Summed apart: the join repeats a set once per facet.
      eb
        .selectFrom('fleet_vuln_sets as s2')
        .select((e2) => e2.fn.sum<number>('s2.images').as('n'))
        .whereRef('s2.vuln_id', '=', 's.vuln_id')
        .where('s2.images', '>', 0)
        .as('images'),
      eb.fn.min('f.severity_rank').as('severity_rank'),
      eb.fn.max('f.cvss_score').as('cvss_score'),
      eb.fn.max('f.epss').as('epss'),
      eb.fn.max('f.kev').as('kev'),
      eb.fn.max('f.has_fix').as('has_fix'),
    ]);
  await db
    .insertInto('fleet_vulns')
    .columns(['vuln_id', 'images', 'severity_rank', 'cvss_score', 'epss', 'kev', 'has_fix'])
    .expression(summary)
    .onConflict((oc) =>
      oc.column('vuln_id').doUpdateSet((eb) => ({
        images: eb.ref('excluded.images'),
        severity_rank: eb.ref('excluded.severity_rank'),
        cvss_score: eb.ref('excluded.cvss_score'),
        epss: eb.ref('excluded.epss'),
        kev: eb.ref('excluded.kev'),
        has_fix: eb.ref('excluded.has_fix'),
      })),
    )
    .execute();
  await db
    .deleteFrom('fleet_vulns')
    .where('vuln_id', 'in', vulnIds)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('fleet_vuln_sets as s').select('s.pk').whereRef('s.vuln_id', '=', 'fleet_vulns.vuln_id').where('s.images', '>', 0))))
    .execute();
}

/** Apply after − before: the vulnerability aggregates now, the package counters when due (recordPackages). */
async function apply(db: Kysely<Tables>, dialect: Dialect, before: Contribution, after: Contribution, when: 'due' | 'now' = 'due'): Promise<void> {
  await recordPackages(db, dialect, difference(before.groups, after.groups), difference(before.scans, after.scans), when);
  await applyVulnerabilities(db, dialect, before, after);
}

/**
 * Call before the images' image_packages / detections rows change, inside the transaction that changes them;
 * `finish()` after the changes, in the same transaction. See the header for where.
 */
export async function beginFleetUpdate(trx: Kysely<Tables>, dialect: Dialect, imagePks: readonly number[], scope: FleetScope = {}): Promise<FleetUpdate> {
  const what: Capture = {
    packages: scope.packages ?? true,
    vulnerabilities: (scope.vulnerabilities ?? true) && scope.vulnIds?.length !== 0,
    vulnIds: scope.vulnIds === undefined ? null : [...new Set(scope.vulnIds.map((id) => id.toLowerCase()))].sort(),
  };
  const before = await contributions(trx, dialect, imagePks, what);
  const heldNothing = isEmpty(before);
  return {
    heldNothing,
    finish: async (written) => {
      const after = written !== undefined && what.vulnIds === null && heldNothing ? writtenContribution(written, what) : await contributions(trx, dialect, imagePks, what);
      const group = groups.get(trx);
      if (group !== undefined) group.add(before, after);
      else await apply(trx, dialect, before, after);
    },
  };
}

function isEmpty(c: Contribution): boolean {
  return c.groups.size === 0 && c.scans.size === 0 && c.sets.size === 0;
}

/** What rows just written contribute (their images held nothing before, so these are all of their rows). */
function writtenContribution(written: WrittenRows, what: Capture): Contribution {
  const c = emptyContribution();
  const groupOf = new Map<number, WrittenPackage>();
  for (const p of written.packages) groupOf.set(p.packagePk, p);
  if (what.packages) foldPackages(written.packages, (pk) => groupOf.get(pk) as WrittenPackage, c);
  if (what.vulnerabilities) {
    const byFinding = new Map<string, FindingColumns>();
    for (const d of written.detections) {
      if (byFinding.has(d.finding)) continue;
      const { vuln_id, class: cls, severity, severity_rank, status, has_fix, kev } = d;
      byFinding.set(d.finding, { vuln_id, class: cls, severity, severity_rank, status, has_fix, kev, epss: d.epss ?? null, cvss_score: d.cvss_score ?? null });
    }
    foldVulnerabilities(
      written.detections,
      (finding) => byFinding.get(finding) as FindingColumns,
      (pk) => groupOf.get(pk) as WrittenPackage,
      c,
    );
  }
  return c;
}

function addInto(target: Contribution, source: Contribution): void {
  for (const [k, v] of source.groups) bump(target.groups, k, v);
  for (const [k, v] of source.scans) bump(target.scans, k, v);
  for (const [k, v] of source.sets) bump(target.sets, k, v);
  for (const [k, v] of source.defs) if (!target.defs.has(k)) target.defs.set(k, v);
}

/**
 * The aggregates of a group commit (store/write-queue.ts): the updates finished inside its transaction add their
 * before and after here, and the group applies the sums once, before its COMMIT. The uploads of a group share most
 * of their packages and vulnerabilities, so each counter row is written once per group instead of once per upload.
 * Each upload runs in a savepoint: what it added is kept only when its savepoint is released (`settle(true)`).
 */
export class FleetGroup {
  private readonly before = emptyContribution();
  private readonly after = emptyContribution();
  private pending: { before: Contribution; after: Contribution }[] = [];

  constructor(
    private readonly trx: Kysely<Tables>,
    private readonly dialect: Dialect,
  ) {
    groups.set(trx, this);
  }

  add(before: Contribution, after: Contribution): void {
    this.pending.push({ before, after });
  }

  /** The work since the last settle was kept (its savepoint released) or rolled back. */
  settle(kept: boolean): void {
    if (kept) {
      for (const p of this.pending) {
        addInto(this.before, p.before);
        addInto(this.after, p.after);
      }
    }
    this.pending = [];
  }

  /** Apply the kept sums (last in the transaction: later updates would apply on their own). */
  async apply(): Promise<void> {
    groups.delete(this.trx);
    await apply(this.trx, this.dialect, this.before, this.after);
  }
}

const groups = new WeakMap<Kysely<Tables>, FleetGroup>();

/** Recompute every fleet_vulns row from its sets (migration 0007: rows a race before the advisory lock left stale). */
export async function refreshFleetVulns(db: Kysely<Tables>, dialect: Dialect): Promise<void> {
  const ids = (await db.selectFrom('fleet_vuln_sets').select('vuln_id').distinct().orderBy('vuln_id').execute()).map((r) => r.vuln_id);
  for (const part of chunks(ids, KEY_CHUNK)) await refreshVulns(db, dialect, part);
}

/** Recompute every aggregate from the stored rows (migration 0005; a repair), one chunk of images at a time. */
export async function rebuildFleetAggregates(db: Kysely<Tables>, dialect: Dialect, options: { chunk?: number } = {}): Promise<void> {
  const tables = ['fleet_packages', 'fleet_package_scans', 'fleet_package_log', 'fleet_vuln_set_facets', 'fleet_vuln_sets', 'fleet_vuln_facets', 'fleet_vulns', 'fleet_totals'] as const;
  for (const t of tables) await db.deleteFrom(t).execute();
  let after = 0;
  for (;;) {
    const rows = await db
      .selectFrom('images')
      .select('pk')
      .where('pk', '>', after)
      .orderBy('pk')
      .limit(options.chunk ?? 500)
      .execute();
    if (rows.length === 0) return;
    const pks = rows.map((r) => n(r.pk));
    await apply(db, dialect, emptyContribution(), await contributions(db, dialect, pks, { packages: true, vulnerabilities: true, vulnIds: null }), 'now');
    after = pks[pks.length - 1] as number;
  }
}
