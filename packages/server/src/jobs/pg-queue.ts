/**
 * Jobs on PostgreSQL with graphile-worker, in the store's own database (schema `graphile_worker`): no other service.
 *
 * graphile-worker gives: one row per job, taken by exactly one worker at a time (SKIP LOCKED), job keys (a second
 * sync of a registry while one waits merges with it; a scan of a digest that is queued or running is not queued
 * again), retries with exponential backoff up to each job's max_attempts, LISTEN/NOTIFY so idle workers start new
 * jobs at once, and a crontab whose ticks run once across all workers (schedule.ts).
 *
 * What we add:
 *  - History: graphile-worker deletes a job when it succeeds, so every attempt is also written to `job_runs` (who
 *    ran it, progress, result, error): GET /api/v1/jobs shows both.
 *  - Worker-death recovery. graphile-worker frees a job whose worker vanished only after its lock is four hours old
 *    (a fixed interval in 0.17). Instead each process holds a PostgreSQL advisory lock on a connection of its own for
 *    as long as it lives, and records that lock's key with each job it starts. PostgreSQL drops the lock the moment
 *    the process dies (its socket closes: `kill -9`, OOM, a crash), so every live worker checks every few seconds
 *    for jobs whose owner's lock is gone and hands them back with graphile-worker's `force_unlock_workers`; another
 *    worker then runs the job's next attempt. Nothing is timed out by guesswork: a job that runs for an hour on a
 *    live worker is never taken from it. A process whose own lock connection fails stops its jobs and exits, so it
 *    can never keep running a job that was handed to someone else.
 */
import { hostname } from 'node:os';
import { randomInt } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import { Logger, makeWorkerUtils, parseCronItem, run, type Job, type JobHelpers, type Runner, type TaskList, type WorkerUtils } from 'graphile-worker';
import type { Store } from '../store/database.js';
import { emptyCounts, errorText, JOB_NAMES, MAX_ATTEMPTS, type EnqueueOptions, type JobHandler, type JobInfo, type JobName, type JobQueue, type JobState } from './queue.js';
import { SCHEDULE_TICK } from './schedule.js';

/** Advisory-lock namespace (first key) of the worker liveness locks; the second key is the process's owner id. */
export const LIVENESS_NAMESPACE = 0x7a11_0001;

export interface PgQueueOptions {
  /** Jobs this process runs at once; 0: enqueue and list only (the process runs no jobs). */
  readonly concurrency: number;
  /** How often a worker checks for jobs of dead workers (default 5 s). */
  readonly recoverEveryMs?: number;
  /** graphile-worker's poll interval, the fallback behind LISTEN/NOTIFY (default 2 s). */
  readonly pollIntervalMs?: number;
  /** Run the crontab tick that enqueues scheduled registry syncs (default: when running jobs). */
  readonly schedule?: boolean;
  /** Where jobs run, for JobInfo.worker (default `host:pid`). */
  readonly label?: string;
  readonly onError?: (job: JobInfo, err: unknown) => void;
  /** graphile-worker's warnings and errors, and ours. */
  readonly log?: (level: 'error' | 'warning' | 'info', message: string) => void;
}

interface LiveRow {
  id: string;
  identifier: string;
  payload: Record<string, unknown> | null;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  created_at: Date;
  key: string | null;
  locked_at: Date | null;
  locked_by: string | null;
}

type RunRow = Awaited<ReturnType<PgJobQueue['runRows']>>[number];

function iso(d: Date | string | null): string | null {
  return d === null ? null : typeof d === 'string' ? d : d.toISOString();
}

function jobName(identifier: string): JobName {
  return (JOB_NAMES as readonly string[]).includes(identifier) ? (identifier as JobName) : 'reevaluate';
}

function liveState(r: Pick<LiveRow, 'locked_at' | 'attempts' | 'max_attempts' | 'last_error'>): JobState {
  if (r.locked_at !== null) return 'running';
  if (r.attempts >= r.max_attempts) return 'failed';
  return r.last_error !== null ? 'retrying' : 'queued';
}

