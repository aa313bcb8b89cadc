/**
 * Worker-thread entry of inspect-pool.ts: runs pass 1 on a body as received, matches the packages this worker has not
 * seen before against the server's vulnerability database (MatchSeeds, evaluate/posture.ts), and posts the result
 * (or the error) back.
 */
import { serialize } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { runAsBackgroundThread } from '../background-thread.js';
import { storedOs, type MatchSeeds } from '../evaluate/posture.js';
import { ServerVulnDb } from '../evaluate/vulndb.js';
import { IngestError, inspectWire, type Inspection, type PackageRow } from './inspect.js';
import { SpoolError } from './spool.js';
import type { InspectReply, InspectRequest, InspectWorkerData } from './inspect-pool.js';

const { vulnDbPath } = workerData as InspectWorkerData;
/** This worker's own handle on the database file, reopened when the file changes (checked per upload: one stat). */
const vulndb = vulnDbPath === null ? null : new ServerVulnDb(vulnDbPath);

/** Null without a database, or when matching fails here: the main thread then matches, as it does without a worker. */
function seedsFor(inspection: Inspection, rows: readonly PackageRow[]): MatchSeeds | null {
  if (vulndb === null) return null;
  try {
    vulndb.refresh();
    const lease = vulndb.acquire();
    try {
      if (lease.matcher === null || lease.identity === null) return null;
      const os = storedOs(inspection.head.image.os);
      return { identity: lease.identity, os, entries: lease.matcher.fresh(os, rows.map((r) => r.dict)) };
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
