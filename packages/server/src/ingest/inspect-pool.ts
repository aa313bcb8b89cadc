/**
 * Pass 1 of small uploads in worker threads. Inflating, hashing, parsing and validating a report (and hashing its
 * packages into dictionary keys) is CPU work independent of the database; on the main thread it would queue behind,
 * and in front of, the SQLite writer. In a worker it runs on another core while the main thread writes the previous
 * upload. The body goes to the worker as it came over the wire (gzip: a fifth of its inflated size, copied once).
 *
 * The package rows come back packed in one transferred buffer (v8 serialisation) and are unpacked when pass 2 writes
 * them. Cloned into objects on arrival, the rows of the uploads waiting for the writer (with 8 clients, most of them)
 * lived on the main thread's young heap, were copied by every scavenge and then promoted to the old generation.
 *
 * Bodies too large to be kept in memory are inspected on the main thread, streamed (inspect.ts); so is everything
 * when workers cannot start (the pool then falls back, it never fails an upload for that).
 *
 * Size: the main thread needs a core, the WAL checkpointer part of one; past that, a worker per core up to four.
 * On 2 cores one worker pays off as well: the main thread is the bottleneck (~90% busy while the worker uses ~18% of
 * a core), and 3,000 uploads of 500 packages (bench/backend.mjs, 8 clients) went at 28.8 and 28.1/s with one worker
 * against 24.5 and 25.0/s without. A single core gets none (the worker would only compete with the writer).
 */
export function defaultPoolSize(): number {
  const cores = availableParallelism();
  return cores >= 4 ? Math.min(4, cores - 2) : cores >= 2 ? 1 : 0;
}
import { availableParallelism } from 'node:os';
import { deserialize } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { IngestError, inspectWire, type Inspection, type PackageRow, type WireInspection } from './inspect.js';
import type { Encoding, SpoolLimits, WireBody } from './spool.js';
import type { MatchSeeds } from '../evaluate/posture.js';

export interface InspectRequest {
  readonly id: number;
  /** The body as received (transferred, not copied). */
  readonly body: ArrayBuffer;
  readonly encoding: Encoding;
  readonly limits: SpoolLimits;
}

/** What the worker is started with. */
export interface InspectWorkerData {
  /** The server's vulnerability database file, which the worker matches new packages against (MatchSeeds), or null. */
  readonly vulnDbPath: string | null;
}

export type InspectReply =
  | { readonly id: number; readonly ok: true; readonly result: { readonly inspection: Inspection; readonly sha256: string; readonly rows: ArrayBuffer; readonly seeds: MatchSeeds | null } | null }
  | { readonly id: number; readonly ok: false; readonly error: { message: string; statusCode: number; code: string; details: string[] } };

interface Pending {
  readonly resolve: (i: WireInspection | null) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * The worker, from the entry file next to this one: the built .js, or, when running from sources under tsx (tests,
 * benchmarks), the .ts through a bootstrap that registers tsx in the worker first (Node 20 does not carry the
 * `--import tsx` hooks into workers).
 */
function newWorker(workerData: InspectWorkerData): Worker {
  const options = { workerData, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./inspect-worker.js', import.meta.url), options);
  const entry = new URL('./inspect-worker.ts', import.meta.url).href;
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, { ...options, eval: true });
}

/**
 * The worker's young generation: 96 MiB (semi-spaces of 32) rather than V8's 48. A parsed report stays alive while
 * it is inspected, so a scavenge in the middle of one copies it; with the larger young generation the worker
 * scavenged half as often, for less time in all (over 1,500 uploads, 148 and 150 scavenges taking 1.78 and 1.54 s,
 * against 282 to 286 taking 1.84 to 2.20 s), and the two cores it shares with the writer have that much more left.
 */
const YOUNG_GENERATION_MB = 96;

export class InspectPool {
  private workers: { worker: Worker; busy: number }[] = [];
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private broken = false;

  constructor(
    private readonly size = defaultPoolSize(),
    /** See InspectWorkerData. */
    private readonly vulnDbPath: string | null = null,
  ) {}

  private start(): void {
    if (this.workers.length > 0 || this.broken || this.size === 0) return;
    try {
      for (let i = 0; i < this.size; i++) {
        const worker = newWorker({ vulnDbPath: this.vulnDbPath });
        const entry = { worker, busy: 0 };
        // Unreferenced while idle (an idle pool must not keep the process alive), referenced while working.
        worker.unref();
        worker.on('message', (reply: InspectReply) => {
          entry.busy--;
          if (entry.busy === 0) worker.unref();
          const p = this.pending.get(reply.id);
          if (p === undefined) return;
          this.pending.delete(reply.id);
          if (reply.ok) p.resolve(reply.result === null ? null : unpacked(reply.result));
          else if (reply.error.statusCode === 500) p.reject(new Error(reply.error.message));
          else p.reject(new IngestError(reply.error.message, reply.error.statusCode as 400 | 409 | 413, reply.error.code, reply.error.details));
        });
        worker.on('error', () => this.fail());
        worker.on('exit', () => this.fail());
        this.workers.push(entry);
      }
    } catch {
      this.fail();
    }
  }

  /** A worker died: stop using the pool, and let in-flight requests fall back to the main thread. */
  private fail(): void {
    this.broken = true;
    const workers = this.workers;
    this.workers = [];
    for (const w of workers) void w.worker.terminate();
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new PoolUnavailable());
    }
  }

  /** Inflate, hash and inspect a body as received (inspect.ts, inspectWire); null when it must be spooled. */
  async inspect(wire: WireBody): Promise<WireInspection | null> {
    this.start();
    const entry = this.workers.reduce<{ worker: Worker; busy: number } | null>((best, w) => (best === null || w.busy < best.busy ? w : best), null);
    if (entry === null) return inspectWire(wire);
    // A fresh ArrayBuffer holding exactly the body, so it can be transferred (Node's small buffers share a pool).
    const copy = new Uint8Array(wire.bytes.length);
    copy.set(wire.bytes);
    const id = ++this.seq;
    try {
      return await new Promise<WireInspection | null>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        if (entry.busy++ === 0) entry.worker.ref();
        entry.worker.postMessage({ id, body: copy.buffer, encoding: wire.encoding, limits: wire.limits } satisfies InspectRequest, [copy.buffer]);
      });
    } catch (err) {
      if (err instanceof PoolUnavailable) return inspectWire(wire);
      throw err;
    }
  }

  async close(): Promise<void> {
    const workers = this.workers;
    this.workers = [];
    this.broken = true;
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }
}

class PoolUnavailable extends Error {}

function unpacked({ inspection, sha256, rows, seeds }: { inspection: Inspection; sha256: string; rows: ArrayBuffer; seeds: MatchSeeds | null }): WireInspection {
  return { inspection, sha256, rows: () => deserialize(Buffer.from(rows)) as PackageRow[], seeds };
}
