/**
 * Re-evaluation after a vulnerability database change: the stored inventory is matched again (no rescans), only
 * where the change can matter.
 *
 * A finding depends only on the package and the image's distro (evaluate/posture.ts), so the unit of work is the
 * distinct (distro, package) pair, and each pair's records say what its stored detections were computed from
 * (evaluate/pairs.ts): the signature of its findings and, for each lookup key the matcher made for it, the
 * fingerprint of that key's advisory data (evaluate/fingerprints.ts). A run:
 *  1. waits until no upload still matches against a replaced database file (ServerVulnDb.drained);
 *  2. finds the pairs to match. Incremental: the pairs whose rows in evaluation_keys (one pass over the table) have
 *     a fingerprint other than their key's in the new database. Full (no records yet, a different Tally version, or
 *     asked for): every pair the store holds;
 *  3. per distro, in chunks of pairs: matches them; where the signature of the findings changed (or the pair is
 *     unsettled), rewrites the findings that changed in every image holding them (evaluate/rewrite.ts); then
 *     replaces the pairs' records;
 *  4. evaluates from scratch the images stored while the server had no database (uploads answered
 *     `evaluated: false` since the last run);
 *  5. records the run: Tally version and upload watermark, and the database identity (settings).
 * An update touching ten packages so matches the pairs of those packages and rewrites the images holding them;
 * an update that changes nothing costs the fingerprints alone.
 *
 * Consistency with concurrent uploads: rewrites lock their images as uploads do (rewrite.ts). Uploads record the
 * pairs they match, and one matched against a database other than the records describe marks the pair for a
 * rewrite (pairs.ts). A cancelled run leaves every finished chunk consistent; pairs not yet processed keep their
 * old records, so the next run (queued at start-up, because the evaluated-database marker is written last) redoes
 * exactly them.
 */
import { sql, type Selectable, type SqlBool } from 'kysely';
import type { EvaluationKeysTable } from '../store/schema.js';
import { TOOL_VERSION } from '@tally/core';
import type { Store } from '../store/database.js';
import { SETTING_EVALUATED_DB, getSetting, setSetting } from '../store/settings.js';
import { basisText } from './fingerprints.js';
import { replacePairs, storedPairs } from './pairs.js';
import { type PairRecord, type PostureMatcher, type StoredOs } from './posture.js';
import { cancelled, changeOf, chunks, evaluateImages, rewritePairs, type PairChange, type Tally } from './rewrite.js';
import type { ServerVulnDb } from './vulndb.js';

export interface ReevaluateResult {
  /** `incremental`: only the pairs whose lookup keys changed; `full`: every pair the store holds. */
  readonly mode: 'incremental' | 'full';
  readonly images: number;
  /** Lookup keys whose advisory data changed (incremental runs). */
  readonly changedKeys: number;
  /** Distinct (distro, package) pairs matched. */
  readonly pairs: number;
  /** Pairs whose findings changed. */
  readonly changedPairs: number;
  /** Images whose detections were rewritten. */
  readonly changedImages: number;
  /** Images stored while there was no database, evaluated from scratch. */
  readonly unevaluatedImages: number;
  /** Detections inserted, updated in place (same vulnerability, new content) and deleted. */
  readonly added: number;
  readonly updated: number;
  readonly removed: number;
  readonly ms: number;
  /** The database file identity evaluated against. */
  readonly identity: string | null;
}

export interface ReevaluateOptions {
  /** Match every pair the store holds instead of only those whose lookup keys changed. */
  readonly full?: boolean;
  /** Pairs matched per chunk (default 2000). */
  readonly pairChunk?: number;
  /** Images rewritten per transaction (default 500). */
  readonly imageChunk?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
}

