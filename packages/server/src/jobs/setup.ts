/**
 * The job queue of a process, chosen by the store: on SQLite the in-process queue and the minute scheduler (inside
 * `tally serve`), on PostgreSQL graphile-worker (in `tally serve` and in every `tally worker`). Either way the same
 * handlers run, scans share the store's layer cache, and on PostgreSQL a layer is pulled by one worker at a time.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { ServerVulnDb } from '../evaluate/vulndb.js';
import type { Store } from '../store/database.js';
import { DEFAULT_LAYER_CACHE_MAX_BYTES, StoreLayerCache } from '../store/layer-cache.js';
import { registerJobHandlers } from './handlers.js';
import { LayerLocks } from './layer-locks.js';
import { PgJobQueue } from './pg-queue.js';
import { InProcessQueue, type JobInfo, type JobQueue } from './queue.js';
import { unlockedScope } from './registry-jobs.js';
import { InProcessScheduler } from './schedule.js';

export type JobLog = (level: 'error' | 'warning' | 'info', message: string, fields?: Record<string, unknown>) => void;

export interface JobsOptions {
  readonly store: Store;
  readonly vulndb: ServerVulnDb;
  readonly dataDir: string;
  /** Upload spools and scan temp dirs (default `<dataDir>/tmp`). */
  readonly tmpDir?: string;
  /** The PostgreSQL URL of the store (graphile-worker opens its own connections to it). */
  readonly database?: string | undefined;
  /** Jobs run at once on PostgreSQL (0: this process only enqueues and lists). SQLite always runs one at a time. */
  readonly concurrency: number;
  readonly layerCacheMaxBytes?: number | undefined;
  /** PostgreSQL: dead-worker check interval and graphile-worker's poll interval. */
  readonly recoverEveryMs?: number;
  readonly pollIntervalMs?: number;
  readonly log?: JobLog;
  readonly onError?: (job: JobInfo, err: unknown) => void;
}

export interface Jobs {
  readonly queue: JobQueue;
  /** The PostgreSQL queue (a `tally worker` watches it for a fatal error), else null. */
  readonly pg: PgJobQueue | null;
  close(): Promise<void>;
}

export async function startJobs(o: JobsOptions): Promise<Jobs> {
  const label = `${hostname()}:${process.pid}`;
  const cache = new StoreLayerCache(o.store, o.layerCacheMaxBytes ?? DEFAULT_LAYER_CACHE_MAX_BYTES);
  const tmpDir = o.tmpDir ?? join(o.dataDir, 'tmp');
  mkdirSync(tmpDir, { recursive: true });
  const deps = { store: o.store, vulndb: o.vulndb, tmpDir, ...(o.log ? { log: (m: string, f: Record<string, unknown>) => o.log!('info', m, f) } : {}) };
  if (o.store.dialect === 'sqlite') {
    const queue = new InProcessQueue(o.onError, 500, label);
    registerJobHandlers(queue, { ...deps, queue, layerCache: () => unlockedScope(cache) });
    const scheduler = new InProcessScheduler(o.store, queue, (err) => o.log?.('error', `registry schedule: ${err instanceof Error ? err.message : String(err)}`));
    scheduler.start();
    return {
      queue,
      pg: null,
      close: async () => {
        scheduler.stop();
        await queue.close();
      },
    };
  }
  if (o.database === undefined) throw new Error('the PostgreSQL job queue needs the database URL');
  const queue = await PgJobQueue.open(o.store, o.database, {
    concurrency: o.concurrency,
    label,
    ...(o.recoverEveryMs !== undefined ? { recoverEveryMs: o.recoverEveryMs } : {}),
    ...(o.pollIntervalMs !== undefined ? { pollIntervalMs: o.pollIntervalMs } : {}),
    ...(o.onError ? { onError: o.onError } : {}),
    ...(o.log ? { log: (level: 'error' | 'warning' | 'info', message: string) => o.log!(level, message) } : {}),
  });
  let locks: LayerLocks | null = null;
  registerJobHandlers(queue, {
    ...deps,
    queue,
    // Jobs only run after start(), when the runner's pool exists.
    layerCache: (signal) => {
      const pool = queue.jobPool;
      if (pool === null) return unlockedScope(cache);
      locks ??= new LayerLocks(pool);
      return locks.scope(cache, signal);
    },
  });
  try {
    await queue.start();
  } catch (err) {
    await queue.close();
    throw err;
  }
  return { queue, pg: queue, close: () => queue.close() };
}
