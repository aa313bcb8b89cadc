/**
 * Writing detections: the shared finding data first (only hashes not known to exist), then the rows, then the
 * records of the pairs they came from (evaluate/pairs.ts), when the matcher gave them.
 *
 * Hashes known to be committed are remembered for the life of the process: finding_data rows are never deleted, so
 * a hash once committed stays valid (store/committed.ts: where they are looked up and when they are remembered).
 */
import type { Kysely, Transaction } from 'kysely';
import type { Tables } from '../store/schema.js';
import type { Detections } from './posture.js';
import type { Store } from '../store/database.js';
import { committedSource, type Learned } from '../store/committed.js';
import { insertRows } from '../store/bulk.js';
import { paddedIn } from '../store/chunks.js';
import { notePairs } from './pairs.js';

/** Per store (keyed by its read handle): several stores may live in one process (tests, benchmarks). */
const knownByStore = new WeakMap<Kysely<Tables>, Set<string>>();
const MAX_KNOWN = 2_000_000;

const FINDING_SHAPE = { table: 'finding_data', columns: ['hash', 'fixed_versions', 'data'], onConflictDoNothing: 'hash' } as const;
const DETECTION_SHAPE = {
  table: 'detections',
  columns: ['image_pk', 'image_package_pk', 'package_pk', 'vuln_id', 'scan_type', 'class', 'severity', 'severity_rank', 'status', 'has_fix', 'layer_index', 'kev', 'epss', 'cvss_score', 'finding'],
} as const;

export async function insertDetections(trx: Transaction<Tables>, store: Store, d: Detections, learned: Learned): Promise<void> {
  let known = knownByStore.get(store.read);
  if (known === undefined) knownByStore.set(store.read, (known = new Set()));
  const seen = known;
  // In key order: concurrent PostgreSQL transactions inserting the same new hashes then queue instead of deadlocking.
  const unknown = [...d.findings.keys()].filter((h) => !seen.has(h)).sort();
  const source = committedSource(store, trx);
  const present = async (db: Kysely<Tables>, hashes: readonly string[]): Promise<Set<string>> =>
    new Set((await db.selectFrom('finding_data').select('hash').where('hash', 'in', paddedIn(hashes)).execute()).map((p) => p.hash));
  for (let i = 0; i < unknown.length; i += 500) {
    const chunk = unknown.slice(i, i + 500);
    const committed = await present(source, chunk);
    let missing = chunk.filter((h) => !committed.has(h));
    if (missing.length > 0 && source !== trx) {
      const have = await present(trx, missing);
      missing = missing.filter((h) => !have.has(h));
    }
    await insertRows(
      trx,
      store.dialect,
      FINDING_SHAPE,
      missing.map((hash) => {
        const f = d.findings.get(hash) as { fixed_versions: string; data: string };
        return [hash, f.fixed_versions, f.data];
      }),
    );
  }
  if (unknown.length > 0) {
    learned.later(() => {
      if (seen.size + unknown.length > MAX_KNOWN) seen.clear();
      for (const h of unknown) seen.add(h);
    });
  }
  await insertRows(
    trx,
    store.dialect,
    DETECTION_SHAPE,
    d.rows.map((r) => [r.image_pk, r.image_package_pk, r.package_pk, r.vuln_id, r.scan_type, r.class, r.severity, r.severity_rank, r.status, r.has_fix, r.layer_index, r.kev, r.epss ?? null, r.cvss_score ?? null, r.finding]),
  );
  if (d.pairs !== undefined) await notePairs(trx, store, d.pairs, learned);
}