/** settings: what the records were kept by (a Tally version with other lookups or findings starts over) and up to which upload. */
const SETTING_EVALUATION = 'vulndb.evaluation';
interface Mark {
  readonly at: string;
  readonly upload: number;
}
interface Baseline {
  readonly tool: string;
  /** Upload watermarks of the last runs: the highest uploads.pk when each started. */
  readonly marks: readonly Mark[];
  /** Unevaluated uploads above the oldest kept watermark that a run has evaluated already. */
  readonly handled: readonly number[];
}

/**
 * On PostgreSQL an upload's pk is drawn when it starts, so one still running (in another process without a
 * database) may commit below a watermark read meanwhile: the check starts from a watermark at least this old.
 */
const UPLOAD_WINDOW_MS = 3600_000;

interface Distro {
  readonly os: StoredOs;
  readonly key: string;
  readonly pks: Set<number>;
}

/** StoredOs of an evaluations/evaluation_keys distro key (posture.ts distroKey). */
function osOfKey(key: string): StoredOs {
  if (key === '') return { os_family: null, os_name: null, os_version: null, os_pretty: null };
  const [family, name, version] = JSON.parse(key) as [string, string | null, string | null];
  return { os_family: family, os_name: name, os_version: version, os_pretty: null };
}

function addPair(into: Map<string, Distro>, key: string, pk: number): void {
  let d = into.get(key);
  if (d === undefined) into.set(key, (d = { os: osOfKey(key), key, pks: new Set() }));
  d.pks.add(pk);
}

const MATCHABLE = ['pk', 'pkey', 'type', 'name', 'version', 'purl', 'class', 'source_name', 'source_version', 'owned_by'] as const;

export async function reevaluateAll(store: Store, vulndb: ServerVulnDb, options: ReevaluateOptions = {}): Promise<ReevaluateResult> {
  const started = performance.now();
  const at = new Date().toISOString();
  await vulndb.drained(options.signal);
  const lease = vulndb.acquire();
  const matcher = lease.matcher;
  if (matcher === null) {
    lease.release();
    throw new Error('no vulnerability database to evaluate against');
  }
  const acc: Tally = { pairs: 0, changedPairs: 0, added: 0, updated: 0, removed: 0, changedImages: new Set() };
  try {
    const baseline = await readBaseline(store);
    const full = options.full === true || baseline === null || baseline.tool !== TOOL_VERSION;
    const watermark = Number((await store.read.selectFrom('uploads').select((eb) => eb.fn.max('pk').as('m')).executeTakeFirst())?.m ?? 0);
    let changedKeys = 0;
    let work: Map<string, Distro>;
    if (full) work = await allPairs(store);
    else ({ work, changedKeys } = await stalePairs(store, matcher));
    const unevaluated = await unevaluatedUploads(store, checkFrom(baseline, store.dialect === 'postgres' ? UPLOAD_WINDOW_MS : 0), new Set(baseline?.handled ?? []));
    const unevaluatedImages = [...new Set(unevaluated.map((u) => u.image))].sort((a, b) => a - b);

    // Progress: pairs matched, then images rewritten (their number is known once a distro's pairs are matched).
    let total = [...work.values()].reduce((n, d) => n + d.pks.size, 0) + unevaluatedImages.length;
    let done = 0;
    const pairChunk = options.pairChunk ?? 2000;
    const imageChunk = options.imageChunk;
    for (const distro of work.values()) {
      // All of a distro's changes first, then one pass over its images: a large change reads each image once.
      const changed = new Map<number, PairChange>();
      const records: PairRecord[] = [];
      for (const pks of chunks([...distro.pks].sort((a, b) => a - b), pairChunk)) {
        cancelled(options.signal);
        await matchPairs(store, matcher, distro, pks, changed, records);
        acc.pairs += pks.length;
        done += pks.length;
        options.onProgress?.(done, total);
      }
      if (changed.size > 0) {
        let seen = 0;
        await rewritePairs(store, distro.os, changed, imageChunk, acc, options.signal, (n, of) => {
          if (seen === 0) total += of;
          done += n - seen;
          seen = n;
          options.onProgress?.(done, total);
        });
        acc.changedPairs += changed.size;
      }
      // Recorded after the rewrite: a run stopped in between leaves the old records, and the next run redoes the pairs.
      for (const part of chunks(records, 5000)) await store.db.transaction().execute((trx) => replacePairs(trx, store.dialect, distro.key, part));
    }
    for (const chunk of chunks(unevaluatedImages, 50)) {
      cancelled(options.signal);
      await evaluateImages(store, matcher, chunk, acc);
      done += chunk.length;
      options.onProgress?.(done, total);
    }

    const marks = keptMarks([...(baseline?.tool === TOOL_VERSION ? baseline.marks : []), { at, upload: watermark }]);
    const floor = Math.min(...marks.map((m) => m.upload));
    const handled = [...(baseline?.handled ?? []), ...unevaluated.map((u) => u.upload)].filter((pk) => pk > floor);
    await setSetting(store.db, SETTING_EVALUATION, JSON.stringify({ tool: TOOL_VERSION, marks, handled } satisfies Baseline));
    await setSetting(store.db, SETTING_EVALUATED_DB, JSON.stringify({ identity: lease.identity, at }));
    const imagesRow = await store.read.selectFrom('images').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    return {
      mode: full ? 'full' : 'incremental',
      images: Number(imagesRow?.n ?? 0),
      changedKeys,
      pairs: acc.pairs,
      changedPairs: acc.changedPairs,
      changedImages: acc.changedImages.size,
      unevaluatedImages: unevaluatedImages.length,
      added: acc.added,
      updated: acc.updated,
      removed: acc.removed,
      ms: Math.round(performance.now() - started),
      identity: lease.identity,
    };
  } finally {
    lease.release();
  }
}

