/**
 * Rewriting stored detections after a re-match (evaluate/reevaluate.ts).
 *
 * A changed pair's detections change by the difference of its recorded findings and its new ones, one
 * vulnerability at a time (`PairChange`): a finding whose content changed is updated in place on every image
 * holding the pair, one that went away is deleted, a new one is inserted; findings both sides share are left
 * alone. The rows are found through the vuln_id index, one index range per changed vulnerability and chunk of
 * images (or, when many vulnerabilities changed, by image: an image's rows lie together), each row read once and
 * only its keys, then updated or deleted by pk in batched statements; a database update that revises one advisory
 * of a package with fifty findings touches one detection per image, not fifty.
 * A pair whose images may disagree (unsettled) or whose signature cannot be read is rewritten whole.
 *
 * The images' denormalised counts move by the same difference, known from the signatures (severity and CVSS score
 * of each finding), in one grouped UPDATE per chunk instead of a recount over all their detections; an image is
 * recounted only when a CVSS extreme may have gone or a pair was rewritten whole. Each chunk of images is one
 * transaction, the image rows locked (FOR UPDATE) on PostgreSQL first, as an upload locks its own, and the fleet
 * aggregates (store/fleet-aggregates.ts) are kept in the same transaction. On PostgreSQL two chunks run at once
 * (run again when PostgreSQL aborts one to break a deadlock).
 */
import { CompiledQuery, sql, type Transaction } from 'kysely';
import type { Dialect, Store } from '../store/database.js';
import { BATCH_MARKER } from '../store/bulk.js';
import { fixedChunks } from '../store/chunks.js';
import type { Tables } from '../store/schema.js';
import { recountImages, SEVERITY_COLUMNS } from '../ingest/records.js';
import { beginFleetUpdate } from '../store/fleet-aggregates.js';
import { imagesHoldingAny } from '../store/package-holders.js';
import { imagesWithAnyVuln, syncVulnHolders } from '../store/vuln-holders.js';
import { Learned } from '../store/committed.js';
import { retryConflicts } from '../store/write-queue.js';
import { eachLimit } from '@tally/core';
import { insertDetections } from './findings.js';
import { signatureEntries, stamp, type Detections, type PackageInImage, type PostureMatcher, type SignatureEntry, type StoredOs, type Template } from './posture.js';
import type { StoredPair } from './pairs.js';

/** What a run did, for its result. */
export interface Tally {
  pairs: number;
  changedPairs: number;
  added: number;
  updated: number;
  removed: number;
  readonly changedImages: Set<number>;
}

/** One vulnerability of a changed pair: its recorded finding and its new one (at least one of the two). */
interface FindingChange {
  readonly before: SignatureEntry | null;
  readonly after: Template | null;
}

/** How a changed pair's detections change: per vulnerability, or (null) all of them. */
export interface PairChange {
  readonly findings: readonly FindingChange[] | null;
  /** The pair's new findings (all inserted when `findings` is null). */
  readonly templates: readonly Template[];
}

export function changeOf(stored: StoredPair | undefined, templates: readonly Template[]): PairChange {
  const before = stored === undefined || stored.signature === null || stored.unsettled ? null : signatureEntries(stored.signature);
  const old = new Map(before?.map((e) => [e.vulnId, e]));
  const now = new Map(templates.map((t) => [t.vulnId, t]));
  // One finding per (package, vulnerability) on both sides, or the pair is rewritten whole.
  if (before === null || old.size !== before.length || now.size !== templates.length) return { findings: null, templates };
  const findings: FindingChange[] = [];
  for (const id of new Set([...old.keys(), ...now.keys()])) {
    const b = old.get(id) ?? null;
    const a = now.get(id) ?? null;
    if (b?.hash !== a?.hash) findings.push({ before: b, after: a });
  }
  return { findings, templates };
}

export function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

export function cancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new Error('re-evaluation cancelled');
}

/** How one image's counted detections move. */
class CountDelta {
  readonly severity = new Map<string, number>();
  readonly scans = new Map<string, number>();
  /** CVSS score → net count added. */
  readonly cvss = new Map<number, number>();

  move(scanType: string, severity: string, cvss: number | null, by: number): void {
    this.severity.set(severity, (this.severity.get(severity) ?? 0) + by);
    this.scans.set(scanType, (this.scans.get(scanType) ?? 0) + by);
    if (cvss !== null) this.cvss.set(cvss, (this.cvss.get(cvss) ?? 0) + by);
  }

