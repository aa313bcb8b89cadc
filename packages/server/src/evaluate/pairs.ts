/**
 * The evaluation records of (distro, package) pairs: `evaluations` (the signature of the findings the stored
 * detections hold) and `evaluation_keys` (the lookup keys the pair was matched through, each with the fingerprint of
 * its advisory data at the time: evaluate/fingerprints.ts). The re-evaluation reads them to find the pairs a database
 * change can affect and to decide whether a re-matched pair's detections must be rewritten.
 *
 * Two writers:
 *  - uploads (`notePairs`, from insertDetections): a pair seen for the first time is recorded. A pair recorded from
 *    another database whose findings differ from this upload's is marked unsettled (fingerprint ''): its images now
 *    hold detections from two databases, so the next re-evaluation rewrites all of them. This keeps the records true
 *    when an upload was matched against a database other than the one they describe (a swap racing the upload, or
 *    another server process not on the new file yet).
 *  - the re-evaluation (`replacePairs`), after rewriting a pair's detections.
 * Rows are written in (distro, package_pk) order by both, so concurrent writers on PostgreSQL lock them in the same
 * order.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Dialect, Store } from '../store/database.js';
import { committedSource, type Learned } from '../store/committed.js';
import type { Tables } from '../store/schema.js';
import { insertRows } from '../store/bulk.js';
import { paddedIn } from '../store/chunks.js';
import { basisText, UNSETTLED, type Basis } from './fingerprints.js';
import type { PairRecord } from './posture.js';

type Db = Kysely<Tables> | Transaction<Tables>;

export interface StoredPair {
  /** The signature in `evaluations`, or null without a row. */
  readonly signature: string | null;
  /** basisText of the pair's evaluation_keys rows ('' without rows). */
  readonly basis: string;
  readonly keys: number;
  /** A row is marked: the pair's images may hold detections from different databases. */
  readonly unsettled: boolean;
}

const EVALUATION_ROW = { table: 'evaluations', columns: ['distro', 'package_pk', 'signature'], onConflictDoNothing: ['distro', 'package_pk'] } as const;
const KEY_ROW = { table: 'evaluation_keys', columns: ['distro', 'package_pk', 'lookup_key', 'fingerprint'], onConflictDoNothing: ['distro', 'package_pk', 'lookup_key'] } as const;

/** What is recorded for these packages on one distro. */
export async function storedPairs(db: Db, distro: string, pks: readonly number[]): Promise<Map<number, StoredPair>> {
  const out = new Map<number, StoredPair>();
  if (pks.length === 0) return out;
  const list = paddedIn(pks);
  const sigs = await db.selectFrom('evaluations').select(['package_pk', 'signature']).where('distro', '=', distro).where('package_pk', 'in', list).execute();
  const keys = await db
    .selectFrom('evaluation_keys')
    .select(['package_pk', 'lookup_key', 'fingerprint'])
    .where('distro', '=', distro)
    .where('package_pk', 'in', list)
    .orderBy('package_pk')
    .orderBy('lookup_key')
    .execute();
  const byPk = new Map<number, { key: string; fingerprint: string }[]>();
  for (const k of keys) {
    const pk = Number(k.package_pk);
    let l = byPk.get(pk);
    if (l === undefined) byPk.set(pk, (l = []));
    l.push({ key: k.lookup_key, fingerprint: k.fingerprint });
  }
  const signatures = new Map(sigs.map((s) => [Number(s.package_pk), s.signature]));
  for (const pk of new Set([...signatures.keys(), ...byPk.keys()])) {
    const rows = byPk.get(pk) ?? [];
    out.set(pk, { signature: signatures.get(pk) ?? null, basis: basisText(rows), keys: rows.length, unsettled: rows.some((r) => r.fingerprint === UNSETTLED) });
  }
  return out;
}

/**
 * Per store (keyed by its read handle): pairs this process found recorded in agreement with its matcher's basis,
 * by distro, then package pk (store/committed.ts: where they are looked up and when they are remembered).
 */
const agreedByStore = new WeakMap<Kysely<Tables>, { size: number; readonly byDistro: Map<string, Map<number, Basis>> }>();
const MAX_AGREED = 1_000_000;

/**
 * Record the pairs an upload matched (inside its transaction). Pairs already seen in agreement cost nothing; the
 * others are looked up, and those still open are settled inside the transaction: recorded when new, marked unsettled
 * when recorded with findings other than this upload's.
 */
