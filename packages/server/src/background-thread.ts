/**
 * Worker threads that serve the main thread (upload inspection, WAL checkpoints) run at a lower priority than it.
 *
 * On SQLite the main thread is the single writer and the bottleneck of ingestion: with 8 uploads in flight on
 * 2 cores it was runnable all the time but running only 87% of it, the rest spent waiting for a core held by the
 * inspection worker or the checkpointer, while the machine was idle 23% of the time between those bursts. A higher
 * nice value moves their work into that idle time instead: a worker that falls behind makes the main thread wait,
 * which frees a core for it again, so neither starves. Alternated over 1,200 uploads (bench/backend.mjs, 8 clients):
 * 29.6 and 30.2/s at nice 10 against 27.3, 26.3 and 26.8/s at the default (main thread 27.9 and 27.2 ms an upload
 * against 29.1, 31.2 and 30.4); nice 5 measured 22.2 and 29.4/s against nice 10's 31.8 and 31.4, nice 19 31.9 and
 * 30.0 against 28.7 and 33.5 (no better, and harsher on a machine shared with other work).
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

export const BACKGROUND_NICE = 10;

/**
 * Lowers the calling thread's priority. Linux keeps the nice value per thread and names the calling one in
 * /proc/thread-self; elsewhere (or if refused) the thread keeps its priority.
 */
export function runAsBackgroundThread(): void {
  try {
    setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), BACKGROUND_NICE);
  } catch {
    // Not Linux: normal priority.
  }
}