  get total(): number {
    let n = 0;
    for (const v of this.severity.values()) n += v;
    return n;
  }

  get neutral(): boolean {
    return [this.severity, this.scans, this.cvss].every((m) => [...m.values()].every((n) => n === 0));
  }
}

/**
 * Past these sizes a chunk's rows are read by image (an image's rows lie together: sequential reads) and filtered
 * here, rather than by package or vuln id through an index (fewer rows, but each a random read).
 */
const BY_PACKAGE = 500;
const BY_VULN = 64;
/** Rows per batched statement. */
const BATCH = 1000;

/** A changed finding's key: (package, recorded hash); the hash covers the vuln id. */
function findingKey(packagePk: number, hash: string): string {
  return `${packagePk}\u0001${hash}`;
}

/**
 * Rewrite the detections of a distro's changed pairs in every image of that distro holding one of them.
 * `onImages(done, total)` reports the images rewritten.
 */
export async function rewritePairs(
  store: Store,
  os: StoredOs,
  changed: ReadonlyMap<number, PairChange>,
  /** Images per transaction (default 500). */
  imageChunk: number | undefined,
  acc: Tally,
  signal: AbortSignal | undefined,
  onImages?: (done: number, total: number) => void,
): Promise<void> {
  const pks = [...changed.keys()].sort((a, b) => a - b);
  const whole = pks.filter((pk) => changed.get(pk)?.findings === null);
  const targets = new Map<string, Target>();
  const touched = new Set<string>();
  const added = new Set<string>();
  const inserts = new Map<number, Template[]>();
  for (const [pk, c] of changed) {
    if (c.findings === null) {
      inserts.set(pk, [...c.templates]);
      continue;
    }
    const ins: Template[] = [];
    for (const { before, after } of c.findings) {
      if (before !== null) targets.set(findingKey(pk, before.hash), { before, after });
      else if (after !== null) {
        ins.push(after);
        added.add(findingKey(pk, after.hash));
      }
      touched.add((before?.vulnId ?? after?.vulnId ?? '').toLowerCase());
    }
    if (ins.length > 0) inserts.set(pk, ins);
  }
  const plan: RewritePlan = { changed, whole, targets, touched, added, inserts };
  const images = await holders(store, os, pks, pks.length <= BY_PACKAGE);
  let done = 0;
  // PostgreSQL: two chunks in flight, so that Tally's work on one overlaps PostgreSQL's on the other (each chunk's
  // images are its own; the shared rows, finding data and fleet counters, are written in key order and queue).
  await eachLimit(chunks(images, imageChunk ?? 500), store.dialect === 'postgres' ? 2 : 1, async (chunk) => {
    cancelled(signal);
    const transaction = async (): Promise<{ added: number; updated: number; removed: number }> => {
      const learned = new Learned();
      const counts = await store.db.transaction().execute((trx) => rewriteChunk(trx, store, learned, chunk, plan));
      learned.committed();
      return counts;
    };
    const counts = store.dialect === 'postgres' ? await retryConflicts(transaction) : await transaction();
    acc.added += counts.added;
    acc.updated += counts.updated;
    acc.removed += counts.removed;
    for (const i of chunk) acc.changedImages.add(i);
    done += chunk.length;
    onImages?.(done, images.length);
  });
}

/** What rewriting each chunk of images needs, from the changed pairs. */
interface RewritePlan {
  readonly changed: ReadonlyMap<number, PairChange>;
  /** Pairs rewritten whole. */
  readonly whole: readonly number[];
  /** findingKey → the recorded finding and the new one (update in place) or null (delete). */
  readonly targets: ReadonlyMap<string, Target>;
  /** Every vulnerability whose detections change (unknown when a pair is rewritten whole). */
  readonly touched: ReadonlySet<string>;
  /** findingKeys of new findings: a holding that has one already (a run stopped after its chunk) is not given it twice. */
  readonly added: ReadonlySet<string>;
  /** Per pair: findings to insert on each of its holders (all of them for a pair rewritten whole). */
  readonly inserts: ReadonlyMap<number, readonly Template[]>;
}

