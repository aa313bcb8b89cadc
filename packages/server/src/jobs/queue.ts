/**
 * Background jobs behind one small interface, with two implementations:
 *  - `InProcessQueue` (here): SQLite, the embedded default. Jobs run inside `tally serve`, one at a time.
 *  - `PgJobQueue` (pg-queue.ts): PostgreSQL. Jobs live in graphile-worker's tables in the same database, and any
 *    number of `tally worker` processes (and `tally serve` itself) run them, with retries and crash recovery.
 * Handlers are written once for both (handlers.ts, registry-jobs.ts): idempotent, resumable from the store alone
 * (no in-memory state carried between attempts), each write its own transaction.
 */

export const JOB_NAMES = ['reevaluate', 'registry-sync', 'scan-manifest', 'registry-schedule'] as const;
export type JobName = (typeof JOB_NAMES)[number];

/** `retrying`: an attempt failed and the job waits for its next one (PostgreSQL's backoff). */
export type JobState = 'queued' | 'running' | 'retrying' | 'done' | 'failed' | 'cancelled';
export const JOB_STATES: readonly JobState[] = ['queued', 'running', 'retrying', 'done', 'failed', 'cancelled'];

export interface JobInfo {
  readonly id: string;
  readonly name: JobName;
  /** Jobs with the same key coalesce (ten DB swaps in a row make one re-evaluation; one scan per manifest digest). */
  readonly key: string | null;
  readonly state: JobState;
  readonly reason: string;
  /** What the job works on: an image reference, a registry URL; null for whole-store jobs. */
  readonly subject: string | null;
  readonly queuedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly progress: { readonly done: number; readonly total: number } | null;
  readonly attempts: number;
  readonly maxAttempts: number;
  /** Where the last attempt ran (`host:pid/slot`), null before the first. */
  readonly worker: string | null;
  readonly result: unknown;
  readonly error: string | null;
}

export interface JobContext {
  readonly signal: AbortSignal;
  /** What the job was enqueued with (checked by the handler: on PostgreSQL it comes back from the database). */
  readonly payload: Readonly<Record<string, unknown>>;
  progress(done: number, total: number): void;
}

export type JobHandler = (ctx: JobContext) => Promise<unknown>;

/**
 * How a key coalesces: `replace` merges with a job still waiting (a running one is left to finish and a new one
 * queued: the world changed after it started); `dedupe` returns any job with the key, waiting or running (a scan of
 * one manifest digest never runs twice at once).
 */
export type KeyMode = 'replace' | 'dedupe';

export interface EnqueueOptions {
  readonly key?: string;
  readonly keyMode?: KeyMode;
  readonly reason: string;
  readonly subject?: string;
  readonly payload?: Readonly<Record<string, unknown>>;
}

export interface JobQueue {
  /** Register the code for a job name (before enqueueing it). */
  handle(name: JobName, handler: JobHandler): void;
  enqueue(name: JobName, options: EnqueueOptions): Promise<JobInfo>;
  get(id: string): Promise<JobInfo | null>;
  /** Most recent first. */
  list(limit?: number): Promise<JobInfo[]>;
  /** Jobs per state (all jobs on record, not only the listed ones). */
  counts(): Promise<Record<JobState, number>>;
  /** Resolves when nothing is queued or running. */
  idle(): Promise<void>;
  /** Stop: the running job stops at its next batch boundary; queued jobs are dropped (in-process) or left for others. */
  close(): Promise<void>;
}

/** Attempts per job name on PostgreSQL; a scan's registry may be briefly down, a re-evaluation rarely fails twice. */
export const MAX_ATTEMPTS: Readonly<Record<JobName, number>> = { 'scan-manifest': 5, 'registry-sync': 3, reevaluate: 3, 'registry-schedule': 1 };

export function emptyCounts(): Record<JobState, number> {
  return { queued: 0, running: 0, retrying: 0, done: 0, failed: 0, cancelled: 0 };
}

export function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 4000);
}

interface Entry {
  info: JobInfo;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly controller: AbortController;
}

