/** Worker-thread entry of inspect-pool.ts: runs pass 1 on a body as received and posts the result (or the error) back. */
import { serialize } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { runAsBackgroundThread } from '../background-thread.js';
import { IngestError, inspectWire } from './inspect.js';
import { SpoolError } from './spool.js';
import type { InspectReply, InspectRequest } from './inspect-pool.js';

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
      // The rows packed into one buffer, transferred: see inspect-pool.ts.
      const packed = serialize(result.rows());
      const rows = packed.byteOffset === 0 && packed.byteLength === packed.buffer.byteLength ? packed.buffer : packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.byteLength);
      parentPort?.postMessage({ id: msg.id, ok: true, result: { inspection: result.inspection, sha256: result.sha256, rows } } satisfies InspectReply, [rows]);
    },
    (err: unknown) => parentPort?.postMessage({ id: msg.id, ok: false, error: failure(err) } satisfies InspectReply),
  );
});