/** One chunk of images, in its transaction; returns the rows it added, updated and removed. */
async function rewriteChunk(trx: Transaction<Tables>, store: Store, learned: Learned, chunk: readonly number[], plan: RewritePlan): Promise<{ added: number; updated: number; removed: number }> {
  const { changed, whole, targets, touched, added, inserts } = plan;
  const inserting = [...inserts.keys()];
  if (store.dialect === 'postgres') await trx.selectFrom('images').select('pk').where('pk', 'in', chunk).orderBy('pk').forUpdate().execute();
  // The fleet aggregates read only the changed vulnerabilities' rows when they are few (as changedRows does).
  const fleet = await beginFleetUpdate(trx, store.dialect, chunk, { packages: false, ...(whole.length === 0 && touched.size <= BY_VULN ? { vulnIds: [...touched] } : {}) });
  const deltas = new Map<number, CountDelta>();
  const delta = (image: number): CountDelta => {
    let d = deltas.get(image);
    if (d === undefined) deltas.set(image, (d = new CountDelta()));
    return d;
  };
  // Changed and vanished findings: their rows, updated or deleted by pk; the counts move by what each row held.
  const { updates, deletes, present } = await changedRows(trx, store.dialect, chunk, [...touched], targets, added);
  const fresh: Detections = { rows: [], findings: new Map() };
  for (const { row, target } of [...updates, ...deletes]) {
    const d = delta(row.image);
    d.move(row.scanType, target.before.severity, target.before.cvssScore, -1);
    if (target.after !== null) {
      d.move(row.scanType, target.after.severity, target.after.cvssScore, 1);
      fresh.findings.set(target.after.hash, { fixed_versions: target.after.fixedVersions, data: target.after.data });
    }
  }
  const updated = await updateRows(trx, store.dialect, updates);
  for (const part of chunks(deletes, BATCH)) {
    await trx
      .deleteFrom('detections')
      .where(
        'pk',
        'in',
        part.map((d) => d.row.pk),
      )
      .execute();
  }
  let removed = deletes.length;
  // New findings (and pairs rewritten whole): stamped on each holding, as an upload stamps them.
  const recount = new Set<number>();
  if (inserting.length > 0) {
    for (const part of chunks(whole, 500)) {
      const del = await trx.deleteFrom('detections').where('image_pk', 'in', chunk).where('package_pk', 'in', part).executeTakeFirst();
      removed += Number(del.numDeletedRows);
    }
    for (const ip of await holdings(trx, store.dialect, chunk, inserting)) {
      const ins = (inserts.get(ip.packagePk) as readonly Template[]).filter((t) => !present.has(`${ip.pk}\u0001${t.hash}`));
      stamp(ip.image, { image_package_pk: ip.pk, package_pk: ip.packagePk, scan_type: ip.scanType, layer_index: ip.layer }, ins, fresh);
      // A pair rewritten whole: what the image held before is not known here.
      if (changed.get(ip.packagePk)?.findings === null) recount.add(ip.image);
      else for (const t of ins) delta(ip.image).move(ip.scanType, t.severity, t.cvssScore, 1);
    }
  }
  await insertDetections(trx, store, fresh, learned);
  // The images whose set of vulnerabilities may have changed (updates keep each row's id).
  const reindexed = inserting.length > 0 && whole.length > 0 ? new Set(chunk) : new Set([...deletes.map((d) => d.row.image), ...fresh.rows.map((r) => r.image_pk)]);
  await syncVulnHolders(trx, store.dialect, [...reindexed].sort((a, b) => a - b), false);
  await moveCounts(trx, [...deltas].filter(([image, d]) => !recount.has(image) && !d.neutral), recount);
  if (recount.size > 0) await recountImages(trx, [...recount].sort((a, b) => a - b), { packages: false });
  await fleet.finish();
  return { added: fresh.rows.length, updated, removed };
}

interface Target {
  readonly before: SignatureEntry;
  readonly after: Template | null;
}

interface ChangedRow {
  readonly pk: number;
  readonly image: number;
  readonly scanType: string;
}