export class InProcessQueue implements JobQueue {
  private readonly handlers = new Map<JobName, JobHandler>();
  private readonly jobs: Entry[] = [];
  private running: Promise<void> | null = null;
  private seq = 0;
  private closed = false;
  private readonly waiters: (() => void)[] = [];

  constructor(
    private readonly onError: (job: JobInfo, err: unknown) => void = () => undefined,
    /** Finished jobs kept for GET /api/v1/jobs (a registry sync queues one scan per image). */
    private readonly keep = 500,
    /** Where jobs run, for JobInfo.worker. */
    private readonly worker: string | null = null,
  ) {}

  handle(name: JobName, handler: JobHandler): void {
    this.handlers.set(name, handler);
  }

  enqueue(name: JobName, options: EnqueueOptions): Promise<JobInfo> {
    if (this.closed) return Promise.reject(new Error('the job queue is closed'));
    const key = options.key ?? null;
    if (key !== null) {
      const live = options.keyMode === 'dedupe' ? ['queued', 'running'] : ['queued'];
      const same = this.jobs.find((j) => live.includes(j.info.state) && j.info.key === key && j.info.name === name);
      if (same !== undefined) return Promise.resolve(same.info);
    }
    const info: JobInfo = {
      id: `${name}-${Date.now().toString(36)}-${++this.seq}`,
      name,
      key,
      state: 'queued',
      reason: options.reason,
      subject: options.subject ?? null,
      queuedAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
      progress: null,
      attempts: 0,
      maxAttempts: 1,
      worker: null,
      result: null,
      error: null,
    };
    this.jobs.push({ info, payload: options.payload ?? {}, controller: new AbortController() });
    this.trim();
    this.pump();
    return Promise.resolve(info);
  }

  get(id: string): Promise<JobInfo | null> {
    return Promise.resolve(this.jobs.find((j) => j.info.id === id)?.info ?? null);
  }

  list(limit = 100): Promise<JobInfo[]> {
    return Promise.resolve(this.jobs.map((j) => j.info).reverse().slice(0, limit));
  }

  counts(): Promise<Record<JobState, number>> {
    const out = emptyCounts();
    for (const j of this.jobs) out[j.info.state]++;
    return Promise.resolve(out);
  }

  idle(): Promise<void> {
    if (this.running === null && !this.jobs.some((j) => j.info.state === 'queued')) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const j of this.jobs) {
      if (j.info.state === 'queued') j.info = { ...j.info, state: 'cancelled', finishedAt: new Date().toISOString() };
      if (j.info.state === 'running') j.controller.abort();
    }
    await this.running;
    for (const w of this.waiters.splice(0)) w();
  }

  private trim(): void {
    while (this.jobs.length > this.keep) {
      const i = this.jobs.findIndex((j) => j.info.state !== 'queued' && j.info.state !== 'running');
      if (i < 0) return;
      this.jobs.splice(i, 1);
    }
  }

  private pump(): void {
    if (this.running !== null) return;
    const next = this.closed ? undefined : this.jobs.find((j) => j.info.state === 'queued');
    if (next === undefined) {
      for (const w of this.waiters.splice(0)) w();
      return;
    }
    this.running = this.run(next).finally(() => {
      this.running = null;
      this.pump();
    });
  }

  private async run(entry: Entry): Promise<void> {
    const handler = this.handlers.get(entry.info.name);
    entry.info = { ...entry.info, state: 'running', startedAt: new Date().toISOString(), attempts: 1, worker: this.worker };
    try {
      if (handler === undefined) throw new Error(`no handler for job ${entry.info.name}`);
      const result = await handler({
        signal: entry.controller.signal,
        payload: entry.payload,
        progress: (done, total) => {
          entry.info = { ...entry.info, progress: { done, total } };
        },
      });
      entry.info = { ...entry.info, state: entry.controller.signal.aborted ? 'cancelled' : 'done', finishedAt: new Date().toISOString(), result };
    } catch (err) {
      entry.info = { ...entry.info, state: entry.controller.signal.aborted ? 'cancelled' : 'failed', finishedAt: new Date().toISOString(), error: errorText(err) };
      if (!entry.controller.signal.aborted) this.onError(entry.info, err);
    }
  }
}
