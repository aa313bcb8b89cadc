/**
 * WAL checkpoints off the main thread. By default SQLite checkpoints inside the COMMIT of whichever write crosses
 * the WAL size threshold, so an upload now and then pays for copying megabytes of earlier uploads into the
 * database file, on the event loop. A worker thread with its own connection runs PASSIVE checkpoints every few
 * hundred milliseconds instead (PASSIVE never blocks the writer or readers); the writer keeps a high automatic
 * threshold as a fallback should the worker fall behind. It runs at the background priority (background-thread.ts:
 * the same two calls, as this eval'd CommonJS cannot import that module).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { BACKGROUND_NICE } from '../background-thread.js';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 100');
try {
  require('node:os').setPriority(Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()), workerData.nice);
} catch (e) { /* not Linux: normal priority */ }
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (e) { /* busy: next time */ }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  try { db.close(); } catch (e) { /* already closed */ }
  parentPort.postMessage('stopped');
});
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(path: string, intervalMs = 250): Checkpointer {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, { eval: true, workerData: { module, path, intervalMs, nice: BACKGROUND_NICE } });
  worker.unref();
  // A failing checkpointer only means checkpoints happen in COMMIT again: never fatal.
  worker.on('error', () => undefined);
  let stopped: Promise<void> | null = null;
  return {
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        const done = (): void => {
          void worker.terminate().then(() => resolve());
        };
        const timer = setTimeout(done, 2000);
        worker.once('message', () => {
          clearTimeout(timer);
          done();
        });
        worker.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        worker.postMessage('stop');
      })),
  };
}
