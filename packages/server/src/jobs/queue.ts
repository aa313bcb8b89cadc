/**
 * Background jobs behind one small interface. On a single machine (SQLite, or PostgreSQL with one server) jobs run
 * in the server process, one at a time (`InProcessQueue`). Issue 9 moves them to graphile-worker on PostgreSQL so
 * several servers share the work; that implementation only has to provide this interface, and job handlers are
 * already written to be safe there: idempotent, resumable from the store alone (no in-memory state carried between
 * batches), each batch its own transaction.
 */

export type JobName = 'reevaluate';

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobInfo {
  readonly id: string;
  readonly name: JobName;
  /** Jobs with the same key coalesce while queued (ten DB swaps in a row make one re-evaluation, not ten). */
  readonly key: string | null;
  readonly state: JobState;
  readonly reason: string;
  readonly queuedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly progress: { readonly done: number; readonly total: number } | null;
  readonly result: unknown;
  readonly error: string | null;
}

export interface JobContext {
  readonly signal: AbortSignal;
  progress(done: number, total: number): void;
}

export type JobHandler = (ctx: JobContext) => Promise<unknown>;

export interface JobQueue {
  /** Register the code for a job name (before enqueueing it). */
  handle(name: JobName, handler: JobHandler): void;
  /** Queue a job; with a key, an identical job still waiting is returned instead of queueing another. */
  enqueue(name: JobName, options: { readonly key?: string; readonly reason: string }): JobInfo;
  get(id: string): JobInfo | null;
  /** Most recent first. */
  list(): JobInfo[];
  /** Resolves when nothing is queued or running. */
  idle(): Promise<void>;
  /** Cancel the running job (it stops at its next batch boundary) and drop the queue. */
  close(): Promise<void>;
}

interface Entry {
  info: JobInfo;
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
    /** Finished jobs kept for GET /api/v1/jobs. */
    private readonly keep = 50,
  ) {}

  handle(name: JobName, handler: JobHandler): void {
    this.handlers.set(name, handler);
  }

  enqueue(name: JobName, options: { readonly key?: string; readonly reason: string }): JobInfo {
    if (this.closed) throw new Error('the job queue is closed');
    const key = options.key ?? null;
    if (key !== null) {
      const waiting = this.jobs.find((j) => j.info.state === 'queued' && j.info.key === key && j.info.name === name);
      if (waiting !== undefined) return waiting.info;
    }
    const info: JobInfo = {
      id: `${name}-${Date.now().toString(36)}-${++this.seq}`,
      name,
      key,
      state: 'queued',
      reason: options.reason,
      queuedAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
      progress: null,
      result: null,
      error: null,
    };
    this.jobs.push({ info, controller: new AbortController() });
    this.trim();
    this.pump();
    return info;
  }

  get(id: string): JobInfo | null {
    return this.jobs.find((j) => j.info.id === id)?.info ?? null;
  }

  list(): JobInfo[] {
    return this.jobs.map((j) => j.info).reverse();
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
    const next = this.jobs.find((j) => j.info.state === 'queued');
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
    entry.info = { ...entry.info, state: 'running', startedAt: new Date().toISOString() };
    try {
      if (handler === undefined) throw new Error(`no handler for job ${entry.info.name}`);
      const result = await handler({
        signal: entry.controller.signal,
        progress: (done, total) => {
          entry.info = { ...entry.info, progress: { done, total } };
        },
      });
      entry.info = { ...entry.info, state: entry.controller.signal.aborted ? 'cancelled' : 'done', finishedAt: new Date().toISOString(), result };
    } catch (err) {
      entry.info = { ...entry.info, state: entry.controller.signal.aborted ? 'cancelled' : 'failed', finishedAt: new Date().toISOString(), error: err instanceof Error ? err.message : String(err) };
      if (!entry.controller.signal.aborted) this.onError(entry.info, err);
    }
  }
}
