/**
 * Registry schedules. A schedule is a five-field cron expression, in UTC, parsed and matched by graphile-worker's own
 * parser (`parseCronItem`: it needs no database), so `tally registry add` refuses exactly what the PostgreSQL
 * scheduler would refuse.
 *
 * What ticks:
 *  - PostgreSQL: graphile-worker's crontab runs one `registry-schedule` job per minute, exactly once across every
 *    worker and server (its known_crontabs bookkeeping), and that job enqueues the syncs due in that minute. The
 *    schedules stay data: a registry added or removed counts from the next minute, no worker restarts.
 *  - SQLite: `InProcessScheduler` below, a timer in `tally serve` that does the same each minute.
 */
import { parseCronItem, type CronMatcher } from 'graphile-worker';
import type { Store } from '../store/database.js';
import type { JobInfo, JobQueue } from './queue.js';

/** The graphile-worker crontab line that drives the schedules on PostgreSQL. */
export const SCHEDULE_TICK = { task: 'registry-schedule', match: '* * * * *', identifier: 'tally-registry-schedule' } as const;

/** A checked matcher for a cron expression; throws a message naming the bad field. */
export function cronMatcher(expression: string): CronMatcher {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) throw new Error(`schedule ${JSON.stringify(expression)}: expected five cron fields (minute hour day-of-month month day-of-week), got ${fields.length}`);
  try {
    return parseCronItem({ task: 'registry-sync', match: fields.join(' '), identifier: 'check' }).match;
  } catch (err) {
    throw new Error(`schedule ${JSON.stringify(expression)}: ${err instanceof Error ? err.message.replace(/ in parseCronItem call/, '') : String(err)}`);
  }
}

/** True when `expression` fires in the UTC minute that contains `at`. */
export function cronDue(expression: string, at: Date): boolean {
  return cronMatcher(expression)({ min: at.getUTCMinutes(), hour: at.getUTCHours(), date: at.getUTCDate(), month: at.getUTCMonth() + 1, dow: at.getUTCDay() });
}

/** Enqueue a sync of every registry whose schedule fires in the minute of `at`. A broken schedule skips its registry. */
export async function enqueueDueSyncs(store: Store, queue: JobQueue, at: Date): Promise<JobInfo[]> {
  const rows = await store.db.selectFrom('registries').select(['pk', 'url', 'schedule']).where('schedule', 'is not', null).execute();
  const queued: JobInfo[] = [];
  for (const r of rows) {
    let due = false;
    try {
      due = cronDue(r.schedule!, at);
    } catch {
      continue; // refused on `registry add`; only a hand-edited row gets here
    }
    if (due) queued.push(await enqueueSync(queue, r.pk, r.url, `scheduled (${r.schedule})`));
  }
  return queued;
}

export function enqueueSync(queue: JobQueue, registryPk: number, url: string, reason: string): Promise<JobInfo> {
  return queue.enqueue('registry-sync', { key: `registry-sync:${registryPk}`, keyMode: 'replace', reason, subject: url, payload: { registry: registryPk } });
}

/** The SQLite scheduler: wakes at the start of each UTC minute. */
export class InProcessScheduler {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly queue: JobQueue,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  private arm(): void {
    if (this.stopped) return;
    // A few ms past the boundary, so the tick's own clock reading is inside the new minute.
    const wait = 60_000 - (Date.now() % 60_000) + 5;
    this.timer = setTimeout(() => {
      enqueueDueSyncs(this.store, this.queue, new Date())
        .catch(this.onError)
        .finally(() => this.arm());
    }, wait);
    this.timer.unref();
  }
}