function userPayload(payload: Record<string, unknown> | null): Record<string, unknown> {
  const { _reason: _r, _subject: _s, ...rest } = payload ?? {};
  return rest;
}

export class PgJobQueue implements JobQueue {
  private readonly handlers = new Map<JobName, JobHandler>();
  private runner: Runner | null = null;
  private liveness: pg.Client | null = null;
  private recoverTimer: NodeJS.Timeout | null = null;
  private owner = 0;
  private closing: Promise<void> | null = null;
  private finished = 0;
  /** Rejects when this process must stop (its liveness connection failed). */
  private fatal: (err: Error) => void = () => undefined;
  readonly failed: Promise<never>;
  readonly label: string;

  private constructor(
    private readonly store: Store,
    private readonly connectionString: string,
    private readonly utils: WorkerUtils,
    /** One pool for graphile-worker (utilities, and the runner: its LISTEN connection, job fetches) and layer locks. */
    private readonly pool: pg.Pool,
    private readonly options: PgQueueOptions,
  ) {
    this.label = options.label ?? `${hostname()}:${process.pid}`;
    this.failed = new Promise<never>((_, reject) => {
      this.fatal = reject;
    });
    this.failed.catch(() => undefined);
  }

  /** Installs or upgrades graphile-worker's schema (idempotent; safe from several processes at once). */
  static async open(store: Store, connectionString: string, options: PgQueueOptions): Promise<PgJobQueue> {
    if (store.dialect !== 'postgres') throw new Error('PgJobQueue needs the PostgreSQL store');
    // Per running job: a fetch or completion now and then, and up to two layer locks held during its scan.
    const pool = new pg.Pool({ connectionString, max: Math.max(1, options.concurrency) * 3 + 2 });
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined)); // a dropped connection fails its query, not the process
    let utils: WorkerUtils | null = null;
    try {
      utils = await makeWorkerUtils({ pgPool: pool, logger: quietLogger(options.log) });
      await utils.migrate();
    } catch (err) {
      await Promise.resolve(utils?.release()).catch(() => undefined);
      await pool.end();
      throw err;
    }
    return new PgJobQueue(store, connectionString, utils, pool, options);
  }

  handle(name: JobName, handler: JobHandler): void {
    this.handlers.set(name, handler);
  }

  /** Start running jobs (after every handler is registered). */
  async start(): Promise<void> {
    if (this.options.concurrency <= 0 || this.runner !== null) return;
    const concurrency = this.options.concurrency;
    await this.takeLivenessLock();
    const taskList: TaskList = {};
    for (const name of JOB_NAMES) taskList[name] = (payload, helpers) => this.execute(name, payload, helpers);
    const schedule = this.options.schedule ?? true;
    this.runner = await run({
      pgPool: this.pool,
      concurrency,
      noHandleSignals: true,
      pollInterval: this.options.pollIntervalMs ?? 2000,
      logger: quietLogger(this.options.log),
      taskList,
      parsedCronItems: schedule
        ? [parseCronItem({ ...SCHEDULE_TICK, options: { backfillPeriod: 0, maxAttempts: MAX_ATTEMPTS['registry-schedule'], jobKey: SCHEDULE_TICK.task, jobKeyMode: 'replace' } })]
        : [],
    });
    this.runner.promise.catch((err: unknown) => this.options.log?.('error', `job runner stopped: ${errorText(err)}`));
    const every = this.options.recoverEveryMs ?? 5000;
    this.recoverTimer = setInterval(() => {
      this.recoverDeadWorkers().catch((err: unknown) => this.options.log?.('warning', `dead-worker check failed: ${errorText(err)}`));
    }, every);
    this.recoverTimer.unref();
  }

  /** The pool the running jobs may share (the layer locks); null when this process runs no jobs. */
  get jobPool(): pg.Pool | null {
    return this.runner === null ? null : this.pool;
  }

  private async takeLivenessLock(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString, keepAlive: true });
    client.on('error', (err) => {
      this.options.log?.('error', `lost the worker liveness connection: ${errorText(err)}; stopping`);
      this.fatal(err);
    });
    await client.connect();
    for (;;) {
      const owner = randomInt(1, 2 ** 31 - 1);
      const r = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1, $2) as ok', [LIVENESS_NAMESPACE, owner]);
      if (r.rows[0]?.ok === true) {
        this.owner = owner;
        break;
      }
    }
    this.liveness = client;
  }

  /**
   * Jobs locked by a process whose liveness lock is gone: give them back. The check requires the job's recorded
   * locked_by to be the one it has now, so a job just re-taken by a live worker (that has not recorded itself yet)
   * is never touched.
   */
  async recoverDeadWorkers(): Promise<string[]> {
    const rows = await sql<{ locked_by: string }>`
      select distinct j.locked_by
      from graphile_worker._private_jobs j
      join job_runs r on r.id = j.id::text
      where j.locked_by is not null and r.locked_by = j.locked_by and r.owner is not null
      and not exists (
        select 1 from pg_locks l
        where l.locktype = 'advisory' and l.granted and l.objsubid = 2
        and l.database = (select oid from pg_database where datname = current_database())
        and l.classid = ${LIVENESS_NAMESPACE}::bigint::oid and l.objid = r.owner::bigint::oid
      )`.execute(this.store.db);
    const dead = rows.rows.map((r) => r.locked_by);
    if (dead.length > 0) {
      await this.utils.forceUnlockWorkers(dead);
      this.options.log?.('warning', `handed back the jobs of dead workers ${dead.join(', ')}`);
    }
    return dead;
  }

  private async execute(name: JobName, rawPayload: unknown, helpers: JobHelpers): Promise<void> {
    const job = helpers.job;
    const handler = this.handlers.get(name);
    const payload = (rawPayload ?? {}) as Record<string, unknown>;
    const id = String(job.id);
    const startedAt = new Date().toISOString();
    const base = {
      name,
      key: job.key,
      reason: typeof payload['_reason'] === 'string' ? payload['_reason'] : name === 'registry-schedule' ? 'crontab' : '',
      subject: typeof payload['_subject'] === 'string' ? payload['_subject'] : null,
      attempts: job.attempts,
      max_attempts: job.max_attempts,
      worker: this.label,
      owner: this.owner,
      locked_by: job.locked_by,
      queued_at: iso(job.created_at)!,
    };
    const running = { ...base, state: 'running', started_at: startedAt, finished_at: null, progress_done: null, progress_total: null, result: null };
    await this.store.db
      .insertInto('job_runs')
      .values({ id, ...running, error: null })
      .onConflict((oc) => oc.column('id').doUpdateSet(running))
      .execute();
    let lastWrite = 0;
    let pending: Promise<unknown> = Promise.resolve();
    const progress = (done: number, total: number): void => {
      const now = Date.now();
      if (now - lastWrite < 1000 && done < total) return;
      lastWrite = now;
      pending = pending.then(() => this.store.db.updateTable('job_runs').set({ progress_done: done, progress_total: total }).where('id', '=', id).execute()).catch(() => undefined);
    };
    try {
      if (handler === undefined) throw new Error(`no handler for job ${name} in this process`);
      const result = await handler({ signal: helpers.abortSignal, payload: userPayload(payload), progress });
      await pending;
      if (name === 'registry-schedule' && (result as { queued?: unknown[] }).queued?.length === 0) {
        await this.store.db.deleteFrom('job_runs').where('id', '=', id).execute(); // an idle minute leaves no history
      } else {
        await this.store.db.updateTable('job_runs').set({ state: 'done', finished_at: new Date().toISOString(), result: JSON.stringify(result ?? null), error: null }).where('id', '=', id).execute();
      }
      await this.prune();
    } catch (err) {
      await pending;
      const cancelled = helpers.abortSignal.aborted;
      const state: JobState = cancelled ? 'retrying' : job.attempts >= job.max_attempts ? 'failed' : 'retrying';
      await this.store.db
        .updateTable('job_runs')
        .set({ state, finished_at: new Date().toISOString(), error: errorText(err) })
        .where('id', '=', id)
        .execute()
        .catch(() => undefined);
      if (!cancelled) this.options.onError?.(this.toInfo(null, (await this.runRows([id]))[0] ?? null)!, err);
      throw err; // graphile-worker records it and schedules the next attempt (exponential backoff)
    }
  }

  /** Finished history is kept for a week. */
  private async prune(): Promise<void> {
    if (++this.finished % 200 !== 0) return;
    const cutoff = new Date(Date.now() - 7 * 86_400_000).toISOString();
    await this.store.db.deleteFrom('job_runs').where('state', 'in', ['done', 'cancelled']).where('finished_at', '<', cutoff).execute();
  }

  async enqueue(name: JobName, options: EnqueueOptions): Promise<JobInfo> {
    const payload = { ...(options.payload ?? {}), _reason: options.reason, ...(options.subject !== undefined ? { _subject: options.subject } : {}) };
    const add = (): Promise<Job> =>
      this.utils.addJob(name, payload, {
        maxAttempts: MAX_ATTEMPTS[name],
        ...(options.key !== undefined ? { jobKey: options.key, jobKeyMode: options.keyMode === 'dedupe' ? 'unsafe_dedupe' : 'replace' } : {}),
      });
    let job = await add();
    if (options.keyMode === 'dedupe' && job.locked_at === null && job.attempts >= job.max_attempts) {
      // A job with this key that failed for good (its history stays in job_runs): asked for again, it gets a fresh
      // round of attempts, as on the in-process queue.
      await this.utils.completeJobs([job.id]);
      job = await add();
    }
    const live: LiveRow = {
      id: String(job.id),
      identifier: name,
      payload: job.payload as Record<string, unknown>,
      attempts: job.attempts,
      max_attempts: job.max_attempts,
      last_error: job.last_error,
      created_at: job.created_at,
      key: job.key,
      locked_at: job.locked_at,
      locked_by: job.locked_by,
    };
    return this.toInfo(live, (await this.runRows([live.id]))[0] ?? null)!;
  }

  private async liveRows(where: { ids?: readonly string[]; limit?: number }): Promise<LiveRow[]> {
    const filter = where.ids !== undefined ? sql`where j.id = any(${where.ids.map(Number)}::bigint[])` : sql``;
    const rows = await sql<LiveRow>`
      select j.id::text as id, t.identifier, j.payload, j.attempts, j.max_attempts, j.last_error, j.created_at, j.key, j.locked_at, j.locked_by
      from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
      ${filter}
      order by j.id desc
      limit ${where.limit ?? 1000}`.execute(this.store.read);
    return rows.rows;
  }

  private runRows(ids: readonly string[]) {
    if (ids.length === 0) return Promise.resolve([]);
    return this.store.read.selectFrom('job_runs').selectAll().where('id', 'in', [...ids]).execute();
  }

  private toInfo(live: LiveRow | null, run: RunRow | null): JobInfo | null {
    if (live === null && run === null) return null;
    const payload = live?.payload ?? {};
    const progress = run !== null && run.progress_done !== null && run.progress_total !== null ? { done: run.progress_done, total: run.progress_total } : null;
    return {
      id: live?.id ?? run!.id,
      name: jobName(live?.identifier ?? run!.name),
      key: live?.key ?? run?.key ?? null,
      state: live !== null ? liveState(live) : (run!.state as JobState),
      reason: typeof payload['_reason'] === 'string' ? payload['_reason'] : (run?.reason ?? ''),
      subject: typeof payload['_subject'] === 'string' ? payload['_subject'] : (run?.subject ?? null),
      queuedAt: iso(live?.created_at ?? null) ?? run!.queued_at,
      startedAt: run?.started_at ?? null,
      finishedAt: live !== null && live.locked_at !== null ? null : (run?.finished_at ?? null),
      progress,
      attempts: live?.attempts ?? run!.attempts,
      maxAttempts: live?.max_attempts ?? run!.max_attempts,
      worker: run?.worker ?? null,
      result: live === null && run?.result != null ? (JSON.parse(run.result) as unknown) : null,
      error: live?.last_error ?? run?.error ?? null,
    };
  }

  async get(id: string): Promise<JobInfo | null> {
    if (!/^\d{1,19}$/.test(id)) return null;
    const [live] = await this.liveRows({ ids: [id], limit: 1 });
    const [run] = await this.runRows([id]);
    return this.toInfo(live ?? null, run ?? null);
  }

  async list(limit = 100): Promise<JobInfo[]> {
    const live = await this.liveRows({ limit });
    const recent = await this.store.read.selectFrom('job_runs').selectAll().orderBy('queued_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    const runs = new Map<string, RunRow>([...recent, ...(await this.runRows(live.map((l) => l.id)))].map((r) => [r.id, r]));
    const out: JobInfo[] = live.map((l) => this.toInfo(l, runs.get(l.id) ?? null)!);
    const liveIds = new Set(live.map((l) => l.id));
    for (const r of recent) if (!liveIds.has(r.id)) out.push(this.toInfo(null, r)!);
    return out.sort((a, b) => (a.queuedAt < b.queuedAt ? 1 : a.queuedAt > b.queuedAt ? -1 : Number(b.id) - Number(a.id))).slice(0, limit);
  }

  async counts(): Promise<Record<JobState, number>> {
    const out = emptyCounts();
    const live = await sql<{ state: JobState; n: number }>`
      select case when locked_at is not null then 'running' when attempts >= max_attempts then 'failed'
                  when last_error is not null then 'retrying' else 'queued' end as state, count(*)::int as n
      from graphile_worker._private_jobs group by 1`.execute(this.store.read);
    for (const r of live.rows) out[r.state] += r.n;
    // Finished attempts that left graphile-worker's table (succeeded, or failed for good and then removed).
    const done = await this.store.read.selectFrom('job_runs').select(['state', (eb) => eb.fn.countAll<number>().as('n')]).where('state', 'in', ['done', 'cancelled']).groupBy('state').execute();
    for (const r of done) out[r.state as JobState] += Number(r.n);
    return out;
  }

  /** Nothing queued, retrying or running (jobs that failed for good do not count). */
  async idle(): Promise<void> {
    for (;;) {
      const r = await sql<{ n: number }>`select count(*)::int as n from graphile_worker._private_jobs where attempts < max_attempts or locked_at is not null`.execute(this.store.read);
      if ((r.rows[0]?.n ?? 0) === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  close(): Promise<void> {
    return (this.closing ??= (async () => {
      if (this.recoverTimer !== null) clearInterval(this.recoverTimer);
      // Graceful: running jobs finish (or, after graphile-worker's 5 s abort timeout, stop and go back to the queue).
      await Promise.resolve(this.runner?.stop()).catch(() => undefined);
      await Promise.resolve(this.utils.release()).catch(() => undefined);
      await this.pool.end().catch(() => undefined);
      await this.liveness?.end().catch(() => undefined);
    })());
  }
}

/** graphile-worker logs a line per job at info level; pass on warnings and errors only. */
function quietLogger(log: PgQueueOptions['log']): Logger {
  return new Logger(() => (level, message) => {
    if (log === undefined) return;
    if (level === 'error' || level === 'warning') log(level, `graphile-worker: ${message}`);
  });
}