/** The chunk's image_packages rows of these packages: by package within the chunk's pk range, or by image. */
async function holdings(
  trx: Transaction<Tables>,
  dialect: Dialect,
  chunk: readonly number[],
  pks: readonly number[],
): Promise<{ pk: number; image: number; packagePk: number; scanType: string; layer: number }[]> {
  const members = new Set(chunk);
  const wanted = new Set(pks);
  const range = { from: chunk[0] as number, to: chunk[chunk.length - 1] as number };
  const rows = await trx
    .selectFrom('image_packages')
    .select(['pk', 'image_pk', 'package_pk', 'scan_type', 'layer_index'])
    .$if(pks.length <= BY_PACKAGE, (q) =>
      q
        .where('package_pk', 'in', pks)
        .where('image_pk', '>=', range.from)
        .where('image_pk', '<=', range.to)
        // PostgreSQL reads these through its (package_pk, image_pk) index; SQLite has none (store/package-holders.ts),
        // so its holders index names the images first and their rows come by image.
        .$if(dialect === 'sqlite', (q2) => q2.where('image_pk', 'in', imagesHoldingAny(trx, dialect, pks, range))),
    )
    .$if(pks.length > BY_PACKAGE, (q) => q.where('image_pk', 'in', chunk))
    .execute();
  return rows
    .filter((r) => members.has(Number(r.image_pk)) && wanted.has(Number(r.package_pk)))
    .map((r) => ({ pk: r.pk, image: Number(r.image_pk), packagePk: Number(r.package_pk), scanType: r.scan_type, layer: Number(r.layer_index) }));
}

/**
 * The chunk's detections of changed findings, in pk order: those to update and those to delete; and which holdings
 * (image_package pk + hash) already have one of the `added` findings. Read by vuln id (one index range per
 * vulnerability within the chunk's pk range; on SQLite, the images having them from the term index, then their rows
 * of those ids) for a few vulnerabilities, by image for many.
 */
async function changedRows(
  trx: Transaction<Tables>,
  dialect: Dialect,
  chunk: readonly number[],
  vulnIds: readonly string[],
  targets: ReadonlyMap<string, Target>,
  added: ReadonlySet<string>,
): Promise<{ updates: { row: ChangedRow; target: Target & { after: Template } }[]; deletes: { row: ChangedRow; target: Target }[]; present: Set<string> }> {
  const hits: { row: ChangedRow; target: Target }[] = [];
  const present = new Set<string>();
  if (vulnIds.length > 0) {
    const members = new Set(chunk);
    const range = { from: chunk[0] as number, to: chunk[chunk.length - 1] as number };
    const byVuln = vulnIds.length <= BY_VULN;
    for (const part of byVuln ? chunks(vulnIds, 500) : [null]) {
      const rows = await trx
        .selectFrom('detections')
        .select(['pk', 'image_pk', 'image_package_pk', 'package_pk', 'finding', 'scan_type'])
        .$if(part !== null, (q) => q.where((eb) => eb(eb.fn('lower', ['vuln_id']), 'in', part ?? [])))
        .$if(part !== null && dialect === 'sqlite', (q) => q.where('image_pk', 'in', imagesWithAnyVuln(trx, part ?? [], range)))
        .where('image_pk', '>=', range.from)
        .where('image_pk', '<=', range.to)
        .execute();
      for (const r of rows) {
        if (!members.has(Number(r.image_pk))) continue;
        const key = findingKey(Number(r.package_pk), r.finding);
        const target = targets.get(key);
        if (target !== undefined) hits.push({ row: { pk: Number(r.pk), image: Number(r.image_pk), scanType: r.scan_type }, target });
        else if (added.has(key)) present.add(`${Number(r.image_package_pk)}\u0001${r.finding}`);
      }
    }
  }
  hits.sort((a, b) => a.row.pk - b.row.pk);
  const updates: { row: ChangedRow; target: Target & { after: Template } }[] = [];
  const deletes: { row: ChangedRow; target: Target }[] = [];
  for (const h of hits) {
    if (h.target.after === null) deletes.push(h);
    else updates.push({ row: h.row, target: { before: h.target.before, after: h.target.after } });
  }
  return { updates, deletes, present };
}

const UPDATED = ['finding', 'severity', 'severity_rank', 'status', 'has_fix', 'kev', 'epss', 'cvss_score', 'class'] as const;
const UPDATE_TYPES = ['text', 'text', 'integer', 'text', 'integer', 'integer', 'double precision', 'double precision', 'text'] as const;
const updateTexts = new Map<string, string>();

