/**
 * Re-evaluation after a vulnerability database change: every stored image's inventory is matched again from the
 * store (no rescans).
 *
 * A finding depends only on the package and the image's distro (evaluate/posture.ts), so the work is done per
 * distinct (distro, package) pair, not per image: a fleet of 10,000 images has a few million image packages but
 * only tens of thousands of pairs.
 *  1. List the pairs the store holds (one grouped scan of image_packages ⋈ images).
 *  2. Per distro, in chunks of pairs: match each pair with the new database and compare the signature of its
 *     findings with the one recorded in `evaluations` (what the stored detections were built from).
 *  3. Only for pairs whose signature changed: in chunks of the images holding them, one transaction each, delete
 *     those packages' detections, insert the new ones, recount the images; then record the new signatures.
 * A database update that changes a handful of advisories therefore rewrites only the images that have the affected
 * packages, and an update that changes nothing costs the matching alone.
 *
 * Consistency with concurrent uploads: a chunk's image rows are locked (FOR UPDATE) on PostgreSQL before their
 * packages are read, and an upload locks its image row when it upserts it, so the two serialise per image; on
 * SQLite the single writer serialises everything. A cancelled run (server stopped) leaves every finished chunk
 * consistent; pairs not yet rewritten keep their old signature, so the next run (queued at start-up, because the
 * evaluated-database marker is written last) redoes exactly them.
 */
import type { Store } from '../store/database.js';
import { recountImages } from '../ingest/records.js';
import { insertRows } from '../store/bulk.js';
import type { MatchablePackage } from '../store/packages.js';
import { distroKey, signatureOf, stamp, type Detections, type StoredOs, type Template } from './posture.js';
import { insertDetections } from './findings.js';
import type { ServerVulnDb } from './vulndb.js';
import { SETTING_EVALUATED_DB, getSetting, setSetting } from '../store/settings.js';

export interface ReevaluateResult {
  readonly images: number;
  /** Distinct (distro, package) pairs matched. */
  readonly pairs: number;
  /** Pairs whose findings changed. */
  readonly changedPairs: number;
  /** Images whose detections were rewritten. */
  readonly changedImages: number;
  readonly added: number;
  readonly removed: number;
  readonly ms: number;
  /** The database file identity evaluated against. */
  readonly identity: string | null;
}

export interface ReevaluateOptions {
  /** Pairs matched per chunk (default 2000). */
  readonly pairChunk?: number;
  /** Images rewritten per transaction (default 200). */
  readonly imageChunk?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
}

interface Distro {
  readonly os: StoredOs;
  readonly key: string;
  readonly pks: number[];
}

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

const EVALUATION_UPSERT = { table: 'evaluations', columns: ['distro', 'package_pk', 'signature'] } as const;

export async function reevaluateAll(store: Store, vulndb: ServerVulnDb, options: ReevaluateOptions = {}): Promise<ReevaluateResult> {
  const started = performance.now();
  const lease = vulndb.acquire();
  const matcher = lease.matcher;
  if (matcher === null) {
    lease.release();
    throw new Error('no vulnerability database to evaluate against');
  }
  const db = store.db;
  const pairChunk = options.pairChunk ?? 2000;
  const imageChunk = options.imageChunk ?? 200;
  const acc = { pairs: 0, changedPairs: 0, added: 0, removed: 0 };
  const changedImages = new Set<number>();
  try {
    const imagesRow = await store.read.selectFrom('images').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    const rows = await store.read
      .selectFrom('image_packages')
      .innerJoin('images', 'images.pk', 'image_packages.image_pk')
      .select(['images.os_family', 'images.os_name', 'images.os_version', 'image_packages.package_pk'])
      .distinct()
      .execute();
    const distros = new Map<string, Distro>();
    for (const r of rows) {
      const os: StoredOs = { os_family: r.os_family, os_name: r.os_name, os_version: r.os_version, os_pretty: null };
      const key = distroKey(os);
      let d = distros.get(key);
      if (d === undefined) distros.set(key, (d = { os, key, pks: [] }));
      d.pks.push(Number(r.package_pk));
    }
    const total = rows.length;
    let done = 0;

    for (const distro of distros.values()) {
      for (const pks of chunks(distro.pks, pairChunk)) {
        if (options.signal?.aborted) throw new Error('re-evaluation cancelled');
        const dict = await store.read
          .selectFrom('packages')
          .select(['pk', 'pkey', 'type', 'name', 'version', 'purl', 'class', 'source_name', 'source_version', 'owned_by'])
          .where('pk', 'in', pks)
          .execute();
        const templatesOf = matcher.templatesFor(distro.os, dict as readonly MatchablePackage[]);
        const stored = await store.read.selectFrom('evaluations').select(['package_pk', 'signature']).where('distro', '=', distro.key).where('package_pk', 'in', pks).execute();
        const storedSig = new Map(stored.map((s) => [Number(s.package_pk), s.signature]));
        const changed = new Map<number, { templates: readonly Template[]; signature: string }>();
        for (const p of dict) {
          const templates = templatesOf(p.pkey);
          const signature = signatureOf(templates);
          if (storedSig.get(p.pk) !== signature) changed.set(p.pk, { templates, signature });
        }
        acc.pairs += dict.length;
        if (changed.size > 0) {
          await rewrite(store, distro, changed, imageChunk, acc, changedImages, options.signal);
          acc.changedPairs += changed.size;
          const upserts = [...changed].map(([pk, c]) => [distro.key, pk, c.signature] as const);
          await db.transaction().execute(async (trx) => {
            for (const c of chunks(upserts, 500)) {
              await trx
                .deleteFrom('evaluations')
                .where('distro', '=', distro.key)
                .where(
                  'package_pk',
                  'in',
                  c.map((u) => u[1]),
                )
                .execute();
              await insertRows(trx, store.dialect, EVALUATION_UPSERT, c);
            }
          });
        }
        done += pks.length;
        options.onProgress?.(done, total);
      }
    }
    await setSetting(db, SETTING_EVALUATED_DB, JSON.stringify({ identity: lease.identity, at: new Date().toISOString() }));
    return {
      images: Number(imagesRow?.n ?? 0),
      pairs: acc.pairs,
      changedPairs: acc.changedPairs,
      changedImages: changedImages.size,
      added: acc.added,
      removed: acc.removed,
      ms: Math.round(performance.now() - started),
      identity: lease.identity,
    };
  } finally {
    lease.release();
  }
}

