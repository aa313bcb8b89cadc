/**
 * `tally registry sync`: a sync on request. On PostgreSQL it is queued for the workers (and, with `wait`, followed
 * until the queue is idle); on SQLite there are no workers to hand it to, so this process runs the sync and its scans
 * itself, with the same handlers `tally serve` uses.
 */
import { resolve } from 'node:path';
import { ServerVulnDb, serverVulnDbPath } from '../evaluate/vulndb.js';
import { openStore } from '../store/database.js';
import type { JobInfo, JobState } from './queue.js';
import { getRegistry } from './registries.js';
import { enqueueSync } from './schedule.js';
import { startJobs } from './setup.js';

export interface SyncNowOptions {
  readonly database?: string | undefined;
  readonly dataDir: string;
  /** Registry id or URL. */
  readonly registry: string;
  /** PostgreSQL: wait until no job is queued or running. (SQLite always runs to the end here.) */
  readonly wait: boolean;
}

export interface SyncNowResult {
  readonly job: JobInfo;
  /** Where the jobs ran: this process (SQLite), the workers (PostgreSQL). */
  readonly ranHere: boolean;
  /** After waiting: the jobs of this sync (the sync first), and its scans per state; null when not waited for. */
  readonly jobs: JobInfo[] | null;
  readonly counts: Record<JobState, number> | null;
}

export async function syncNow(o: SyncNowOptions): Promise<SyncNowResult> {
  const dataDir = resolve(o.dataDir);
  const store = await openStore({ database: o.database, dataDir });
  const vulndb = new ServerVulnDb(serverVulnDbPath(dataDir));
  try {
    const registry = await getRegistry(store, o.registry);
    if (registry === null) throw new Error(`no registry ${JSON.stringify(o.registry)} (see tally registry list)`);
    const ranHere = store.dialect === 'sqlite';
    const jobs = await startJobs({ store, vulndb, dataDir, database: o.database, concurrency: 0 });
    try {
      const job = await enqueueSync(jobs.queue, registry.id, registry.url, 'requested with tally registry sync');
      if (!ranHere && !o.wait) return { job, ranHere, jobs: null, counts: null };
      await jobs.queue.idle();
      const since = job.queuedAt;
      const mine = (await jobs.queue.list(10_000)).filter((j) => j.queuedAt >= since && (j.id === job.id || j.name === 'scan-manifest')).reverse();
      const counts = { queued: 0, running: 0, retrying: 0, done: 0, failed: 0, cancelled: 0 };
      for (const j of mine) if (j.id !== job.id) counts[j.state]++;
      return { job: mine.find((j) => j.id === job.id) ?? job, ranHere, jobs: mine, counts };
    } finally {
      await jobs.close();
    }
  } finally {
    vulndb.close();
    await store.close();
  }
}
