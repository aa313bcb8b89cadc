/**
 * Writing detections: the shared finding data first (only hashes not known to exist), then the rows, then the
 * records of the pairs they came from (evaluate/pairs.ts), when the matcher gave them.
 *
 * Hashes seen committed are remembered for the life of the process: finding_data rows are never deleted, so a
 * hash once committed stays valid. They are looked up on the read connection, which sees committed rows only;
 * rows inserted by a transaction still in flight (that may roll back, or be part of a group commit that fails)
 * are looked up inside it and never remembered.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Tables } from '../store/schema.js';
import type { Detections } from './posture.js';
import type { Dialect } from '../store/database.js';
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

export async function insertDetections(trx: Kysely<Tables> | Transaction<Tables>, read: Kysely<Tables>, dialect: Dialect, d: Detections): Promise<void> {
  let known = knownByStore.get(read);
  if (known === undefined) knownByStore.set(read, (known = new Set()));
  // In key order: concurrent PostgreSQL transactions inserting the same new hashes then queue instead of deadlocking.
  const unknown = [...d.findings.keys()].filter((h) => !(known as Set<string>).has(h)).sort();
  for (let i = 0; i < unknown.length; i += 500) {
    const chunk = unknown.slice(i, i + 500);
    const committed = await read.selectFrom('finding_data').select('hash').where('hash', 'in', paddedIn(chunk)).execute();
    if (known.size + committed.length > MAX_KNOWN) known.clear();
    for (const p of committed) known.add(p.hash);
    const rest = chunk.filter((h) => !known.has(h));
    if (rest.length === 0) continue;
    const present = await trx.selectFrom('finding_data').select('hash').where('hash', 'in', paddedIn(rest)).execute();
    const have = new Set(present.map((p) => p.hash));
    const missing = rest.filter((h) => !have.has(h));
    await insertRows(
      trx,
      dialect,
      FINDING_SHAPE,
      missing.map((hash) => {
        const f = d.findings.get(hash) as { fixed_versions: string; data: string };
        return [hash, f.fixed_versions, f.data];
      }),
    );
  }
  await insertRows(
    trx,
    dialect,
    DETECTION_SHAPE,
    d.rows.map((r) => [r.image_pk, r.image_package_pk, r.package_pk, r.vuln_id, r.scan_type, r.class, r.severity, r.severity_rank, r.status, r.has_fix, r.layer_index, r.kev, r.epss ?? null, r.cvss_score ?? null, r.finding]),
  );
  if (d.pairs !== undefined) await notePairs(trx, read, dialect, d.pairs);
}