/** Rewrite the detections of the changed pairs in every image of the distro that holds one of them. */
async function rewrite(
  store: Store,
  distro: Distro,
  changed: ReadonlyMap<number, { templates: readonly Template[] }>,
  imageChunk: number,
  acc: { added: number; removed: number },
  changedImages: Set<number>,
  signal: AbortSignal | undefined,
): Promise<void> {
  const pks = [...changed.keys()];
  const os = distro.os;
  const holders = await store.read
    .selectFrom('image_packages')
    .innerJoin('images', 'images.pk', 'image_packages.image_pk')
    .select('image_packages.image_pk')
    .distinct()
    .where('image_packages.package_pk', 'in', pks)
    .where((eb) =>
      eb.and([
        os.os_family === null ? eb('images.os_family', 'is', null) : eb('images.os_family', '=', os.os_family),
        os.os_name === null ? eb('images.os_name', 'is', null) : eb('images.os_name', '=', os.os_name),
        os.os_version === null ? eb('images.os_version', 'is', null) : eb('images.os_version', '=', os.os_version),
      ]),
    )
    .orderBy('image_packages.image_pk')
    .execute();
  const images = holders.map((h) => Number(h.image_pk));
  for (const chunk of chunks(images, imageChunk)) {
    if (signal?.aborted) throw new Error('re-evaluation cancelled');
    await store.db.transaction().execute(async (trx) => {
      if (store.dialect === 'postgres') await trx.selectFrom('images').select('pk').where('pk', 'in', chunk).orderBy('pk').forUpdate().execute();
      const ips = await trx
        .selectFrom('image_packages')
        .select(['pk', 'image_pk', 'package_pk', 'scan_type', 'layer_index'])
        .where('image_pk', 'in', chunk)
        .where('package_pk', 'in', pks)
        .execute();
      const del = await trx.deleteFrom('detections').where('image_pk', 'in', chunk).where('package_pk', 'in', pks).executeTakeFirst();
      const fresh: Detections = { rows: [], findings: new Map() };
      for (const ip of ips) {
        const c = changed.get(Number(ip.package_pk));
        if (c !== undefined) stamp(Number(ip.image_pk), { image_package_pk: ip.pk, package_pk: Number(ip.package_pk), scan_type: ip.scan_type, layer_index: Number(ip.layer_index) }, c.templates, fresh);
      }
      await insertDetections(trx, store.read, store.dialect, fresh);
      await recountImages(trx, chunk, { packages: false });
      acc.removed += Number(del.numDeletedRows);
      acc.added += fresh.rows.length;
    });
    for (const i of chunk) changedImages.add(i);
  }
}

/** The database identity the stored detections were computed against (null: never evaluated). */
export async function evaluatedIdentity(store: Store): Promise<string | null | undefined> {
  const v = await getSetting(store.db, SETTING_EVALUATED_DB);
  if (v === null) return undefined;
  try {
    const parsed = JSON.parse(v) as { identity?: unknown };
    return typeof parsed.identity === 'string' ? parsed.identity : null;
  } catch {
    return undefined;
  }
}
