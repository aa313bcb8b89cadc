/**
 * `tally serve`: open the store and the server's vulnerability database, start the job queue and the HTTP
 * server, watch the database file, and stop cleanly (in-flight requests finish, the running re-evaluation stops
 * at its next batch boundary, the store is closed).
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyServerOptions } from 'fastify';
import type { LogEvent } from 'kysely';
import { buildApp } from './api/app.js';
import type { App } from './api/context.js';
import { evaluatedIdentity } from './evaluate/reevaluate.js';
import { ServerVulnDb, serverVulnDbPath } from './evaluate/vulndb.js';
import type { SpoolLimits } from './ingest/spool.js';
import type { JobInfo, JobQueue } from './jobs/queue.js';
import { startJobs } from './jobs/setup.js';
import { openStore, type Store } from './store/database.js';

import { DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT } from './protocol.js';

export interface ServeOptions {
  readonly dataDir?: string;
  /** PostgreSQL URL (or an SQLite path); default `<dataDir>/tally.sqlite`. */
  readonly database?: string | undefined;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly staticDir?: string | undefined;
  readonly logger?: FastifyServerOptions['logger'];
  readonly limits?: SpoolLimits;
  /** How often the vulnerability database file is checked for a swap (default 2 s). */
  readonly watchIntervalMs?: number;
  /** Bound of the shared layer cache in bytes (default 2 GiB); least recently used entries are evicted past it. */
  readonly layerCacheMaxBytes?: number | undefined;
  /**
   * Jobs this server runs at once on PostgreSQL (default 1; 0 leaves them to `tally worker` processes). On SQLite
   * the server runs every job itself, one at a time.
   */
  readonly jobConcurrency?: number;
  /** Kysely's query log (benchmarks, debugging). */
  readonly queryLog?: (event: LogEvent) => void;
}

export interface Backend {
  readonly store: Store;
  readonly vulndb: ServerVulnDb;
  readonly jobs: JobQueue;
  readonly app: App;
  readonly dataDir: string;
  reevaluate(reason: string): Promise<JobInfo>;
  close(): Promise<void>;
}

export interface RunningServer extends Backend {
  readonly url: string;
}

/** Builds everything but does not listen (tests use `app.inject()`; `startServer` listens). */
export async function createBackend(options: ServeOptions = {}): Promise<Backend> {
  const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  // Upload spools of a killed process.
  const tmp = join(dataDir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  for (const f of readdirSync(tmp)) rmSync(join(tmp, f), { force: true, recursive: true });

  const store = await openStore({ database: options.database, dataDir, ...(options.queryLog ? { log: options.queryLog } : {}) });
  const vulndb = new ServerVulnDb(serverVulnDbPath(dataDir));
  let app: App | null = null;
  let jobs: JobQueue;
  let stopJobs: () => Promise<void>;
  try {
    const started = await startJobs({
      store,
      vulndb,
      dataDir,
      database: options.database,
      concurrency: options.jobConcurrency ?? 1,
      layerCacheMaxBytes: options.layerCacheMaxBytes,
      log: (level, message, fields) => app?.log[level === 'warning' ? 'warn' : level]({ ...fields }, message),
      onError: (job, err) => app?.log.error({ err, job: job.id }, 'job failed'),
    });
    jobs = started.queue;
    stopJobs = () => started.close();
  } catch (err) {
    await store.close();
    vulndb.close();
    throw err;
  }
  const reevaluate = (reason: string): Promise<JobInfo> => jobs.enqueue('reevaluate', { key: 'reevaluate', keyMode: 'replace', reason });
  try {
    app = await buildApp({ store, vulndb, jobs, dataDir, reevaluate, logger: options.logger ?? false, ...(options.limits ? { limits: options.limits } : {}), staticDir: options.staticDir, layerCacheMaxBytes: options.layerCacheMaxBytes });
  } catch (err) {
    await stopJobs();
    await store.close();
    vulndb.close();
    throw err;
  }
  const built = app;
  vulndb.watch(options.watchIntervalMs ?? 2000, () => {
    built.log.info({ path: vulndb.path, identity: vulndb.state().identity }, 'vulnerability database changed: re-evaluating every image');
    reevaluate('the vulnerability database file changed').catch((err: unknown) => built.log.error({ err }, 'could not queue the re-evaluation'));
  });
  // A database swapped while the server was stopped (or detections never evaluated against this one).
  const current = vulndb.state().identity;
  if (current !== null && (await evaluatedIdentity(store)) !== current) await reevaluate('the vulnerability database differs from the one last evaluated');

  let closing: Promise<void> | null = null;
  return {
    store,
    vulndb,
    jobs,
    app: built,
    dataDir,
    reevaluate,
    close: () =>
      (closing ??= (async () => {
        vulndb.unwatch();
        await built.close();
        await stopJobs();
        vulndb.close();
        await store.close();
      })()),
  };
}

export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
  const backend = await createBackend(options);
  try {
    const url = await backend.app.listen({ host: options.host ?? DEFAULT_HOST, port: options.port ?? DEFAULT_PORT });
    return { ...backend, url };
  } catch (err) {
    await backend.close();
    throw err;
  }
}

/** SIGTERM / SIGINT → graceful close; a second signal, or 30 s, forces the exit. */
export function closeOnSignals(server: Pick<Backend, 'close'>, onClosed: (code: number) => void, graceMs = 30_000): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      onClosed(130);
      return;
    }
    stopping = true;
    const timer = setTimeout(() => onClosed(1), graceMs);
    timer.unref();
    server.close().then(
      () => onClosed(signal === 'SIGINT' ? 130 : 0),
      () => onClosed(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
