/** Worker-thread entry of inspect-pool.ts: runs pass 1 on a body and posts the result (or the error) back. */
import { parentPort } from 'node:worker_threads';
import { IngestError, inspectReport } from './inspect.js';
import type { InspectReply, InspectRequest } from './inspect-pool.js';

async function* once(buf: Buffer): AsyncIterable<Buffer> {
  yield buf;
}

parentPort?.on('message', (msg: InspectRequest) => {
  const body = Buffer.from(msg.body);
  inspectReport(once(body), true).then(
    (inspection) => parentPort?.postMessage({ id: msg.id, ok: true, inspection } satisfies InspectReply),
    (err: unknown) => {
      const reply: InspectReply =
        err instanceof IngestError
          ? { id: msg.id, ok: false, error: { message: err.message, statusCode: err.statusCode, code: err.code, details: [...err.details] } }
          : { id: msg.id, ok: false, error: { message: err instanceof Error ? err.message : String(err), statusCode: 500, code: 'INTERNAL', details: [] } };
      parentPort?.postMessage(reply);
    },
  );
});