/**
 * The text of an update by pk, generated once per engine and size (as store/bulk.ts does for inserts): on SQLite a
 * single-row statement run once per row (BATCH_MARKER), on PostgreSQL `update … from (values …)` of `rows` rows.
 */
function updateText(trx: Transaction<Tables>, dialect: Dialect, rows: number): string {
  const key = `${dialect}|${rows}`;
  let text = updateTexts.get(key);
  if (text === undefined) {
    if (dialect === 'sqlite') {
      text = BATCH_MARKER + sql`update detections set ${sql.join(UPDATED.map((c) => sql`${sql.ref(c)} = ${0}`))} where pk = ${0}`.compile(trx).sql;
    } else {
      const row = sql`(${sql.join([sql`cast(${0} as bigint)`, ...UPDATE_TYPES.map((t) => sql`cast(${0} as ${sql.raw(t)})`)])})`;
      text = sql`with u(${sql.join(['pk', ...UPDATED].map((c) => sql.ref(c)))}) as (values ${sql.join(Array.from({ length: rows }, () => row))})
        update detections set ${sql.join(UPDATED.map((c) => sql`${sql.ref(c)} = ${sql.ref(`u.${c}`)}`))} from u where detections.pk = u.pk`.compile(trx).sql;
    }
    updateTexts.set(key, text);
  }
  return text;
}

/** Update rows to their new findings, by pk. */
async function updateRows(trx: Transaction<Tables>, dialect: Dialect, updates: readonly { row: ChangedRow; target: { after: Template } }[]): Promise<number> {
  const cells = (pk: number, t: Template): (string | number | null)[] => [t.hash, t.severity, t.severityRank, t.status, t.fixedVersions === '[]' ? 0 : 1, t.kev, t.epss, t.cvssScore, t.class, pk];
  if (dialect === 'sqlite') {
    if (updates.length > 0) await trx.executeQuery(CompiledQuery.raw(updateText(trx, dialect, 1), updates.map((u) => cells(u.row.pk, u.target.after))));
    return updates.length;
  }
  for (const part of fixedChunks(updates)) {
    const values = part.flatMap((u) => {
      const c = cells(u.row.pk, u.target.after);
      return [c[c.length - 1], ...c.slice(0, -1)];
    });
    await trx.executeQuery(CompiledQuery.raw(updateText(trx, dialect, part.length), values));
  }
  return updates.length;
}

