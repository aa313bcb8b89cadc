/**
 * `tally worker`: a process that runs the backend's jobs from PostgreSQL (graphile-worker), any number of them on
 * any number of machines. It needs the store (the same PostgreSQL as `tally serve`) and, for matching, a vulnerability
 * database in its data directory (`<data-dir>/vulndb/tally.db`, as the server has): without one, scans store their
 * inventory unmatched and the next re-evaluation matches it.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ServerVulnDb, serverVulnDbPath } from '../evaluate/vulndb.js';
import { isPostgresUrl, openStore, redactUrl, type Store } from '../store/database.js';
import { startJobs, type JobLog, type Jobs } from './setup.js';

export interface WorkerOptions {
  readonly database: string;
  readonly dataDir: string;
  readonly concurrency: number;
  readonly layerCacheMaxBytes?: number;
  readonly recoverEveryMs?: number;
  readonly pollIntervalMs?: number;
  readonly log?: JobLog;
}

export interface RunningWorker {
  readonly store: Store;
  readonly jobs: Jobs;
  /** `host:pid`, as jobs record where they ran. */
  readonly label: string;
  readonly description: string;
  /** Rejects if the worker must stop (its PostgreSQL liveness connection failed). */
  readonly failed: Promise<never>;
  close(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A temp dir of this process under `<dataDir>/tmp`; those of dead workers on this machine are removed. */
function workerTmp(dataDir: string): string {
  const root = join(dataDir, 'tmp');
  mkdirSync(root, { recursive: true });
  for (const name of readdirSync(root)) {
    const m = /^worker-(\d+)$/.exec(name);
    if (m !== null && !alive(Number(m[1]))) rmSync(join(root, name), { recursive: true, force: true });
  }
  const dir = join(root, `worker-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export async function runWorker(options: WorkerOptions): Promise<RunningWorker> {
  if (!isPostgresUrl(options.database)) {
    throw new Error('tally worker needs the PostgreSQL store (--database postgres://… or TALLY_DATABASE_URL); with SQLite, `tally serve` runs the jobs itself');
  }
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new Error('--concurrency: expected a whole number of at least 1');
  const dataDir = resolve(options.dataDir);
  const tmpDir = workerTmp(dataDir);
  const store = await openStore({ database: options.database, dataDir, poolSize: options.concurrency + 4 });
  const vulndb = new ServerVulnDb(serverVulnDbPath(dataDir));
  vulndb.watch(2000, () => options.log?.('info', 'vulnerability database changed', { path: vulndb.path }));
  let jobs: Jobs;
  try {
    jobs = await startJobs({
      store,
      vulndb,
      dataDir,
      tmpDir,
      database: options.database,
      concurrency: options.concurrency,
      ...(options.layerCacheMaxBytes !== undefined ? { layerCacheMaxBytes: options.layerCacheMaxBytes } : {}),
      ...(options.recoverEveryMs !== undefined ? { recoverEveryMs: options.recoverEveryMs } : {}),
      ...(options.pollIntervalMs !== undefined ? { pollIntervalMs: options.pollIntervalMs } : {}),
      ...(options.log ? { log: options.log, onError: (job, err) => options.log!('error', `job ${job.id} (${job.name} ${job.subject ?? ''}) attempt ${job.attempts}/${job.maxAttempts} failed: ${err instanceof Error ? err.message : String(err)}`) } : {}),
    });
  } catch (err) {
    vulndb.close();
    await store.close();
    throw err;
  }
  let closing: Promise<void> | null = null;
  return {
    store,
    jobs,
    label: jobs.pg!.label,
    description: redactUrl(options.database),
    failed: jobs.pg!.failed,
    close: () =>
      (closing ??= (async () => {
        await jobs.close();
        vulndb.close();
        await store.close();
        rmSync(tmpDir, { recursive: true, force: true });
      })()),
  };
}