async function readBaseline(store: Store): Promise<Baseline | null> {
  const v = await getSetting(store.db, SETTING_EVALUATION);
  if (v === null) return null;
  try {
    const b = JSON.parse(v) as Partial<Baseline>;
    return typeof b.tool === 'string' && Array.isArray(b.marks) ? { tool: b.tool, marks: b.marks, handled: Array.isArray(b.handled) ? b.handled : [] } : null;
  } catch {
    return null;
  }
}

/** The upload pk from which to look for unevaluated uploads: the newest watermark at least `windowMs` old. */
function checkFrom(baseline: Baseline | null, windowMs: number): number {
  const before = Date.now() - windowMs;
  let from = 0;
  for (const m of baseline?.marks ?? []) if (Date.parse(m.at) <= before && m.upload > from) from = m.upload;
  return from;
}

/** The watermarks still useful: every one younger than the window, and the newest older one. */
function keptMarks(marks: readonly Mark[]): Mark[] {
  const before = Date.now() - UPLOAD_WINDOW_MS;
  const young = marks.filter((m) => Date.parse(m.at) > before);
  const old = marks.filter((m) => Date.parse(m.at) <= before).sort((a, b) => b.upload - a.upload)[0];
  return [...(old !== undefined ? [old] : []), ...young.slice(-50)];
}

/** Every (distro, package) pair the store holds (one grouped scan of image_packages ⋈ images). */
async function allPairs(store: Store): Promise<Map<string, Distro>> {
  const rows = await store.read
    .selectFrom('image_packages')
    .innerJoin('images', 'images.pk', 'image_packages.image_pk')
    .select(['images.os_family', 'images.os_name', 'images.os_version', 'image_packages.package_pk'])
    .distinct()
    .execute();
  const out = new Map<string, Distro>();
  for (const r of rows) {
    const os: StoredOs = { os_family: r.os_family, os_name: r.os_name, os_version: r.os_version, os_pretty: null };
    const key = r.os_family === null ? '' : JSON.stringify([r.os_family, r.os_name, r.os_version]);
    let d = out.get(key);
    if (d === undefined) out.set(key, (d = { os, key, pks: new Set() }));
    d.pks.add(Number(r.package_pk));
  }
  return out;
}

