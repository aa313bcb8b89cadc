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
import { reevaluateAll, evaluatedIdentity } from './evaluate/reevaluate.js';
import { ServerVulnDb, serverVulnDbPath } from './evaluate/vulndb.js';
import type { SpoolLimits } from './ingest/spool.js';
import { InProcessQueue, type JobInfo, type JobQueue } from './jobs/queue.js';
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
  /** Kysely's query log (benchmarks, debugging). */
  readonly queryLog?: (event: LogEvent) => void;
}

export interface Backend {
  readonly store: Store;
  readonly vulndb: ServerVulnDb;
  readonly jobs: JobQueue;
  readonly app: App;
  readonly dataDir: string;
  reevaluate(reason: string): JobInfo;
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
  const jobs = new InProcessQueue((job, err) => app?.log.error({ err, job: job.id }, 'job failed'));
  jobs.handle('reevaluate', async ({ signal, progress }) => {
    vulndb.refresh();
    const probe = vulndb.acquire();
    const usable = probe.matcher !== null;
    probe.release();
    if (!usable) {
      // No usable database: keep the detections we have rather than wipe them.
      const state = vulndb.state();
      return { skipped: state.error ?? 'no vulnerability database' };
    }
    const result = await reevaluateAll(store, vulndb, { signal, onProgress: progress });
    app?.log.info({ ...result }, 're-evaluation finished');
    return result;
  });
  const reevaluate = (reason: string): JobInfo => jobs.enqueue('reevaluate', { key: 'reevaluate', reason });
  try {
    app = await buildApp({ store, vulndb, jobs, dataDir, reevaluate, logger: options.logger ?? false, ...(options.limits ? { limits: options.limits } : {}), staticDir: options.staticDir });
  } catch (err) {
    await store.close();
    vulndb.close();
    throw err;
  }
  const built = app;
  vulndb.watch(options.watchIntervalMs ?? 2000, () => {
    built.log.info({ path: vulndb.path, identity: vulndb.state().identity }, 'vulnerability database changed: re-evaluating every image');
    reevaluate('the vulnerability database file changed');
  });
  // A database swapped while the server was stopped (or detections never evaluated against this one).
  const current = vulndb.state().identity;
  if (current !== null && (await evaluatedIdentity(store)) !== current) reevaluate('the vulnerability database differs from the one last evaluated');

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
        await jobs.close();
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