export async function notePairs(trx: Transaction<Tables>, store: Store, pairs: ReadonlyMap<number, PairRecord>, learned: Learned): Promise<void> {
  let agreed = agreedByStore.get(store.read);
  if (agreed === undefined) agreedByStore.set(store.read, (agreed = { size: 0, byDistro: new Map() }));
  const seen = agreed;
  const open = new Map<string, PairRecord[]>();
  for (const p of pairs.values()) {
    // No lookup keys: the findings are empty whatever the database holds, so there is nothing to track.
    if (p.basis.length === 0 || seen.byDistro.get(p.distro)?.get(p.packagePk) === p.basis) continue;
    let l = open.get(p.distro);
    if (l === undefined) open.set(p.distro, (l = []));
    l.push(p);
  }
  const source = committedSource(store, trx);
  const agreeing: PairRecord[] = [];
  for (const [distro, list] of open) {
    list.sort((a, b) => a.packagePk - b.packagePk);
    for (let i = 0; i < list.length; i += 500) {
      const chunk = list.slice(i, i + 500);
      const committed = await storedPairs(
        source,
        distro,
        chunk.map((p) => p.packagePk),
      );
      const rest = chunk.filter((p) => {
        const s = committed.get(p.packagePk);
        if (s === undefined || !agrees(s, p)) return true;
        agreeing.push(p);
        return false;
      });
      if (rest.length === 0) continue;
      // Settled on what the transaction itself sees (on SQLite, what was just read).
      const current = source === trx ? committed : await storedPairs(trx, distro, rest.map((p) => p.packagePk));
      await settle(trx, store.dialect, distro, rest, current);
    }
  }
  if (agreeing.length > 0) {
    learned.later(() => {
      if (seen.size + agreeing.length > MAX_AGREED) {
        seen.byDistro.clear();
        seen.size = 0;
      }
      for (const p of agreeing) {
        let here = seen.byDistro.get(p.distro);
        if (here === undefined) seen.byDistro.set(p.distro, (here = new Map()));
        if (!here.has(p.packagePk)) seen.size++;
        here.set(p.packagePk, p.basis);
      }
    });
  }
}

function agrees(s: StoredPair, p: PairRecord): boolean {
  return s.keys > 0 && s.signature !== null && (s.basis === basisText(p.basis) || s.signature === p.signature);
}

/** Record the pairs `current` (what the transaction sees of them) does not hold in agreement. */
async function settle(trx: Db, dialect: Dialect, distro: string, pairs: readonly PairRecord[], current: ReadonlyMap<number, StoredPair>): Promise<void> {
  const evaluations: (string | number)[][] = [];
  const keys: (string | number)[][] = [];
  const unsettle: number[] = [];
  for (const p of pairs) {
    const s = current.get(p.packagePk);
    if (s !== undefined && agrees(s, p)) continue;
    if (s?.signature == null) evaluations.push([distro, p.packagePk, p.signature]);
    // Recorded findings that differ from ours: the pair's images disagree until it is rewritten.
    const differs = s !== undefined && s.signature !== null && s.signature !== p.signature;
    if (s === undefined || s.keys === 0) for (const b of p.basis) keys.push([distro, p.packagePk, b.key, differs ? UNSETTLED : b.fingerprint]);
    else unsettle.push(p.packagePk);
  }
  await insertRows(trx, dialect, EVALUATION_ROW, evaluations);
  await insertRows(trx, dialect, KEY_ROW, keys);
  if (unsettle.length > 0) {
    await trx.updateTable('evaluation_keys').set({ fingerprint: UNSETTLED }).where('distro', '=', distro).where('package_pk', 'in', unsettle).execute();
  }
}

/** The re-evaluation's record of re-matched pairs on one distro: their rows replaced by these. */
export async function replacePairs(trx: Db, dialect: Dialect, distro: string, pairs: readonly PairRecord[]): Promise<void> {
  const sorted = [...pairs].sort((a, b) => a.packagePk - b.packagePk);
  for (let i = 0; i < sorted.length; i += 500) {
    const chunk = sorted.slice(i, i + 500);
    const pks = chunk.map((p) => p.packagePk);
    await trx.deleteFrom('evaluation_keys').where('distro', '=', distro).where('package_pk', 'in', pks).execute();
    await trx.deleteFrom('evaluations').where('distro', '=', distro).where('package_pk', 'in', pks).execute();
    await insertRows(
      trx,
      dialect,
      EVALUATION_ROW,
      chunk.map((p) => [distro, p.packagePk, p.signature]),
    );
    await insertRows(
      trx,
      dialect,
      KEY_ROW,
      chunk.flatMap((p) => p.basis.map((b) => [distro, p.packagePk, b.key, b.fingerprint])),
    );
  }
}