/** Rows of evaluation_keys read per statement by stalePairs (bounded memory whatever the store's size). */
const KEY_PAGE = 20_000;
type KeyRow = Pick<Selectable<EvaluationKeysTable>, 'distro' | 'package_pk' | 'lookup_key' | 'fingerprint'>;
type KeyCursor = Pick<KeyRow, 'distro' | 'package_pk' | 'lookup_key'>;

/**
 * The pairs recorded with a lookup key whose fingerprint differs from the current database's (or is unsettled): one
 * pass over evaluation_keys in primary-key order, page by page. The table has no index led by the lookup key: an
 * upload's new pairs put their keys on random leaves of one (41 of the ~260 WAL pages an upload wrote), and reading
 * the distinct keys through it was a scan of the whole index anyway.
 */
async function stalePairs(store: Store, matcher: PostureMatcher): Promise<{ work: Map<string, Distro>; changedKeys: number }> {
  const keys = new Set<string>();
  const work = new Map<string, Distro>();
  let after: KeyCursor | null = null;
  for (;;) {
    const from: KeyCursor | null = after;
    const rows: KeyRow[] = await store.read
      .selectFrom('evaluation_keys')
      .select(['distro', 'package_pk', 'lookup_key', 'fingerprint'])
      .$if(from !== null, (q) => q.where(sql<SqlBool>`(distro, package_pk, lookup_key) > (${from?.distro}, ${from?.package_pk}, ${from?.lookup_key})`))
      .orderBy('distro')
      .orderBy('package_pk')
      .orderBy('lookup_key')
      .limit(KEY_PAGE)
      .execute();
    for (const r of rows) {
      if (r.fingerprint === matcher.fingerprints.of(r.lookup_key)) continue;
      keys.add(r.lookup_key);
      addPair(work, r.distro, Number(r.package_pk));
    }
    const last: KeyRow | undefined = rows[rows.length - 1];
    if (rows.length < KEY_PAGE || last === undefined) break;
    after = { distro: last.distro, package_pk: Number(last.package_pk), lookup_key: last.lookup_key };
  }
  return { work, changedKeys: keys.size };
}

/** Uploads after `from` stored without a database (their response says `evaluated: false`), less those handled. */
async function unevaluatedUploads(store: Store, from: number, handled: ReadonlySet<number>): Promise<{ upload: number; image: number }[]> {
  const rows = await store.read.selectFrom('uploads').select(['pk', 'image_pk']).where('pk', '>', from).where('response', 'like', '%"evaluated":false%').execute();
  return rows.filter((r) => !handled.has(Number(r.pk))).map((r) => ({ upload: Number(r.pk), image: Number(r.image_pk) }));
}

/** Match one chunk of a distro's pairs: what changed goes to `changed`, what to record to `records`. */
async function matchPairs(store: Store, matcher: PostureMatcher, distro: Distro, pks: readonly number[], changed: Map<number, PairChange>, records: PairRecord[]): Promise<void> {
  const dict = await store.read.selectFrom('packages').select(MATCHABLE).where('pk', 'in', pks).execute();
  const matchedOf = matcher.matchedFor(distro.os, dict);
  const stored = await storedPairs(store.read, distro.key, pks);
  for (const p of dict) {
    const { templates, signature } = matchedOf(p.pkey);
    const record: PairRecord = { distro: distro.key, packagePk: p.pk, signature, basis: matcher.basisOf(distro.os, p) };
    const s = stored.get(p.pk);
    const rewrite = s === undefined || s.unsettled || s.signature !== record.signature;
    if (rewrite) changed.set(p.pk, changeOf(s, templates));
    if (s === undefined || rewrite || s.basis !== basisText(record.basis)) records.push(record);
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
