/**
 * Worker-thread entry of inspect-pool.ts: runs pass 1 on a body as received, matches the packages this worker has not
 * seen before against the server's vulnerability database (MatchSeeds, evaluate/posture.ts), and posts the result
 * (or the error) back.
 */
import { serialize } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { runAsBackgroundThread } from '../background-thread.js';
import { distroKey, PostureMatcher, storedOs, type MatchSeeds } from '../evaluate/posture.js';
import { ServerVulnDb } from '../evaluate/vulndb.js';
import { IngestError, inspectWire, type Inspection, type PackageRow } from './inspect.js';
import { SpoolError } from './spool.js';
import type { InspectReply, InspectRequest, InspectWorkerData } from './inspect-pool.js';

const { vulnDbPath } = workerData as InspectWorkerData;
/** This worker's own handle on the database file, reopened when the file changes (checked per upload: one stat). */
const vulndb = vulnDbPath === null ? null : new ServerVulnDb(vulnDbPath);

/**
 * The pairs this worker has matched and sent, for one database file: only which, not their results, which the main
 * thread keeps (a second copy of them here measured 904 against 690 MB of peak RSS over 3,000 images). Bounded like
 * the main thread's cache; past the bound, pairs are matched and sent again and the main thread skips those it has.
 */
const MAX_SENT = 500_000;
let sent = { identity: '', size: 0, byDistro: new Map<string, Set<string>>() };

/** Null without a database, or when matching fails here: the main thread then matches, as it does without a worker. */
function seedsFor(inspection: Inspection, rows: readonly PackageRow[]): MatchSeeds | null {
  if (vulndb === null) return null;
  try {
    vulndb.refresh();
    const lease = vulndb.acquire();
    try {
      if (lease.db === null || lease.identity === null) return null;
      if (sent.identity !== lease.identity || sent.size > MAX_SENT) sent = { identity: lease.identity, size: 0, byDistro: new Map() };
      const os = storedOs(inspection.head.image.os);
      const distro = distroKey(os);
      let keys = sent.byDistro.get(distro);
      if (keys === undefined) sent.byDistro.set(distro, (keys = new Set()));
      const known = keys;
      const unsent = rows.map((r) => r.dict).filter((d) => !known.has(d.pkey));
      if (unsent.length === 0) return null;
      for (const d of unsent) known.add(d.pkey);
      sent.size += unsent.length;
      // A matcher for this upload only: its result cache goes with it.
      return { identity: lease.identity, os, entries: new PostureMatcher(lease.db).fresh(os, unsent) };
    } finally {
      lease.release();
    }
  } catch {
    return null;
  }
}

function failure(err: unknown): Extract<InspectReply, { ok: false }>['error'] {
  if (err instanceof IngestError) return { message: err.message, statusCode: err.statusCode, code: err.code, details: [...err.details] };
  if (err instanceof SpoolError) return { message: err.message, statusCode: err.statusCode, code: err.code, details: [] };
  return { message: err instanceof Error ? err.message : String(err), statusCode: 500, code: 'INTERNAL', details: [] };
}

runAsBackgroundThread();
parentPort?.on('message', (msg: InspectRequest) => {
  inspectWire({ bytes: Buffer.from(msg.body), encoding: msg.encoding, limits: msg.limits }).then(
    (result) => {
      if (result === null) return parentPort?.postMessage({ id: msg.id, ok: true, result } satisfies InspectReply);
      const seeds = seedsFor(result.inspection, result.rows());
      // The rows packed into one buffer, transferred: see inspect-pool.ts.
      const packed = serialize(result.rows());
      const rows = packed.byteOffset === 0 && packed.byteLength === packed.buffer.byteLength ? packed.buffer : packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.byteLength);
      parentPort?.postMessage({ id: msg.id, ok: true, result: { inspection: result.inspection, sha256: result.sha256, rows, seeds } } satisfies InspectReply, [rows]);
    },
    (err: unknown) => parentPort?.postMessage({ id: msg.id, ok: false, error: failure(err) } satisfies InspectReply),
  );
});