/** The images of the distro holding one of these packages (every image of the distro for a large change). */
async function holders(store: Store, os: StoredOs, pks: readonly number[], byPackage: boolean): Promise<number[]> {
  const out = new Set<number>();
  for (const part of byPackage ? chunks(pks, 500) : [null]) {
    const rows = await store.read
      .selectFrom('images')
      .select('images.pk')
      .$if(part !== null, (q) => q.where('images.pk', 'in', imagesHoldingAny(store.read, store.dialect, part ?? [])))
      .where((eb) =>
        eb.and([
          os.os_family === null ? eb('images.os_family', 'is', null) : eb('images.os_family', '=', os.os_family),
          os.os_name === null ? eb('images.os_name', 'is', null) : eb('images.os_name', '=', os.os_name),
          os.os_version === null ? eb('images.os_version', 'is', null) : eb('images.os_version', '=', os.os_version),
        ]),
      )
      .execute();
    for (const r of rows) out.add(Number(r.pk));
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * Apply count deltas: one grouped UPDATE of the images and one of their scans. CVSS extremes take the scores gained;
 * an image that loses a score equal to its max or min (read only for those) joins `recount` instead.
 */
async function moveCounts(trx: Transaction<Tables>, deltas: readonly [number, CountDelta][], recount: Set<number>): Promise<void> {
  const lost = (d: CountDelta): number[] => [...d.cvss].filter(([, n]) => n < 0).map(([score]) => score);
  const losing = deltas.filter(([, d]) => lost(d).length > 0).map(([pk]) => pk);
  for (const part of chunks(losing, 1000)) {
    const current = await trx.selectFrom('images').select(['pk', 'cvss_max', 'cvss_min']).where('pk', 'in', part).execute();
    const extremes = new Map(current.map((c) => [Number(c.pk), [c.cvss_max, c.cvss_min].map((x) => (x === null ? null : Number(x)))]));
    for (const [pk, d] of deltas) if (lost(d).some((score) => extremes.get(pk)?.includes(score))) recount.add(pk);
  }
  const images: ReturnType<typeof sql>[] = [];
  const scans: ReturnType<typeof sql>[] = [];
  for (const [pk, d] of deltas) {
    if (recount.has(pk)) continue;
    const gained = [...d.cvss].filter(([, n]) => n > 0).map(([score]) => score);
    const by = (severity: string): number => d.severity.get(severity) ?? 0;
    images.push(
      sql`(${sql.join([
        sql`cast(${pk} as bigint)`,
        sql`cast(${d.total} as bigint)`,
        ...Object.keys(SEVERITY_COLUMNS).map((s) => sql`cast(${by(s)} as bigint)`),
        sql`cast(${gained.length > 0 ? Math.max(...gained) : null} as double precision)`,
        sql`cast(${gained.length > 0 ? Math.min(...gained) : null} as double precision)`,
      ])})`,
    );
    for (const [scanType, n] of d.scans) if (n !== 0) scans.push(sql`(cast(${pk} as bigint), cast(${scanType} as text), cast(${n} as bigint))`);
  }
  const severityColumns = Object.values(SEVERITY_COLUMNS);
  for (const part of chunks(images, 1000)) {
    const columns = ['pk', 'total', ...severityColumns, 'cmax', 'cmin'];
    await sql`with v(${sql.join(columns.map((c) => sql.ref(c)))}) as (values ${sql.join(part)})
      update images set vulns_total = images.vulns_total + v.total,
      ${sql.join(severityColumns.map((c) => sql`${sql.ref(c)} = images.${sql.ref(c)} + v.${sql.ref(c)}`))},
      cvss_max = case when v.cmax is null or (images.cvss_max is not null and images.cvss_max >= v.cmax) then images.cvss_max else v.cmax end,
      cvss_min = case when v.cmin is null or (images.cvss_min is not null and images.cvss_min <= v.cmin) then images.cvss_min else v.cmin end
      from v where images.pk = v.pk`.execute(trx);
  }
  for (const part of chunks(scans, 1000)) {
    await sql`with v(image_pk, scan_type, n) as (values ${sql.join(part)})
      update scans set vulns = scans.vulns + v.n from v where scans.image_pk = v.image_pk and scans.scan_type = v.scan_type`.execute(trx);
  }
}

/** Evaluate whole images from scratch (their pairs are recorded as an upload records them). */
export async function evaluateImages(store: Store, matcher: PostureMatcher, imagePks: readonly number[], acc: Tally): Promise<void> {
  const matchable = ['pkey', 'type', 'name', 'version', 'purl', 'class', 'source_name', 'source_version', 'owned_by'] as const;
  const learned = new Learned();
  await store.db.transaction().execute(async (trx) => {
    const images = await trx
      .selectFrom('images')
      .select(['pk', 'os_family', 'os_name', 'os_version', 'os_pretty'])
      .where('pk', 'in', imagePks)
      .orderBy('pk')
      .$call((q) => (store.dialect === 'postgres' ? q.forUpdate() : q))
      .execute();
    const pks = images.map((i) => i.pk);
    const fleet = await beginFleetUpdate(trx, store.dialect, pks, { packages: false });
    for (const image of images) {
      const packages = await trx
        .selectFrom('image_packages')
        .innerJoin('packages', 'packages.pk', 'image_packages.package_pk')
        .select(['image_packages.pk as image_package_pk', 'image_packages.package_pk', 'image_packages.scan_type', 'image_packages.layer_index', ...matchable.map((c) => `packages.${c}` as const)])
        .where('image_packages.image_pk', '=', image.pk)
        .execute();
      const del = await trx.deleteFrom('detections').where('image_pk', '=', image.pk).executeTakeFirst();
      const inImage: PackageInImage[] = packages.map((p) => ({ ...p, package_pk: Number(p.package_pk), layer_index: Number(p.layer_index) }));
      const d = matcher.detections(image.pk, image, inImage);
      await insertDetections(trx, store, d, learned);
      acc.removed += Number(del.numDeletedRows);
      acc.added += d.rows.length;
      acc.changedImages.add(image.pk);
    }
    await syncVulnHolders(trx, store.dialect, pks, false);
    await recountImages(trx, pks, { packages: false });
    await fleet.finish();
  });
  learned.committed();
}
